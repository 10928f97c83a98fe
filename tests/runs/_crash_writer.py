"""Writes run files as fast as it can so that the tests can SIGKILL it mid-write.

    python tests/runs/_crash_writer.py RUN_DIR

Imports torch once, then for every line read from stdin forks a worker that loops
forever writing status.json, a checkpoint (256 KB), another JSON file and a metrics line; prints the
worker's pid, then 'reaped' once the worker has died (the test kills it).
"""

import io
import os
import sys

import torch

from src.runs.files import atomic_write_json
from src.runs.rundir import RunDir, utc_now_iso


def worker(rd: RunDir) -> None:
    step = (rd.read_status() or {}).get("step", 0)
    weights = torch.arange(64 * 1024, dtype=torch.float32)
    while True:
        step += 1
        rd.write_status({"status": "running", "step": step, "total_steps": 10**9, "episode": step,
                         "epsilon": 0.1, "start_time": utc_now_iso(), "last_heartbeat": utc_now_iso(),
                         "padding": "x" * 50_000})
        rd.save_checkpoint({"step": step, "weights": weights + step}, "model", step % 3)
        atomic_write_json(rd.path / "extra.json", {"step": step, "values": list(range(5000))})
        rd.append_metrics({"step": step, "loss": 1.0 / step})


def main() -> None:
    rd = RunDir(sys.argv[1])
    rd.create("seed: 1\n", {"seed": 1})
    torch.save(torch.zeros(1), io.BytesIO())  # lazy imports done once here, not in every worker
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                worker(rd)
            finally:
                os._exit(1)
        print(pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)


if __name__ == "__main__":
    main()
