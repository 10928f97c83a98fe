"""Solver-judged accuracy: how often a player's move is perfect, and how often it keeps the outcome.

A *position set* is ``n`` positions drawn with a seeded stream: for each, a ply uniform in
4..24, reached by uniformly random legal moves from the empty board; a draw whose game was
won or filled up on the way is thrown away and drawn again. Each position is labelled with the solver's exact score of every column (see
``src.opponents.solver``). Labelling is the slow part, so a set is labelled once and cached
on disk, keyed by seed, ``n`` and board size (``$C4ENGINE_CACHE_DIR``, default
``~/.cache/c4engine``), and in memory for the rest of the process.

A player's move in a position is

* ``perfect`` when its score equals the best score (fastest win, or slowest loss, or a draw
  where a draw is best), and
* ``good`` when it keeps the position's outcome: the sign of its score equals the sign of the
  best score (a win stays a win, a draw a draw; every legal move of a lost position is good).

Shares come overall and by ply band, each with a 95% Wilson score interval
(https://en.wikipedia.org/wiki/Binomial_proportion_confidence_interval#Wilson_score_interval).
"""
from __future__ import annotations

import io
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kernels.geometry import Geometry

PLY_MIN, PLY_MAX = 4, 24
BANDS = ((4, 9), (10, 16), (17, 24))
FORMAT_VERSION = 1
_MEMORY: dict[tuple, "PositionSet"] = {}


def check_accuracy_usable(rows: int = 6, cols: int = 7) -> None:
    """ValueError for a board the solver cannot judge, SolverUnavailable if bitbully is missing."""
    from src.opponents.solver import check_solver_geometry, solver_module

    check_solver_geometry(Geometry(rows, cols), "the accuracy measure (judged by the bitbully solver)")
    solver_module()


def cache_dir() -> Path:
    return Path(os.environ.get("C4ENGINE_CACHE_DIR") or Path.home() / ".cache" / "c4engine")


# -- positions ---------------------------------------------------------------------------------
def _wins(bits: int, g: Geometry) -> bool:
    """Four in a row by shift-and pairs (kernels/geometry.py)."""
    for s in g.shifts:
        m = bits & (bits >> s)
        if m & (m >> (2 * s)):
            return True
    return False


def _play(cur: int, mask: int, col: int, g: Geometry) -> tuple[int, int]:
    """The position after the side to move plays ``col``, as seen by the next side to move."""
    new_mask = mask | (mask + g.bottom[col])
    return cur ^ mask, new_mask


