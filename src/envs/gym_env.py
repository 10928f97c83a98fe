"""Gymnasium environments over the batched engine, for any registered game: ``GameEnv`` (one
game) and ``GameVectorEnv`` (N games, ``gymnasium.vector.VectorEnv``); Connect4's
``Connect4Env`` / ``Connect4VectorEnv`` (``src.envs.connect4_gym``) are these with its board.

Both play the agent against an opponent given by name (``src.opponents``; default
``random``). Observations are float32 ``observation_shape`` as in ``make_game`` (plane 0 the
agent's pieces, the side to move; plane 1 the opponent's); the legal actions are in
``info["action_mask"]`` (int8, the form ``Discrete.sample(mask)`` takes). Rewards are the
agent's: +1 win, -1 loss, 0 draw or ongoing; an illegal move loses (-1, the game ends). Games
never truncate (a game lasts at most the game's ``max_plies`` moves).
"""
from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from src.envs.matches import Matches

RENDER_MODES = ["ansi"]


def board_text(obs: np.ndarray, agent: str = "X", opponent: str = "O") -> str:
    """One observation ``[2, H, W]`` as text, last row first (Connect4: the top row, as row 0 is
    its bottom): ``X`` agent, ``O`` opponent, then the column indices."""
    lines = []
    for r in range(obs.shape[1] - 1, -1, -1):
        lines.append(" ".join(agent if obs[0, r, c] else opponent if obs[1, r, c] else "."
                              for c in range(obs.shape[2])))
    return "\n".join(lines + [" ".join(str(c) for c in range(obs.shape[2]))]) + "\n"


def _spaces(game: str, game_params: Mapping[str, Any]):
    """(observation Box, action Discrete) of one game of ``game``."""
    from src.games import make_rules

    rules = make_rules(game, "cpu", "torch", **game_params)
    return spaces.Box(0.0, 1.0, tuple(rules.observation_shape), np.float32), spaces.Discrete(rules.num_actions)


class GameEnv(gym.Env):
    """One game of ``game`` (params ``game_params``) against ``opponent`` (any opponent name
    the project knows for that game, e.g. ``random``, ``heuristic``, ``search:4``).

    ``start_policy``: ``random`` (a coin per game; the opponent's first move is already on
    the board when the agent starts second), ``agent_first`` or ``opponent_first``.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(self, game: str = "connect4", opponent: str | Mapping[str, Any] = "random",
                 start_policy: str = "random", render_mode: str | None = None,
                 game_params: Mapping[str, Any] | None = None):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces(game, game_params or {})
        self._matches = Matches(1, opponent, start_policy, device="cpu", game=game, game_params=game_params)
        self._obs: np.ndarray | None = None
        self._done = False

    def _engine_seed(self) -> int:
        return int(self.np_random.integers(2 ** 62))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        reseed = seed is not None or self._obs is None
        super().reset(seed=seed)
        obs, mask = self._matches.reset(self._engine_seed() if reseed else None)
        self._obs, self._done = obs[0].copy(), False
        return self._obs, {"action_mask": mask[0].copy()}

    def step(self, action):
        if self._obs is None or self._done:
            raise RuntimeError("the game is over (or was never started): call reset()")
        out = self._matches.step(np.asarray([action]))
        self._done = bool(out["done"][0])
        self._obs = (out["final_obs"] if self._done else out["obs"])[0].copy()  # final_obs: the ended games
        mask = np.zeros(self.action_space.n, np.int8) if self._done else out["action_mask"][0].copy()
        info = {"action_mask": mask, "illegal": bool(out["illegal"][0])}
        return self._obs, float(out["reward"][0]), self._done, False, info

    def render(self):
        if self.render_mode == "ansi" and self._obs is not None:
            return board_text(self._obs)
        return None


class GameVectorEnv(VectorEnv):
    """``num_envs`` games of ``game`` against ``opponent`` on the batched engine (numba on the CPU, torch on
    CUDA; ``device=None`` picks CUDA when available; ``backend='torch'`` runs torch on the CPU
    too), numpy arrays in and out.

    Autoreset is ``SAME_STEP`` (``metadata["autoreset_mode"]``): a game that ends in ``step``
    is reset in that same step, so its returned observation is the next game's first
    position; the position it ended in is ``infos["final_obs"][i]`` (float32 ``observation_shape``,
    plane 0 the agent's stones), in an object array holding None for the games that did not
    end, with the mask ``infos["_final_obs"]`` (equal to ``terminations``), as Gymnasium's own
    vector envs give it. Both keys are present only in steps where some game ended. ``infos["action_mask"]`` (int8
    ``[N, num_actions]``) is always present, ``infos["illegal"]`` (bool ``[N]``) after every step.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, game: str = "connect4", opponent: str | Mapping[str, Any] = "random",
                 start_policy: str = "random", device: str | None = None, backend: str | None = None,
                 render_mode: str | None = None, game_params: Mapping[str, Any] | None = None):
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render; use the single-game env with render_mode='ansi'")
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _spaces(game, game_params or {})
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._matches = Matches(num_envs, opponent, start_policy, device=device, backend=backend, game=game,
                                game_params=game_params)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None (one seed for the whole batch), got {seed!r}")
        reseed = seed is not None or not self._started
        super().reset(seed=seed)
        obs, mask = self._matches.reset(int(self.np_random.integers(2 ** 62)) if reseed else None)
        self._started = True
        return obs, {"action_mask": mask}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        out = self._matches.step(actions)
        done = out["done"]
        infos: dict[str, Any] = {"action_mask": out["action_mask"], "illegal": out["illegal"]}
        if done.any():
            final = np.full(self.num_envs, None, dtype=object)
            for i, planes in zip(np.flatnonzero(done), out["final_obs"]):
                final[i] = planes
            infos["final_obs"], infos["_final_obs"] = final, done.copy()
        return out["obs"], out["reward"], done, np.zeros(self.num_envs, dtype=bool), infos


def __getattr__(name: str):
    # Connect4's classes, importable from here as before (they live in src.envs.connect4_gym)
    if name in ("Connect4Env", "Connect4VectorEnv"):
        from src.envs import connect4_gym

        return getattr(connect4_gym, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
