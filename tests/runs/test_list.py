"""`runs list` on files alone: the line format, ordering, and folders that are broken or not runs."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from src.runs.files import atomic_write_json
from src.runs.monitor import RunInfo, format_run_line, inspect_run, list_report

NOW = datetime(2026, 1, 29, 13, 23, 45, tzinfo=timezone.utc)
SPEC_LINE = ("  my_experiment                            running    step=12345/50000 (24.7%)  ep=678    ε=0.4200"
             "  [1h 23m 45s]  (pid=12345)")


def make_run(runs_dir: Path, name: str, status: dict | None = None, meta: dict | None = None) -> Path:
    path = runs_dir / name
    path.mkdir(parents=True)
    (path / "config.yaml").write_text("seed: 1\n")
    atomic_write_json(path / "meta.json", meta if meta is not None else {"seed": 1})
    if status is not None:
        atomic_write_json(path / "status.json", status)
    return path


def finished_status(state="completed", start="2026-01-29T10:00:00+00:00", beat="2026-01-29T10:30:05+00:00", **extra):
    return {"status": state, "step": 50000, "total_steps": 50000, "episode": 2000, "epsilon": 0.05,
            "start_time": start, "last_heartbeat": beat, **extra}


def test_line_format_matches_the_spec_example():
    info = RunInfo(path=Path("runs/my_experiment"), status="running", has_progress=True, step=12345,
                   total_steps=50000, episode=678, epsilon=0.42,
                   start_time=datetime(2026, 1, 29, 12, 0, 0, tzinfo=timezone.utc), pid=12345)
    assert format_run_line(info, NOW) == SPEC_LINE


def test_finished_run_line_measures_time_to_last_heartbeat_and_has_no_pid(tmp_path):
    make_run(tmp_path, "done", finished_status())
    line = format_run_line(inspect_run(tmp_path / "done", NOW), NOW)
    assert line == ("  done                                     completed  step=50000/50000 (100.0%)  ep=2000   ε=0.0500"
                    "  [30m 5s]")


def test_null_epsilon_and_missing_total_are_shown_as_dashes_and_plain_step(tmp_path):
    make_run(tmp_path, "no_eps", finished_status("stopped", step=7, total_steps=None, epsilon=None,
                                                 beat="2026-01-29T10:00:09+00:00"))
    line = format_run_line(inspect_run(tmp_path / "no_eps", NOW), NOW, eps_label="eps")
    assert line == "  no_eps                                   stopped    step=7                    ep=2000   eps=-     [9s]"


def test_list_without_all_hides_finished_runs_and_says_so(tmp_path):
    make_run(tmp_path, "done", finished_status())
    report = list_report(tmp_path, show_all=False, now=NOW)
    assert report.lines == [f"No running runs in {tmp_path} (1 finished or dead; use --all to show them)."]


def test_list_all_orders_runs_by_start_time(tmp_path):
    make_run(tmp_path, "a_late", finished_status(start="2026-01-29T12:00:00+00:00", beat="2026-01-29T12:00:01+00:00"))
    make_run(tmp_path, "b_early", finished_status(start="2026-01-28T12:00:00+00:00", beat="2026-01-28T12:00:01+00:00"))
    make_run(tmp_path, "c_middle", finished_status(start="2026-01-29T01:00:00+00:00", beat="2026-01-29T01:00:01+00:00"))
    report = list_report(tmp_path, show_all=True, now=NOW)
    assert [line.split()[0] for line in report.lines] == ["b_early", "c_middle", "a_late"]


def test_running_in_status_but_no_pid_file_is_dead(tmp_path):
    make_run(tmp_path, "vanished", finished_status("running"))
    info = inspect_run(tmp_path / "vanished", NOW)
    assert info.status == "dead" and "no pid file" in info.note


def test_error_log_is_summarised_on_a_dead_run(tmp_path):
    path = make_run(tmp_path, "crashed", finished_status("running"))
    (path / "error.log").write_text("Traceback (most recent call last):\n  ...\nValueError: bad shape\n\n")
    line = format_run_line(inspect_run(path, NOW), NOW)
    assert line.split()[1] == "dead" and line.endswith("-- error.log: ValueError: bad shape")


@pytest.mark.parametrize("content, status, note", [
    (b"{\"status\": \"runn", "corrupt", "status.json unreadable"),
    (b"[1, 2, 3]", "corrupt", "status.json unreadable"),
    (b"", "corrupt", "status.json unreadable"),
    (None, "unknown", "no status.json"),
])
def test_unreadable_or_missing_status_is_reported_not_raised(tmp_path, content, status, note):
    path = make_run(tmp_path, "broken")
    if content is not None:
        (path / "status.json").write_bytes(content)
    report = list_report(tmp_path, show_all=True, now=NOW)
    assert len(report.lines) == 1
    assert report.lines[0].split()[:2] == ["broken", status] and report.lines[0].endswith(f"-- {note}")


def test_status_fields_of_the_wrong_type_do_not_crash(tmp_path):
    make_run(tmp_path, "weird", {"status": 3, "step": "many", "total_steps": 0, "episode": None, "epsilon": "high",
                                 "start_time": "yesterday", "last_heartbeat": 12})
    (tmp_path / "weird" / "meta.json").write_text("{oops")
    report = list_report(tmp_path, show_all=True, now=NOW)
    assert report.lines == ["  weird                                    unknown    step=-                    ep=-      ε=-"
                            "       [-]  -- status.json has status 3"]


@pytest.mark.parametrize("pid_text", ["", "abc", "0", "-5", "12 34"])
def test_bad_pid_file_is_corrupt(tmp_path, pid_text):
    path = make_run(tmp_path, "badpid", finished_status("running"))
    (path / "pid").write_text(pid_text)
    info = inspect_run(path, NOW)
    assert (info.status, info.note, info.pid) == ("corrupt", "pid file unreadable", None)


def test_a_pid_file_holding_pid_1_belongs_to_another_process(tmp_path):
    """Pid 1 (init) is never a run's process: the run is dead, and the note says why."""
    path = make_run(tmp_path, "pid1", finished_status("running"))
    (path / "pid").write_text("1\n")
    info = inspect_run(path, NOW)
    assert (info.status, info.pid) == ("dead", None)
    assert info.note == "the pid file holds pid 1, which belongs to another process (init)"