def sample_positions(n: int, seed: int, geometry: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` positions as described in the module docstring: cur, mask int64 [n], ply int8 [n]."""
    g = geometry
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(n), g.rows, g.cols])))
    cur_out, mask_out, ply_out = [], [], []
    while len(ply_out) < n:
        ply = int(rng.integers(PLY_MIN, PLY_MAX + 1))
        cur = mask = 0
        ok = True
        for _ in range(ply):
            legal = [c for c in range(g.cols) if not mask & g.top[c]]
            col = legal[int(rng.integers(len(legal)))]
            mover_after = cur | ((mask | (mask + g.bottom[col])) ^ mask)
            cur, mask = _play(cur, mask, col, g)
            if _wins(mover_after, g) or mask == g.board:
                ok = False  # the game ended on the way: skip this draw
                break
        if ok:
            cur_out.append(cur)
            mask_out.append(mask)
            ply_out.append(ply)
    return np.array(cur_out, dtype=np.int64), np.array(mask_out, dtype=np.int64), np.array(ply_out, dtype=np.int8)


@dataclass
class PositionSet:
    """Positions with the solver's scores: cur, mask int64 [n]; ply int8 [n]; scores int16 [n, cols]
    (for the side to move, per column; ``ILLEGAL`` for a full column)."""

    cur: np.ndarray
    mask: np.ndarray
    ply: np.ndarray
    scores: np.ndarray
    seed: int
    geometry: Geometry

    @property
    def n(self) -> int:
        return len(self.ply)


def label_positions(cur: np.ndarray, mask: np.ndarray, solver=None) -> np.ndarray:
    """The exact scores of every column of every position: int16 [n, 7]."""
    from src.opponents.solver import Solver

    solver = solver if solver is not None else Solver()
    return np.array([solver.scores(int(c), int(m)) for c, m in zip(cur, mask)], dtype=np.int16).reshape(len(cur), -1)


def _cache_path(n: int, seed: int, g: Geometry) -> Path:
    return cache_dir() / "accuracy" / f"positions_v{FORMAT_VERSION}_{g.rows}x{g.cols}_seed{seed}_n{n}.npz"


def _read_cache(path: Path, n: int, seed: int, g: Geometry) -> PositionSet | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = [int(x) for x in z["meta"]]
            ps = PositionSet(z["cur"], z["mask"], z["ply"], z["scores"], seed, g)
        if meta != [FORMAT_VERSION, n, seed, g.rows, g.cols] or ps.scores.shape != (n, g.cols) or ps.n != n:
            raise ValueError("it does not match its name")
        return ps
    except Exception as e:  # unreadable or foreign: label again and replace it
        print(f"warning: ignoring accuracy cache {path} ({type(e).__name__}: {e}); labelling again", file=sys.stderr)
        return None


def _write_cache(path: Path, ps: PositionSet) -> None:
    from src.runs.files import atomic_write_bytes

    buf = io.BytesIO()
    g = ps.geometry
    np.savez(buf, cur=ps.cur, mask=ps.mask, ply=ps.ply, scores=ps.scores,
             meta=np.array([FORMAT_VERSION, ps.n, ps.seed, g.rows, g.cols], dtype=np.int64))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    except OSError as e:  # a read-only home must not stop an evaluation
        print(f"warning: cannot write accuracy cache {path}: {e.strerror or e}", file=sys.stderr)


def position_set(n: int, seed: int = 0, geometry: Geometry | None = None, use_cache: bool = True) -> PositionSet:
    """The labelled position set of (n, seed, board size): from memory, else the disk cache,
    else sampled and labelled now (and cached)."""
    g = getattr(geometry, "geometry", geometry)  # a Connect4 ``Game`` gives its board
    g = g if g is not None else Geometry()
    check_accuracy_usable(g.rows, g.cols)
    key = (n, seed, g.rows, g.cols)
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
    path = _cache_path(n, seed, g)
    ps = _read_cache(path, n, seed, g) if use_cache else None
    if ps is None:
        cur, mask, ply = sample_positions(n, seed, g)
        ps = PositionSet(cur, mask, ply, label_positions(cur, mask), seed, g)
        if use_cache:
            _write_cache(path, ps)
    if use_cache:
        _MEMORY[key] = ps
    return ps


# -- judging -----------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


def judge(ps: PositionSet, moves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """perfect, good: bool [n] for one move per position (an illegal move is neither)."""
    from src.opponents.solver import ILLEGAL

    moves = np.asarray(moves, dtype=np.int64)
    inside = (moves >= 0) & (moves < ps.scores.shape[1])
    chosen = ps.scores[np.arange(ps.n), np.clip(moves, 0, ps.scores.shape[1] - 1)].astype(np.int64)
    legal = inside & (chosen != ILLEGAL)
    best = ps.scores.max(axis=1).astype(np.int64)
    return legal & (chosen == best), legal & (np.sign(chosen) == np.sign(best))


def _share(flags: np.ndarray) -> dict:
    k, n = int(flags.sum()), int(flags.size)
    lo, hi = wilson(k, n)
    return {"value": round(k / n, 4) if n else None, "ci95": [round(lo, 4), round(hi, 4)]}


def summarize(ps: PositionSet, perfect: np.ndarray, good: np.ndarray) -> dict:
    """``{positions, seed, perfect: {value, ci95}, good: {...}, bands: {"4-9": {positions, perfect, good}, ...}}``."""
    out = {"positions": ps.n, "seed": ps.seed, "perfect": _share(perfect), "good": _share(good), "bands": {}}
    for lo, hi in BANDS:
        sel = (ps.ply >= lo) & (ps.ply <= hi)
        out["bands"][f"{lo}-{hi}"] = {"positions": int(sel.sum()), "perfect": _share(perfect[sel]),
                                      "good": _share(good[sel])}
    return out


def measure(player, ps: PositionSet, device: str | torch.device = "cpu", chunk: int = 4096) -> dict:
    """Accuracy of ``player`` (``act(cur, mask) -> int64 [N]`` on ``device``, e.g. an opponent or
    ``AgentOpponent``) on the position set; see ``summarize`` for the result."""
    device = torch.device(device)
    moves = []
    for i in range(0, ps.n, chunk):
        cur = torch.from_numpy(ps.cur[i:i + chunk]).to(device)
        mask = torch.from_numpy(ps.mask[i:i + chunk]).to(device)
        moves.append(player.act(cur, mask).cpu().numpy())
    perfect, good = judge(ps, np.concatenate(moves) if moves else np.zeros(0, np.int64))
    return summarize(ps, perfect, good)
