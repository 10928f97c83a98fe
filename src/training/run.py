"""``run()``: the whole pipeline from a config file to a finished run directory."""
from __future__ import annotations

import signal
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from src.runs.rundir import RunDir, RunDirError, default_run_dir, make_meta
from src.training.config import load_config
from src.training.schema import ConfigError


@contextmanager
def _stop_on_signals(trainer):
    """SIGTERM and Ctrl-C ask the trainer to stop after the current batch step; a second
    Ctrl-C interrupts at once."""
    def handler(signum, frame):
        name = signal.Signals(signum).name
        if trainer.stop_reason is not None and signum == signal.SIGINT:
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
    if rd.path.exists() and not rd.path.is_dir():
        raise RunDirError(f"run directory {rd.path} exists and is not a directory")
    if rd.looks_like_run():
        raise RunDirError(f"run directory {rd.path} already holds a run; choose a new --run_dir or remove the old one")
    return text, cfg, rd


def run(config_path: str | Path, run_dir: str | Path | None = None, command: str | None = None,
        status_interval: int = 100, progress: bool = True) -> Path:
    """Create the run directory, write config.yaml and meta.json, build env, agent, opponents
    and callbacks from the config, and train. Returns the run directory.

    Writes status.json every ``status_interval`` agent steps (at most about once a second,
    at least every 10 s). SIGTERM, Ctrl-C or a ``stop`` file end the run gracefully with a
    final checkpoint and status ``stopped``. Raises ConfigError / RunDirError before writing
    anything when the config or run directory is unusable.
    """
    from src.training.trainer import Trainer  # torch import deferred past validation

    if not isinstance(status_interval, int) or isinstance(status_interval, bool) or status_interval < 1:
        raise ConfigError("status_interval", f"must be a positive integer, got {status_interval!r}")
    text, cfg, rd = prepare(config_path, run_dir)
    trainer = Trainer(cfg, run_dir=None, status_interval=status_interval, progress=progress)
    try:
        rd.create(text, make_meta(Path(config_path), cfg["seed"], trainer.device.type, command))
    except OSError as e:
        raise RunDirError(f"cannot create run directory {rd.path}: {e.strerror or e}") from None
    trainer.run_dir = rd
    rd.write_pid()
    try:
        with _stop_on_signals(trainer):
            trainer.train()
    except BaseException as e:
        rd.write_error(traceback.format_exc())
        try:
            fields = dict(trainer.last_status or {}, status="dead",
                          error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
            rd.write_status(fields)
        except Exception:  # never hide the original error
            pass
        raise
    finally:
        rd.remove_pid()
    return rd.path
