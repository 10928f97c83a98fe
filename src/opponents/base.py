"""``Opponent``: a batched policy over bitboards with its own seeded random stream.

An opponent acts for the side to move in every game at once: ``act(cur, mask)`` takes the
position words (int64 [N], see ``kernels.geometry``) on its device and returns one column
per game (int64 [N]) without leaving the device. The work is one kernel call of
``kernels.opponents_torch`` (any device) or ``kernels.opponents_numba`` (CPU), picked by
``backend``; both compute the same definitions (``docs/opponents.md``).
"""
from __future__ import annotations

import torch

from kernels import opponents_numba as knb
from kernels import opponents_torch as kt
from kernels.geometry import Geometry
from src.opponents.stream import KernelOpponent


class Opponent(KernelOpponent):
    """Base class of Connect4's kernel opponents: subclasses name their kernel (``kernel``, the
    same in ``kernels.opponents_torch`` and ``kernels.opponents_numba``) and its extra arguments
    (``_args``); the kernels take the board's ``geometry`` after the words."""

    torch_kernels, numba_kernels = kt, knb

    def __init__(self, geometry: Geometry | None = None, device: str | torch.device | None = None,
                 backend: str | None = None, seed: int | None = None):
        self.geometry = geometry if geometry is not None else Geometry()
        super().__init__(device, backend, seed)

    def _kernel_args(self) -> tuple:
        return (self.geometry, *self._args())

    def act(self, cur: torch.Tensor, mask: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Moves for the side to move: cur, mask int64 [N] on the opponent's device -> int64 [N].

        Always a legal column where one exists (0 on a full board). ``active`` (bool [N]) marks
        the games whose move is used; a kernel computes every game anyway (no host sync).
        """
        return self._run(self.kernel, cur, mask)
