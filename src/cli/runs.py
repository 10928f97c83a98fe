"""`python -m src.cli.runs list|stop|show`: see the spec's "Managing runs". Parses and prints; the logic is in src.runs.monitor.

Exit codes: 0 done, 1 nothing to do / failed (not running, not a run, wait timed out), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from src.runs import monitor


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds: {text!r}")
    return value


def _eps_label() -> str:
    """'ε' where stdout can print it, else 'eps' (e.g. an ASCII-only pipe)."""
    try:
        "ε".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "eps"
    return "ε"


def cmd_list(args: argparse.Namespace) -> int:
    report = monitor.list_report(args.runs_dir, show_all=args.all, eps_label=_eps_label())
    for line in report.lines:
        print(line)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.wait:
        args.parser.error("--timeout only applies with --wait")
    timeout = 60.0 if args.timeout is None else args.timeout
    result = monitor.stop_run(args.run_dir, wait=args.wait, timeout=timeout)
    for message in result.messages:
        print(message)
    if result.error:
        print(result.error, file=sys.stderr)
        return 1
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from src.runs.show import PlotPathError, ShowError, plot_run, show_report

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        args.parser.error(f"--plot must name a .png file, got {args.plot}")
    try:
        for line in show_report(args.run_dir):
            print(line)
        if args.plot is not None:
            print(f"plot:     {plot_run(args.run_dir, args.plot)}")
    except ShowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, PlotPathError) else 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m src.cli.runs", description="List, stop and inspect training runs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list running runs (all runs with --all)")
    p.add_argument("--all", action="store_true", help="also show completed, stopped and dead runs")
    p.add_argument("--runs_dir", type=Path, default=Path("runs"), help="folder holding the run directories (default: runs)")
    p.set_defaults(func=cmd_list, parser=p)

    p = sub.add_parser("stop", help="stop a running run (SIGTERM, or the stop file if that fails)")
    p.add_argument("run_dir", type=Path, help="the run directory, e.g. runs/my_experiment")
    p.add_argument("--wait", action="store_true", help="wait until the run has stopped")
    p.add_argument("--timeout", type=_non_negative_seconds, default=None,
                   help="with --wait: give up after SEC seconds, exit 1 (default: 60)")
    p.set_defaults(func=cmd_stop, parser=p)

    p = sub.add_parser("show", help="config summary, progress, latest evaluation and checkpoints of a run")
    p.add_argument("run_dir", type=Path, help="the run directory, e.g. runs/my_experiment")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="also draw the learning curves into FILE.png (needs matplotlib: pip install -e '.[plot]')")
    p.set_defaults(func=cmd_show, parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
