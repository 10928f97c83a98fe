"""A PettingZoo AEC environment for two learning agents on the engine's bitboards.

Observations are those of PettingZoo's classic ``connect_four_v3``, so code written for that
environment runs on this one: ``{"observation": int8 [rows, cols, 2], "action_mask": int8
[cols]}`` with channel 0 the observing agent's stones, channel 1 the other agent's, row 0
the TOP row (the engine's planes have row 0 at the bottom), and the legal columns in the
mask of the agent to move (zeros for the other). ``player_0`` moves first. Rewards: +1 to
the winner and -1 to the loser, 0 each for a draw. An illegal move (a full column or one
out of range) loses: -1 to the mover, +1 to the other agent (classic ``connect_four_v3``
gives the other agent 0 there).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from src.games import make_game

AGENTS = ("player_0", "player_1")
RENDER_MODES = ["ansi", "human"]


class RawConnect4AEC(AECEnv):
    metadata = {"render_modes": RENDER_MODES, "name": "c4engine_connect4_v0", "is_parallelizable": False}

    def __init__(self, rows: int = 6, cols: int = 7, render_mode: str | None = None):
        super().__init__()
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        self.render_mode = render_mode
        self.rows, self.cols = rows, cols
        self.game = make_game("connect4", 1, device="cpu", seed=0, rows=rows, cols=cols)
        self.possible_agents = list(AGENTS)
        obs_space = spaces.Dict({
            "observation": spaces.Box(0, 1, (rows, cols, 2), np.int8),
            "action_mask": spaces.Box(0, 1, (cols,), np.int8),
        })
        self.observation_spaces = {a: obs_space for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(cols) for a in AGENTS}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        # Connect4 between two agents has no randomness: ``seed`` changes nothing.
        self.game.reset()
        self._owner = 0  # index of the agent whose stones are ``game.cur`` (the engine's side to move)
        self.agents = list(AGENTS)
        self.rewards = {a: 0.0 for a in AGENTS}
        self._cumulative_rewards = {a: 0.0 for a in AGENTS}
        self.terminations = {a: False for a in AGENTS}
        self.truncations = {a: False for a in AGENTS}
        self.infos = {a: {} for a in AGENTS}
        self.agent_selection = AGENTS[0]

    def _planes(self, agent: str) -> np.ndarray:
        """int8 [2, rows, cols], row 0 at the bottom: the stones of ``agent``, then the other's."""
        planes = self.game.observe()[0].numpy().astype(np.int8)
        return planes if AGENTS.index(agent) == self._owner else planes[::-1]

    def observe(self, agent: str) -> dict:
        planes = self._planes(agent)
        mask = np.zeros(self.cols, np.int8)
        if agent == self.agent_selection:
            mask[:] = self.game.legal_actions()[0].numpy()
        return {"observation": np.ascontiguousarray(planes[:, ::-1].transpose(1, 2, 0)), "action_mask": mask}

    def step(self, action) -> None:
        if self.terminations[self.agent_selection] or self.truncations[self.agent_selection]:
            self._was_dead_step(action)
            return
        mover = self.agent_selection
        other = AGENTS[1 - AGENTS.index(mover)]
        a = torch.tensor([int(action)], dtype=torch.int64)
        cur, mask, reward, done, illegal = self.game.ops.play(self.game.cur, self.game.mask, a)
        self.game.cur, self.game.mask = cur, mask
        r = float(reward[0])  # the mover's: +1 win, -1 illegal move, 0 otherwise
        if not bool(illegal[0]):
            self._owner = 1 - self._owner  # a stone was placed: the engine's side to move swapped
        self._cumulative_rewards[mover] = 0.0
        self.rewards = {mover: r, other: 0.0 - r}  # 0.0 - r: never -0.0
        if bool(done[0]):
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()
        if self.render_mode == "human":
            print(self.render_text())

    def render_text(self) -> str:
        """The board, top row first: ``X`` player_0, ``O`` player_1."""
        p0 = self._planes(AGENTS[0])
        lines = [" ".join("X" if p0[0, r, c] else "O" if p0[1, r, c] else "." for c in range(self.cols))
                 for r in range(self.rows - 1, -1, -1)]
        return "\n".join(lines + [" ".join(str(c) for c in range(self.cols))]) + "\n"

    def render(self):
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None

    def close(self) -> None:
        pass


def connect4_aec_env(rows: int = 6, cols: int = 7, render_mode: str | None = None):
    """The AEC environment, wrapped as PettingZoo's classic environments are (order enforcing)."""
    return wrappers.OrderEnforcingWrapper(RawConnect4AEC(rows, cols, render_mode))
