"""Bad input never costs a run (issue 22, ``docs/robustness.md``): what ``python -m src.cli.train``
refuses before the first step (exit 2, one ``error:`` line, nothing written), what it recovers
from, and what a failed write mid-run leaves behind. Through the CLI's ``main`` with tiny
configs; the failed writes in a child process (``_failing_writes.py``), since they end it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from src.cli import train as train_cli
from src.runs.monitor import inspect_run
from src.runs.rundir import RunDir
from tests.training.helpers import REPO, child_env, tiny_config, write_config

RUN = tiny_config(train={"total_steps": 192, "callbacks": [
    {"type": "checkpoint", "params": {"interval": 48, "keep_last": 3}}]})


def train(*argv) -> int:
    return train_cli.main([str(a) for a in argv])


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def refused(capsys, *argv) -> str:
    """Run the CLI, expect exit 2 and one error line; returns it."""
    assert train(*argv) == 2
    return one_error_line(capsys.readouterr().err)


@pytest.fixture(scope="module")
def done_run(tmp_path_factory) -> Path:
    """A completed 192-step run (states at 144, 192 and 96 kept), copied by the tests that change it."""
    root = tmp_path_factory.mktemp("done")
    assert train("--config", write_config(root / "c.yaml", RUN), "--run_dir", root / "run") == 0
    return root / "run"


@pytest.fixture
def run_copy(done_run, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(done_run, tmp_path / "run"))


# ---- refused before the first step -------------------------------------------------------------
def test_alphazero_with_exploring_evaluation_is_refused_before_training(tmp_path, capsys):
    raw = tiny_config(eval={"deterministic": False, "games": 2, "opponents": ["random"]})
    raw["agent"] = {"id": "alphazero", "params": {"device": "cpu", "channels": 8, "blocks": 1, "simulations": 2}}
    raw["train"]["opponent_sampler"] = {"type": "self_play"}
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'eval.deterministic'" in line and "alphazero" in line
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def small_board_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    raw = tiny_config(game={"params": {"rows": 2, "cols": 3}}, train={"total_steps": 32, "num_envs": 8})
    assert train("--config", write_config(root / "c.yaml", raw), "--run_dir", root / "run") == 0
    return root / "run" / "checkpoints" / "model_32.pt"


def test_an_eval_opponent_checkpoint_of_another_board_size_is_refused_before_training(
        tmp_path, capsys, small_board_checkpoint):
    raw = tiny_config(eval={"games": 2, "opponents": ["random", str(small_board_checkpoint)]})
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'eval.opponents[1]'" in line and "plays 2x3 boards, not 6x7" in line
    assert not (tmp_path / "r").exists()


def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path, capsys):
    text = yaml.safe_dump(RUN, sort_keys=False).replace("  num_envs: 16\n", "  num_envs: 16\n  num_envs: 8\n")
    text = "seed: 1\n" + text  # RUN's own seed comes later
    path = tmp_path / "c.yaml"
    path.write_text(text)
    lines = text.splitlines()
    first, second = [i + 1 for i, line in enumerate(lines) if line.strip().startswith("num_envs")]
    seeds = [i + 1 for i, line in enumerate(lines) if line.startswith("seed:")]
    line = refused(capsys, "--config", path, "--run_dir", tmp_path / "r")
    assert f"'seed': appears twice in {path}: line {seeds[0]} and line {seeds[1]}" in line
    path.write_text(text.replace("seed: 1\n", "", 1))
    line = refused(capsys, "--config", path, "--run_dir", tmp_path / "r")
    assert f"'train.num_envs': appears twice in {path}: line {first - 1} and line {second - 1}" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("seed", [2 ** 64, 99999999999999999999999, -(2 ** 63)])
def test_a_seed_out_of_range_is_a_config_error_naming_seed_and_its_range(tmp_path, capsys, seed):
    raw = {**RUN, "seed": seed}
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'seed'" in line and ("<= 4611686018427387904" in line or ">= -4611686018427387904" in line)


@pytest.mark.parametrize("seed", [2 ** 62, -(2 ** 62)])
def test_seeds_at_the_ends_of_the_range_train(seed):
    from src.training.config import validate_config
    from src.training.trainer import Trainer

    trainer = Trainer(validate_config(tiny_config(seed=seed, train={"total_steps": 48})), progress=False)
    assert trainer.train() == "completed" and trainer.step == 48


def test_more_games_than_memory_holds_is_a_range_error_with_the_largest_value(tmp_path, capsys):
    raw = tiny_config(train={"num_envs": 10_000_000_000_000})
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'train.num_envs'" in line and "cannot fit in memory" in line
    largest = int(line.rsplit(" ", 1)[1])
    from src.config.memory import available_bytes, game_bytes

    assert 0 < largest and largest * game_bytes(_connect4()) <= available_bytes()
    raw = tiny_config(eval={"games": 100_000_000_000_000, "opponents": ["random"]})
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'eval.games'" in line and "the largest value that fits is at most" in line
    assert not (tmp_path / "r").exists()


def test_the_memory_bound_refuses_just_above_the_largest_value_and_accepts_it(monkeypatch):
    from src.config import memory
    from src.config.schema import ConfigError

    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 1_000_000)
    per = memory.game_bytes(_connect4())
    memory.check_fits(1_000_000 // per, per, "k", "games")
    with pytest.raises(ConfigError, match=f"at most {1_000_000 // per}$"):
        memory.check_fits(1_000_000 // per + 1, per, "k", "games")


def test_total_steps_beyond_the_step_counter_are_refused(tmp_path, capsys, run_copy):
    raw = tiny_config(train={"total_steps": 2 ** 63})
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r")
    assert "'train.total_steps'" in line and "9223372036854775807" in line
    line = refused(capsys, "--resume", run_copy, "--total_steps", 99999999999999999999999)
    assert "'total_steps'" in line and "64-bit" in line
    assert not (run_copy / "resumes.jsonl").exists()


@pytest.mark.parametrize("rows,cols,expected", [(2, 3, True), (1, 1, True), (6, 1, True), (3, 3, True),
                                                (3, 4, False), (4, 2, False), (1, 4, False), (6, 7, False)])
def test_boards_where_nobody_can_win(rows, cols, expected):
    """Four in a row needs 4 cells in a line; in one column the stones alternate."""
    from src.games.connect4 import unwinnable

    assert unwinnable(rows, cols) is expected


def test_training_on_a_board_nobody_can_win_warns_once(tmp_path, capsys):
    raw = tiny_config(game={"params": {"rows": 6, "cols": 1}}, train={"total_steps": 32, "num_envs": 8})
    assert train("--config", write_config(tmp_path / "c.yaml", raw), "--run_dir", tmp_path / "r") == 0
    err = capsys.readouterr().err
    assert err.count("warning: no game on a 6x1 board can be won") == 1, err
    assert train("--config", write_config(tmp_path / "c.yaml", tiny_config(train={"total_steps": 32})),
                 "--run_dir", tmp_path / "r2") == 0
    assert "warning" not in capsys.readouterr().err


# ---- run directories ----------------------------------------------------------------------------
def test_a_non_empty_folder_that_is_not_a_run_is_refused_and_left_alone(tmp_path, capsys):
    foreign = tmp_path / "mine"
    for name, data in {"checkpoints/model_512.pt": b"my model", "metrics.jsonl": b'{"step": 1}\n',
                       "state/state_9999.pt": b"my state"}.items():
        (foreign / name).parent.mkdir(parents=True, exist_ok=True)
        (foreign / name).write_bytes(data)
    before = {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()}
    line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", RUN), "--run_dir", foreign)
    assert "is not empty and is not a run (it holds checkpoints/, metrics.jsonl, state/)" in line
    assert {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert train("--config", write_config(tmp_path / "c.yaml", {**RUN, "train": {**RUN["train"], "total_steps": 16}}),
                 "--run_dir", empty) == 0  # an empty folder is still fine


def test_a_second_process_in_a_run_directory_is_refused_still_running(tmp_path, capsys, run_copy):
    """Two resumes (or a resume during a run) at once: the second finds the run's lock taken."""
    holder = RunDir(run_copy)
    assert holder.lock()
    try:
        line = refused(capsys, "--resume", run_copy, "--total_steps", 240)
        assert "still running" in line
        assert not (run_copy / "resumes.jsonl").exists()
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        other = RunDir(fresh)
        assert other.lock()
        line = refused(capsys, "--config", write_config(tmp_path / "c.yaml", RUN), "--run_dir", fresh)
        assert "still running" in line and not any(fresh.iterdir())
        other.unlock()
    finally:
        holder.unlock()
    assert train("--resume", run_copy, "--total_steps", 240) == 0  # the lock is free again
    assert len(RunDir(run_copy).read_resumes()) == 1 and inspect_run(run_copy).status == "completed"


