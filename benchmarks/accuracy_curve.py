"""Solver-judged accuracy of every checkpoint of a run, against agent steps and wall time.

    python benchmarks/accuracy_curve.py RUN_DIR [--positions 1000] [--seed 0] [--simulations S]
                                        [--plot curve.png]

For each ``RUN_DIR/checkpoints/<prefix>_<step>.pt`` (in step order) it measures the accuracy of
``python -m src.cli.evaluate CKPT --accuracy N`` (same positions, same judge) and prints one row:
step, wall time since the run started (from the run's ``metrics.jsonl`` status lines: the first
one at or past the checkpoint's step, so a few seconds late at most), perfect and good with
their 95% intervals. ``--simulations`` overrides an AlphaZero checkpoint's search, as in
``evaluate``. ``--plot`` draws both measures against step (matplotlib).

Finer than the run's own ``eval`` section, which measures only every ``eval.interval`` steps.
Needs the solver extra (``pip install -e '.[solver]'``).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import src  # noqa: E402,F401  (threading settings before torch)


def _elapsed(run_dir: Path) -> dict[int, float]:
    """step -> seconds since the run's start, from metrics.jsonl status lines."""
    status = json.loads((run_dir / "status.json").read_text())
    start = datetime.fromisoformat(status["start_time"])
    out = {}
    metrics = run_dir / "metrics.jsonl"
    for line in metrics.read_text().splitlines() if metrics.exists() else []:
        d = json.loads(line)
        if d.get("kind") == "status":
            out[int(d["step"])] = (datetime.fromisoformat(d["time"]) - start).total_seconds()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--positions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="seed of the position set")
    ap.add_argument("--simulations", type=int, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from src.cli.players import load_player
    from src.training.accuracy import measure, position_set

    ckpts = sorted((args.run_dir / "checkpoints").glob("*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not ckpts:
        print(f"error: no checkpoints in {args.run_dir / 'checkpoints'}", file=sys.stderr)
        return 2
    elapsed = _elapsed(args.run_dir)
    rows = []
    print(f"{'step':>9} {'minutes':>8}  {'perfect (95% CI)':<22} {'good (95% CI)':<22}")
    for path in ckpts:
        step = int(path.stem.rsplit("_", 1)[1])
        player = load_player(str(path), torch.device("cpu"), simulations=args.simulations)
        acc = measure(player.opponent, position_set(args.positions, args.seed, player.game))
        later = [s for s in elapsed if s >= step]
        minutes = elapsed[min(later)] / 60 if later else float("nan")
        p, g = acc["perfect"], acc["good"]
        rows.append((step, minutes, p["value"], g["value"]))
        print(f"{step:>9} {minutes:>8.2f}  {p['value']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]   "
              f"{g['value']:.3f} [{g['ci95'][0]:.3f}, {g['ci95'][1]:.3f}]", flush=True)
    if args.plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        steps = [r[0] for r in rows]
        ax.plot(steps, [r[2] for r in rows], "o-", label="perfect (best-score) moves")
        ax.plot(steps, [r[3] for r in rows], "o-", label="good (outcome-keeping) moves")
        for step, minutes, _, good in rows:
            ax.annotate(f"{minutes:.1f} min", (step, good), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
        ax.set_xlabel("agent step")
        ax.set_ylabel(f"solver-judged accuracy\n({args.positions} positions, seed {args.seed})")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        ax.set_title(str(args.run_dir.name))
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
