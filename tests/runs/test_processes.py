"""Each status through real processes: a fake trainer (tests/runs/_fake_trainer.py) that uses RunDir
as the trainer does, observed and stopped through `python -m src.cli.runs`."""

import errno
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psutil

from src.runs.files import atomic_write_json, read_json
from src.runs.monitor import inspect_run
from src.runs.rundir import RunDir
from tests.runs.helpers import REPO, child_env, fake_run, spawn, wait_until


def line_of(out: str, name: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.split()[:1] == [name]]
    assert len(lines) == 1, out
    return lines[0]


def test_running_run_is_listed_with_its_pid(tmp_path, runs_cli_main):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir) as proc:
        code, out, _ = runs_cli_main("list", "--runs_dir", tmp_path)
        assert code == 0
        fields = line_of(out, "exp").split()
        assert fields[1] == "running" and fields[2].startswith("step=") and fields[-1] == f"(pid={proc.pid})"
        # the real entry point, as a user types it
        cli = subprocess.run([sys.executable, "-m", "src.cli.runs", "list", "--runs_dir", str(tmp_path)], cwd=REPO,
                             env=child_env(), capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0 and line_of(cli.stdout, "exp").split()[1] == "running"


def test_completed_run_leaves_status_and_no_pid(tmp_path, runs_cli_main):
    run_dir = tmp_path / "short"
    with fake_run(run_dir, "--steps", "3", "--interval", "0.01") as proc:
        assert proc.wait(timeout=30) == 0
    assert not (run_dir / "pid").exists()
    code, out, _ = runs_cli_main("list", "--runs_dir", tmp_path)
    assert "No running runs" in out and "1 finished or dead" in out
    code, out, _ = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
    fields = line_of(out, "short").split()
    assert fields[1:3] == ["completed", "step=3/3"] and "(pid=" not in out
    code, _, err = runs_cli_main("stop", run_dir)
    assert code == 1 and "not running (status: completed)" in err


def test_stop_sends_sigterm_and_waits_for_a_graceful_stop(tmp_path, runs_cli_main):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir) as proc:
        code, out, err = runs_cli_main("stop", run_dir, "--wait", "--timeout", "30")
        assert code == 0, err
        assert f"Sent SIGTERM to pid {proc.pid}" in out and "has stopped (status: stopped)" in out
        assert proc.wait(timeout=10) == 0
    assert read_json(run_dir / "status.json")["status"] == "stopped"
    assert not (run_dir / "pid").exists() and not (run_dir / "stop").exists()
    code, out, _ = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
    assert line_of(out, "exp").split()[1] == "stopped"


def test_stop_falls_back_to_the_stop_file_when_the_signal_fails(tmp_path, runs_cli_main, monkeypatch):
    run_dir = tmp_path / "exp"
    real_kill = os.kill
    with fake_run(run_dir) as proc:
        def kill_denied(pid, sig):
            if pid == proc.pid and sig == signal.SIGTERM:
                raise PermissionError(errno.EPERM, "Operation not permitted")
            return real_kill(pid, sig)

        monkeypatch.setattr(os, "kill", kill_denied)
        code, out, err = runs_cli_main("stop", run_dir, "--wait", "--timeout", "30")
        monkeypatch.undo()
        assert code == 0, err
        assert "Could not send SIGTERM" in out and str(run_dir / "stop") in out
        assert (run_dir / "stop").exists()
        assert proc.wait(timeout=10) == 0  # it stopped by itself, having seen the stop file
    assert read_json(run_dir / "status.json")["status"] == "stopped"


def test_killed_run_is_dead_and_cannot_be_stopped(tmp_path, runs_cli_main):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir) as proc:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert (run_dir / "pid").exists()
        code, out, _ = runs_cli_main("list", "--runs_dir", tmp_path)
        assert "No running runs" in out
        code, out, _ = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
        fields = line_of(out, "exp").split()
        assert fields[1] == "dead" and fields[-1] == f"(pid={proc.pid})"
        code, _, err = runs_cli_main("stop", run_dir)
        assert code == 1 and f"its process {proc.pid} is gone" in err


def test_run_that_raised_shows_dead_with_its_error(tmp_path, runs_cli_main):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir, "--crash-at", "2", "--interval", "0.01") as proc:
        assert proc.wait(timeout=30) == 1
    assert "Traceback" in (run_dir / "error.log").read_text()
    code, out, _ = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
    line = line_of(out, "exp")
    assert line.split()[1] == "dead" and line.endswith("-- error.log: RuntimeError: boom")


