"""The self-play ``pool`` opponent sampler (config validation; sampler in PoolSampler)."""
from __future__ import annotations

import copy

import torch

from src.games.backends import seeded_generator
from src.games.protocol import index_state
from src.opponents.samplers import OpponentSampler
from src.seeding import child_seed
from src.config.schema import ConfigError, Field, Schema

SELF_PLAY = Schema({
    "start_episode": Field("int", 0, "finished games before frozen snapshots and self-play begin", min=0),
    "current_self_fraction": Field("float", 0.0, "share of new games against the live network (greedy)", min=0, max=1),
    "past_self_fraction": Field("float", 0.0, "share of new games against frozen snapshots", min=0, max=1),
    "max_frozen_agents": Field("int", 5, "snapshots kept (oldest dropped)", min=1),
    "save_every": Field("int", 1000, "finished games between snapshots", min=1),
})

POOL = Schema({
    "self_play": Field("dict", dict, "self-play options"),
    "heuristic_distribution": Field("dict", doc="weights over opponent names, e.g. {random: 0.2, heuristic: 0.8}"),
    "seed": Field("int", None, "unused: the pool uses the top-level seed", nullable=True),
})


def validate_pool_params(params, seed: int | None) -> dict:
    if seed is None:
        raise ConfigError("seed", "the pool opponent sampler requires a top-level seed")
    p = POOL.fill(params, "train.opponent_sampler.params")
    p["self_play"] = SELF_PLAY.fill(p["self_play"], "train.opponent_sampler.params.self_play")
    sp = p["self_play"]
    if sp["current_self_fraction"] + sp["past_self_fraction"] > 1 + 1e-9:
        raise ConfigError("train.opponent_sampler.params.self_play",
                          f"current_self_fraction + past_self_fraction = "
                          f"{sp['current_self_fraction'] + sp['past_self_fraction']:g} exceeds 1")
    p["heuristic_distribution"] = validate_distribution(p["heuristic_distribution"],
                                                        "train.opponent_sampler.params.heuristic_distribution")
    return p


def validate_distribution(dist: dict, key: str) -> dict:
    from src.opponents import parse_opponent_spec

    if not dist:
        raise ConfigError(key, "must name at least one opponent with a positive weight")
    out = {}
    for name, w in dist.items():
        k = f"{key}.{name}"
        try:
            parse_opponent_spec(name)
        except ValueError as e:
            raise ConfigError(k, str(e)) from None
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w >= 0) or w == float("inf"):
            raise ConfigError(k, f"weight must be a non-negative number, got {w!r}")
        out[str(name)] = float(w)
    if sum(out.values()) <= 0:
        raise ConfigError(key, "weights must not all be zero")
    return out


