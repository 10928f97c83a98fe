"""What `python -m src.cli.runs` knows: the effective status of a run, its `list` line, and `stop`.

The status a user sees is derived from the files plus the process table, because a
run that was killed cannot update its own status.json:

    pid file | its process                     | status.json says   | shown as
    ---------+---------------------------------+--------------------+-----------------------
    present  | gone (or a zombie)              | anything           | dead
    present  | alive, but another program      | anything           | dead  (pid was reused)
    present  | this run's, heartbeat < 2 min   | running / missing  | running
    present  | this run's, heartbeat >= 2 min  | running / missing  | stale
    present  | this run's                      | completed/stopped  | that (it is exiting)
    absent   | -                               | completed/stopped  | that
    absent   | -                               | running            | dead  (pid is removed last,
             |                                 |                    |  so it ended unfinished)
    absent   | -                               | unreadable/missing | corrupt / unknown

"This run's process" means: psutil's create time of the pid equals the
`pid_create_time` that `RunDir.write_status` recorded (within 1 s); without that
record, the command line must mention `src.cli.train` or `src.training`.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from src.runs.files import atomic_write_text
from src.runs.rundir import RunDir, utc_now_iso

RUNNING, COMPLETED, STOPPED, DEAD, STALE = "running", "completed", "stopped", "dead", "stale"
CORRUPT, UNKNOWN = "corrupt", "unknown"  # files present but not enough to tell
ACTIVE = (RUNNING, STALE)

STALE_AFTER = timedelta(minutes=2)
CREATE_TIME_TOLERANCE_S = 1.0
TRAINER_CMDLINE_MARKERS = ("src.cli.train", "src.training")

# Process ownership, as answered by `pid_owner`.
OWNER_RUN, OWNER_GONE, OWNER_OTHER = "run", "gone", "other"


# ---- reading files leniently -------------------------------------------------------------------
def parse_time(value: object) -> datetime | None:
    """An ISO timestamp as an aware datetime (naive ones are taken as local time), else None."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.astimezone()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _last_line(path: Path, limit: int = 100) -> str | None:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return None
    lines = [ln for ln in lines if ln]
    if not lines:
        return None
    return lines[-1] if len(lines[-1]) <= limit else lines[-1][: limit - 3] + "..."