def test_frozen_run_with_an_old_heartbeat_is_stale_and_recovers(tmp_path, runs_cli_main):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir) as proc:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED, what="SIGSTOP")
        status = read_json(run_dir / "status.json")
        old = datetime.now(timezone.utc) - timedelta(minutes=3)
        atomic_write_json(run_dir / "status.json", {**status, "last_heartbeat": old.isoformat()})

        code, out, _ = runs_cli_main("list", "--runs_dir", tmp_path)
        line = line_of(out, "exp")
        assert line.split()[1] == "stale" and f"(pid={proc.pid})" in line and "-- no heartbeat for 3m" in line

        code, out, _ = runs_cli_main("stop", run_dir)  # a stale run can still be stopped
        assert code == 0 and "Sent SIGTERM" in out and "stale" in out
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=20) == 0
    assert read_json(run_dir / "status.json")["status"] == "stopped"


def test_fresh_heartbeat_after_resume_is_running_again(tmp_path):
    run_dir = tmp_path / "exp"
    with fake_run(run_dir) as proc:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED, what="SIGSTOP")
        status = read_json(run_dir / "status.json")
        atomic_write_json(run_dir / "status.json", {**status, "last_heartbeat": "2000-01-01T00:00:00+00:00"})
        assert inspect_run(run_dir).status == "stale"
        proc.send_signal(signal.SIGCONT)
        wait_until(lambda: inspect_run(run_dir).status == "running", what="a fresh heartbeat")


def test_reused_pid_is_never_signalled(tmp_path, runs_cli_main):
    """The pid file names a live process that is not this run's: with a create-time record that does
    not match, and without one (then the command line decides)."""
    with spawn(["sleep", "60"]) as sleeper:
        wait_until(lambda: psutil.pid_exists(sleeper.pid), what="sleep to start")
        created = psutil.Process(sleeper.pid).create_time()
        for name, extra in [("recorded", {"pid": sleeper.pid, "pid_create_time": created - 3600}),
                            ("unrecorded", {})]:
            rd = RunDir(tmp_path / name)
            rd.create("seed: 1\n", {})
            atomic_write_json(rd.status_path, {"status": "running", "step": 5, "total_steps": 10, "episode": 1,
                                               "epsilon": 0.5, "start_time": "2026-01-29T12:00:00+00:00",
                                               "last_heartbeat": datetime.now(timezone.utc).isoformat(), **extra})
            rd.pid_path.write_text(f"{sleeper.pid}\n")

            code, _, err = runs_cli_main("stop", rd.path, "--wait", "--timeout", "1")
            assert code == 1 and f"pid {sleeper.pid} now belongs to another process" in err
            code, out, _ = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
            assert line_of(out, name).split()[1] == "dead"
        time.sleep(0.1)
        assert sleeper.poll() is None  # never signalled
        assert not (tmp_path / "recorded" / "stop").exists()


def test_without_a_create_time_record_a_training_command_line_counts_as_the_run(tmp_path):
    """E.g. between the trainer writing its pid and its first status.json."""
    with spawn([sys.executable, "-c", "import time; time.sleep(60)", "src.cli.train"]) as proc:
        rd = RunDir(tmp_path / "starting")
        rd.create("seed: 1\n", {})
        rd.pid_path.write_text(f"{proc.pid}\n")
        wait_until(lambda: "src.cli.train" in " ".join(psutil.Process(proc.pid).cmdline()), what="child exec")
        info = inspect_run(rd.path)
        assert (info.status, info.pid, info.note) == ("running", proc.pid, "no status.json")


def test_stop_rejects_non_runs_and_bad_arguments(tmp_path, runs_cli_main):
    (tmp_path / "foreign").mkdir()
    code, _, err = runs_cli_main("stop", tmp_path / "foreign")
    assert code == 1 and "not a run directory" in err
    code, _, err = runs_cli_main("stop", tmp_path / "missing")
    assert code == 1 and "no such run directory" in err
    assert runs_cli_main("stop", tmp_path, "--wait", "--timeout", "-1")[0] == 2
    assert runs_cli_main("stop", tmp_path, "--timeout", "5")[0] == 2  # --timeout without --wait
    assert runs_cli_main("stop")[0] == 2
    assert runs_cli_main()[0] == 2
    assert runs_cli_main("list", "--bogus")[0] == 2


def test_stop_wait_times_out_on_a_run_that_ignores_sigterm(tmp_path, runs_cli_main):
    """A process that ignores SIGTERM is waited for until --timeout, then exit 1."""
    rd = RunDir(tmp_path / "stubborn")
    script = ("import signal, sys, time\n"
              "from src.runs.rundir import RunDir\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "rd = RunDir(sys.argv[1]); rd.create('', {}); rd.write_pid()\n"
              "rd.write_status({'status': 'running', 'step': 0, 'start_time': '2026-01-29T12:00:00+00:00'})\n"
              "time.sleep(60)\n")
    with spawn([sys.executable, "-c", script, str(rd.path)]) as proc:
        wait_until(lambda: (rd.read_status() or {}).get("pid") == proc.pid, what="status")
        start = time.monotonic()
        code, out, err = runs_cli_main("stop", rd.path, "--wait", "--timeout", "0.5")
        assert code == 1 and "Sent SIGTERM" in out and "still running after 0.5 s" in err
        assert time.monotonic() - start < 10
        assert proc.poll() is None
