"""Game registry: ``make_game(game_id, num_envs, device=None, backend=None, seed=None, **params)``."""
from __future__ import annotations

from typing import Callable

from src.games.connect4 import BatchedConnect4
from src.games.othello import BatchedOthello

GAMES: dict[str, Callable] = {"connect4": BatchedConnect4, "othello": BatchedOthello}


def make_game(game_id: str, num_envs: int, device=None, backend: str | None = None, seed: int | None = None, **params):
    """Build ``num_envs`` batched games of ``game_id`` (e.g. ``connect4`` with ``rows``, ``cols``)."""
    try:
        cls = GAMES[game_id]
    except KeyError:
        raise ValueError(f"unknown game id {game_id!r}; registered: {', '.join(sorted(GAMES))}") from None
    return cls(num_envs, device=device, backend=backend, seed=seed, **params)


__all__ = ["make_game", "GAMES", "BatchedConnect4", "BatchedOthello"]
