"""The AlphaZero learner: self-play positions, their search targets and outcomes, and updates.

Every move the agent makes is a search: one batched search per batch step over the games
that need a searched move. With the ``self_play`` sampler the agent moves for both seats (one
ply per game per batch step, ``src.training.selfplay``). The position, the search's visit
distribution and the mover's seat are kept per game until the game ends; then each position
gets the game's outcome from its mover's side (+1 win, -1 loss, 0 draw) and goes into a replay ring of
positions (bitboards, float16 policies and search values: 33 bytes a position). Updates sample the ring,
mirror a random half, and fit the policy to the visit distribution and the value to the
outcome. See ``docs/alphazero.md``.
"""
from __future__ import annotations

import torch

from src.agents.alphazero.agent import AlphaZeroAgent
from src.games.backends import seeded_generator
from src.games.protocol import apply_symmetries, draw_symmetries, index_state, uniform_legal
from src.opponents.samplers import OpponentSampler


class PositionReplay:
    """Ring of (the position's state words, int64 each, named by ``state_fields``; policy float16
    [A], value int8 (the outcome), q float16 (the root search's value)) on the agent's device."""

    def __init__(self, capacity: int, num_actions: int, device: torch.device, seed: int | None,
                 state_fields: tuple[str, ...], averaging: str = "off", reply: bool = False,
                 exact_values: bool = False):
        """``averaging`` (``position_averaging``): 'off'; 'average': a sampled position's targets
        (policy, outcome, search value) are the means over every copy of that position in the ring;
        'merge': the copies also count once, a sample drawn uniformly over the distinct positions.
        ``exact_values``: the value targets are float16 (``value_length_penalty``), not the outcome's int8."""
        if averaging not in ("off", "average", "merge"):
            raise ValueError(f"unknown position averaging {averaging!r}")
        self.fields, self.averaging = tuple(state_fields), averaging
        self._groups = None  # the distinct positions of the ring (``_group``), None: to be recomputed
        self.capacity, self.device = int(capacity), torch.device(device)
        self.storage = {**{f: torch.zeros(self.capacity, dtype=torch.int64, device=self.device) for f in state_fields},
                        "policy": torch.zeros((self.capacity, num_actions), dtype=torch.float16, device=self.device),
                        "value": torch.zeros(self.capacity, dtype=torch.float16 if exact_values else torch.int8,
                                             device=self.device),
                        "q": torch.zeros(self.capacity, dtype=torch.float16, device=self.device)}
        if reply:  # the opponent's search policy at the next ply, and whether there was one
            self.storage["reply"] = torch.zeros((self.capacity, num_actions), dtype=torch.float16, device=self.device)
            self.storage["reply_ok"] = torch.zeros(self.capacity, dtype=torch.bool, device=self.device)
        self.ptr = self.size = 0
        self.generator = seeded_generator(self.device, seed)

    def __len__(self) -> int:
        return self.size

    def add(self, items: dict[str, torch.Tensor]) -> None:
        n = items["value"].shape[0]
        if n == 0:
            return
        if n >= self.capacity:
            items = {k: v[n - self.capacity:] for k, v in items.items()}
            n = self.capacity
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        for k, buf in self.storage.items():
            buf[idx] = items[k].to(buf.dtype)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self._groups = None

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """``batch_size`` positions drawn uniformly (with replacement) from the ring, or, with
        'merge' averaging, from its distinct positions; their targets averaged over their copies
        unless averaging is 'off'."""
        if self.averaging == "off":
            idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
            return {k: v[idx] for k, v in self.storage.items()}
        if self._groups is None:
            self._groups = self._group()
        group_of, representative, count, means = self._groups
        if self.averaging == "average":
            idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
            g = group_of[idx]
        else:  # merge: a distinct position uniformly (no host sync: the count stays on the device)
            u = torch.rand(batch_size, device=self.device, generator=self.generator, dtype=torch.float64)
            g = (u * count).long().clamp(max=self.size - 1)
            idx = representative[g]
        return {**{k: v[idx] for k, v in self.storage.items()}, **{k: m[g] for k, m in means.items()}}

    def _group(self):
        """The ring's distinct positions, by a lexicographic sort of the state words: (group of
        each slot int64 [size], one slot of each group int64 [size] (the first ``count`` rows
        valid), the number of groups (0-d int64), the targets' means per group: policy float32
        [size, A], value and q float32 [size])."""
        n = self.size
        order = torch.arange(n, device=self.device)
        for f in reversed(self.fields):  # stable sorts, last word first: lexicographic order
            order = order[torch.sort(self.storage[f][:n][order], stable=True).indices]
        new = torch.zeros(n, dtype=torch.bool, device=self.device)
        new[0] = True
        for f in self.fields:
            w = self.storage[f][:n][order]
            new[1:] |= w[1:] != w[:-1]
        sorted_group = torch.cumsum(new.to(torch.int64), 0) - 1
        group_of = torch.empty(n, dtype=torch.int64, device=self.device)
        group_of[order] = sorted_group
        representative = torch.zeros(n, dtype=torch.int64, device=self.device)
        representative[sorted_group[new]] = order[new]
        count = sorted_group[-1] + 1
        size = torch.zeros(n, dtype=torch.float32, device=self.device).index_add_(
            0, group_of, torch.ones(n, dtype=torch.float32, device=self.device))
        means = {}
        for k in ("policy", "value", "q"):
            v = self.storage[k][:n].float()
            total = torch.zeros((n, *v.shape[1:]), dtype=torch.float32, device=self.device).index_add_(0, group_of, v)
            means[k] = total / size.clamp(min=1).view(-1, *([1] * (v.dim() - 1)))
        return group_of, representative, count, means

    def state_dict(self) -> dict:
        return {"storage": {k: v[:self.size].cpu() if self.size < self.capacity else v.cpu()
                            for k, v in self.storage.items()},
                "ptr": self.ptr, "size": self.size, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["storage"].items():
            self.storage[k][:v.shape[0]] = v.to(self.device)
        self.ptr, self.size = state["ptr"], state["size"]
        self.generator.set_state(state["generator"].cpu())
        self._groups = None


def proof_plies(result) -> torch.Tensor:
    """float32 [N]: the length of a proven root's proof, in plies (its ``SearchResult``'s
    ``plies``): a won root's fastest win, else its latest loss (or draw); 0 where nothing is proven."""
    won = result.solved & (result.exact > 0)
    fastest = torch.where(won, result.plies, torch.iinfo(result.plies.dtype).max).amin(dim=1)
    latest = torch.where(result.solved, result.plies, 0).amax(dim=1)
    return torch.where(won.any(dim=1), fastest, latest).float()


class AlphaZeroLearner:
    """``Learner`` protocol (src/agents/protocol.py) for the AlphaZero agent."""

    def __init__(self, params: dict, game, device: torch.device, agent_seed: int | None, replay_seed: int | None):
        """``game``: the batched env (``src.games.env.BatchedGame``); its ``game`` gives the rules."""
        self.params, self.env, self.device = params, game, device
        self.game = rules = game.game
        self.fields = rules.State._fields
        self.agent = AlphaZeroAgent(params, game.observation_shape, game.num_actions, device, seed=agent_seed,
                                    game=rules)
        self.replay = PositionReplay(params["replay_buffer_size"], rules.num_actions, device, replay_seed, self.fields,
                                     params["position_averaging"], reply=params["reply_loss_weight"] > 0,
                                     exact_values=params["value_length_penalty"] > 0)
        n, length = game.num_envs, rules.max_plies
        self.num_envs = n
        # positions of the running games (one [N, length] tensor per state word), until each game's outcome is known
        self.p_state = {f: torch.zeros((n, length), dtype=torch.int64, device=device) for f in self.fields}
        self.p_policy = torch.zeros((n, length, rules.num_actions), dtype=torch.float16, device=device)
        self.p_q = torch.zeros((n, length), dtype=torch.float16, device=device)  # root search values
        self.p_agent = torch.zeros((n, length), dtype=torch.bool, device=device)  # the agent's seat moved
        self.p_len = torch.zeros(n, dtype=torch.int64, device=device)
        # per game: the plies of its random opening (random_opening_plies)
        self.p_open = torch.zeros(n, dtype=torch.int64, device=device)
        self._draw_openings(torch.ones(n, dtype=torch.bool, device=device))
        self.slots = torch.arange(n, device=device)
        self.dist = None  # a data-parallel run's ``Distributed`` (``distribute``)
        self.self_play = False  # the agent moves for both seats (``make_self_play_sampler``)
        self._zero_report()

    def _zero_report(self) -> None:
        z = lambda: torch.zeros((), dtype=torch.float32, device=self.device)  # noqa: E731
        self.loss_sum, self.policy_loss_sum, self.value_loss_sum = z(), z(), z()
        self.loss_count = 0

    # -- self-play moves ----------------------------------------------------------------------
    def search_moves(self, state, agent_seat: bool | torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Search the positions (self-play settings: root noise, temperature for the first
        ``temperature_moves`` plies), record them for training, return the moves (int64 [N]).
        ``agent_seat``: whether each mover is the seat outcomes are given from (``on_game_end``),
        one bool for all or bool [N]. Games still in their random opening
        (``random_opening_plies``) get a uniformly random legal move instead, neither searched
        nor recorded. One search call: on the CPU only the games searched are passed to it; on
        CUDA all of them are, the others masked (choosing a subset would synchronise with the host)."""
        if self.params["random_opening_plies"] == 0 or deterministic:
            return self._search_moves(state, None, agent_seat, deterministic)
        opening = self.game.ply(state) < self.p_open
        moves = uniform_legal(self.game.legal_mask(state), self.agent.generator)
        if self.device.type != "cpu":
            return torch.where(opening, moves, self._search_moves(state, ~opening, agent_seat, deterministic))
        idx = (~opening).nonzero().squeeze(1)
        if idx.numel():
            seat = agent_seat[idx] if isinstance(agent_seat, torch.Tensor) else agent_seat
            moves[idx] = self._search_moves(index_state(state, idx), idx, seat, deterministic)
        return moves

    def _search_moves(self, state, where, agent_seat: bool | torch.Tensor, deterministic: bool) -> torch.Tensor:
        """``where``: the games' row indices (int64 [K], a subset: ``state`` and a tensor
        ``agent_seat`` hold those K rows), a bool [N] mask of the rows to record (all N
        searched), or None (all N, all recorded)."""
        p = self.params
        a = self.agent
        # self-play explores through the root noise: Dirichlet (PUCT, unless noise_eps is 0) or Gumbel
        explore = p["noise_eps"] > 0 or p["search"] == "gumbel"
        noise = not deterministic and explore
        if noise and p["search"] == "gumbel" and p["gumbel_sample_moves"] is not None:
            noise = self.game.ply(state) < p["gumbel_sample_moves"]  # per game: sampled moves early only
        result = a.search(state, p["simulations"], noise=noise)
        greedy = a.mcts.act(result, 0.0)
        if deterministic:
            moves = greedy
        else:
            sampled = a.mcts.act(result, p["temperature"], a.generator)
            ply = self.game.ply(state)
            moves = torch.where(ply < p["temperature_moves"], sampled, greedy)
            if p["deviation_rate"] > 0 and p["deviation_plies"] > 0:  # a random move played, the search recorded
                draw = torch.rand(moves.shape, device=moves.device, generator=a.generator)
                deviate = (ply < p["deviation_plies"]) & (draw < p["deviation_rate"])
                moves = torch.where(deviate, uniform_legal(self.game.legal_mask(state), a.generator), moves)
        q = result.value
        w = p["value_length_penalty"]
        if w > 0 and result.root_solved is not None:  # a proven root's exact value, shrunk by its proof's length
            q = torch.where(result.root_solved, result.value * (1 - w * proof_plies(result) / self.game.max_plies), q)
        self._record(state, a.mcts.policy_target(result), q, where, agent_seat)
        return moves

    def _record(self, state, policy, q, where, agent_seat: bool | torch.Tensor) -> None:
        if where is not None and where.dtype == torch.int64:  # a subset of rows, all recorded
            rows, on = where, torch.ones_like(where, dtype=torch.bool)
        else:
            rows = self.slots
            on = torch.ones_like(self.p_len, dtype=torch.bool) if where is None else where
        col = self.p_len[rows].clamp(max=self.p_policy.shape[1] - 1)
        for f, w in zip(self.fields, state):
            buf = self.p_state[f]
            buf[rows, col] = torch.where(on, w, buf[rows, col])
        self.p_policy[rows, col] = torch.where(on[:, None], policy.to(torch.float16), self.p_policy[rows, col])
        self.p_q[rows, col] = torch.where(on, q.to(torch.float16), self.p_q[rows, col])
        self.p_agent[rows, col] = torch.where(on, agent_seat, self.p_agent[rows, col])
        self.p_len[rows] += on.to(torch.int64)

    def on_game_end(self, done: torch.Tensor, reward: torch.Tensor) -> None:
        """Games ``done`` ended with ``reward`` (agent's side): their positions get the outcome
        from each mover's side and go to the replay ring (before the games restart)."""
        valid = (torch.arange(self.p_policy.shape[1], device=self.device)[None, :] < self.p_len[:, None]) & done[:, None]
        outcome = reward.sign().to(torch.int8)[:, None]
        value = torch.where(self.p_agent, outcome, -outcome)
        w = self.params["value_length_penalty"]
        if w > 0:  # the outcome shrunk by the plies from each position to the game's end
            value = value.float() * (1 - w * self._plies_left(value).float() / self.game.max_plies)
        items = {**{f: buf[valid] for f, buf in self.p_state.items()}, "policy": self.p_policy[valid],
                 "value": value[valid], "q": self.p_q[valid]}
        if "reply" in self.replay.storage:  # in self-play the next recorded ply is the opponent's reply
            reply = torch.zeros_like(self.p_policy)
            reply[:, :-1] = self.p_policy[:, 1:]
            length = self.p_policy.shape[1]
            has_next = torch.arange(length, device=self.device)[None, :] < (self.p_len[:, None] - 1)
            items["reply"], items["reply_ok"] = reply[valid], (has_next & self.self_play)[valid]
        self.replay.add(items)
        self.p_len = torch.where(done, 0, self.p_len)
        self._draw_openings(done)

    def _plies_left(self, value: torch.Tensor) -> torch.Tensor:
        """int64 [N, L]: the plies from each recorded position of the games to their end, the
        position's own move included (1 for the position the winning move was played from).
        ``value``: the outcomes from each mover's side (int8 [N, L]). In self-play every ply after
        the random opening is recorded, so a game ends one ply after its last recorded position;
        against an opponent only the agent's positions are, and a game the agent lost ended with
        the opponent's reply, one ply later."""
        n, length = value.shape
        ply = self.game.ply(self.game.State(*(self.p_state[f].reshape(-1) for f in self.fields))).view(n, length)
        last = (self.p_len - 1).clamp(min=0)[:, None]
        end = ply.gather(1, last) + 1
        if not self.self_play:
            end = end + (value.gather(1, last) < 0).long()
        return (end - ply).clamp(min=0)

    def _draw_openings(self, games: torch.Tensor) -> None:
        """A new random-opening length, uniform in 0..random_opening_plies, for the ``games`` (bool [N])."""
        k = self.params["random_opening_plies"]
        if k > 0:
            new = torch.randint(0, k + 1, self.p_open.shape, device=self.device, generator=self.agent.generator)
            self.p_open = torch.where(games, new, self.p_open)
        else:  # 0, perhaps set during the run (opening_schedule): these games open with no random move
            self.p_open.masked_fill_(games, 0)

    # -- the Learner protocol -----------------------------------------------------------------
    def act(self, state, legal, deterministic: bool) -> torch.Tensor:
        """Every game's move, by one search. Against an opponent the mover is the agent's seat;
        in self-play (``make_self_play_sampler``) it is either, and the seat outcomes are given
        from is the first mover's (``SelfPlay``'s rewards)."""
        seat = self.game.to_move(state) == 0 if self.self_play else True
        return self.search_moves(state, seat, deterministic=deterministic)

    def observe(self, batch: dict) -> None:
        pass  # positions were recorded by the searches; outcomes arrive through on_game_end

    def learn(self) -> None:
        p = self.params
        ready = len(self.replay) >= max(p["learning_starts"], 1)
        if self.dist is not None:  # ranks store different numbers of positions: all learn, or none
            ready = not self.dist.agree([not ready])[0]
        if not ready:
            return
        for _ in range(p["updates_per_step"]):
            s = self.replay.sample(p["batch_size"])
            state = self.game.State(*(s[f] for f in self.fields))
            obs = self.agent.encode(*state)
            legal = self.game.legal_mask(state)
            policy, value = s["policy"].float(), s["value"].float()
            if p["value_target_q_weight"] > 0:
                value = torch.lerp(value, s["q"].float(), p["value_target_q_weight"])
            reply = s["reply"].float() if "reply" in s else None
            if p["mirror_augment"]:  # the game's symmetries: one drawn per sample (Connect4: the mirror on half)
                k = draw_symmetries(value.shape[0], len(self.game.symmetries), self.device, self.replay.generator)
                per_action = [legal, policy] + ([reply] if reply is not None else [])
                (obs,), _, per_action = apply_symmetries(self.game, k, obs=[obs], per_action=per_action)
                legal, policy = per_action[:2]
                reply = per_action[2] if reply is not None else None
            loss, pl, vl = self.agent.update(obs, legal, policy, value, reply, s.get("reply_ok"))
            self.loss_sum += loss
            self.policy_loss_sum += pl
            self.value_loss_sum += vl
            self.loss_count += 1

    def status_fields(self) -> dict:
        n = self.loss_count
        mean = (lambda t: round(float(t) / n, 6) if n else None)  # noqa: E731
        return {"epsilon": None, "updates": self.agent.num_updates, "learning_rate": self.agent.learning_rate,
                "loss": mean(self.loss_sum), "policy_loss": mean(self.policy_loss_sum),
                "value_loss": mean(self.value_loss_sum), "mean_q": None, "positions": len(self.replay)}

    def reset_report(self) -> None:
        self._zero_report()

    def distribute(self, dist) -> None:
        self.dist = dist
        self.agent.distribute(dist.wrap)

    def make_self_play_sampler(self) -> "SelfPlaySampler":
        """The ``self_play`` sampler; from now on ``act`` moves for both seats of every game."""
        self.self_play = True
        return SelfPlaySampler()

    def state_dict(self, include_replay: bool = True) -> dict:
        return {"agent": self.agent.state_dict(),
                "replay": self.replay.state_dict() if include_replay else None,
                "replay_generator": self.replay.generator.get_state(),
                "pending": {**{f: buf.clone() for f, buf in self.p_state.items()}, "policy": self.p_policy.clone(),
                            "q": self.p_q.clone(), "agent": self.p_agent.clone(), "len": self.p_len.clone(),
                            "open": self.p_open.clone()},
                "report": {"loss_sum": self.loss_sum.clone(), "policy_loss_sum": self.policy_loss_sum.clone(),
                           "value_loss_sum": self.value_loss_sum.clone(), "loss_count": self.loss_count}}

    def load_state_dict(self, state: dict) -> None:
        self.agent.load_state_dict(state["agent"])
        if state["replay"] is not None:
            self.replay.load_state_dict(state["replay"])
        else:
            self.replay.generator.set_state(state["replay_generator"].cpu())
        pend = state["pending"]
        for name, buf in (*self.p_state.items(), ("policy", self.p_policy), ("agent", self.p_agent), ("len", self.p_len)):
            buf.copy_(pend[name])
        if "q" in pend:  # checkpoints from before search values were kept have none
            self.p_q.copy_(pend["q"])
        if "open" in pend:  # checkpoints from before random openings have none (all 0)
            self.p_open.copy_(pend["open"])
        r = state["report"]
        for name in ("loss_sum", "policy_loss_sum", "value_loss_sum"):
            getattr(self, name).copy_(r[name])
        self.loss_count = r["loss_count"]


class SelfPlaySampler(OpponentSampler):
    """``opponent_sampler: {type: self_play}``: the agent is its own opponent. It never replies:
    the trainer plays these games with ``src.training.selfplay.SelfPlay``, one ply per game per
    batch step, each move the learner's search, for either seat."""

    kind = "self_play"

    def status(self) -> dict:
        return {"opponent_mix": {"self": 1.0}}
