"""The run directory: the only place a run writes files (spec: "Run directory layout").

    run_dir/
      config.yaml      exact copy of the config text
      meta.json        written once (`make_meta`)
      status.json      rewritten at every status interval (`write_status`)
      pid              the process id alone, so `kill $(cat pid)` works; exists while running
      stop             created by `runs stop` when SIGTERM cannot be sent; the trainer polls it
      error.log        traceback of the exception that ended the run
      metrics.jsonl    one JSON object per line, appended
      checkpoints/     <prefix>_<step>.pt
      tensorboard/     event files mirroring metrics.jsonl, with `enable_tensorboard()`

The order the trainer follows, so that `runs list` can tell the states apart:
`create` -> `write_pid` -> `write_status({"status": "running", ...})` ... ->
final `write_status` (completed / stopped) -> `remove_pid` last. A pid file whose
process is gone therefore always means the run died.

All writes except metrics are atomic (see `files.py`). torch is imported only
when a checkpoint is saved.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from src.runs.files import (
    append_jsonl,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_jsonl,
)

# Repository whose commit is recorded in meta.json: the one holding this code.
_CODE_ROOT = Path(__file__).resolve().parents[2]


class RunDirError(Exception):
    """A run directory cannot be used (e.g. it already holds a previous run)."""


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with offset, e.g. '2026-01-29T12:00:00+00:00'."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_run_dir(config_path: str | os.PathLike, runs_root: Path = Path("runs"), now: datetime | None = None) -> Path:
    """`runs/<config_stem>_<UTC %Y-%m-%d_%H-%M-%S>`; `_2`, `_3`, ... is appended if that path exists
    (two runs of one config started in the same second)."""
    now = now or datetime.now(timezone.utc)
    base = Path(runs_root) / f"{Path(config_path).stem}_{now.astimezone(timezone.utc):%Y-%m-%d_%H-%M-%S}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def _own_create_time() -> float:
    return psutil.Process(os.getpid()).create_time()


class RunDir:
    """Paths and writers of one run directory. Cheap to construct; touches nothing until a method is called."""

    CONFIG = "config.yaml"
    META = "meta.json"
    STATUS = "status.json"
    PID = "pid"
    STOP = "stop"
    ERROR = "error.log"
    METRICS = "metrics.jsonl"
    CHECKPOINTS = "checkpoints"
    TENSORBOARD = "tensorboard"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / self.CHECKPOINTS
        self.config_path = self.path / self.CONFIG
        self.meta_path = self.path / self.META
        self.status_path = self.path / self.STATUS
        self.pid_path = self.path / self.PID
        self.stop_path = self.path / self.STOP
        self.error_path = self.path / self.ERROR
        self.metrics_path = self.path / self.METRICS
        self.tensorboard_path = self.path / self.TENSORBOARD
        self._tensorboard = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # ---- creation --------------------------------------------------------------------------
    def looks_like_run(self) -> bool:
        """True if any file that only a run writes is present."""
        return any(p.exists() for p in (self.config_path, self.meta_path, self.status_path, self.pid_path))

    def create(self, config_text: str, meta: dict) -> None:
        """Create the directory (parents too; an existing empty or unrelated directory is fine),
        `checkpoints/`, `config.yaml` (exactly `config_text`) and `meta.json`.

        Raises RunDirError if the path is a file or already holds a run.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} exists and is not a directory")
        existing = [p.name for p in (self.config_path, self.meta_path) if p.exists()]
        if existing:
            raise RunDirError(
                f"run directory {self.path} already holds a run ({', '.join(existing)} present); "
                "choose a new --run_dir or remove the old one"
            )
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_path, config_text)
        atomic_write_json(self.meta_path, meta)

    # ---- pid / status / stop -----------------------------------------------------------------
    def write_pid(self) -> None:
        """Write this process's pid (and nothing else) to `pid`."""
        atomic_write_text(self.pid_path, f"{os.getpid()}\n")

    def remove_pid(self) -> None:
        """Remove `pid`; the last thing a run does. A missing file is fine."""
        self.pid_path.unlink(missing_ok=True)

    def read_pid(self) -> int | None:
        """The pid in `pid`, or None if missing or not a plain positive integer above 1."""
        try:
            text = self.pid_path.read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return None
        if not text.isdigit():
            return None
        pid = int(text)
        return pid if pid > 1 else None  # never 0/1: os.kill(0, ...) would signal our own group

    def write_status(self, fields: dict[str, Any]) -> None:
        """Atomically write `status.json` with `fields` (the spec's status fields plus any extras).

        Adds `pid` and `pid_create_time` (psutil create time of this process) so that
        `runs stop` can tell this run's process from a later one that reuses the pid,
        and `last_heartbeat` if the caller did not pass one.
        """
        record = dict(fields)
        record.setdefault("last_heartbeat", utc_now_iso())
        record["pid"] = os.getpid()
        record["pid_create_time"] = _own_create_time()
        atomic_write_json(self.status_path, record)

    def read_status(self) -> dict | None:
        return read_json(self.status_path)

    def read_meta(self) -> dict | None:
        return read_json(self.meta_path)

    def stop_requested(self) -> bool:
        """True once `runs stop` has created the `stop` file (its fallback when SIGTERM fails)."""
        return self.stop_path.exists()

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def write_error(self, text: str) -> None:
        """Atomically write `error.log` (the traceback of the exception that ended the run)."""
        atomic_write_text(self.error_path, text)

    # ---- checkpoints / metrics ---------------------------------------------------------------
    def checkpoint_path(self, prefix: str, step: int) -> Path:
        return self.checkpoints / f"{prefix}_{step}.pt"

    def save_checkpoint(self, obj: Any, prefix: str, step: int) -> Path:
        """`torch.save` `obj` atomically to `checkpoints/<prefix>_<step>.pt` and return that path."""
        path = self.checkpoint_path(prefix, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(obj, path)
        return path

    def append_metrics(self, record: dict) -> None:
        """Append `record` as one line of `metrics.jsonl` (flushed and fsynced), and mirror its
        numeric fields to TensorBoard once `enable_tensorboard()` was called."""
        append_jsonl(self.metrics_path, record)
        if self._tensorboard is not None:
            self._tensorboard.add_record(record)

    def enable_tensorboard(self) -> None:
        """Mirror every metrics record from now on as TensorBoard scalars under `tensorboard/`
        (see `src.runs.tensorboard`). Raises ImportError naming the extra when tensorboard
        is not installed."""
        from src.runs.tensorboard import TensorBoardWriter

        if self._tensorboard is None:
            self._tensorboard = TensorBoardWriter(self.tensorboard_path)

    def close(self) -> None:
        """Flush and close the TensorBoard writer, if any (the other files are closed per write)."""
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def read_metrics(self) -> list[dict]:
        """All complete records of `metrics.jsonl`; a line torn by a kill is skipped."""
        return read_jsonl(self.metrics_path)


# ---- meta.json ---------------------------------------------------------------------------------
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=_CODE_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def _invocation() -> str:
    """How this process was started, e.g. 'python -m src.cli.train --config configs/x.yaml'."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    args = sys.argv[1:]
    if main_spec is not None and main_spec.name:  # started with `python -m`
        module = main_spec.name.removesuffix(".__main__")
        return "python -m " + shlex.join([module, *args])
    return "python " + shlex.join(sys.argv)


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def make_meta(config_path: str | os.PathLike, seed: Any, device: str, command: str | None = None) -> dict:
    """The spec's meta.json fields, no more, no less.

    `git_dirty` counts untracked (not ignored) files too: code that is not committed
    cannot be reproduced from `git_commit`. Both git fields are null when git fails.
    """
    commit = _git("rev-parse", "HEAD")
    porcelain = _git("status", "--porcelain") if commit is not None else None
    return {
        "git_commit": commit.strip() if commit else None,
        "git_dirty": (porcelain.strip() != "") if porcelain is not None else None,
        "command": command if command is not None else _invocation(),
        "start_time_iso": utc_now_iso(),
        "seed": seed,
        "device": device,
        "python_version": platform.python_version(),
        "torch_version": _torch_version(),
        "config_path": str(Path(config_path).resolve()),
    }
