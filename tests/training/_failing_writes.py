"""``python tests/training/_failing_writes.py MODE N LOG -- TRAIN_ARGS...``: ``src.cli.train``
with the run directory's write layer (``src.runs.files``) failing as a full disk or a
filesystem turned read-only would, for the tests of ``test_robustness.py``.

MODE ``enospc``: the first N state files (``state/state_<step>.pt``) are written, every later
one fails with ENOSPC (the other, small files still fit). MODE ``erofs``: the first N writes
of any file succeed, every later write, append and removal fails with EROFS. The path of the
first failed write is appended to LOG.
"""
import errno
import os
import sys
from pathlib import Path

from src.cli import train
from src.runs import files
from src.runs.rundir import RunDir

mode, allowed, log = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
code = errno.ENOSPC if mode == "enospc" else errno.EROFS
seen = {"writes": 0, "failed": False}
real_write, real_open = files._atomic_write, open


def fail(path):
    if not seen["failed"]:
        seen["failed"] = True
        with real_open(log, "a") as f:
            f.write(f"{path}\n")
    raise OSError(code, os.strerror(code))


def counts(path) -> bool:
    """True when this write may go through."""
    if mode == "enospc" and not Path(path).name.startswith("state_"):
        return True
    seen["writes"] += 1
    return seen["writes"] <= allowed and not seen["failed"]


def atomic_write(path, data):
    if not counts(path):
        fail(path)
    real_write(path, data)


def appending_open(path, *args, **kwargs):  # append_jsonl's open
    if not counts(path):
        fail(path)
    return real_open(path, *args, **kwargs)


def remove_pid(self):
    if mode == "erofs" and seen["failed"]:
        fail(self.pid_path)
    self.pid_path.unlink(missing_ok=True)


files._atomic_write = atomic_write
files.open = appending_open
RunDir.remove_pid = remove_pid
sys.exit(train.main(sys.argv[sys.argv.index("--") + 1:]))
