"""What the solver-backed measures cost, and where the built-in players stand on them.

1. Per-position time of the solver opponents (``perfect``, ``solver:D``), each with a fresh
   solver (empty caches), on the accuracy position set, by ply band: what one move of theirs
   costs in an evaluation game or a labelling run.
2. The accuracy ladder: ``perfect`` / ``good`` shares of the built-in opponents on the same set
   (labelled once and cached, see ``src.training.accuracy``).

    python benchmarks/solver_cost.py                       # 1000 positions, seed 0
    python benchmarks/solver_cost.py --positions 300 --ladder random heuristic search:4
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402
from src.opponents import make_opponent  # noqa: E402
from src.opponents.solver import Solver  # noqa: E402
from src.training.accuracy import BANDS, format_accuracy, measure, position_set  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--solvers", nargs="*", default=["perfect", "solver:4", "solver:8", "solver:12"])
    ap.add_argument("--ladder", nargs="*", default=["random", "heuristic", "smart_heuristic", "search:2", "search:4",
                                                    "search:6", "solver:2", "solver:4", "solver:8", "solver:12", "perfect"])
    args = ap.parse_args()
    print(f"machine: {machine()}")
    t = time.perf_counter()
    ps = position_set(args.positions, args.seed)
    print(f"position set: {ps.n} positions, seed {ps.seed} (ready in {time.perf_counter() - t:.1f} s; "
          "labelling once costs about the 'perfect' total below)\n")
    print(f"{'player':<11} {'total s':>8} {'mean ms':>8} {'median':>7} {'p99':>7} {'max':>7}   "
          + "   ".join(f"mean ms {lo}-{hi}" for lo, hi in BANDS))
    for spec in args.solvers:
        solver = Solver(None if spec == "perfect" else int(spec.split(":")[1]))
        times = np.empty(ps.n)
        for i, (c, m) in enumerate(zip(ps.cur.tolist(), ps.mask.tolist())):
            t = time.perf_counter()
            solver.scores(c, m)
            times[i] = (time.perf_counter() - t) * 1e3
        bands = [times[(ps.ply >= lo) & (ps.ply <= hi)].mean() for lo, hi in BANDS]
        print(f"{spec:<11} {times.sum() / 1e3:>8.1f} {times.mean():>8.2f} {np.median(times):>7.2f} "
              f"{np.percentile(times, 99):>7.1f} {times.max():>7.1f}   " + "   ".join(f"{b:>15.2f}" for b in bands))
    for spec in args.ladder:
        print(f"\n{spec}:")
        print("\n".join(format_accuracy(measure(make_opponent(spec, device="cpu", seed=1), ps))))


if __name__ == "__main__":
    main()