def test_two_resumes_started_together_train_once(run_copy):
    cmd = [sys.executable, "-m", "src.cli.train", "--resume", str(run_copy), "--total_steps", "30000"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    err = next(e for p, (_, e) in zip(procs, results) if p.returncode == 2)
    assert "still running" in one_error_line(err)
    assert len(RunDir(run_copy).read_resumes()) == 1
    finals = [r for r in RunDir(run_copy).read_metrics() if r.get("kind") == "status" and r["step"] == 30000]
    assert len(finals) == 1 and RunDir(run_copy).read_status()["resumes"] == 1


def test_an_edited_config_is_refused_on_resume_naming_the_changed_keys(capsys, run_copy):
    cfg = yaml.safe_load((run_copy / "config.yaml").read_text())
    cfg["agent"]["params"]["learning_rate"] = 0.5
    cfg["agent"]["params"]["gamma"] = 0.5
    cfg["eval"] = {"games": 4, "opponents": ["random"]}
    (run_copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    line = refused(capsys, "--resume", run_copy, "--total_steps", 240)
    assert "config.yaml was edited" in line and "only --total_steps may change" in line
    assert "(agent.params.gamma, agent.params.learning_rate, eval changed)" in line
    assert not (run_copy / "resumes.jsonl").exists()


def test_a_damaged_newest_state_is_kept_aside_and_the_resume_says_so(capsys, run_copy):
    newest = run_copy / "state" / "state_192.pt"
    truncated = newest.read_bytes()[:1000]
    newest.write_bytes(truncated)
    assert train("--resume", run_copy, "--total_steps", 240) == 0
    err = capsys.readouterr().err
    assert f"{newest} is not a state file (truncated or not a torch file)" in err
    assert "resuming from step 144" in err
    kept = run_copy / "state" / "state_192.pt.unreadable"
    assert kept.read_bytes() == truncated  # kept, while the resumed run wrote a new state_192.pt
    (record,) = RunDir(run_copy).read_resumes()
    assert record["from_step"] == 144
    assert record["unreadable"] == [{"file": "state/state_192.pt", "kept_as": "state/state_192.pt.unreadable",
                                     "error": f"{newest} is not a state file (truncated or not a torch file)"}]
    assert RunDir(run_copy).read_status()["status"] == "completed"


def test_when_every_state_file_is_unreadable_the_resume_says_so(capsys, run_copy):
    for p in (run_copy / "state").iterdir():
        p.write_text("not a torch file")
    line = refused(capsys, "--resume", run_copy, "--total_steps", 240)
    assert "every state file is unreadable" in line and "state_96.pt" in line and "state_192.pt" in line
    assert sorted(p.name for p in (run_copy / "state").iterdir()) == ["state_144.pt", "state_192.pt", "state_96.pt"]


def test_resume_of_a_file_says_it_is_a_file(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    assert "it is a file, not a run directory" in refused(capsys, "--resume", f)


# ---- writes failing mid-run -------------------------------------------------------------------
def failing_train(mode: str, allowed: int, tmp_path: Path, raw: dict) -> tuple[subprocess.CompletedProcess, Path, Path]:
    log = tmp_path / "first_failure.txt"
    run_dir = tmp_path / "runs" / "r"
    cmd = [sys.executable, str(REPO / "tests" / "training" / "_failing_writes.py"), mode, str(allowed), str(log),
           "--", "--config", str(write_config(tmp_path / "c.yaml", raw)), "--run_dir", str(run_dir)]
    out = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
    return out, run_dir, log


def test_a_full_disk_mid_run_is_one_line_a_dead_status_at_the_real_step_and_resumable(tmp_path):
    out, run_dir, log = failing_train("enospc", 2, tmp_path, RUN)  # states at 48 and 96 fit, 144 does not
    assert out.returncode == 1, out.stderr
    line = one_error_line(out.stderr)
    failed = log.read_text().strip()
    assert failed.endswith("state_144.pt")
    assert line.startswith(f"error: cannot write {failed}: No space left on device")
    status = RunDir(run_dir).read_status()
    assert status["status"] == "dead" and status["step"] == 144
    assert status["error"] == f"cannot write {failed}: No space left on device"
    assert inspect_run(run_dir).status == "dead"
    assert train("--resume", run_dir) == 0  # the space is back
    assert RunDir(run_dir).read_resumes()[0]["from_step"] == 96
    assert RunDir(run_dir).read_status()["status"] == "completed"


def test_a_filesystem_turned_read_only_mid_run_is_one_line_naming_the_first_failed_write(tmp_path):
    from src.runs.monitor import list_report

    out, run_dir, log = failing_train("erofs", 6, tmp_path, RUN)
    assert out.returncode == 1, out.stderr
    line = one_error_line(out.stderr)
    failed = log.read_text().strip()
    assert line.startswith(f"error: cannot write {failed}: Read-only file system")
    assert (run_dir / "pid").exists()  # it could not be removed
    assert inspect_run(run_dir).status == "dead"
    (row,) = list_report(run_dir.parent, show_all=True).lines
    assert " dead " in row


def _connect4():
    from src.games import make_rules

    return make_rules("connect4", "cpu", None, rows=6, cols=7)
