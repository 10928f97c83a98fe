"""``python -m src.cli.train --config CONFIG [--run_dir DIR]``: run the training pipeline;
``python -m src.cli.train --resume RUN_DIR [--total_steps N]``: continue a stopped, dead or
completed run from its newest complete checkpoint;
``torchrun --nproc_per_node=K -m src.cli.train --config CONFIG [--run_dir DIR]``: one run on K
processes (data-parallel, see ``src.training.distributed``)."""
from __future__ import annotations

import argparse
import os
import shlex
import sys

from src.runs.files import WriteError
from src.runs.rundir import RunDirError
from src.config.schema import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.cli.train", description="Train an agent from a YAML config.")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", help="YAML config file (e.g. configs/dqn_connect4.yaml)")
    what.add_argument("--resume", metavar="RUN_DIR",
                      help="continue this run (stopped, dead or completed) from its newest complete checkpoint, "
                           "with its own config.yaml")
    parser.add_argument("--run_dir", default=None,
                        help="run directory (default: runs/<config_stem>_<UTC timestamp>); not with --resume")
    parser.add_argument("--total_steps", type=int, default=None,
                        help="with --resume: train to this many steps (above the checkpoint's step), "
                             "e.g. to extend a completed run")
    args = parser.parse_args(argv)
    if args.resume is not None and args.run_dir is not None:
        parser.error("--run_dir cannot be used with --resume (the run continues in its own directory)")
    if args.resume is None and args.total_steps is not None:
        parser.error("--total_steps is only for --resume; set train.total_steps in the config")
    if args.total_steps is not None and args.total_steps < 1:
        parser.error(f"--total_steps must be a positive integer, got {args.total_steps}")
    command = "python -m src.cli.train " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    from src.training.distributed import env_world_size

    main_rank = os.environ.get("RANK", "0") == "0"
    if env_world_size() > 1:
        command = _torchrun_command() or command
    from src.training.run import run

    try:
        if args.resume is not None:
            run_dir = run(resume=args.resume, total_steps=args.total_steps, command=command)
        else:
            run_dir = run(args.config, args.run_dir, command=command)
    except (ConfigError, RunDirError) as e:
        if main_rank:  # under torchrun every rank meets the same error: say it once
            print(f"error: {e}", file=sys.stderr)
        return 2
    except WriteError as e:  # disk full, read-only filesystem: the run is dead, its data consistent
        print(f"error: {e} (the run is dead; once the disk can be written again, "
              "resume it with --resume)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if main_rank:
        print(f"run directory: {run_dir}")
    return 0


def _torchrun_command() -> str | None:
    """The torchrun command line that started this worker (its parent process), for meta.json."""
    try:
        import psutil

        return shlex.join(psutil.Process().parent().cmdline())
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
