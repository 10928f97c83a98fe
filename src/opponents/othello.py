"""Othello's opponents: ``random``, ``greedy`` and ``search:D`` (definitions in ``docs/opponents.md``).

Each acts for the side to move in every game at once: ``act(mine, theirs, player, active=None)``
takes the words of an ``OthelloState`` (int64 [N] on the opponent's device) and returns one
action per game (int64 [N], the pass where no cell is legal) without leaving the device. The
work is one call of ``kernels.othello_opponents_torch`` (any device) or
``kernels.othello_opponents_numba`` (CPU), by ``backend``; both compute the same definitions.
Ties are broken uniformly at random from the opponent's own seeded stream.
"""
from __future__ import annotations

import torch

from kernels import othello_opponents_numba as knb
from kernels import othello_opponents_torch as kt
from kernels.othello_opponents_numba import MAX_SEARCH_DEPTH
from src.opponents.stream import KernelOpponent, check_depth


class OthelloOpponent(KernelOpponent):
    """Base class: subclasses name their kernel (the same in both kernel modules) and its extra arguments."""

    torch_kernels, numba_kernels = kt, knb

    def __init__(self, game=None, device: str | torch.device | None = None, backend: str | None = None,
                 seed: int | None = None):
        self.game = game
        super().__init__(device if device is not None or game is None else game.device, backend, seed)

    def act(self, mine: torch.Tensor, theirs: torch.Tensor, player: torch.Tensor | None = None,
            active: torch.Tensor | None = None) -> torch.Tensor:
        """Actions for the side to move: int64 [N] (every game is computed; ``active`` is accepted
        for the protocol and not needed: no host sync either way)."""
        return self._run(self.kernel, mine, theirs)


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
        self.depth = check_depth(depth, MAX_SEARCH_DEPTH)
        super().__init__(game, device, backend, seed)

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
