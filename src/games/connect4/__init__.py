"""Connect4: the game (``Connect4``, the ``Game`` protocol over bitboards), its env
(``BatchedConnect4``) and its registry entry (``ENTRY``). Connect4-only pieces (threat
features, heuristics, ``search:D``, the solver opponents, the accuracy measure) build on it."""
from __future__ import annotations

from kernels.geometry import check_size
from src.config.schema import ConfigError, Field, Schema
from src.games.backends import resolve_device
from src.games.connect4.env import BatchedConnect4
from src.games.connect4.game import C4State, Connect4
from src.games.protocol import GameEntry

PARAMS = Schema({
    "rows": Field("int", 6, "board rows", min=1),
    "cols": Field("int", 7, "board columns", min=1),
})


def check_params(params: dict, key: str) -> None:
    try:
        check_size(params["rows"], params["cols"])
    except ValueError as e:
        raise ConfigError(key, str(e)) from None


def describe(params: dict) -> str:
    """``6x7 boards``: a board size, for messages."""
    return f"{params['rows']}x{params['cols']} boards"


def unwinnable(rows: int, cols: int) -> bool:
    """True for boards on which no game can be won: no line of four fits (fewer than 4 rows and
    fewer than 4 columns), or a single column, where the two players' stones alternate."""
    return (rows < 4 and cols < 4) or cols == 1


def unwinnable_warning(params: dict) -> str | None:
    """The warning to print once before training on such a board, else None."""
    rows, cols = params["rows"], params["cols"]
    if not unwinnable(rows, cols):
        return None
    why = "one column, where the players' stones alternate" if cols == 1 else "no line of four fits"
    return f"warning: no game on a {rows}x{cols} board can be won ({why}): every game is a draw"


def make(device, backend, seed=None, compile=False, obs_dtype=None, **params) -> Connect4:
    import torch

    return Connect4(device, backend, seed, compile, obs_dtype or torch.float32, **params)


def from_geometry(obj, device, backend) -> Connect4 | None:
    """Connect4's rules for ``obj`` if it is a ``kernels.geometry.Geometry`` (what older callers
    pass for a board), else None."""
    from kernels.geometry import Geometry

    if not isinstance(obj, Geometry):
        return None
    return make(resolve_device(device), backend, rows=obj.rows, cols=obj.cols)


ENTRY = GameEntry("connect4", make, PARAMS, BatchedConnect4, check=check_params,
                  opponents=("random", "heuristic", "smart_heuristic", "search", "perfect", "solver"),
                  extras=frozenset({"accuracy", "openings"}),
                  params_for_shape=lambda shape: {"rows": int(shape[1]), "cols": int(shape[2])},
                  describe=describe, warning=unwinnable_warning)

__all__ = ["BatchedConnect4", "Connect4", "C4State", "ENTRY", "PARAMS"]
