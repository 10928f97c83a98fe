"""Othello 8x8: the game (``Othello``, the ``Game`` protocol over bitboards) and its env
(``BatchedOthello``). Its opponents (random, greedy, ``search:D``) live in ``src.opponents.othello``."""
from __future__ import annotations

from src.config.schema import Schema
from src.games.othello.env import BatchedOthello
from src.games.othello.game import Othello, OthelloState
from src.games.protocol import GameEntry


def make(device, backend, seed=None, compile=False, obs_dtype=None, **params) -> Othello:
    import torch

    return Othello(device, backend, seed, compile, obs_dtype or torch.float32)


def make_opponent(name, params, game, device, backend, seed):
    from src.opponents.othello import make_othello_opponent  # noqa: the opponents import the games

    return make_othello_opponent(name, params, game, device, backend, seed)


ENTRY = GameEntry("othello", make, Schema({}), BatchedOthello, opponents=("random", "greedy", "search"),
                  make_opponent=make_opponent, params_for_shape=lambda shape: {})

__all__ = ["BatchedOthello", "ENTRY", "Othello", "OthelloState"]