def format_duration(seconds: float) -> str:
    """'1h 23m 45s', '23m 45s' or '45s'."""
    total = max(0, int(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h {m}m {s}s"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"


# ---- processes ---------------------------------------------------------------------------------
def pid_owner(pid: int, status: dict | None) -> str:
    """OWNER_RUN if `pid` is alive and is the process that wrote `status` (or, without a
    create-time record, a training command), OWNER_GONE if no such live process, else OWNER_OTHER."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return OWNER_GONE
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return OWNER_GONE
    except psutil.Error:
        return OWNER_OTHER
    recorded = _float(status.get("pid_create_time")) if status and status.get("pid") == pid else None
    if recorded is not None:
        return OWNER_RUN if abs(created - recorded) <= CREATE_TIME_TOLERANCE_S else OWNER_OTHER
    try:
        cmdline = proc.cmdline()
    except psutil.NoSuchProcess:
        return OWNER_GONE
    except psutil.Error:
        return OWNER_OTHER
    return OWNER_RUN if any(m in arg for arg in cmdline for m in TRAINER_CMDLINE_MARKERS) else OWNER_OTHER


# ---- one run -----------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """What `runs list` shows about one run directory."""

    path: Path
    status: str  # effective status (see the module docstring)
    has_progress: bool = False  # status.json was readable
    step: int | None = None
    total_steps: int | None = None
    episode: int | None = None
    epsilon: float | None = None
    start_time: datetime | None = None
    last_heartbeat: datetime | None = None
    pid: int | None = None  # from the pid file, if it has a valid one (rank 0's in a torchrun run)
    world_size: int = 1  # processes training the run (torchrun), from status.json
    note: str | None = None
    sort_time: float = 0.0
    status_record: dict | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def inspect_run(path: str | os.PathLike, now: datetime | None = None) -> RunInfo | None:
    """The RunInfo of `path`, or None if it is not a run directory. Never raises on bad files."""
    rd = RunDir(path)
    if not rd.path.is_dir() or not rd.looks_like_run():
        return None
    now = now or datetime.now(timezone.utc)
    status = rd.read_status()
    meta = rd.read_meta() or {}
    stored = status.get("status") if status else None
    info = RunInfo(path=rd.path, status=UNKNOWN, has_progress=status is not None, status_record=status)
    if status:
        info.step = _int(status.get("step"))
        info.total_steps = _int(status.get("total_steps"))
        info.episode = _int(status.get("episode"))
        info.epsilon = _float(status.get("epsilon"))
        info.world_size = _int(status.get("world_size")) or 1
        info.start_time = parse_time(status.get("start_time"))
        info.last_heartbeat = parse_time(status.get("last_heartbeat"))
    info.start_time = info.start_time or parse_time(meta.get("start_time_iso"))

    status_problem = "status.json unreadable" if rd.status_path.exists() else "no status.json"
    pid_file = rd.pid_path.exists()
    info.pid = rd.read_pid()
    if pid_file and info.pid is None:
        if _text(rd.pid_path).strip() == "1":
            # read_pid never returns 1 (signalling it would hit init): never this run's process
            info.status, info.note = DEAD, "the pid file holds pid 1, which belongs to another process (init)"
        else:
            info.status, info.note = CORRUPT, "pid file unreadable"
    elif info.pid is not None:
        owner = pid_owner(info.pid, status)
        if owner == OWNER_GONE:
            info.status = DEAD
        elif owner == OWNER_OTHER:
            info.status, info.note = DEAD, f"pid {info.pid} now belongs to another process"
        elif stored in (COMPLETED, STOPPED):
            info.status = stored  # written its final status, now exiting
        else:
            beat = info.last_heartbeat or info.start_time or _mtime(rd.pid_path, now)
            silent = now - beat
            info.status = STALE if silent > STALE_AFTER else RUNNING
            if info.status == STALE:
                info.note = f"no heartbeat for {format_duration(silent.total_seconds())}"
            if status is None:
                info.note = status_problem
    elif status is None:
        info.status = CORRUPT if rd.status_path.exists() else UNKNOWN
        info.note = status_problem
    elif stored in (COMPLETED, STOPPED, DEAD):
        info.status = stored
    elif stored in ACTIVE:
        info.status, info.note = DEAD, "no pid file: the process ended without a final status"
    else:
        info.note = f"status.json has status {stored!r}"

    if not info.active and rd.error_path.exists():
        info.note = f"error.log: {_last_line(rd.error_path) or '(empty)'}"
    info.sort_time = info.start_time.timestamp() if info.start_time else _mtime(rd.path, now).timestamp()
    return info


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""


def _mtime(path: Path, default: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return default


def format_run_line(info: RunInfo, now: datetime, eps_label: str = "ε") -> str:
    """One `runs list` line, e.g.
    '  my_experiment                            running    step=12345/50000 (24.7%)  ep=678    ε=0.4200  [1h 23m 45s]  (pid=12345)'
    Elapsed is start -> now for active runs and start -> last heartbeat otherwise. A run trained
    by several processes (torchrun) is one line with '  world=K' before its (rank 0) pid."""
    parts = [f"  {info.name:<40} {info.status:<10}"]
    if info.has_progress:
        step = "-" if info.step is None else str(info.step)
        if info.step is not None and info.total_steps:
            step += f"/{info.total_steps} ({100.0 * info.step / info.total_steps:.1f}%)"
        episode = "-" if info.episode is None else str(info.episode)
        epsilon = "-" if info.epsilon is None else f"{info.epsilon:.4f}"
        end = now if info.active else info.last_heartbeat
        elapsed = format_duration((end - info.start_time).total_seconds()) if end and info.start_time else "-"
        parts.append(f" step={step:<19}  {'ep=' + episode:<8}  {eps_label + '=' + epsilon:<8}  [{elapsed}]")
    if info.world_size > 1:
        parts.append(f"  world={info.world_size}")
    if info.pid is not None:
        parts.append(f"  (pid={info.pid})")
    if info.note:
        parts.append(f"  -- {info.note}")
    return "".join(parts).rstrip()


# ---- list ----------------------------------------------------------------------------------------
@dataclass
class ListReport:
    lines: list[str]  # for stdout: one per run, or one friendly sentence
    notes: list[str]  # for stderr: skipped folders, hidden runs


def scan_runs(runs_dir: str | os.PathLike, now: datetime | None = None) -> tuple[list[RunInfo], list[str]]:
    """Every run under `runs_dir` (or `runs_dir` itself if it is a run), oldest first,
    and a note for each folder skipped because it is not a run."""
    runs_dir = Path(runs_dir)
    now = now or datetime.now(timezone.utc)
    own = inspect_run(runs_dir, now)
    if own is not None:
        return [own], []
    runs, skipped = [], []
    try:
        entries = sorted(runs_dir.iterdir())
    except OSError:
        return [], []
    for entry in entries:
        try:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            info = inspect_run(entry, now)
            if info is None:
                what = "empty folder" if not any(entry.iterdir()) else "no status.json, meta.json or pid"
                skipped.append(f"skipped {entry}: not a run ({what})")
            else:
                runs.append(info)
        except OSError as exc:  # e.g. a folder we may not read
            skipped.append(f"skipped {entry}: {exc.strerror or exc}")
    runs.sort(key=lambda r: (r.sort_time, r.name))
    return runs, skipped


def list_report(runs_dir: str | os.PathLike, show_all: bool = False, now: datetime | None = None,
                eps_label: str = "ε") -> ListReport:
    """The output of `runs list [--all]`: active (running/stale) runs only unless `show_all`."""
    runs_dir = Path(runs_dir)
    now = now or datetime.now(timezone.utc)
    if runs_dir.exists() and not runs_dir.is_dir():
        return ListReport([f"No runs: {runs_dir} is a file, not a folder of run directories."], [])
    if not runs_dir.is_dir():
        return ListReport([f"No runs: {runs_dir} does not exist."], [])
    runs, skipped = scan_runs(runs_dir, now)
    shown = runs if show_all else [r for r in runs if r.active]
    lines = [format_run_line(r, now, eps_label) for r in shown]
    notes = skipped if show_all else []
    hidden = len(runs) - len(shown)
    if not lines:
        if not runs:
            lines = [f"No runs in {runs_dir}."]
        else:
            lines = [f"No running runs in {runs_dir} ({hidden} finished or dead; use --all to show them)."]
    elif hidden:
        notes.append(f"{hidden} finished or dead run(s) not shown; use --all to show them")
    return ListReport(lines, notes)


# ---- stop ----------------------------------------------------------------------------------------
@dataclass
class StopResult:
    messages: list[str]  # what was done, for stdout
    error: str | None = None  # why it failed (not running, not a run, timed out), for stderr

    @property
    def ok(self) -> bool:
        return self.error is None


def stop_run(run_dir: str | os.PathLike, wait: bool = False, timeout: float = 60.0,
             poll_s: float = 0.1) -> StopResult:
    """SIGTERM the run's training process after checking it is that run's; if the signal cannot
    be sent, create the `stop` file. With `wait`, return once the process has exited (ok=False
    on timeout). ok=False, without touching anything, for a run that is not running or not a run."""
    path = Path(run_dir)
    if not path.is_dir():
        return StopResult([], f"{path}: no such run directory")
    info = inspect_run(path)
    if info is None:
        return StopResult([], f"{path} is not a run directory (no status.json, meta.json or pid file)")
    if not info.active or info.pid is None:
        why = f"; {info.note}" if info.note else ""
        if info.status == DEAD and info.pid is not None and not info.note:
            why = f"; its process {info.pid} is gone"
        return StopResult([], f"Run {info.name} is not running (status: {info.status}{why}); nothing to stop.")

    rd = RunDir(path)
    pid = info.pid
    messages = []
    try:
        os.kill(pid, signal.SIGTERM)
        messages.append(f"Sent SIGTERM to pid {pid} (run {info.name}).")
        if info.status == STALE:
            messages.append(f"The run is stale ({info.note}); it acts on the signal when it runs again.")
    except ProcessLookupError:
        messages.append(f"Process {pid} of run {info.name} exited before the signal was sent.")
    except OSError as exc:
        try:
            atomic_write_text(rd.stop_path, f"stop requested by `runs stop` at {utc_now_iso()}\n")
        except OSError as exc2:
            return StopResult([], f"Could not send SIGTERM to pid {pid} ({exc.strerror or exc}) "
                                  f"nor create {rd.stop_path} ({exc2.strerror or exc2}).")
        messages.append(f"Could not send SIGTERM to pid {pid} ({exc.strerror or exc}); created {rd.stop_path} "
                        "instead: the run checks for it periodically and stops at its next check.")
    if not wait:
        return StopResult(messages)

    deadline = time.monotonic() + timeout
    while rd.pid_path.exists() and pid_owner(pid, info.status_record) == OWNER_RUN:
        if time.monotonic() >= deadline:
            return StopResult(messages, f"Run {info.name} is still running after {timeout:g} s (pid {pid}).")
        time.sleep(poll_s)
    final = inspect_run(path)
    messages.append(f"Run {info.name} has stopped (status: {final.status if final else UNKNOWN}).")
    return StopResult(messages)
