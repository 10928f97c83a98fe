"""``src.training.run.run`` in-process: graceful stops (stop file, SIGINT), the config copy,
refusing a used run directory, a crash, and same-seed reproducibility."""
from __future__ import annotations

import json
import os
import signal

import pytest
import torch
import yaml

from src.agents import read_checkpoint
from src.runs.rundir import RunDir, RunDirError
from src.training import trainer as trainer_module
from src.training.run import run
from src.config.schema import ConfigError
from tests.training.helpers import assert_identical, checkpoint_files, tiny_config, write_config


def status_of(run_dir) -> dict:
    return json.loads((run_dir / "status.json").read_text())


@pytest.fixture
def when_running_past(monkeypatch):
    """``when_running_past(step, action)``: call ``action(run_dir)`` once, right after the run
    writes a 'running' status at or past ``step`` (status is written at every interval crossing)."""
    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)
    original = RunDir.write_status
    fired = []

    def arm(step, action):
        def write_status(self, fields):
            original(self, fields)
            if not fired and fields["status"] == "running" and fields["step"] >= step:
                fired.append(fields["step"])
                action(self.path)

        monkeypatch.setattr(RunDir, "write_status", write_status)
        return fired

    return arm


def long_config(tmp_path):
    raw = tiny_config(train={"total_steps": 10 ** 6, "callbacks": [
        {"type": "checkpoint", "params": {"interval": 10 ** 5, "prefix": "ck"}}]})
    return write_config(tmp_path / "long.yaml", raw)


@pytest.mark.parametrize("how", ["stop file", "SIGINT"])
def test_stop_request_ends_the_run_after_the_current_batch_step_with_final_checkpoint(tmp_path, when_running_past, how):
    run_dir = tmp_path / "run"
    if how == "stop file":
        action = lambda path: (path / "stop").touch()  # noqa: E731  (what `runs stop` falls back to)
    else:
        action = lambda path: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    fired = when_running_past(48, action)

    run(long_config(tmp_path), run_dir, status_interval=16, progress=False)

    (stopped_at,) = fired
    status = status_of(run_dir)
    assert status["status"] == "stopped" and status["step"] == stopped_at == 48
    assert checkpoint_files(run_dir) == ["ck_48.pt"]
    assert read_checkpoint(run_dir / "checkpoints" / "ck_48.pt")["step"] == 48
    assert not (run_dir / "pid").exists()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored


@pytest.mark.parametrize("text", [
    pytest.param("# ε-greedy, no final newline\n{body}seed: 7", id="utf8 without final newline"),
    pytest.param("# windows line endings\r\n{body}", id="crlf"),
])
def test_config_yaml_is_a_byte_for_byte_copy_of_the_config_file(tmp_path, text):
    raw = tiny_config(train={"total_steps": 16})
    del raw["seed"]
    body = yaml.safe_dump(raw, sort_keys=False)
    if "\r\n" in text:
        body = body.replace("\n", "\r\n")
    path = tmp_path / "c.yaml"
    path.write_bytes(text.format(body=body).encode("utf-8"))
    run(path, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "config.yaml").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("marker", ["config.yaml", "meta.json", "status.json", "pid"])
def test_run_dir_holding_a_run_is_refused_and_left_untouched(tmp_path, marker):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / marker).write_text("old\n")
    with pytest.raises(RunDirError, match="already holds a run"):
        run(write_config(tmp_path / "c.yaml", tiny_config()), run_dir, progress=False)
    assert [p.name for p in run_dir.iterdir()] == [marker] and (run_dir / marker).read_text() == "old\n"


def test_config_error_creates_no_run_dir(tmp_path):
    bad = write_config(tmp_path / "c.yaml", tiny_config(agent={"params": {"learnig_rate": 0.1}}))
    with pytest.raises(ConfigError, match="agent.params.learnig_rate"):
        run(bad, tmp_path / "deep" / "run", progress=False)
    assert not (tmp_path / "deep").exists()


def test_run_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        run(write_config(tmp_path / "c.yaml", tiny_config()), tmp_path / "run", progress=False)


def test_crash_during_training_leaves_error_log_dead_status_and_no_pid(tmp_path, monkeypatch):
    def boom(self, *args):
        raise RuntimeError("boom in update")

    monkeypatch.setattr("src.agents.dqn.DQNAgent.update", boom)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom in update"):
        run(write_config(tmp_path / "c.yaml", tiny_config()), run_dir, progress=False)
    assert "boom in update" in (run_dir / "error.log").read_text()
    assert status_of(run_dir)["status"] == "dead" and "boom in update" in status_of(run_dir)["error"]
    assert not (run_dir / "pid").exists()


def final_checkpoint(run_dir) -> dict:
    step = status_of(run_dir)["step"]
    return read_checkpoint(run_dir / "checkpoints" / f"model_{step}.pt")


def test_same_seed_gives_identical_checkpoints_and_another_seed_does_not(tmp_path):
    raw = tiny_config(train={"total_steps": 192})  # 12 batch steps, learning from the 2nd
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run(write_config(tmp_path / "s7.yaml", raw), a, progress=False)
    run(write_config(tmp_path / "s7_again.yaml", raw), b, progress=False)
    run(write_config(tmp_path / "s8.yaml", {**raw, "seed": 8}), c, progress=False)

    ck_a, ck_b, ck_c = final_checkpoint(a), final_checkpoint(b), final_checkpoint(c)
    assert ck_a["state"]["num_updates"] > 0 and ck_a["episode"] > 0
    assert_identical(ck_a, ck_b)
    assert (status_of(a)["step"], status_of(a)["episode"]) == (status_of(b)["step"], status_of(b)["episode"])
    assert checkpoint_files(a) == checkpoint_files(b)
    online_a, online_c = ck_a["state"]["online"], ck_c["state"]["online"]
    assert any(not torch.equal(online_a[k], online_c[k]) for k in online_a)
