"""Pascal Pons' Connect4 benchmark: six sets of 1000 positions with exact scores.

The sets ship in ``benchmarks/data/pons/`` (their README gives the source and the format: one
``<moves> <score>`` line per position, the moves as 1-based columns, the score for the side to
move). A player is judged on them as by the accuracy measure (``src.training.accuracy``): its
move is ``perfect`` when the solver scores it best, ``good`` when it keeps the outcome, each
share with a 95% Wilson interval, per set and over all the sets (the sets have equal sizes, so
the overall share is also the average of the sets' shares).

Each position's per-column scores come from the bitbully solver, like the accuracy labels. The
files' own scores are the check that a line was parsed right: the solver's score of the
position (the best of its columns) must equal the file's, or the set is refused
(``BenchmarkError``). Labels are cached like the accuracy sets (``accuracy.cache_dir()``).
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch

from kernels.geometry import Geometry
from src.runs.show import format_pons  # noqa: F401  (re-exported: what evaluate prints)
from src.training.accuracy import (PositionSet, _share, cache_dir, check_accuracy_usable, judge,
                                   label_positions)

DATA_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "pons"
# (file, label): the beginning / middle / end of the game, by difficulty (the README's table)
SETS = (("Test_L3_R1", "end-easy"), ("Test_L2_R1", "middle-easy"), ("Test_L2_R2", "middle-medium"),
        ("Test_L1_R1", "begin-easy"), ("Test_L1_R2", "begin-medium"), ("Test_L1_R3", "begin-hard"))
SET_SIZE = 1000
BENCHMARKS = ("pons",)
FORMAT_VERSION = 1
_MEMORY: dict[tuple, PositionSet] = {}


class BenchmarkError(ValueError):
    """A benchmark file that is missing or does not parse, or whose scores the solver contradicts."""


def parse_line(line: str, where: str, g: Geometry = Geometry()) -> tuple[int, int, int, int]:
    """``<moves> <score>`` -> (cur, mask, ply, score): the position as bitboards (the side to
    move's stones in ``cur``). BenchmarkError naming ``where`` for a malformed line, a move into
    a full column or off the board, or a game already won on the way."""
    from src.training.accuracy import _play, _wins

    parts = line.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].lstrip("-").isdigit():
        raise BenchmarkError(f"{where}: expected '<moves> <score>', got {line.strip()!r}")
    cur = mask = 0
    for i, ch in enumerate(parts[0]):
        col = int(ch) - 1
        if not 0 <= col < g.cols or mask & g.top[col]:
            raise BenchmarkError(f"{where}: move {i + 1} ({ch}) is off the board or into a full column")
        mover_after = cur | ((mask | (mask + g.bottom[col])) ^ mask)
        if _wins(mover_after, g):
            raise BenchmarkError(f"{where}: move {i + 1} ({ch}) wins the game: not a position in play")
        cur, mask = _play(cur, mask, col, g)
    return cur, mask, len(parts[0]), int(parts[1])


def read_set(name: str, n: int = SET_SIZE, data_dir: Path = DATA_DIR) -> tuple[np.ndarray, ...]:
    """The first ``n`` positions of set ``name``: cur, mask int64 [n], ply int8 [n], the file's scores int16 [n]."""
    path = data_dir / name
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"cannot read benchmark set {path}: {getattr(e, 'strerror', None) or e}") from None
    if len(lines) < n:
        raise BenchmarkError(f"{path} has {len(lines)} positions, fewer than the {n} asked for")
    rows = [parse_line(line, f"{path}:{i + 1}") for i, line in enumerate(lines[:n])]
    cur, mask, ply, score = zip(*rows) if rows else ((), (), (), ())
    return (np.array(cur, dtype=np.int64), np.array(mask, dtype=np.int64), np.array(ply, dtype=np.int8),
            np.array(score, dtype=np.int16))


def check_scores(name: str, file_scores: np.ndarray, labels: np.ndarray) -> None:
    """BenchmarkError unless each position's best column score equals the file's score."""
    best = labels.max(axis=1)
    bad = np.flatnonzero(best != file_scores)
    if len(bad):
        i = int(bad[0])
        raise BenchmarkError(f"{name}: the solver scores position {i + 1} {int(best[i])}, the file says "
                             f"{int(file_scores[i])} ({len(bad)} of {len(best)} differ): a parsing error or a foreign file")


def _cache_path(name: str, n: int) -> Path:
    return cache_dir() / "pons" / f"{name}_v{FORMAT_VERSION}_n{n}.npz"


def benchmark_set(name: str, n: int = SET_SIZE, use_cache: bool = True, data_dir: Path = DATA_DIR) -> PositionSet:
    """The first ``n`` positions of set ``name``, each labelled with the solver's per-column
    scores (checked against the file's), from memory, the disk cache, or labelled now."""
    check_accuracy_usable()
    g = Geometry()
    cur, mask, ply, file_scores = read_set(name, n, data_dir)
    key = (name, n, str(data_dir))
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
    path = _cache_path(name, n)
    labels = None
    if use_cache and path.is_file() and data_dir == DATA_DIR:
        try:
            with np.load(path, allow_pickle=False) as z:
                if np.array_equal(z["cur"], cur) and np.array_equal(z["mask"], mask):
                    labels = z["scores"]
        except Exception as e:  # unreadable: label again and replace it
            print(f"warning: ignoring benchmark cache {path} ({type(e).__name__}: {e}); labelling again", file=sys.stderr)
    if labels is None:
        labels = label_positions(cur, mask)
        check_scores(name, file_scores, labels)
        if use_cache and data_dir == DATA_DIR:
            _write_cache(path, cur, mask, labels)
    else:
        check_scores(name, file_scores, labels)
    ps = PositionSet(cur, mask, ply, labels, seed=0, geometry=g)
    if use_cache:
        _MEMORY[key] = ps
    return ps


def _write_cache(path: Path, cur, mask, scores) -> None:
    from src.runs.files import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, cur=cur, mask=mask, scores=scores)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    except OSError as e:  # a read-only home must not stop an evaluation
        print(f"warning: cannot write benchmark cache {path}: {e.strerror or e}", file=sys.stderr)


def _moves(player, ps: PositionSet, device: torch.device, chunk: int = 4096) -> np.ndarray:
    out = []
    for i in range(0, ps.n, chunk):
        cur = torch.from_numpy(ps.cur[i:i + chunk]).to(device)
        mask = torch.from_numpy(ps.mask[i:i + chunk]).to(device)
        out.append(player.act(cur, mask).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def measure_pons(player, positions: int = SET_SIZE, device: str | torch.device = "cpu") -> dict:
    """The player's (``act(cur, mask) -> int64 [N]``, e.g. an opponent or ``AgentOpponent``)
    moves on the first ``positions`` of each set, judged by the solver:
    ``{positions, perfect: {value, ci95}, good: {...}, sets: {label: {file, positions, perfect, good}}}``
    (``positions`` per set; the overall shares pool every set)."""
    if not 1 <= positions <= SET_SIZE:
        raise ValueError(f"positions per Pons set must be from 1 to {SET_SIZE}, got {positions}")
    device = torch.device(device)
    sets, all_perfect, all_good = {}, [], []
    for name, label in SETS:
        ps = benchmark_set(name, positions)
        perfect, good = judge(ps, _moves(player, ps, device))
        sets[label] = {"file": name, "positions": ps.n, "perfect": _share(perfect), "good": _share(good)}
        all_perfect.append(perfect)
        all_good.append(good)
    return {"positions": positions, "perfect": _share(np.concatenate(all_perfect)),
            "good": _share(np.concatenate(all_good)), "sets": sets}
