"""Solver-backed opponents: ``perfect`` and ``solver:D``, both on the bitbully Connect4 solver.

bitbully (an optional extra: ``pip install -e '.[solver]'``) solves 6x7 Connect4 exactly, with
an opening book for the first 12 plies. Scores follow the usual convention of Connect4
solvers (http://blog.gamesolver.org/solving-connect-four/02-test-protocol/): for the side to
move after playing a column, positive = a forced win (larger = sooner), 0 = a draw,
negative = a forced loss (more negative = sooner).

Unlike the kernel opponents these run per game on the host, whatever the training device:
positions are copied to the CPU, each game is scored by the solver, and the moves copied
back. They are for evaluation and for judging agents, not for throughput (``docs/opponents.md``
gives their cost). Scores of positions seen before are cached per opponent.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from kernels.geometry import Geometry
from src.games.backends import resolve_device
from src.opponents.base import Opponent

SOLVER_GEOMETRY = Geometry(6, 7)
MAX_SOLVER_DEPTH = 42
INSTALL_HINT = "pip install -e '.[solver]'"
ILLEGAL = -1000  # score of a full column (bitbully's own sentinel)
_U64 = 0xFFFFFFFFFFFFFFFF


class SolverUnavailable(RuntimeError):
    """bitbully is not installed."""


def solver_module():
    """The bitbully core module; SolverUnavailable with the install line when it is missing."""
    try:
        import bitbully.bitbully_core as core
    except ImportError:
        raise SolverUnavailable(f"the Connect4 solver (bitbully) is not installed: {INSTALL_HINT}") from None
    return core


def check_solver_geometry(geometry: Geometry | None, what: str = "the solver") -> None:
    """ValueError unless the board is 6x7, the only size bitbully solves."""
    g = geometry if geometry is not None else SOLVER_GEOMETRY
    if (g.rows, g.cols) != (SOLVER_GEOMETRY.rows, SOLVER_GEOMETRY.cols):
        raise ValueError(f"{what} solves 6x7 boards only; this board is {g.rows}x{g.cols}")


class Solver:
    """Exact (or depth-limited) move scores of 6x7 positions given as bitboard words.

    ``depth=None``: exact scores, opening book on. ``depth=D``: bitbully's search cut at D
    plies without the book, the frontier valued by a rollout of non-losing moves, so scores
    are estimates. ``cache`` positions' scores are kept (least recently used dropped).
    """

    def __init__(self, depth: int | None = None, cache: int = 200_000):
        core = solver_module()
        self.depth = depth
        if depth is None:
            import bitbully_databases

            self._core = core.BitBullyCore(bitbully_databases.BitBullyDatabases.get_database_path("default"))
        else:
            self._core = core.BitBullyCore()
        self._board_cls = core.BoardCore
        self._cache: OrderedDict[tuple[int, int], tuple[int, ...]] = OrderedDict()
        self._cache_size = cache
        g = SOLVER_GEOMETRY
        self._cells = [(c, r, g.bit(r, c)) for c in range(g.cols) for r in range(g.rows)]

    def board(self, cur: int, mask: int):
        """The bitbully board of position (cur, mask); the first player's stones are ``cur``
        when an even number of stones is on the board."""
        first = cur if bin(mask).count("1") % 2 == 0 else cur ^ mask
        grid = [[0] * SOLVER_GEOMETRY.rows for _ in range(SOLVER_GEOMETRY.cols)]
        for c, r, bit in self._cells:
            if mask & bit:
                grid[c][r] = 1 if first & bit else 2
        b = self._board_cls()
        if not b.setBoard(grid):
            raise ValueError(f"not a reachable Connect4 position: cur={cur:#x}, mask={mask:#x}")
        return b

    def scores(self, cur: int, mask: int) -> tuple[int, ...]:
        """Per column, the score for the side to move of playing it (ILLEGAL for a full column)."""
        key = (int(cur), int(mask))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        b = self.board(*key)
        raw = self._core.scoreMoves(b) if self.depth is None else self._core.scoreMoves(b, max_depth=self.depth)
        out = tuple(int(s) if b.isLegalMove(c) else ILLEGAL for c, s in enumerate(raw))
        self._cache[key] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out


def _stream_seed(seed: int | None, salt: int) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy) & _U64
    return int(np.random.SeedSequence([int(seed) & _U64, salt]).generate_state(1, np.uint64)[0])


class SolverOpponent(Opponent):
    """Plays a move with the best solver score, uniformly at random among equal scores.

    ``act(cur, mask, active=None)`` takes and returns tensors on the opponent's device like
    the kernel opponents; only the ``active`` games are solved (others get column 0). It keeps
    ``Opponent``'s interface (spec, params, state) but not its kernel stream: no kernel, and a
    numpy stream for the tie-breaks.
    """

    name = "perfect"
    on_host = True  # runs per game on the CPU: samplers should hand it only the games it plays

    def __init__(self, geometry: Geometry | None = None, device: str | torch.device | None = None,
                 backend: str | None = None, seed: int | None = None, depth: int | None = None):
        check_solver_geometry(geometry, f"the {self.name!r} opponent")
        self.geometry = SOLVER_GEOMETRY
        self.device = resolve_device(device)
        self.backend = "host"
        self.solver = Solver(depth)
        self.rng = np.random.Generator(np.random.PCG64(_stream_seed(seed, 0x736F6C766572)))  # b"solver"

    def choose(self, cur: int, mask: int) -> int:
        if mask == SOLVER_GEOMETRY.board:
            return 0
        scores = np.array(self.solver.scores(cur, mask))
        best = np.flatnonzero(scores == scores.max())
        return int(best[self.rng.integers(len(best))]) if len(best) > 1 else int(best[0])

    def act(self, cur: torch.Tensor, mask: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """Moves for the side to move: cur, mask int64 [N] -> int64 [N] on the same device."""
        c, m = cur.cpu().tolist(), mask.cpu().tolist()
        todo = range(len(c)) if active is None else active.cpu().nonzero().flatten().tolist()
        out = [0] * len(c)
        for i in todo:
            out[i] = self.choose(c[i], m[i])
        return torch.tensor(out, dtype=torch.int64).to(cur.device)

    def state_dict(self) -> dict:
        return {"backend": "host", "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class DepthSolverOpponent(SolverOpponent):
    """``solver:D``: the best score of bitbully's search cut at ``depth`` plies (no opening
    book, rollout at the frontier), uniformly at random among equal scores."""

    name = "solver"

    def __init__(self, geometry: Geometry | None = None, device: str | torch.device | None = None,
                 backend: str | None = None, seed: int | None = None, depth: int = 8):
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_SOLVER_DEPTH:
            raise ValueError(f"solver depth must be an integer from 1 to {MAX_SOLVER_DEPTH}, got {depth!r}")
        super().__init__(geometry, device, backend, seed, depth=depth)

    @property
    def params(self) -> dict:
        return {"depth": self.solver.depth}
