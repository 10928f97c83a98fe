"""Agent-vs-opponent play on a batch of games, from the agent's side.

The exposed position of every game always has the agent to move. ``step(actions)`` plays the
agent's moves, lets each game's opponent reply, resets finished games (the one auto-reset of
this loop, ``_start_games``) and, where the opponent starts a new game, plays its first move.
Rewards are from the agent's side: +1 win, -1 loss (or an illegal agent move), 0 draw or ongoing.
"""
from __future__ import annotations

import torch

from src.games.backends import seeded_generator
from src.games.connect4 import BatchedConnect4


class Versus:
    def __init__(self, game: BatchedConnect4, opponents, start_policy: str = "random", seed: int | None = None,
                 on_game_end=None):
        """``opponents`` is an ``OpponentSampler`` (``src.opponents.samplers``): ``act``,
        ``on_new_games`` (called before a new game's first move) and ``on_game_end``.
        ``on_game_end(done, reward)``, if given, is called too, before finished games restart
        (the learner's hook: AlphaZero assigns game outcomes there)."""
        self.game = game
        self.ops = game.ops
        self.opponents = opponents
        self.start_policy = start_policy
        self.num_envs = game.num_envs
        self.device = game.device
        self.generator = seeded_generator(self.device, seed)
        self.agent_first = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self.listener = on_game_end

    @property
    def cur(self) -> torch.Tensor:
        return self.game.cur

    @property
    def mask(self) -> torch.Tensor:
        return self.game.mask

    def reset(self) -> None:
        self.game.cur.zero_()
        self.game.mask.zero_()
        self._start_games(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def start_from(self, cur: torch.Tensor, mask: torch.Tensor) -> None:
        """Like ``reset``, from the given running positions (int64 [N]) instead of empty boards:
        the seats are chosen, and where the opponent starts it plays its first move from there."""
        self.game.cur, self.game.mask = cur.clone(), mask.clone()
        self._start_games(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def legal_mask(self) -> torch.Tensor:
        """bool [N, cols] of the agent's current positions."""
        return self.ops.legal_mask(self.game.mask)

    def observe(self) -> torch.Tensor:
        """float32 [N, 2, rows, cols] of the agent's current positions."""
        return self.ops.to_planes(self.game.cur, self.game.mask)

    def _start_games(self, new: torch.Tensor) -> None:
        """Start fresh games where ``new``: choose the seat, then the opponent's first move."""
        if self.start_policy == "agent_first":
            opp_first = torch.zeros_like(new)
        elif self.start_policy == "opponent_first":
            opp_first = new.clone()
        else:
            coin = torch.rand(new.shape, device=self.device, generator=self.generator) < 0.5
            opp_first = new & coin
        self.agent_first = torch.where(new, ~opp_first, self.agent_first)
        self.opponents.on_new_games(new)
        cur, mask = self.game.cur, self.game.mask
        replies = self.opponents.act(cur, mask, opp_first)
        self.game.cur, self.game.mask = self.ops.play(cur, mask, replies, opp_first)[:2]

    def step(self, actions: torch.Tensor, timer=None) -> dict[str, torch.Tensor]:
        """Play the agent's ``actions`` (int64 [N]); returns the transitions of this step:
        cur/mask (position the agent moved from), action, reward, done, next_cur/next_mask
        (the agent's next position, before any reset), plus ``agent_first`` of each game."""
        cur, mask = self.game.cur, self.game.mask
        c1, m1, r1, d1, _ = self.ops.play(cur, mask, actions)
        with _section(timer, "opponents"):
            replies = self.opponents.act(c1, m1, ~d1)
        c2, m2, r2, d2, _ = self.ops.play(c1, m1, replies, ~d1)
        reward = torch.where(d1, r1, -r2)
        done = d1 | d2
        out = {"cur": cur, "mask": mask, "action": actions, "reward": reward, "done": done,
               "next_cur": c2, "next_mask": m2, "agent_first": self.agent_first}
        self.opponents.on_game_end(done, reward)
        if self.listener is not None:
            self.listener(done, reward)
        zero = torch.zeros_like(c2)
        self.game.cur, self.game.mask = torch.where(done, zero, c2), torch.where(done, zero, m2)
        with _section(timer, "opponents"):
            self._start_games(done)
        return out

    def state_dict(self) -> dict:
        return {"game": self.game.state_dict(), "generator": self.generator.get_state(),
                "agent_first": self.agent_first.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.game.load_state_dict(state["game"])
        self.generator.set_state(state["generator"])
        self.agent_first = state["agent_first"].to(self.device)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _section(timer, name):
    return timer.section(name) if timer is not None else _Null()
