"""RunDir: what each writer leaves on disk, and meta.json's fields."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest

from src.runs.rundir import RunDir, RunDirError, default_run_dir, make_meta, utc_now_iso
from tests.runs.helpers import REPO, child_env

SPEC_META_FIELDS = {"git_commit", "git_dirty", "command", "start_time_iso", "seed", "device",
                    "python_version", "torch_version", "config_path"}


def test_create_copies_config_exactly_and_writes_meta(tmp_path):
    config_text = "# comment kept\nseed: 7\ngame: {id: connect4}\nname: 'ε'"  # no trailing newline
    rd = RunDir(tmp_path / "runs" / "exp")
    rd.create(config_text, {"seed": 7})
    assert rd.config_path.read_text(encoding="utf-8") == config_text
    assert json.loads(rd.meta_path.read_text()) == {"seed": 7}
    assert rd.checkpoints.is_dir()
    assert sorted(p.name for p in rd.path.iterdir()) == ["checkpoints", "config.yaml", "meta.json"]


def test_create_accepts_an_existing_empty_directory(tmp_path):
    RunDir(tmp_path).create("seed: 1\n", {})
    assert (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize("existing", ["config.yaml", "meta.json"])
def test_create_refuses_a_directory_holding_a_previous_run(tmp_path, existing):
    (tmp_path / existing).write_text("previous run")
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDir(tmp_path).create("seed: 2\n", {"seed": 2})
    assert (tmp_path / existing).read_text() == "previous run"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_create_refuses_a_file_path(tmp_path):
    (tmp_path / "exp").write_text("")
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir(tmp_path / "exp").create("", {})


def test_pid_file_holds_only_the_pid(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_pid()
    assert rd.pid_path.read_text() == f"{os.getpid()}\n"
    assert rd.read_pid() == os.getpid()
    rd.remove_pid()
    rd.remove_pid()  # missing is fine
    assert not rd.pid_path.exists() and rd.read_pid() is None


def test_write_status_records_who_wrote_it(tmp_path):
    rd = RunDir(tmp_path)
    fields = {"status": "running", "step": 100, "total_steps": 1000, "episode": 3, "epsilon": None,
              "start_time": "2026-01-29T12:00:00+00:00", "last_heartbeat": "2026-01-29T12:01:00+00:00",
              "extra": [1, 2]}
    rd.write_status(fields)
    status = json.loads(rd.status_path.read_text())
    assert status == {**fields, "pid": os.getpid(), "pid_create_time": psutil.Process().create_time()}
    assert "pid" not in fields  # the caller's dict is not modified


def test_write_status_fills_in_a_missing_heartbeat(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_status({"status": "running", "step": 0})
    beat = datetime.fromisoformat(rd.read_status()["last_heartbeat"])
    assert abs((datetime.now(timezone.utc) - beat).total_seconds()) < 5


def test_stop_file_request_and_clear(tmp_path):
    rd = RunDir(tmp_path)
    assert not rd.stop_requested()
    rd.stop_path.write_text("")
    assert rd.stop_requested()
    rd.clear_stop()
    rd.clear_stop()
    assert not rd.stop_requested()


def test_write_error_and_metrics(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_error("Traceback (most recent call last):\nRuntimeError: boom\n")
    assert rd.error_path.name == "error.log"
    assert rd.error_path.read_text().endswith("RuntimeError: boom\n")
    rd.append_metrics({"step": 1, "loss": 0.5})
    rd.append_metrics({"step": 2, "loss": 0.25})
    assert rd.metrics_path.read_text().splitlines() == ['{"step": 1, "loss": 0.5}', '{"step": 2, "loss": 0.25}']
    assert rd.read_metrics() == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]


def test_checkpoint_path_and_save(tmp_path):
    torch = pytest.importorskip("torch")
    rd = RunDir(tmp_path / "run")
    assert rd.checkpoint_path("model", 200) == tmp_path / "run" / "checkpoints" / "model_200.pt"
    path = rd.save_checkpoint({"step": 200, "w": torch.zeros(2)}, "model", 200)
    assert path == rd.checkpoint_path("model", 200)
    assert torch.load(path, weights_only=True)["step"] == 200


def test_default_run_dir_uses_config_stem_and_utc_timestamp(tmp_path):
    now = datetime(2026, 1, 29, 12, 0, 0, tzinfo=timezone.utc)
    assert default_run_dir(Path("configs/dqn_connect4.yaml"), now=now) == Path("runs/dqn_connect4_2026-01-29_12-00-00")
    first = default_run_dir("configs/dqn_connect4.yaml", tmp_path, now=now)
    first.mkdir()
    assert default_run_dir("configs/dqn_connect4.yaml", tmp_path, now=now) == tmp_path / "dqn_connect4_2026-01-29_12-00-00_2"


def test_utc_now_iso_is_aware_utc():
    parsed = datetime.fromisoformat(utc_now_iso())
    assert parsed.utcoffset().total_seconds() == 0


def test_make_meta_has_exactly_the_spec_fields(tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text("seed: 3\n")
    meta = make_meta(config, seed=3, device="cpu", command="python -m src.cli.train --config exp.yaml")
    assert set(meta) == SPEC_META_FIELDS
    assert meta["command"] == "python -m src.cli.train --config exp.yaml"
    assert meta["seed"] == 3 and meta["device"] == "cpu"
    assert meta["config_path"] == str(config.resolve()) and Path(meta["config_path"]).is_absolute()
    assert meta["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert datetime.fromisoformat(meta["start_time_iso"]).utcoffset().total_seconds() == 0
    assert meta["git_dirty"] in (True, False, None)
    assert meta["git_commit"] is None or len(meta["git_commit"]) == 40
    json.dumps(meta)


def test_make_meta_git_fields_are_null_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable to be found
    meta = make_meta(tmp_path / "x.yaml", seed=None, device="cpu", command="c")
    assert meta["git_commit"] is None and meta["git_dirty"] is None and meta["seed"] is None


def test_make_meta_default_command_shows_python_dash_m_and_null_torch(tmp_path):
    """Run as `python -m <module> --config ...` in a process where torch cannot be imported."""
    (tmp_path / "fake_train.py").write_text(
        "import json, sys\n"
        "sys.modules['torch'] = None  # import torch now raises ImportError\n"
        "from src.runs.rundir import make_meta\n"
        "print(json.dumps(make_meta('cfg.yaml', seed=1, device='cpu', command=None)))\n"
    )
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    out = subprocess.run([sys.executable, "-m", "fake_train", "--config", "configs/my exp.yaml"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    meta = json.loads(out)
    assert meta["command"] == "python -m fake_train --config 'configs/my exp.yaml'"
    assert meta["torch_version"] is None
    assert meta["config_path"] == str(REPO / "cfg.yaml")
