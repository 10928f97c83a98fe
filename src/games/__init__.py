"""Game registry: ``make_game(game_id, num_envs, device=None, backend=None, seed=None, **params)``.

``GAMES`` maps a game id to its ``GameEntry`` (``src.games.protocol``); ``make_rules`` builds a
game's rules object (the ``Game`` protocol), ``make_game`` a batched env over it.
"""
from __future__ import annotations

import torch

from src.games.backends import resolve_backend, resolve_device, resolve_obs_dtype
from src.games.connect4 import ENTRY as CONNECT4
from src.games.connect4 import BatchedConnect4
from src.games.env import BatchedGame
from src.games.othello import ENTRY as OTHELLO
from src.games.othello import BatchedOthello
from src.games.protocol import Game, GameEntry

GAMES: dict[str, GameEntry] = {"connect4": CONNECT4, "othello": OTHELLO}
DEFAULT_GAME = "connect4"


def game_entry(game_id: str) -> GameEntry:
    try:
        return GAMES[game_id]
    except KeyError:
        raise ValueError(f"unknown game id {game_id!r}; registered: {', '.join(sorted(GAMES))}") from None


def make_rules(game_id: str, device=None, backend: str | None = None, seed: int | None = None,
               compile: bool = False, obs_dtype: str | torch.dtype = "float32", **params) -> Game:
    """The rules object of ``game_id`` (the ``Game`` protocol) on ``device`` (None: CUDA when
    available) and ``backend`` (None: numba on the CPU, torch elsewhere), its stream seeded by ``seed``."""
    entry = game_entry(game_id)
    device = resolve_device(device)
    return entry.make(device, resolve_backend(backend, device), seed, compile, resolve_obs_dtype(obs_dtype), **params)


def rules_for(game: dict | None, observation_shape, device, backend: str | None = None) -> Game:
    """The rules object an agent plays by: ``game`` (``{id, params}`` as a config or checkpoint
    records it) or, when None, the default game (the default game too when the record names no id) whose observations have ``observation_shape``."""
    if not isinstance(game, dict):
        entry = GAMES[DEFAULT_GAME]
        return make_rules(entry.game_id, device, backend, **entry.params_for_shape(tuple(observation_shape)))
    params = {k: v for k, v in (game.get("params") or {}).items() if k != "obs_dtype"}
    return make_rules(game.get("id", DEFAULT_GAME), device, backend, **params)  # older records name no id


def describe_game(game_id: str, params: dict) -> str:
    """The game for messages: its entry's ``describe`` of the filled params (Connect4: ``6x7
    boards``), else ``othello`` or ``name (k=v, ...)``."""
    params = {k: v for k, v in (params or {}).items() if k != "obs_dtype"}
    entry = GAMES.get(game_id)
    if entry is not None and entry.describe is not None:
        return entry.describe(_filled(entry, params))
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{game_id} ({text})" if text else game_id


def game_warning(game_id: str, params: dict) -> str | None:
    """A warning to print once before training this game with these params (Connect4: a board on
    which no game can be won), else None."""
    entry = game_entry(game_id)
    return entry.warning(_filled(entry, params)) if entry.warning is not None else None


def _filled(entry: GameEntry, params: dict) -> dict:
    """``params`` over the game's defaults."""
    return {**entry.params.fill({}, "game.params"), **(params or {})}


def as_game(game, device, backend: str | None = None) -> Game:
    """``game`` if it is a ``Game`` already; a Connect4 ``kernels.geometry.Geometry`` (what older
    callers pass) becomes that board's Connect4 rules on ``device``."""
    from src.games.connect4 import from_geometry

    rules = from_geometry(game, device, resolve_backend(backend, resolve_device(device)))
    return game if rules is None else rules


def make_game(game_id: str, num_envs: int, device=None, backend: str | None = None, seed: int | None = None, **params):
    """Build ``num_envs`` batched games of ``game_id`` (e.g. ``connect4`` with ``rows``, ``cols``)."""
    entry = game_entry(game_id)
    if entry.env_cls is BatchedGame:
        return BatchedGame(make_rules(game_id, device, backend, seed, **params), num_envs)
    return entry.env_cls(num_envs, device=device, backend=backend, seed=seed, **params)


__all__ = ["make_game", "make_rules", "rules_for", "as_game", "game_entry", "GAMES", "DEFAULT_GAME", "BatchedConnect4",
           "BatchedGame", "BatchedOthello"]
