"""The self-play ``pool`` opponent sampler (config validation; sampler in PoolSampler)."""
from __future__ import annotations

import torch

from src.training.schema import ConfigError, Field, Schema

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


class PoolSampler:
    """Per-game opponents drawn from heuristics, the live network and frozen snapshots.

    Batched meaning of the config (``train.opponent_sampler.params``):

    * every game draws its opponent when it starts and keeps it until it ends;
    * ``heuristic_distribution``: relative weights over opponent names (``random``,
      ``heuristic``, ``smart_heuristic``, ``search:D``), used for the games not given to self-play;
    * ``self_play.start_episode``: finished games (summed over the batch) before self-play
      starts; until then every game gets a heuristic opponent;
    * ``self_play.current_self_fraction``: share of new games played against the live network
      acting greedily ("current self");
    * ``self_play.past_self_fraction``: share of new games played against a frozen snapshot,
      chosen uniformly among those kept (while none exists these games get a heuristic);
    * ``self_play.save_every``: finished games between snapshots (the first at start_episode);
    * ``self_play.max_frozen_agents``: snapshots kept; the oldest is dropped.

    Network opponents act greedily over legal moves. On the CPU each opponent acts on its own
    games only; on a GPU every opponent acts on the whole batch and ``torch.where`` picks, so
    nothing synchronises with the host. The finished-game count is read by the host only every
    ``check_every`` batch steps on a GPU (every step on the CPU) to decide snapshots.
    """

    kind = "pool"

    def __init__(self, params: dict, game, agent, seed: int | None):
        import copy

        from src.opponents import make_opponent

        self.params, self.game, self.agent = params, game, agent
        self.device, self.ops = game.device, game.ops
        self.copy = copy
        sp = params["self_play"]
        self.start_episode, self.save_every = sp["start_episode"], sp["save_every"]
        self.max_frozen = sp["max_frozen_agents"]
        self.current_fraction, self.past_fraction = sp["current_self_fraction"], sp["past_self_fraction"]
        dist = params["heuristic_distribution"]
        self.heuristic_names = [n for n, w in dist.items() if w > 0]
        weights = torch.tensor([dist[n] for n in self.heuristic_names], dtype=torch.float32)
        self.heuristic_cdf = (weights.cumsum(0) / weights.sum()).to(self.device)
        self.heuristics = [make_opponent(n, game.geometry, game.device, game.backend,
                                         None if seed is None else seed + 101 * (i + 1))
                           for i, n in enumerate(self.heuristic_names)]
        self.current_id = len(self.heuristics)  # ids: heuristics, current self, frozen slots
        self.frozen_base = self.current_id + 1
        self.frozen: list[torch.nn.Module] = []
        self.frozen_at: list[int] = []
        self.generator = torch.Generator(device=self.device)
        if seed is not None:  # else Generator.seed(): fresh entropy, global RNG untouched
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()
        self.opponent_id = torch.zeros(game.num_envs, dtype=torch.int64, device=self.device)
        n_ids = self.frozen_base + self.max_frozen
        self.results = torch.zeros(n_ids * 3, dtype=torch.int64, device=self.device)  # win/draw/loss per id
        self.finished_dev = torch.zeros((), dtype=torch.int64, device=self.device)
        self.finished = 0  # host copy, refreshed every check_every steps
        self.next_snapshot = self.start_episode
        self.check_every = 1 if self.device.type == "cpu" else 8
        self._calls = 0

    # -- the sampler interface used by Versus -----------------------------------------------
    def on_game_end(self, done: torch.Tensor, reward: torch.Tensor) -> None:
        outcome = torch.where(reward > 0, 0, torch.where(reward < 0, 2, 1))  # from the agent's side
        self.results.scatter_add_(0, self.opponent_id * 3 + outcome, done.to(torch.int64))
        self.finished_dev += done.sum()

    def on_new_games(self, new: torch.Tensor) -> None:
        self._calls += 1
        if self._calls % self.check_every == 0:
            self.finished = int(self.finished_dev)
            while self.finished >= self.next_snapshot:
                self._snapshot()
                self.next_snapshot += self.save_every
        self_play = self.finished >= self.start_episode
        u = torch.rand(new.shape, device=self.device, generator=self.generator)
        v = torch.rand(new.shape, device=self.device, generator=self.generator)
        heur = torch.searchsorted(self.heuristic_cdf, v.unsqueeze(1), right=True).squeeze(1)
        ids = heur.clamp(max=len(self.heuristics) - 1)
        if self_play:
            cur_f = self.current_fraction
            past_f = self.past_fraction if self.frozen else 0.0
            slot = torch.randint(0, max(len(self.frozen), 1), new.shape, device=self.device, generator=self.generator)
            ids = torch.where(u < cur_f, self.current_id, torch.where(u < cur_f + past_f, self.frozen_base + slot, ids))
        self.opponent_id = torch.where(new, ids, self.opponent_id)

    def act(self, cur: torch.Tensor, mask: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Replies of every game's own opponent, int64 [N] (entries outside ``active`` are unused)."""
        players = [(i, h.act) for i, h in enumerate(self.heuristics)]
        players.append((self.current_id, lambda c, m: self._greedy(self.agent.online, c, m)))
        players += [(self.frozen_base + j, (lambda net: lambda c, m: self._greedy(net, c, m))(net))
                    for j, net in enumerate(self.frozen)]
        replies = torch.zeros_like(cur)
        if self.device.type == "cpu":
            need = self.opponent_id if active is None else torch.where(active, self.opponent_id, -1)
            for pid, act in players:
                idx = (need == pid).nonzero().squeeze(1)
                if idx.numel():
                    replies[idx] = act(cur[idx], mask[idx])
        else:
            for pid, act in players:
                replies = torch.where(self.opponent_id == pid, act(cur, mask), replies)
        return replies

    @torch.no_grad()
    def _greedy(self, net, cur, mask):
        q = net(self.ops.to_planes(cur, mask))
        return q.masked_fill(~self.ops.legal_mask(mask), float("-inf")).argmax(dim=1)

    def _snapshot(self) -> None:
        net = self.copy.deepcopy(self.agent.online).requires_grad_(False).eval()
        self.frozen.append(net)
        self.frozen_at.append(self.finished)
        if len(self.frozen) > self.max_frozen:
            self.frozen.pop(0)
            self.frozen_at.pop(0)
            # games facing a dropped snapshot keep a live one: shift their ids down
            older = self.opponent_id >= self.frozen_base
            self.opponent_id = torch.where(older, (self.opponent_id - 1).clamp(min=self.frozen_base), self.opponent_id)

    # -- reporting and state ----------------------------------------------------------------
    def names(self) -> list[str]:
        return self.heuristic_names + ["self"] + [f"past_self@{e}" for e in self.frozen_at]

    def kind_of(self, pid: int) -> str:
        if pid < self.current_id:
            return self.heuristic_names[pid]
        return "self" if pid == self.current_id else "past_self"

    def status(self) -> dict:
        """Current opponent mix over the batch and result rates per opponent kind since the last call."""
        n_ids = self.frozen_base + self.max_frozen
        mix_counts = torch.bincount(self.opponent_id, minlength=n_ids).tolist()
        res = self.results.view(n_ids, 3).tolist()
        self.results.zero_()
        mix, rates = {}, {}
        for pid in range(n_ids):
            kind = self.kind_of(pid)
            mix[kind] = mix.get(kind, 0) + mix_counts[pid]
            r = rates.setdefault(kind, [0, 0, 0])
            for i in range(3):
                r[i] += res[pid][i]
        n = max(sum(mix.values()), 1)
        recent = {k: {"games": sum(v), "win": round(v[0] / sum(v), 4), "draw": round(v[1] / sum(v), 4),
                      "loss": round(v[2] / sum(v), 4)} for k, v in rates.items() if sum(v)}
        return {"opponent_mix": {k: round(c / n, 4) for k, c in mix.items() if c},
                "frozen_agents": len(self.frozen), "recent_results": recent}

    def state_dict(self) -> dict:
        return {"frozen": [net.state_dict() for net in self.frozen], "frozen_at": list(self.frozen_at),
                "opponent_id": self.opponent_id.clone(), "finished": int(self.finished_dev),
                "next_snapshot": self.next_snapshot, "generator": self.generator.get_state(),
                "heuristics": [h.state_dict() for h in self.heuristics]}

    def load_state_dict(self, state: dict) -> None:
        self.frozen = []
        for sd in state["frozen"]:
            net = self.copy.deepcopy(self.agent.online).requires_grad_(False).eval()
            net.load_state_dict(sd)
            self.frozen.append(net)
        self.frozen_at = list(state["frozen_at"])
        self.opponent_id = state["opponent_id"].to(self.device)
        self.finished = state["finished"]
        self.finished_dev.fill_(self.finished)
        self.next_snapshot = state["next_snapshot"]
        self.generator.set_state(state["generator"])
        for h, s in zip(self.heuristics, state["heuristics"]):
            h.load_state_dict(s)
