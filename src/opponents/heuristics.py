"""The built-in opponents: ``random``, ``heuristic``, ``smart_heuristic`` and ``search``.

Precise definitions in ``docs/opponents.md``; the kernels in ``kernels/opponents_*.py``.
"""
from __future__ import annotations

import torch

from kernels.geometry import Geometry
from kernels.opponents_torch import MAX_SEARCH_DEPTH
from src.opponents.base import Opponent
from src.opponents.stream import check_depth


class RandomOpponent(Opponent):
    """Uniformly random legal move."""

    name = "random"
    kernel = "random_actions"


class HeuristicOpponent(Opponent):
    """Win now if possible; else block the opponent's immediate win; else uniformly random legal move."""

    name = "heuristic"
    kernel = "heuristic_actions"


class SmartHeuristicOpponent(Opponent):
    """Win now; else block; else a move that does not hand the opponent an immediate win
    (when one exists); among those candidates the most central column, mirror ties at random."""

    name = "smart_heuristic"
    kernel = "smart_heuristic_actions"


class SearchOpponent(Opponent):
    """Depth-limited negamax that sees only forced wins and losses within ``depth`` plies
    (faster wins and slower losses score higher); uniformly random among the best moves."""

    name = "search"
    kernel = "search_actions"

    def __init__(self, geometry: Geometry | None = None, device: str | torch.device | None = None,
                 backend: str | None = None, seed: int | None = None, depth: int = 4):
        self.depth = check_depth(depth, MAX_SEARCH_DEPTH)
        super().__init__(geometry, device, backend, seed)

    @property
    def params(self) -> dict:
        return {"depth": self.depth}

    def _args(self) -> tuple:
        return (self.depth,)
