"""``KernelOpponent``: the game-free base of the batched kernel opponents, one seeded random
stream each.

A kernel opponent acts for the side to move in every game at once: ``act(*words)`` takes a
position's state words (int64 [N] on its device) and returns one action per game (int64 [N])
without leaving the device. The work is one call of the function named ``kernel`` in the
game's torch kernel module (any device; the stream is a ``torch.Generator``) or in its numba
kernel module (CPU; a counter-based stream: one fresh 64-bit seed per call), picked by
``backend``. Connect4's opponents (``src.opponents.base``) and Othello's
(``src.opponents.othello``) are its subclasses.
"""
from __future__ import annotations

from types import ModuleType
from typing import ClassVar

import numpy as np
import torch

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


def check_depth(depth, max_depth: int) -> int:
    """``depth`` if it is an integer from 1 to ``max_depth`` (a search opponent's depth), else ValueError."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= max_depth:
        raise ValueError(f"search depth must be an integer from 1 to {max_depth}, got {depth!r}")
    return depth


class KernelOpponent:
    """Base class: subclasses name their kernel (``kernel``, the same name in ``torch_kernels``
    and ``numba_kernels``) and its arguments after the state words (``_kernel_args``)."""

    name: ClassVar[str]
    kernel: ClassVar[str]
    torch_kernels: ClassVar[ModuleType]
    numba_kernels: ClassVar[ModuleType]
    on_host = False  # kernel opponents stay on the device (solver opponents run on the host)

    def __init__(self, device: str | torch.device | None = None, backend: str | None = None,
                 seed: int | None = None):
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
        """The spec parameters of this opponent (``{}`` unless it has some, e.g. a search's depth)."""
        return {}

    @property
    def spec(self) -> str:
        """Canonical spec string, e.g. ``'greedy'`` or ``'search:4'`` (see ``parse_opponent_spec``)."""
        return self.name + "".join(f":{v}" for v in self.params.values())

    def _args(self) -> tuple:
        """The kernel's own parameters (e.g. a search's depth)."""
        return ()

    def _kernel_args(self) -> tuple:
        """What the kernel takes after the state words and before the random stream."""
        return self._args()

    def _next_seed(self) -> int:
        # one counter-based stream per call, as in src.games.backends.NumbaOps
        self.counter += 1
        return (self._seed * 0x9E3779B97F4A7C15 + self.counter) & _U64

    def _run(self, kernel: str, *words: torch.Tensor) -> torch.Tensor:
        """``kernel``'s actions for the state ``words`` (int64 [N] each) on this opponent's backend."""
        if self.backend == "torch":
            return getattr(self.torch_kernels, kernel)(*words, *self._kernel_args(), self.generator)
        out = getattr(self.numba_kernels, kernel)(*(w.numpy() for w in words), *self._kernel_args(),
                                                  self._next_seed())
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
