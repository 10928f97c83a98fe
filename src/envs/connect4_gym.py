"""Connect4's Gymnasium environments: ``GameEnv`` / ``GameVectorEnv`` with Connect4's board
size as keyword arguments (``rows``, ``cols``), registered as ``c4engine/Connect4-v0``."""
from __future__ import annotations

from typing import Any, Mapping

from src.envs.gym_env import GameEnv, GameVectorEnv


class Connect4Env(GameEnv):
    """One game of Connect4 against ``opponent``; see ``src.envs.gym_env.GameEnv``.

    ``start_policy``: ``random`` (a coin per game; the opponent's first move is already on
    the board when the agent starts second), ``agent_first`` or ``opponent_first``.
    """

    def __init__(self, opponent: str | Mapping[str, Any] = "random", rows: int = 6, cols: int = 7,
                 start_policy: str = "random", render_mode: str | None = None):
        super().__init__("connect4", opponent, start_policy, render_mode, {"rows": rows, "cols": cols})


class Connect4VectorEnv(GameVectorEnv):
    """``num_envs`` games of Connect4; see ``src.envs.gym_env.GameVectorEnv``."""

    def __init__(self, num_envs: int = 1, opponent: str | Mapping[str, Any] = "random", rows: int = 6,
                 cols: int = 7, start_policy: str = "random", device: str | None = None,
                 backend: str | None = None, render_mode: str | None = None):
        super().__init__(num_envs, "connect4", opponent, start_policy, device, backend, render_mode,
                         {"rows": rows, "cols": cols})
