"""``run()``: the whole pipeline from a config file to a finished run directory."""
from __future__ import annotations

import gc
import signal
import sys
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path

from src.runs.files import WriteError
from src.runs.rundir import RunDir, RunDirError, default_run_dir, make_meta
from src.training.config import load_config
from src.config.schema import ConfigError


@contextmanager
def _stop_on_signals(trainer, interrupt_twice: bool = True):
    """SIGTERM and Ctrl-C ask the trainer to stop after the current batch step; a second
    Ctrl-C interrupts at once (``interrupt_twice``; not under torchrun, where one Ctrl-C
    reaches a worker twice: from the terminal and forwarded by torchrun)."""
    def handler(signum, frame):
        name = signal.Signals(signum).name
        if trainer.stop_reason is not None and signum == signal.SIGINT and interrupt_twice:
            raise KeyboardInterrupt
        trainer.request_stop(name)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for s in previous:
            signal.signal(s, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def prepare(config_path: str | Path, run_dir: str | Path | None = None):
    """Validate the config and the run directory without writing anything.

    Returns ``(config_text, cfg, RunDir)``; raises ConfigError or RunDirError.
    """
    config_path = Path(config_path)
    text, cfg = load_config(config_path)
    rd = RunDir(Path(run_dir) if run_dir is not None else default_run_dir(config_path))
    rd.check_usable_for_new_run()
    return text, cfg, rd


def _warn_unwinnable(cfg: dict) -> None:
    from src.training.config import unwinnable_warning

    warning = unwinnable_warning(cfg)
    if warning is not None:
        print(warning, file=sys.stderr)


def _lock_new(rd: RunDir) -> None:
    """Create the run directory and take its lock; RunDirError if another run got there first
    (two runs started at once with one --run_dir), with nothing of ours left behind."""
    created = not rd.path.exists()
    try:
        rd.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot create run directory {rd.path}: {e.strerror or e}") from None
    if not rd.lock():
        raise RunDirError(f"run directory {rd.path} is in use: another run in it is still running")
    try:
        rd.check_usable_for_new_run()  # again, under the lock
    except RunDirError:
        rd.unlock()
        if created:
            try:
                rd.path.rmdir()
            except OSError:
                pass
        raise


def run(config_path: str | Path | None = None, run_dir: str | Path | None = None, command: str | None = None,
        status_interval: int = 100, progress: bool = True, *, resume: str | Path | None = None,
        total_steps: int | None = None) -> Path:
    """Create the run directory, write config.yaml and meta.json, build env, agent, opponents
    and callbacks from the config, and train. Returns the run directory.

    Writes status.json every ``status_interval`` agent steps (at most about once a second,
    at least every 10 s). SIGTERM, Ctrl-C or a ``stop`` file end the run gracefully with a
    final checkpoint and status ``stopped``. Raises ConfigError / RunDirError before writing
    anything when the config or run directory is unusable.

    ``resume=RUN_DIR`` (no ``config_path``/``run_dir``) continues that run instead, from its
    newest complete checkpoint, with its own config; ``total_steps`` may raise its length
    (see ``resume_run``).
    """
    from src.training.distributed import Distributed

    dist = Distributed.from_env()
    if resume is not None:
        if config_path is not None or run_dir is not None:
            raise ValueError("run(resume=RUN_DIR) takes neither config_path nor run_dir: the run's own are used")
        if dist.active:
            raise RunDirError(f"cannot resume {resume} under torchrun (world size {dist.world_size}): resuming "
                              "is for one process only; start a new run, or resume a one-process run with "
                              "python -m src.cli.train --resume")
        return resume_run(resume, total_steps, command, status_interval, progress)
    if config_path is None:
        raise ValueError("run() needs config_path, or resume=RUN_DIR")
    if total_steps is not None:
        raise ValueError("total_steps is only for resume=RUN_DIR; set train.total_steps in the config")
    from src.training.trainer import Trainer  # torch import deferred past validation

    _check_status_interval(status_interval)
    if dist.active:
        return _run_distributed(dist, config_path, run_dir, command, status_interval, progress)
    text, cfg, rd = prepare(config_path, run_dir)
    _warn_unwinnable(cfg)
    trainer = Trainer(cfg, run_dir=None, status_interval=status_interval, progress=progress)
    _lock_new(rd)
    try:
        try:
            rd.create(text, make_meta(Path(config_path), cfg["seed"], trainer.device.type, command))
        except OSError as e:
            raise RunDirError(f"cannot create run directory {rd.path}: {e.strerror or e}") from None
        _train_in(rd, trainer)
    finally:
        rd.unlock()
    return rd.path


def _run_distributed(dist, config_path, run_dir, command, status_interval, progress) -> Path:
    """``run()`` on one rank of a torchrun job: rank 0 checks and creates the run directory
    (the others learn its path, or its error, by broadcast), every rank trains."""
    from src.training.trainer import Trainer

    text, cfg = load_config(Path(config_path))  # the same ConfigError on every rank
    ok = False
    dist.init(dist.device(cfg["agent"]["params"]["device"]))
    try:
        verdict = None
        if dist.is_main:
            try:
                _, _, rd = prepare(config_path, run_dir)
                verdict = ("ok", str(rd.path))
            except (ConfigError, RunDirError) as e:
                verdict = ("error", str(e))
        kind, what = dist.broadcast(verdict)
        if kind == "error":
            raise RunDirError(what)
        rd = RunDir(Path(what))
        trainer = Trainer(cfg, run_dir=None, status_interval=status_interval, progress=progress, dist=dist)
        created = None
        if dist.is_main:
            try:
                rd.create(text, make_meta(Path(config_path), cfg["seed"], trainer.device.type, command))
            except OSError as e:
                created = f"cannot create run directory {rd.path}: {e.strerror or e}"
        created = dist.broadcast(created)
        if created is not None:
            raise RunDirError(created)
        _train_in(rd, trainer)
        # DistributedDataParallel holds the process group: release it before leaving the group
        del trainer
        gc.collect()
        ok = True
    finally:
        dist.close(ok)
    return rd.path


def _check_status_interval(status_interval) -> None:
    if not isinstance(status_interval, int) or isinstance(status_interval, bool) or status_interval < 1:
        raise ConfigError("status_interval", f"must be a positive integer, got {status_interval!r}")


def _train_in(rd: RunDir, trainer) -> None:
    """pid, training with graceful stops, and on an exception error.log and status ``dead``.

    In a data-parallel run rank 0 does all of this; another rank only adds its section to
    error.log when it fails (the one file it writes)."""
    dist = trainer.dist
    if not dist.is_main:
        with _stop_on_signals(trainer, interrupt_twice=False):
            try:
                trainer.train()
            except BaseException:
                _append_rank_error(rd, dist, traceback.format_exc())
                raise
        return
    trainer.run_dir = rd
    rd.write_pid()
    # one process: the handlers serve the training only. Several: they stay on while a failure
    # is recorded, since torchrun sends SIGTERM to the survivors of a dead rank, and that must
    # not cut error.log and the final status short
    outer = _stop_on_signals(trainer, interrupt_twice=False) if dist.active else nullcontext()
    inner = nullcontext() if dist.active else _stop_on_signals(trainer)
    with outer:
        try:
            with inner:
                trainer.train()
        except BaseException as e:
            # a failed write (disk full, read-only filesystem) is named in one line; the writes
            # below may fail the same way, and must not hide it
            error = str(e) if isinstance(e, WriteError) else f"{type(e).__name__}: {e}".splitlines()[0][:500]
            if dist.active:
                error = _append_rank_error(rd, dist, traceback.format_exc(), summary=True) or f"rank 0: {error}"
            else:
                try:
                    rd.write_error(traceback.format_exc())
                except OSError:
                    pass
            try:  # the step reached, not the last status interval's
                fields = dict(trainer.last_status or {}, status="dead", error=error, step=trainer.step)
                rd.write_status(fields)
            except Exception:  # never hide the original error
                pass
            raise
        finally:
            try:
                rd.remove_pid()
            except OSError:  # a read-only filesystem: `runs list` still sees the process gone
                pass


def _append_rank_error(rd: RunDir, dist, tb: str, summary: bool = False) -> str | None:
    """Add this rank's traceback to error.log under a header naming the rank. With ``summary``
    (rank 0, whose failure may only echo another rank's), end with a line naming the ranks
    that failed or vanished, and return it."""
    import os
    import re
    import socket

    text = f"=== rank {dist.rank} of {dist.world_size} (pid {os.getpid()}, host {socket.gethostname()}) ===\n{tb}"
    line = None
    if summary:
        try:
            gone = dist.gone_peers()
        except Exception:
            gone = []
        try:
            before = rd.error_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            before = ""
        failed = sorted({int(r) for r in re.findall(r"^=== rank (\d+) of", before, re.M)} - {dist.rank})
        parts = [f"rank {r} failed (traceback above)" for r in failed]
        parts += [f"rank {p['rank']} (pid {p['pid']}) ended without a traceback (killed?)"
                  for p in gone if p["rank"] not in failed]
        if parts:
            line = "run dead: " + "; ".join(parts)
            text += line + "\n"
    try:
        rd.append_error(text)
    except OSError:
        pass
    return line


# -- resume -------------------------------------------------------------------------------------
def prepare_resume(run_dir: str | Path, total_steps: int | None = None):
    """Check that ``run_dir`` can be resumed, without writing anything.

    Returns ``(cfg, RunDir, step, state)``: the run's config (``train.total_steps`` set to the
    new length), and the newest complete training state and its step. Raises RunDirError
    (or ConfigError, if the run's config no longer validates) for a directory that is not a
    run, a run still running, no complete checkpoint, a newer checkpoint format, a checkpoint
    for another device, or a ``total_steps`` not above the checkpoint's step.
    """
    import torch

    from src.runs.monitor import inspect_run
    from src.training.state import SELF_PLAY_PLY_VERSION, StateError, find_newest_state

    rd = RunDir(Path(run_dir))
    if rd.path.exists() and not rd.path.is_dir():
        raise RunDirError(f"cannot resume {rd.path}: it is a file, not a run directory")
    if not rd.path.is_dir():
        raise RunDirError(f"cannot resume {rd.path}: no such run directory")
    if not rd.config_path.is_file():
        raise RunDirError(f"cannot resume {rd.path}: not a run directory (no config.yaml)")
    if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, int)
                                    or total_steps < 1):
        raise ConfigError("total_steps", f"must be a positive integer, got {total_steps!r}")
    from src.training.config import MAX_STEPS

    if total_steps is not None and total_steps > MAX_STEPS:
        raise ConfigError("total_steps", f"must be <= {MAX_STEPS} (the step counter is a 64-bit integer), "
                          f"got {total_steps}")
    info = inspect_run(rd.path)
    if info is not None and info.active:
        stale = f", {info.status}: {info.note}" if info.status != "running" else ""
        raise RunDirError(f"cannot resume {rd.path}: it is still running (pid {info.pid}{stale}); "
                          f"stop it first (python -m src.cli.runs stop {rd.path} --wait)")
    meta = rd.read_meta() or {}
    config_dir = Path(meta["config_path"]).parent if isinstance(meta.get("config_path"), str) else None
    _, cfg = load_config(rd.config_path, config_dir)
    try:
        found, unreadable = find_newest_state(rd)
    except StateError as e:
        raise RunDirError(f"cannot resume {rd.path}: {e}") from None
    if found is None and unreadable:
        raise RunDirError(f"cannot resume {rd.path}: every state file is unreadable: "
                          + "; ".join(why for _, why in unreadable))
    if found is None:
        raise RunDirError(f"cannot resume {rd.path}: no complete checkpoint (no {rd.STATE}/state_<step>.pt; "
                          "model files alone do not hold the training state)")
    step, state = found
    if "config" in state:  # states written before the config was kept in them cannot be compared
        changed = changed_keys(state["config"], cfg)
        if changed:
            raise RunDirError(f"cannot resume {rd.path}: its config.yaml was edited after the run started "
                              f"({', '.join(changed)} changed); only --total_steps may change on resume: "
                              "undo the edit, or start a new run with the edited config")
    if state.get("world_size", 1) != 1:
        raise RunDirError(f"cannot resume {rd.path}: it was trained by {state['world_size']} processes (torchrun); "
                          "resuming a data-parallel run is not supported (its checkpoint holds rank 0's games "
                          "and replay only)")
    if state["version"] < SELF_PLAY_PLY_VERSION and cfg["train"]["opponent_sampler"]["type"] == "self_play":
        raise RunDirError(f"cannot resume {rd.path}: it was trained by an older version, in which a self-play "
                          "batch step was an agent move and a reply; now it is one ply per game and steps count "
                          "plies, so its games in progress and step counts would be misread: start a new run")
    target = total_steps if total_steps is not None else state["total_steps"]
    if target <= step:
        if total_steps is not None:
            raise RunDirError(f"cannot resume {rd.path}: --total_steps {total_steps} is not above "
                              f"the checkpoint's step {step}")
        raise RunDirError(f"cannot resume {rd.path}: its newest checkpoint is at step {step}, past total_steps "
                          f"{target}; pass --total_steps above {step} to extend it")
    device = cfg["agent"]["params"]["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type != state["device"]:
        raise RunDirError(f"cannot resume {rd.path}: its checkpoint was written on {state['device']}, "
                          f"this process would train on {torch.device(device).type}")
    train = cfg["train"]
    if train["num_envs"] is None:  # the default depends on the device: keep the run's
        train["num_envs"] = state["num_envs"]
    train["total_steps"] = target
    state["unreadable"] = unreadable  # passed over: set aside by resume_run
    return cfg, rd, step, state


def changed_keys(before: dict, after: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two validated configs, except
    ``train.total_steps`` (the one a resume may change) and a ``train.num_envs`` left at null
    (the run's own is kept)."""
    out = []
    for key in sorted(set(before) | set(after), key=str):
        path = f"{prefix}{key}"
        a, b = before.get(key), after.get(key)
        if path == "train.total_steps" or (path == "train.num_envs" and b is None):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_keys(a, b, path + ".")
        elif a != b:
            out.append(path)
    return out


def resume_run(run_dir: str | Path, total_steps: int | None = None, command: str | None = None,
               status_interval: int = 100, progress: bool = True) -> Path:
    """Continue a ``stopped``, ``dead`` or ``completed`` run from its newest complete checkpoint,
    in the same run directory and with its own config.yaml; ``total_steps`` (above the
    checkpoint's step) extends it. With ``train.checkpoint_replay: true`` (the default) the
    resumed run ends exactly as an uninterrupted one would have.

    Before training: ``metrics.jsonl`` records, state and model files past the checkpoint are
    dropped, a line is appended to ``resumes.jsonl``, and status.json gains
    ``resumed_from_step``, ``resumes`` and ``resume_exact``. Raises RunDirError / ConfigError
    with nothing written when the run cannot be resumed (see ``prepare_resume``); a second
    resume (or a run still training in the directory) is refused by the run's lock. Newer
    state files that cannot be read are renamed aside (``RunDir.set_aside``), said on stderr
    and in the ``resumes.jsonl`` line (``unreadable``).
    """
    _check_status_interval(status_interval)
    rd = RunDir(Path(run_dir))
    locked = rd.path.is_dir() and rd.lock()
    if rd.path.is_dir() and not locked:
        raise RunDirError(f"cannot resume {rd.path}: it is still running (another process holds its lock); "
                          f"stop it first (python -m src.cli.runs stop {rd.path} --wait)")
    try:
        _resume_locked(rd, total_steps, command, status_interval, progress)
    finally:
        rd.unlock()
    return rd.path


def _resume_locked(rd: RunDir, total_steps, command, status_interval, progress) -> None:
    from src.runs.rundir import resume_record
    from src.training.callbacks import CheckpointCallback
    from src.training.trainer import Trainer

    cfg, _, step, state = prepare_resume(rd.path, total_steps)
    _warn_unwinnable(cfg)
    trainer = Trainer(cfg, run_dir=None, status_interval=status_interval, progress=progress)
    try:
        trainer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError) as e:
        raise RunDirError(f"cannot resume {rd.path}: checkpoint at step {step} does not fit its config: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    exact, unreadable = state["exact"], state["unreadable"]
    del state
    set_aside = []
    for path, why in unreadable:  # kept for inspection, and out of the way of begin_resume
        kept = rd.set_aside(path)
        set_aside.append({"file": str(path.relative_to(rd.path)), "error": why,
                          "kept_as": str(kept.relative_to(rd.path))})
        print(f"warning: {why}: kept as {kept}; resuming from step {step}", file=sys.stderr)
    prefix = next(cb.prefix for cb in trainer.callbacks if isinstance(cb, CheckpointCallback))
    record = resume_record(command, step, trainer.total_steps, exact)
    if set_aside:
        record["unreadable"] = set_aside
    resumes = rd.begin_resume(record, step, prefix)
    trainer.resume_fields = {"resumed_from_step": step, "resumes": resumes, "resume_exact": exact}
    if not exact:
        trainer.resume_fields["resume_note"] = ("train.checkpoint_replay is false: the replay ring was refilled "
                                                "after resuming, so this run is not exact")
    if progress:
        trainer.out.write(f"resuming {rd.path} from step {step} to {trainer.total_steps}"
                          + ("" if exact else " (replay ring not in the checkpoint: refilled, not exact)") + "\n")
    _train_in(rd, trainer)
