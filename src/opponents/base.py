"""``Opponent``: a batched policy over bitboards with its own seeded random stream.

An opponent acts for the side to move in every game at once: ``act(cur, mask)`` takes the
position words (int64 [N], see ``kernels.geometry``) on its device and returns one column
per game (int64 [N]) without leaving the device. The work is one kernel call of
``kernels.opponents_torch`` (any device) or ``kernels.opponents_numba`` (CPU), picked by
``backend``; both compute the same definitions (``docs/opponents.md``).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from kernels import opponents_numba as knb
from kernels import opponents_torch as kt
from kernels.geometry import Geometry
from src.games.backends import resolve_backend, resolve_device

_U64 = 0xFFFFFFFFFFFFFFFF


def _stream_seed(seed: int | None) -> int:
    """The opponent's 64-bit stream seed: ``seed`` mixed with a salt, so that an env and an
    opponent given the same seed do not draw the same random numbers; fresh entropy if None."""
    if seed is None:
        return int(np.random.SeedSequence().entropy) & _U64
    x = (int(seed) ^ 0x6F70706F6E656E74) & _U64  # salt: b"opponent"
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _U64  # splitmix64 finaliser
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _U64
    return x ^ (x >> 31)


class Opponent:
    """Base class: subclasses name their kernel (``kernel``) and its extra arguments (``_args``)."""

    name: ClassVar[str]
    kernel: ClassVar[str]  # function name, the same in kernels.opponents_torch and kernels.opponents_numba

    def __init__(self, geometry: Geometry | None = None, device: str | torch.device | None = None,
                 backend: str | None = None, seed: int | None = None):
        self.geometry = geometry if geometry is not None else Geometry()
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)
        self._seed = _stream_seed(seed)
        if self.backend == "torch":
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(self._seed)
        else:
            self.counter = 0

    @property
    def params(self) -> dict:
        """The spec parameters of this opponent (``{}`` for the heuristics)."""
        return {}

    @property
    def spec(self) -> str:
        """Canonical spec string, e.g. ``'heuristic'`` or ``'search:4'`` (see ``parse_opponent_spec``)."""
        return self.name + "".join(f":{v}" for v in self.params.values())

    def _args(self) -> tuple:
        return ()

    def _next_seed(self) -> int:
        # one counter-based stream per call, as in src.games.backends.NumbaOps
        self.counter += 1
        return (self._seed * 0x9E3779B97F4A7C15 + self.counter) & _U64

    on_host = False  # kernel opponents stay on the device (solver opponents run on the host)

    def act(self, cur: torch.Tensor, mask: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Moves for the side to move: cur, mask int64 [N] on the opponent's device -> int64 [N].

        Always a legal column where one exists (0 on a full board). ``active`` (bool [N]) marks
        the games whose move is used; a kernel computes every game anyway (no host sync).
        """
        if self.backend == "torch":
            return getattr(kt, self.kernel)(cur, mask, self.geometry, *self._args(), self.generator)
        out = getattr(knb, self.kernel)(cur.numpy(), mask.numpy(), self.geometry, *self._args(), self._next_seed())
        return torch.from_numpy(out)

    def state_dict(self) -> dict:
        """The random stream's state (the only state an opponent has)."""
        if self.backend == "torch":
            return {"backend": "torch", "generator": self.generator.get_state()}
        return {"backend": "numba", "seed": self._seed, "counter": self.counter}

    def load_state_dict(self, state: dict) -> None:
        if state.get("backend") != self.backend:
            raise ValueError(f"opponent state is for backend {state.get('backend')!r}, "
                             f"this {self.spec!r} opponent runs on {self.backend!r}")
        if self.backend == "torch":
            self.generator.set_state(state["generator"])
        else:
            self._seed, self.counter = int(state["seed"]), int(state["counter"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, device={str(self.device)!r}, backend={self.backend!r})"
