"""Opponent specs: how configs name an opponent, and the factory that builds one.

A spec is either a string ``name`` or ``name:depth``, or a one-key mapping ``{name: params}``:

    random | heuristic | smart_heuristic | search      (search alone = depth 4)
    search:4                 == {"search": {"depth": 4}}
    perfect | solver:8       (the bitbully solver: exact, or cut at D plies; 6x7 only)
    {"heuristic": {}}        == {"heuristic": None} == "heuristic"
"""
from __future__ import annotations

import difflib
from typing import Any, Mapping

import torch

from kernels.geometry import Geometry
from kernels.opponents_torch import MAX_SEARCH_DEPTH
from src.opponents.base import Opponent
from src.opponents.heuristics import HeuristicOpponent, RandomOpponent, SearchOpponent, SmartHeuristicOpponent
from src.opponents.solver import MAX_SOLVER_DEPTH, DepthSolverOpponent, SolverOpponent

OPPONENTS: dict[str, type[Opponent]] = {
    cls.name: cls for cls in (RandomOpponent, HeuristicOpponent, SmartHeuristicOpponent, SearchOpponent,
                              SolverOpponent, DepthSolverOpponent)
}
# names only other games' registry entries build (src.games.GameEntry.make_opponent): Othello's greedy
OTHER_GAMES_OPPONENTS = ("greedy",)
OPPONENT_NAMES: tuple[str, ...] = tuple(OPPONENTS) + OTHER_GAMES_OPPONENTS
SOLVER_OPPONENTS = ("perfect", "solver")  # backed by the bitbully solver: 6x7 only, run on the host
DEFAULT_SEARCH_DEPTH = 4
DEFAULT_SOLVER_DEPTH = 8
_PARAMS = {"search": ("depth",), "solver": ("depth",)}  # the parameters each opponent takes, in spec-string order
_DEPTHS = {"search": (DEFAULT_SEARCH_DEPTH, MAX_SEARCH_DEPTH), "solver": (DEFAULT_SOLVER_DEPTH, MAX_SOLVER_DEPTH)}


def _fail(spec: Any, why: str) -> ValueError:
    return ValueError(f"opponent spec {spec!r}: {why}")


def _check_name(spec: Any, name: Any) -> str:
    if not isinstance(name, str) or name not in OPPONENT_NAMES:
        close = [n for n in OPPONENT_NAMES if str(name) and n.startswith(str(name))]
        close = close or difflib.get_close_matches(str(name), OPPONENT_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _fail(spec, f"unknown opponent {name!r}{hint} (expected one of {', '.join(OPPONENT_NAMES)})")
    return name


def _check_depth(spec: Any, name: str, depth: Any) -> int:
    if isinstance(depth, str) and depth.strip().isdigit():
        depth = int(depth)
    top = _DEPTHS[name][1]
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= top:
        raise _fail(spec, f"{name} depth must be an integer from 1 to {top}, got {depth!r}")
    return depth


def parse_opponent_spec(spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` of an opponent spec, e.g. ``'search:4'`` -> ``('search', {'depth': 4})``.

    Raises ValueError with a one-line message for an unknown name (suggesting the closest
    one), a parameter the opponent does not take, or a depth outside 1..MAX_SEARCH_DEPTH.
    """
    if isinstance(spec, str):
        name, *args = [part.strip() for part in spec.split(":")]
        name = _check_name(spec, name)
        allowed = _PARAMS.get(name, ())
        if len(args) > len(allowed):
            raise _fail(spec, f"{name!r} takes {'no parameters' if not allowed else 'one parameter, ' + allowed[0]}")
        given = dict(zip(allowed, args))
    elif isinstance(spec, Mapping):
        if len(spec) != 1:
            raise _fail(spec, "a mapping spec has exactly one key, the opponent name, e.g. {'search': {'depth': 4}}")
        (name, given), = spec.items()
        name = _check_name(spec, name)
        given = {} if given is None else given
        if not isinstance(given, Mapping):
            raise _fail(spec, f"the parameters of {name!r} must be a mapping, got {given!r}")
        unknown = sorted(set(given) - set(_PARAMS.get(name, ())))
        if unknown:
            takes = ", ".join(_PARAMS.get(name, ())) or "none"
            raise _fail(spec, f"unknown parameter {unknown[0]!r} for {name!r} (takes: {takes})")
    else:
        raise _fail(spec, "expected a string like 'search:4' or a mapping like {'search': {'depth': 4}}")
    if name in _DEPTHS:
        return name, {"depth": _check_depth(spec, name, given.get("depth", _DEPTHS[name][0]))}
    return name, {}


def check_opponent_usable(spec: str | Mapping[str, Any], geometry: Geometry | None = None) -> None:
    """Beyond the syntax: ValueError if the opponent cannot play on ``geometry`` (solver
    opponents: 6x7 only), SolverUnavailable (a RuntimeError) if its library is missing."""
    name, _ = parse_opponent_spec(spec)
    geometry = getattr(geometry, "geometry", geometry)  # a Connect4 ``Game`` gives its board
    if name in SOLVER_OPPONENTS:
        from src.opponents.solver import check_solver_geometry, solver_module

        check_solver_geometry(geometry, f"opponent {name!r} (the bitbully solver)")
        solver_module()


def format_opponent_spec(name: str, params: Mapping[str, Any] | None = None) -> str:
    """The canonical spec string of ``(name, params)``: ``'heuristic'``, ``'search:4'``."""
    params = params or {}
    return name + "".join(f":{params[p]}" for p in _PARAMS.get(name, ()) if p in params)


def make_opponent(spec: str | Mapping[str, Any], geometry: Geometry | None = None,
                  device: str | torch.device | None = None, backend: str | None = None,
                  seed: int | None = None) -> Opponent:
    """Build the opponent of ``spec`` for ``geometry``: a ``Game`` (another game's opponents come
    from its registry entry) or a Connect4 board (default 6x7), on ``device``
    (None: CUDA if available) with ``backend`` 'torch' or 'numba' (None: numba on the CPU,
    torch elsewhere). The same seed gives the same actions on the same backend and device.
    Solver opponents ignore ``backend``: they run on the host (``on_host``)."""
    name, params = parse_opponent_spec(spec)
    game_id = getattr(geometry, "game_id", None)  # given a ``Game`` (src.games.protocol)
    if game_id is not None and game_id != "connect4":
        from src.games import GAMES

        entry = GAMES[game_id]
        if name not in entry.opponents:
            raise _fail(spec, f"opponent {name!r} does not play {game_id} (its opponents: {', '.join(entry.opponents)})")
        if entry.make_opponent is not None:
            return entry.make_opponent(name, params, geometry, device, backend, seed)
        from src.opponents.generic import GameRandomOpponent

        return GameRandomOpponent(geometry, seed)  # 'random', the one opponent every game has
    if name not in OPPONENTS:
        raise _fail(spec, f"opponent {name!r} does not play connect4")
    geometry = getattr(geometry, "geometry", geometry)  # Connect4's ``Game`` gives its board
    return OPPONENTS[name](geometry, device, backend, seed, **params)
