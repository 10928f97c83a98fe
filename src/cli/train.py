"""``python -m src.cli.train --config CONFIG [--run_dir DIR]``: run the training pipeline."""
from __future__ import annotations

import argparse
import shlex
import sys

from src.runs.rundir import RunDirError
from src.training.schema import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.cli.train", description="Train an agent from a YAML config.")
    parser.add_argument("--config", required=True, help="YAML config file (e.g. configs/dqn_connect4.yaml)")
    parser.add_argument("--run_dir", default=None,
                        help="run directory (default: runs/<config_stem>_<UTC timestamp>)")
    args = parser.parse_args(argv)
    command = "python -m src.cli.train " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    from src.training.run import run

    try:
        run_dir = run(args.config, args.run_dir, command=command)
    except (ConfigError, RunDirError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"run directory: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