def test_empty_and_foreign_folders_are_skipped_with_a_note(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("not a run")
    (tmp_path / "stray_file.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    make_run(tmp_path, "real", finished_status())
    report = list_report(tmp_path, show_all=True, now=NOW)
    assert [line.split()[0] for line in report.lines] == ["real"]
    assert report.notes == [f"skipped {tmp_path / 'empty'}: not a run (empty folder)",
                            f"skipped {tmp_path / 'notes'}: not a run (no status.json, meta.json or pid)"]


def test_missing_or_empty_runs_dir_gives_a_friendly_line(tmp_path):
    assert list_report(tmp_path / "nope", now=NOW).lines == [f"No runs: {tmp_path / 'nope'} does not exist."]
    assert list_report(tmp_path, show_all=True, now=NOW).lines == [f"No runs in {tmp_path}."]


def test_runs_dir_that_is_itself_a_run_lists_that_run(tmp_path):
    path = make_run(tmp_path, "solo", finished_status())
    assert list_report(path, show_all=True, now=NOW).lines[0].split()[:2] == ["solo", "completed"]


def test_list_cli_prints_lines_and_notes(tmp_path, runs_cli_main):
    make_run(tmp_path, "done", finished_status())
    (tmp_path / "empty").mkdir()
    code, out, err = runs_cli_main("list", "--all", "--runs_dir", tmp_path)
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["done", "completed"]
    assert "empty" in err and "not a run" in err
    code, out, _ = runs_cli_main("list", "--runs_dir", tmp_path / "missing")
    assert code == 0 and "does not exist" in out


def test_elapsed_time_of_long_runs_counts_hours(tmp_path):
    start = NOW - timedelta(hours=30, minutes=2, seconds=3)
    make_run(tmp_path, "long", finished_status(start=start.isoformat(), beat=NOW.isoformat()))
    assert format_run_line(inspect_run(tmp_path / "long", NOW), NOW).endswith("[30h 2m 3s]")
