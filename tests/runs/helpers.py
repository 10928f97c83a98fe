"""Helpers for the run-directory tests: real child processes that use RunDir."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from src.runs.files import read_json

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FAKE_TRAINER = HERE / "_fake_trainer.py"
CRASH_WRITER = HERE / "_crash_writer.py"


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def kill_and_reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()  # SIGKILL works on a SIGSTOPped process too
    proc.wait(timeout=20)


@contextmanager
def spawn(argv, **kwargs):
    """Popen that is always killed and reaped when the block ends."""
    proc = subprocess.Popen(argv, cwd=REPO, env=child_env(), **kwargs)
    try:
        yield proc
    finally:
        kill_and_reap(proc)


@contextmanager
def fake_run(run_dir: Path, *args: str):
    """A running fake trainer in `run_dir`; yields once its first 'running' status is written."""
    with spawn([sys.executable, str(FAKE_TRAINER), str(run_dir), *args]) as proc:
        wait_until(lambda: (read_json(run_dir / "status.json") or {}).get("pid") == proc.pid or proc.poll() is not None,
                   what="the fake trainer's first status")
        yield proc
