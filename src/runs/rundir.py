"""The run directory: the only place a run writes files (spec: "Run directory layout").

    run_dir/
      config.yaml      exact copy of the config text
      meta.json        written once (`make_meta`)
      status.json      rewritten at every status interval (`write_status`)
      pid              the process id alone, so `kill $(cat pid)` works; exists while running
      stop             created by `runs stop` when SIGTERM cannot be sent; the trainer polls it
      error.log        traceback of the exception that ended the run
      metrics.jsonl    one JSON object per line, appended
      checkpoints/     <prefix>_<step>.pt (the model: `load_agent` reads these)
      state/           state_<step>.pt: the whole training state, for `--resume` (newest K kept)
      resumes.jsonl    one line per resume (time, command, git commit, from step)
      tensorboard/     event files mirroring metrics.jsonl, with `enable_tensorboard()`

The order the trainer follows, so that `runs list` can tell the states apart:
`create` -> `write_pid` -> `write_status({"status": "running", ...})` ... ->
final `write_status` (completed / stopped) -> `remove_pid` last. A pid file whose
process is gone therefore always means the run died.

All writes except metrics are atomic (see `files.py`). torch is imported only
when a checkpoint is saved.
"""

from __future__ import annotations

import json
import os
import platform
import re
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
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    is_temp_file,
    read_json,
    read_jsonl,
    writes_to,
)

