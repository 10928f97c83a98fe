"""Self-play on a batch of games: the agent on both sides, one ply per game per batch step.

With the agent as its own opponent, the side to move of every game is the agent, so there is
no opponent to reply: the learner's ``act`` chooses every game's move (one batched search),
``step(actions)`` plays it, hands the finished games' outcomes to the learner and restarts them.
This replaces ``Versus`` in the trainer for ``opponent_sampler: {type: self_play}``.

Rewards and ``results`` are from the side of the player who moved first in each game (the
``to_move`` 0 player: the seat the learner's outcomes are given from): +1 it won (or the other
side made an illegal move), -1 it lost (or made an illegal move), 0 draw or ongoing.
"""
from __future__ import annotations

import torch

from src.games.env import BatchedGame


class SelfPlay:
    def __init__(self, game: BatchedGame, on_game_end=None):
        """``game`` is the batched env (its ``state`` is played here; its ``game`` gives the rules).
        ``on_game_end(done, reward)``, if given, is called before finished games restart."""
        self.game = game
        self.rules = game.game
        self.num_envs = game.num_envs
        self.device = game.device
        self.listener = on_game_end
        self.agent_first = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)

    @property
    def state(self):
        """The current positions (the game's ``State``), each with the agent to move."""
        return self.game.state

    def reset(self) -> None:
        for w, z in zip(self.game.state, self.rules.init(self.num_envs)):
            w.copy_(z)

    def legal_mask(self) -> torch.Tensor:
        """bool [N, A] of the current positions."""
        return self.rules.legal_mask(self.game.state)

    def step(self, actions: torch.Tensor, timer=None) -> dict[str, torch.Tensor]:
        """Play ``actions`` (int64 [N]), one ply in every game; returns the transitions of this
        step with ``Versus.step``'s keys: the position moved from (one key per state word),
        action, reward and done (float32 / bool [N], the first mover's side), the next position
        before any reset (``next_`` + each word), ``agent_first`` (all True: the first mover's
        side is the one counted) and ``agent_ended`` (bool [N]: this move ended the game).
        ``timer`` is accepted for ``Versus.step``'s signature; nothing here is timed apart."""
        state = self.game.state
        first_moved = self.rules.to_move(state) == 0
        after, mover_reward, done, _ = self.rules.play(state, actions)
        reward = torch.where(first_moved, mover_reward, -mover_reward)
        fields = state._fields
        out = {**dict(zip(fields, state)), "action": actions, "reward": reward, "done": done,
               **{f"next_{f}": w for f, w in zip(fields, after)}, "agent_first": self.agent_first,
               "agent_ended": done}
        if self.listener is not None:
            self.listener(done, reward)
        self.game.state = self.rules.reset_where(after, done)
        return out

    def state_dict(self) -> dict:
        return {"game": self.game.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.game.load_state_dict(state["game"])
