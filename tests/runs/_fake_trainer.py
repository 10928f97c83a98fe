"""Stand-in for the trainer's use of RunDir, run as a real process by the tests.

    python tests/runs/_fake_trainer.py RUN_DIR [--steps N] [--interval S] [--crash-at K]

Follows the order documented in src/runs/rundir.py: create, pid, status 'running' with a
heartbeat every step, then a final status and the pid removed last. SIGTERM or the `stop`
file ends it with status 'stopped'; --steps N (N > 0) ends it 'completed'; --crash-at K
raises at step K, leaving error.log (the pid file is removed, status stays 'running').
"""

import argparse
import signal
import sys
import time
import traceback

from src.runs.rundir import RunDir, utc_now_iso


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, default=0, help="0: run until stopped")
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--crash-at", type=int, default=-1)
    args = parser.parse_args()

    terminated = False

    def on_sigterm(signum, frame):
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_sigterm)
    rd = RunDir(args.run_dir)
    rd.create("seed: 1\ntrain: {total_steps: 100}\n", {"seed": 1, "start_time_iso": utc_now_iso()})
    rd.write_pid()
    start = utc_now_iso()
    step = 0

    def status(state: str) -> None:
        rd.write_status({"status": state, "step": step, "total_steps": args.steps or 1000, "episode": step // 2,
                         "epsilon": 0.5, "start_time": start, "last_heartbeat": utc_now_iso()})

    try:
        status("running")
        while True:
            if terminated or rd.stop_requested():
                status("stopped")
                return 0
            if args.steps and step >= args.steps:
                status("completed")
                return 0
            if step == args.crash_at:
                raise RuntimeError("boom")
            time.sleep(args.interval)
            step += 1
            status("running")
    except Exception:
        rd.write_error(traceback.format_exc())
        return 1
    finally:
        rd.remove_pid()


if __name__ == "__main__":
    sys.exit(main())