class PoolSampler(OpponentSampler):
    """Per-game opponents drawn from heuristics, the live network and frozen snapshots.

    Batched meaning of the config (``train.opponent_sampler.params``):

    * every game draws its opponent when it starts and keeps it until it ends;
    * ``heuristic_distribution``: relative weights over opponent names (``random``,
      ``heuristic``, ``smart_heuristic``, ``search:D``, ``solver:D``, ``perfect``), used for
      the games not given to self-play (the solver ones run per game on the host: slow);
    * ``self_play.start_episode``: finished games (summed over the batch) before self-play
      starts; until then every game gets a heuristic opponent;
    * ``self_play.current_self_fraction``: share of new games played against the live network
      acting greedily ("current self");
    * ``self_play.past_self_fraction``: share of new games played against a frozen snapshot,
      chosen uniformly among those kept (while none exists these games get a heuristic);
    * ``self_play.save_every``: finished games between snapshots (the first at start_episode);
      when several multiples pass between two checks, one snapshot is taken, not copies;
    * ``self_play.max_frozen_agents``: snapshots new games can draw; when a new one would
      exceed it the oldest is retired: no new game gets it, and it is freed once the games
      still playing it have ended.

    Network opponents act greedily over legal moves. On the CPU each opponent acts on its own
    games only; on a GPU every opponent acts on the whole batch and ``torch.where`` picks, so
    nothing synchronises with the host. The finished-game count is read by the host only every
    ``check_every`` batch steps on a GPU (every step on the CPU) to decide snapshots; in a
    data-parallel run it is the count summed over the ranks (``start_episode`` and
    ``save_every`` then count the games of all ranks), so every rank's snapshots are the same.

    Opponent ids: ``0..K-1`` the heuristics, ``K`` the current self, ``K+1+slot`` a frozen
    snapshot in memory slot ``slot``.
    """

    kind = "pool"

    def __init__(self, params: dict, game, agent, seed: int | None):
        from src.opponents import make_opponent

        self.params, self.env, self.agent = params, game, agent
        self.game = game.game  # the rules (``Game``)
        self.device = game.device
        sp = params["self_play"]
        self.start_episode, self.save_every = sp["start_episode"], sp["save_every"]
        self.max_frozen = sp["max_frozen_agents"]
        self.current_fraction, self.past_fraction = sp["current_self_fraction"], sp["past_self_fraction"]
        dist = params["heuristic_distribution"]
        self.heuristic_names = [n for n, w in dist.items() if w > 0]
        weights = torch.tensor([dist[n] for n in self.heuristic_names], dtype=torch.float32)
        self.heuristic_cdf = (weights.cumsum(0) / weights.sum()).to(self.device)
        self.heuristics = [make_opponent(n, self.game, game.device, game.backend,
                                         child_seed(seed, "pool.opponent", i))
                           for i, n in enumerate(self.heuristic_names)]
        self.current_id = len(self.heuristics)
        self.frozen_base = self.current_id + 1
        self.slots: list[torch.nn.Module | None] = []  # frozen networks by slot (None: free)
        self.slot_taken_at: list[int] = []  # finished-game count when each slot's snapshot was taken
        self.active: list[int] = []  # slots new games draw from, oldest first
        self.retired: list[int] = []  # slots no new game draws, still played by running games
        self.generator = seeded_generator(self.device, seed)
        self.opponent_id = torch.zeros(game.num_envs, dtype=torch.int64, device=self.device)
        self.kinds = self.heuristic_names + ["self", "past_self"]
        self.results = torch.zeros(len(self.kinds) * 3, dtype=torch.int64, device=self.device)  # win/draw/loss
        self.finished_dev = torch.zeros((), dtype=torch.int64, device=self.device)
        self.finished = 0  # host copy, refreshed every check_every steps
        self.next_snapshot = self.start_episode
        self.check_every = 1 if self.device.type == "cpu" else 8
        self._calls = 0
        self._sum = None  # sums counters over the ranks of a data-parallel run (``distribute``)

    @property
    def frozen(self) -> list[torch.nn.Module]:
        """The snapshots new games can draw, oldest first."""
        return [self.slots[s] for s in self.active]

    def _kind_index(self, ids: torch.Tensor) -> torch.Tensor:
        return ids.clamp(max=self.frozen_base)

    # -- the sampler interface used by Versus -----------------------------------------------
    def on_game_end(self, done: torch.Tensor, reward: torch.Tensor) -> None:
        outcome = torch.where(reward > 0, 0, torch.where(reward < 0, 2, 1))  # from the agent's side
        self.results.scatter_add_(0, self._kind_index(self.opponent_id) * 3 + outcome, done.to(torch.int64))
        self.finished_dev += done.sum()

    def on_new_games(self, new: torch.Tensor) -> None:
        self._calls += 1
        if self._calls % self.check_every == 0:
            self.finished = int(self.finished_dev) if self._sum is None else self._sum([int(self.finished_dev)])[0]
            if self.finished >= self.next_snapshot:
                self._snapshot()
                # the next multiple of save_every after start_episode that lies ahead
                passed = (self.finished - self.start_episode) // self.save_every + 1
                self.next_snapshot = self.start_episode + passed * self.save_every
            self._free_retired(new)
        u = torch.rand(new.shape, device=self.device, generator=self.generator)
        v = torch.rand(new.shape, device=self.device, generator=self.generator)
        heur = torch.searchsorted(self.heuristic_cdf, v.unsqueeze(1), right=True).squeeze(1)
        ids = heur.clamp(max=len(self.heuristics) - 1)
        if self.finished >= self.start_episode:
            cur_f = self.current_fraction
            past_f = self.past_fraction if self.active else 0.0
            active = torch.tensor(self.active or [0], dtype=torch.int64).to(self.device, non_blocking=True)
            pick = torch.randint(0, len(active), new.shape, device=self.device, generator=self.generator)
            ids = torch.where(u < cur_f, self.current_id,
                              torch.where(u < cur_f + past_f, self.frozen_base + active[pick], ids))
        self.opponent_id = torch.where(new, ids, self.opponent_id)

    def act(self, *words: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Replies of every game's own opponent, int64 [N] (entries outside ``active`` are unused);
        the state's words spread (``act(*state, active=...)``)."""
        state = self.game.State(*words)
        players = [(i, (lambda h: lambda s, on=None: h.act(*s, active=on))(h)) for i, h in enumerate(self.heuristics)]
        players.append((self.current_id, lambda s, on=None: self._greedy(self._live_net(), s)))
        players += [(self.frozen_base + k, (lambda net: lambda s, on=None: self._greedy(net, s))(net))
                    for k, net in enumerate(self.slots) if net is not None]
        replies = torch.zeros_like(state[0])
        if self.device.type == "cpu":
            need = self.opponent_id if active is None else torch.where(active, self.opponent_id, -1)
            for pid, act in players:
                idx = (need == pid).nonzero().squeeze(1)
                if idx.numel():
                    replies[idx] = act(index_state(state, idx))
        else:
            for pid, act in players:
                if pid < len(self.heuristics) and self.heuristics[pid].on_host:
                    # a solver opponent works per game on the host: hand it only its own games
                    mine = self.opponent_id == pid if active is None else active & (self.opponent_id == pid)
                    replies = torch.where(mine, act(state, mine), replies)
                else:
                    replies = torch.where(self.opponent_id == pid, act(state), replies)
        return replies

    def distribute(self, sum_ints) -> None:
        """Snapshots are decided on the finished games of all ranks: every rank takes the same
        snapshots of the same (identical) network at the same batch step."""
        self._sum = sum_ints

    def consistency(self, digest) -> dict:
        return {"snapshots": [digest(net) for net in self.frozen], "snapshots_taken_at": self.frozen_at}

    @torch.no_grad()
    def _greedy(self, net, state):
        """The network's greedy move (the agent's ``greedy_moves``: DQN's best Q, AlphaZero's
        raw-policy argmax), for the live network and the frozen snapshots alike."""
        return self.agent.greedy_moves(net, state)

    def _live_net(self):
        """The network the agent acts with: AlphaZero's ``acting`` (its weight average, when it
        keeps one), else ``online``."""
        return getattr(self.agent, "acting", self.agent.online)

    def _snapshot(self) -> None:
        net = copy.deepcopy(self._live_net()).requires_grad_(False).eval()
        free = [s for s, n in enumerate(self.slots) if n is None]
        slot = free[0] if free else len(self.slots)
        if slot == len(self.slots):
            self.slots.append(None)
            self.slot_taken_at.append(0)
        self.slots[slot], self.slot_taken_at[slot] = net, self.finished
        self.active.append(slot)
        if len(self.active) > self.max_frozen:
            self.retired.append(self.active.pop(0))

    def _free_retired(self, new: torch.Tensor) -> None:
        """Free retired snapshots no running game plays (``new`` games are about to redraw)."""
        if not self.retired:
            return
        playing = torch.where(new, -1, self.opponent_id)
        used = torch.bincount(playing.clamp(min=0), minlength=self.frozen_base + len(self.slots)).tolist()
        for s in list(self.retired):
            if used[self.frozen_base + s] == 0:
                self.retired.remove(s)
                self.slots[s] = None

    # -- reporting and state ----------------------------------------------------------------
    def status(self) -> dict:
        """Current opponent mix over the batch and result rates per opponent kind since the last call."""
        kinds = len(self.kinds)
        mix = torch.bincount(self._kind_index(self.opponent_id), minlength=kinds).tolist()
        res = self.results.view(kinds, 3).tolist()
        self.results.zero_()
        n = max(sum(mix), 1)
        recent = {}
        for k, (w, d, l) in zip(self.kinds, res):
            total = w + d + l
            if total:
                recent[k] = {"games": total, "win": round(w / total, 4), "draw": round(d / total, 4),
                             "loss": round(l / total, 4)}
        return {"opponent_mix": {k: round(c / n, 4) for k, c in zip(self.kinds, mix) if c},
                "frozen_agents": len(self.active), "recent_results": recent}

    def state_dict(self) -> dict:
        return {"slots": [None if n is None else n.state_dict() for n in self.slots],
                "slot_taken_at": list(self.slot_taken_at), "active": list(self.active),
                "retired": list(self.retired), "opponent_id": self.opponent_id.clone(),
                "finished": int(self.finished_dev), "finished_host": self.finished, "calls": self._calls,
                "next_snapshot": self.next_snapshot, "results": self.results.clone(),
                "generator": self.generator.get_state(), "heuristics": [h.state_dict() for h in self.heuristics]}

    def load_state_dict(self, state: dict) -> None:
        self.slots = []
        for sd in state["slots"]:
            net = None
            if sd is not None:
                net = copy.deepcopy(self.agent.online).requires_grad_(False).eval()
                net.load_state_dict(sd)
            self.slots.append(net)
        self.slot_taken_at = list(state["slot_taken_at"])
        self.active, self.retired = list(state["active"]), list(state["retired"])
        self.opponent_id = state["opponent_id"].to(self.device)
        # the device count, and the host copy that lags it by up to check_every - 1 steps on a GPU
        self.finished_dev.fill_(state["finished"])
        self.finished = state.get("finished_host", state["finished"])
        self._calls = state.get("calls", self._calls)
        if "results" in state:
            self.results.copy_(state["results"])
        self.next_snapshot = state["next_snapshot"]
        self.generator.set_state(state["generator"])
        for h, s in zip(self.heuristics, state["heuristics"]):
            h.load_state_dict(s)

    def kind_of(self, pid: int) -> str:
        """'heuristic name', 'self' or 'past_self' for an opponent id."""
        return self.kinds[min(pid, self.frozen_base)]

    @property
    def frozen_at(self) -> list[int]:
        """Finished-game counts at which the drawable snapshots were taken, oldest first."""
        return [self.slot_taken_at[s] for s in self.active]
