"""Othello's opponents: ``random``, ``greedy`` and ``search:D`` (definitions in ``docs/opponents.md``).

Each acts for the side to move in every game at once: ``act(mine, theirs, player, active=None)``
takes the words of an ``OthelloState`` (int64 [N] on the opponent's device) and returns one
action per game (int64 [N], the pass where no cell is legal) without leaving the device. The
work is one call of ``kernels.othello_opponents_torch`` (any device) or
``kernels.othello_opponents_numba`` (CPU), by ``backend``; both compute the same definitions.
Ties are broken uniformly at random from the opponent's own seeded stream.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from kernels import othello_opponents_numba as knb
from kernels import othello_opponents_torch as kt
from kernels.othello_opponents_numba import MAX_SEARCH_DEPTH
from src.games.backends import resolve_backend, resolve_device
from src.opponents.base import _U64, _stream_seed


class OthelloOpponent:
    """Base class: subclasses name their kernel (the same in both kernel modules) and its extra arguments."""

    name: ClassVar[str]
    kernel: ClassVar[str]
    on_host = False

    def __init__(self, game=None, device: str | torch.device | None = None, backend: str | None = None,
                 seed: int | None = None):
        self.game = game
        self.device = resolve_device(device if device is not None or game is None else game.device)
        self.backend = resolve_backend(backend, self.device)
        self._seed = _stream_seed(seed)
        if self.backend == "torch":
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(self._seed)
        else:
            self.counter = 0

    @property
    def params(self) -> dict:
        return {}

    @property
    def spec(self) -> str:
        return self.name + "".join(f":{v}" for v in self.params.values())

    def _args(self) -> tuple:
        return ()

    def _next_seed(self) -> int:
        self.counter += 1  # one counter-based stream per call, as the numba env's
        return (self._seed * 0x9E3779B97F4A7C15 + self.counter) & _U64

    def act(self, mine: torch.Tensor, theirs: torch.Tensor, player: torch.Tensor | None = None,
            active: torch.Tensor | None = None) -> torch.Tensor:
        """Actions for the side to move: int64 [N] (every game is computed; ``active`` is accepted
        for the protocol and not needed: no host sync either way)."""
        if self.backend == "torch":
            return getattr(kt, self.kernel)(mine, theirs, *self._args(), self.generator)
        out = getattr(knb, self.kernel)(mine.numpy(), theirs.numpy(), *self._args(), self._next_seed())
        return torch.from_numpy(out)

    def state_dict(self) -> dict:
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


class OthelloRandom(OthelloOpponent):
    """Uniformly random legal action."""

    name = "random"

    def act(self, mine, theirs, player=None, active=None):
        if self.backend == "torch":
            return kt.random_actions(mine, theirs, self.generator)
        from kernels import othello_numba

        return torch.from_numpy(othello_numba.random_legal_actions(mine.numpy(), theirs.numpy(), self._next_seed()))


class OthelloGreedy(OthelloOpponent):
    """A legal move that turns over the most discs, uniformly at random among ties."""

    name = "greedy"
    kernel = "greedy_actions"


class OthelloSearch(OthelloOpponent):
    """Depth-limited alpha-beta negamax on the disc difference (``depth`` plies, a forced pass
    counting as one); uniformly random among the best actions."""

    name = "search"
    kernel = "search_actions"

    def __init__(self, game=None, device=None, backend=None, seed=None, depth: int = 2):
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_SEARCH_DEPTH:
            raise ValueError(f"search depth must be an integer from 1 to {MAX_SEARCH_DEPTH}, got {depth!r}")
        super().__init__(game, device, backend, seed)
        self.depth = depth

    @property
    def params(self) -> dict:
        return {"depth": self.depth}

    def _args(self) -> tuple:
        return (self.depth,)


OTHELLO_OPPONENTS: dict[str, type[OthelloOpponent]] = {c.name: c for c in (OthelloRandom, OthelloGreedy, OthelloSearch)}


def make_othello_opponent(name: str, params: dict, game=None, device=None, backend=None, seed=None) -> OthelloOpponent:
    """The Othello opponent ``name`` (``random``, ``greedy``, ``search``) with ``params`` (``{'depth': D}``
    for ``search``); ValueError for another name."""
    if name not in OTHELLO_OPPONENTS:
        raise ValueError(f"opponent {name!r} does not play othello (its opponents: {', '.join(OTHELLO_OPPONENTS)})")
    return OTHELLO_OPPONENTS[name](game, device, backend, seed, **(params or {}))
