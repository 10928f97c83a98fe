"""A PettingZoo AEC environment for two learning agents on any registered game (``RawGameAEC``).

Observations are PettingZoo's classic board-game form: ``{"observation": int8 [H, W, 2],
"action_mask": int8 [num_actions]}`` with channel 0 the observing agent's pieces, channel 1
the other agent's, and the legal actions in the mask of the agent to move (zeros for the
other). ``player_0`` moves first. Rewards: +1 to the winner and -1 to the loser, 0 each for a
draw. An illegal move loses: -1 to the mover, +1 to the other agent. Connect4's
(``src.envs.connect4_pettingzoo``) matches ``connect_four_v3``'s observations (row 0 the top row).
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


class RawGameAEC(AECEnv):
    metadata = {"render_modes": RENDER_MODES, "name": "c4engine_game_v0", "is_parallelizable": False}
    flip_rows = False  # True: observations' row 0 is the planes' last row (Connect4: the top row first)

    def __init__(self, game: str = "connect4", render_mode: str | None = None, **game_params):
        super().__init__()
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        self.render_mode = render_mode
        self.game = make_game(game, 1, device="cpu", seed=0, **game_params)
        self.rules = self.game.game
        height, width = self.rules.observation_shape[1:]
        self.num_actions = self.rules.num_actions
        self.possible_agents = list(AGENTS)
        obs_space = spaces.Dict({
            "observation": spaces.Box(0, 1, (height, width, 2), np.int8),
            "action_mask": spaces.Box(0, 1, (self.num_actions,), np.int8),
        })
        self.observation_spaces = {a: obs_space for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(self.num_actions) for a in AGENTS}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        # a game between two agents has no randomness: ``seed`` changes nothing
        self.game.reset()
        self._owner = 0  # index of the agent who is the engine's side to move
        self.agents = list(AGENTS)
        self.rewards = {a: 0.0 for a in AGENTS}
        self._cumulative_rewards = {a: 0.0 for a in AGENTS}
        self.terminations = {a: False for a in AGENTS}
        self.truncations = {a: False for a in AGENTS}
        self.infos = {a: {} for a in AGENTS}
        self.agent_selection = AGENTS[0]

    def _planes(self, agent: str) -> np.ndarray:
        """int8 [2, H, W] as the engine draws them: the pieces of ``agent``, then the other's."""
        planes = self.game.observe()[0, :2].numpy().astype(np.int8)
        return planes if AGENTS.index(agent) == self._owner else planes[::-1]

    def observe(self, agent: str) -> dict:
        planes = self._planes(agent)
        mask = np.zeros(self.num_actions, np.int8)
        if agent == self.agent_selection:
            mask[:] = self.game.legal_actions()[0].numpy()
        if self.flip_rows:
            planes = planes[:, ::-1]
        return {"observation": np.ascontiguousarray(planes.transpose(1, 2, 0)), "action_mask": mask}

    def step(self, action) -> None:
        if self.terminations[self.agent_selection] or self.truncations[self.agent_selection]:
            self._was_dead_step(action)
            return
        mover = self.agent_selection
        other = AGENTS[1 - AGENTS.index(mover)]
        a = torch.tensor([int(action)], dtype=torch.int64)
        self.game.state, reward, done, illegal = self.rules.play(self.game.state, a)
        r = float(reward[0])  # the mover's: +1 win, -1 loss or illegal move, 0 otherwise
        if not bool(illegal[0]):
            self._owner = 1 - self._owner  # a move was made: the engine's side to move swapped
        self._cumulative_rewards[mover] = 0.0
        self.rewards = {mover: r, other: 0.0 - r}  # 0.0 - r: never -0.0
        if bool(done[0]):
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()
        if self.render_mode == "human":
            print(self.render_text())

    def render_text(self) -> str:
        """The board, the planes' last row first: ``X`` player_0, ``O`` player_1."""
        from src.envs.gym_env import board_text

        return board_text(self._planes(AGENTS[0]))

    def render(self):
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None

    def close(self) -> None:
        pass


def game_aec_env(game: str = "connect4", render_mode: str | None = None, **game_params):
    """The AEC environment of ``game``, wrapped as PettingZoo's classic environments are (order enforcing)."""
    return wrappers.OrderEnforcingWrapper(RawGameAEC(game, render_mode, **game_params))


def __getattr__(name: str):
    # Connect4's AEC, importable from here as before (it lives in src.envs.connect4_pettingzoo)
    if name in ("RawConnect4AEC", "connect4_aec_env"):
        from src.envs import connect4_pettingzoo

        return getattr(connect4_pettingzoo, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
