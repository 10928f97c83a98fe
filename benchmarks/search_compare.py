"""PUCT against Gumbel root search (and the solver on or off) with one trained agent, at equal
simulations and, through the seconds column, at equal time: solver-judged accuracy on random
positions and on Pascal Pons' benchmark sets, per search budget.

    python benchmarks/search_compare.py CHECKPOINT [--simulations 8 16 32 64 200] [--positions 1000]
        [--pons 200] [--searches puct gumbel] [--solver on]

Prints one markdown row per (search, simulations): best-score ("perfect") and outcome-keeping
("good") move shares with 95% intervals, and the seconds the measurement took (the agent's
moves only: the solver's judging is cached per position and done once, before the timed runs).
Run it alone on the machine: the seconds are wall time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import src  # noqa: E402,F401  (first, as the CLI does)
import torch  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--simulations", type=int, nargs="+", default=[8, 16, 32, 64, 200])
    ap.add_argument("--searches", nargs="+", choices=("puct", "gumbel"), default=["puct", "gumbel"])
    ap.add_argument("--positions", type=int, default=1000, help="random positions (plies 4-24, seed 0)")
    ap.add_argument("--pons", type=int, default=200, help="positions of each of Pons' six sets (0: none)")
    ap.add_argument("--solver", choices=("on", "off"), default="on")
    args = ap.parse_args(argv)

    from src.cli.players import load_player
    from src.training.accuracy import measure, position_set
    from src.training.pons import measure_pons

    device = torch.device("cpu")
    print(f"{args.checkpoint}, solver {args.solver}, {args.positions} random positions, "
          f"{args.pons} per Pons set; CPU: {_cpu()}")
    print("| search | simulations | random perfect | random good | Pons perfect | Pons good | seconds |")
    print("|---|---:|---|---|---|---|---:|")
    player = load_player(args.checkpoint, device, simulations=args.simulations[0])
    ps = position_set(args.positions, 0, player.game)
    measure(player.opponent, ps, device)  # warm-up: compiles, and the solver's scores get cached
    if args.pons:
        measure_pons(player.opponent, args.pons, device)
    for search in args.searches:
        for sims in args.simulations:
            player = load_player(args.checkpoint, device, simulations=sims)
            player.agent.mcts.kind = search
            player.agent.mcts.solver = args.solver == "on"
            t = time.perf_counter()
            acc = measure(player.opponent, ps, device)
            pons = measure_pons(player.opponent, args.pons, device) if args.pons else None
            seconds = time.perf_counter() - t
            cells = [_share(acc["perfect"]), _share(acc["good"])]
            cells += [_share(pons["perfect"]), _share(pons["good"])] if pons else ["-", "-"]
            print(f"| {search} | {sims} | " + " | ".join(cells) + f" | {seconds:.1f} |", flush=True)
    return 0


def _share(s: dict) -> str:
    lo, hi = s["ci95"]
    return f"{s['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
