"""Othello 8x8: the game (``Othello``, the ``Game`` protocol over bitboards) and its env
(``BatchedOthello``). Its opponents (random, greedy, ``search:D``) live in ``src.opponents.othello``."""
from __future__ import annotations

from src.games.othello.env import BatchedOthello
from src.games.othello.game import Othello, OthelloState

__all__ = ["BatchedOthello", "Othello", "OthelloState"]
