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
                  params_for_shape=lambda shape: {"rows": int(shape[1]), "cols": int(shape[2])})

__all__ = ["BatchedConnect4", "Connect4", "C4State", "ENTRY", "PARAMS"]