_STATE_NAME = re.compile(r"state_(\d+)\.pt")

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
    STATE = "state"
    RESUMES = "resumes.jsonl"
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
        self.state_dir = self.path / self.STATE
        self.resumes_path = self.path / self.RESUMES
        self.tensorboard_path = self.path / self.TENSORBOARD
        self._tensorboard = None
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # ---- creation --------------------------------------------------------------------------
    def looks_like_run(self) -> bool:
        """True if any file that only a run writes is present."""
        return any(p.exists() for p in (self.config_path, self.meta_path, self.status_path, self.pid_path))

    def foreign_contents(self) -> list[str]:
        """The names in an existing directory that is not a run (sorted; [] when it is a run,
        empty or missing): a new run must not mix its files with these."""
        if not self.path.is_dir() or self.looks_like_run():
            return []
        try:
            return sorted(p.name + ("/" if p.is_dir() else "") for p in self.path.iterdir())
        except OSError:
            return []

    def check_usable_for_new_run(self) -> None:
        """RunDirError unless the path is missing or an empty directory."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} exists and is not a directory")
        if self.looks_like_run():
            raise RunDirError(f"run directory {self.path} already holds a run; choose a new --run_dir "
                              "or remove the old one")
        foreign = self.foreign_contents()
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise RunDirError(f"run directory {self.path} is not empty and is not a run (it holds {shown}); "
                              "choose a new or empty --run_dir")

    # ---- the lock: one process at a time trains in a run directory ----------------------------
    def lock(self) -> bool:
        """Take the run's lock (an exclusive flock on the directory itself, released when this
        process ends or calls ``unlock``). False if another process holds it."""
        import fcntl

        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        fd = self._lock_fd
        if fd is not None:
            self._lock_fd = None
            os.close(fd)  # closing the descriptor releases the flock

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

    def append_error(self, text: str) -> None:
        """Append ``text`` to `error.log` in one write (a data-parallel run: each failing rank
        adds its own section; sections are small, so concurrent appends do not interleave)."""
        data = text if text.endswith("\n") else text + "\n"
        fd = os.open(self.error_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- checkpoints / metrics ---------------------------------------------------------------
    def checkpoint_path(self, prefix: str, step: int) -> Path:
        return self.checkpoints / f"{prefix}_{step}.pt"

    def save_checkpoint(self, obj: Any, prefix: str, step: int) -> Path:
        """`torch.save` `obj` atomically to `checkpoints/<prefix>_<step>.pt` and return that path."""
        path = self.checkpoint_path(prefix, step)
        with writes_to(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(obj, path)
        return path

    def append_metrics(self, record: dict) -> None:
        """Append `record` as one line of `metrics.jsonl` (flushed and fsynced), and mirror its
        numeric fields to TensorBoard once `enable_tensorboard()` was called."""
        append_jsonl(self.metrics_path, record)
        if self._tensorboard is not None:
            self._tensorboard.add_record(record)

    def enable_tensorboard(self, resumed_from_step: int | None = None) -> None:
        """Mirror every metrics record from now on as TensorBoard scalars under `tensorboard/`
        (see `src.runs.tensorboard`); a run resumed from `resumed_from_step` supersedes the
        events past that step, as `begin_resume` does the metrics records. Raises ImportError
        naming the extra when tensorboard is not installed."""
        from src.runs.tensorboard import TensorBoardWriter

        if self._tensorboard is None:
            purge = None if resumed_from_step is None else resumed_from_step + 1
            self._tensorboard = TensorBoardWriter(self.tensorboard_path, purge_step=purge)

    def close(self) -> None:
        """Flush and close the TensorBoard writer, if any (the other files are closed per write)."""
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def read_metrics(self) -> list[dict]:
        """All complete records of `metrics.jsonl`; a line torn by a kill is skipped."""
        return read_jsonl(self.metrics_path)

    # ---- training state (resume) ---------------------------------------------------------------
    def state_path(self, step: int) -> Path:
        return self.state_dir / f"state_{step}.pt"

    def state_steps(self) -> list[int]:
        """Steps of the `state/state_<step>.pt` files, ascending (temp files of a write that a kill
        interrupted are not among them: a state file exists only once it is complete)."""
        try:
            names = [p.name for p in self.state_dir.iterdir()]
        except OSError:
            return []
        return sorted(int(m.group(1)) for m in map(_STATE_NAME.fullmatch, names) if m)

    def save_state(self, obj: Any, step: int, keep_last: int | None = None) -> Path:
        """`torch.save` the training state atomically to `state/state_<step>.pt`, then remove all
        but the newest `keep_last` state files (None: keep all). The new file is complete before
        any old one goes, so a kill at any moment leaves at least one complete state."""
        path = self.state_path(step)
        with writes_to(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(obj, path)
        if keep_last is not None:
            for old in self.state_steps()[:-keep_last]:
                self.state_path(old).unlink(missing_ok=True)
        return path

    def read_resumes(self) -> list[dict]:
        return read_jsonl(self.resumes_path)

    def set_aside(self, path: Path) -> Path:
        """Rename an unreadable state file to ``<name>.unreadable`` (``.unreadable.2``, ... if
        taken): kept for inspection, no longer among `state_steps`, so nothing deletes it."""
        target, n = path.with_name(path.name + ".unreadable"), 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.unreadable.{n}")
        with writes_to(target):
            os.replace(path, target)
        return target

    def begin_resume(self, record: dict, from_step: int, checkpoint_prefix: str) -> int:
        """Prepare the directory for a run resumed from the state at `from_step`; returns how
        many times the run has now been resumed.

        What the run wrote after that state is superseded: `metrics.jsonl` records with a
        larger step are dropped, as are state and `<checkpoint_prefix>_<step>.pt` files with a
        larger step and temp files left by a kill. A `stop` file is removed (it would stop the
        resumed run at once) and `error.log` is kept as `error.<n>.log`. `record` (time,
        command, git commit, from step, ...) is appended to `resumes.jsonl`; `meta.json` and
        `config.yaml` stay as first written.
        """
        self._drop_metrics_after(from_step)
        for step in self.state_steps():
            if step > from_step:
                self.state_path(step).unlink(missing_ok=True)
        model = re.compile(re.escape(checkpoint_prefix) + r"_(\d+)\.pt")
        for folder in (self.checkpoints, self.state_dir):
            for p in (folder.iterdir() if folder.is_dir() else ()):
                m = model.fullmatch(p.name) if folder == self.checkpoints else None
                if is_temp_file(p) or (m and int(m.group(1)) > from_step):
                    p.unlink(missing_ok=True)
        self.clear_stop()
        n = len(self.read_resumes()) + 1
        if self.error_path.exists():
            os.replace(self.error_path, self.path / f"error.{n - 1}.log")
        append_jsonl(self.resumes_path, record)
        return n

    def _drop_metrics_after(self, step: int) -> None:
        """Rewrite `metrics.jsonl` (atomically) without the records past `step`, and without a
        torn line: curves never count a step twice."""
        if not self.metrics_path.exists():
            return
        kept = [r for r in self.read_metrics() if not (isinstance(r.get("step"), int) and r["step"] > step)]
        atomic_write_bytes(self.metrics_path,
                           "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept).encode("utf-8"))


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


def resume_record(command: str | None, from_step: int, total_steps: int, exact: bool) -> dict:
    """One line of `resumes.jsonl`."""
    commit = _git("rev-parse", "HEAD")
    return {"time": utc_now_iso(), "command": command if command is not None else _invocation(),
            "git_commit": commit.strip() if commit else None, "from_step": from_step,
            "total_steps": total_steps, "exact": exact}


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
