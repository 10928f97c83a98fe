"""``python -m src.cli.train`` as a user runs it: a whole run into the default run directory,
a graceful SIGTERM stop, and the error exits (code 2, one line, nothing written).

These start real processes, and each spends seconds importing torch and compiling the numba
kernels, so there are few of them and they all start at once (``cli``); the in-process tests
cover the same behaviour in more detail.
"""
from __future__ import annotations

import json
import os
import platform
import re
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import torch
import yaml

from src.agents import load_agent, read_checkpoint
from src.games import make_game
from tests.training.helpers import (checkpoint_files, checkpoint_steps, spawn_train_cli, tiny_config,
                                    wait_until, without)

META_FIELDS = {"git_commit", "git_dirty", "command", "start_time_iso", "seed", "device", "python_version",
               "torch_version", "config_path"}
STATUS_FIELDS = {"status", "step", "total_steps", "episode", "epsilon", "start_time", "last_heartbeat"}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


OLD_RUN_FILES = {"config.yaml": b"seed: 1\n", "meta.json": b"{}\n", "status.json": b'{"status": "completed"}\n',
                 "checkpoints/model_5.pt": b"weights"}


def files_of(d: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Every CLI process of this module, started together: ``{name: (Popen, its cwd)}``."""
    root = tmp_path_factory.mktemp("cli")
    long_run = tiny_config(train={"total_steps": 10 ** 8, "callbacks": [
        {"type": "checkpoint", "params": {"interval": 10 ** 7, "prefix": "long"}}]})
    tiny = tiny_config(train={"total_steps": 300, "callbacks": [
        {"type": "checkpoint", "params": {"interval": 100, "prefix": "tiny"}},
        {"type": "epsilon_decay", "params": {"every": "step"}}]})
    cases = {  # name: (config file name, text, extra arguments)
        "sigterm": ("long.yaml", yaml.safe_dump(long_run), ["--run_dir", "exp"]),
        "e2e": ("tiny.yaml", "# tiny run: ε decays per step\n" + yaml.safe_dump(tiny, sort_keys=False), []),
        "typo": ("c.yaml", yaml.safe_dump({**without(tiny_config(), "train"), "trian": tiny_config()["train"]}), []),
    }
    started = {"before": datetime.now(timezone.utc).replace(microsecond=0)}
    procs = {}
    try:
        for name, (config, text, args) in cases.items():
            d = root / name
            d.mkdir(exist_ok=True)
            (d / config).write_text(text, encoding="utf-8")
            procs[name] = (spawn_train_cli("--config", config, *args, cwd=d), d)
        yield {**procs, **started}
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def test_sigterm_stops_the_cli_run_after_a_batch_step_with_a_final_checkpoint(cli):
    proc, cwd = cli["sigterm"]
    run_dir = cwd / "exp"

    def running_past_zero():
        try:
            s = read_json(run_dir / "status.json")
        except (OSError, ValueError):
            return None
        return s if s["status"] == "running" and s["step"] > 0 else None

    wait_until(running_past_zero, 150, "status running with step > 0")
    assert int((run_dir / "pid").read_text()) == proc.pid
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    status = read_json(run_dir / "status.json")
    assert status["status"] == "stopped" and 0 < status["step"] < 10 ** 8 and status["step"] % 16 == 0
    assert checkpoint_files(run_dir) == [f"long_{status['step']}.pt"]
    assert read_checkpoint(run_dir / "checkpoints" / f"long_{status['step']}.pt")["step"] == status["step"]
    assert not (run_dir / "pid").exists()
    assert "stopped (SIGTERM)" in out


def test_cli_run_into_default_run_dir_writes_config_meta_status_and_loadable_checkpoints(cli):
    proc, tmp_path = cli["e2e"]  # python -m src.cli.train --config tiny.yaml (relative, no --run_dir)
    before = cli["before"]
    stdout, stderr = proc.communicate(timeout=180)
    after = datetime.now(timezone.utc)
    assert proc.returncode == 0, stderr

    # runs/<config_stem>_<UTC %Y-%m-%d_%H-%M-%S> under the working directory
    (run_dir,) = (tmp_path / "runs").iterdir()
    stamp = re.fullmatch(r"tiny_(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)", run_dir.name)
    assert stamp, run_dir.name
    started = datetime.strptime(stamp.group(1), "%Y-%m-%d_%H-%M-%S").replace(tzinfo=timezone.utc)
    assert before <= started <= after
    assert f"run directory: runs/{run_dir.name}" in stdout

    assert (run_dir / "config.yaml").read_bytes() == (tmp_path / "tiny.yaml").read_bytes()

    meta = read_json(run_dir / "meta.json")
    assert set(meta) == META_FIELDS
    assert re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"]) and isinstance(meta["git_dirty"], bool)
    assert meta["command"].startswith("python -m src.cli.train") and "--config tiny.yaml" in meta["command"]
    assert before <= datetime.fromisoformat(meta["start_time_iso"]) <= after
    assert datetime.fromisoformat(meta["start_time_iso"]).utcoffset() == timedelta(0)
    assert (meta["seed"], meta["device"]) == (7, "cpu")
    assert meta["python_version"] == platform.python_version() and meta["torch_version"] == torch.__version__
    assert meta["config_path"] == str((tmp_path / "tiny.yaml").resolve())

    status = read_json(run_dir / "status.json")
    assert STATUS_FIELDS <= set(status)
    assert status["status"] == "completed" and status["total_steps"] == 300
    assert status["step"] == 304  # 19 batch steps of 16 games: the first at or past 300
    assert status["episode"] > 0
    assert abs(status["epsilon"] - 0.999 ** 304) < 1e-4
    start, beat = datetime.fromisoformat(status["start_time"]), datetime.fromisoformat(status["last_heartbeat"])
    assert before <= start <= beat <= after
    assert not (run_dir / "pid").exists()

    assert checkpoint_files(run_dir) == [f"tiny_{s}.pt" for s in checkpoint_steps(16, 100, 304)]
    assert checkpoint_files(run_dir) == ["tiny_112.pt", "tiny_208.pt", "tiny_304.pt"]
    final = run_dir / "checkpoints" / "tiny_304.pt"
    assert read_checkpoint(final)["step"] == 304 and read_checkpoint(final)["episode"] == status["episode"]

    agent = load_agent(final)
    game = make_game("connect4", 64, device="cpu", seed=1)
    for _ in range(6):  # fill column 3 in every game (x o x o x o: nobody wins)
        game.step(torch.full((64,), 3))
    for _ in range(5):
        game.step(game.sample_actions())
    legal = game.legal_actions()
    assert (~legal[:, 3]).any()
    actions = agent.act(game.observe(), legal)
    assert actions.dtype == torch.int64 and actions.shape == (64,)
    assert legal[torch.arange(64), actions].all()


def test_cli_config_error_exits_2_with_one_line_naming_the_key_and_creates_no_run_dir(cli):
    proc, cwd = cli["typo"]  # no --run_dir: nothing may appear under runs/
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.startswith("error: config key 'trian': unknown key (did you mean 'train'?)")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert out == "" and sorted(p.name for p in cwd.iterdir()) == ["c.yaml"]


# --- the same error paths through main() in-process (cheap): exit code, one stderr line -----

def old_run(tmp_path) -> Path:
    run_dir = tmp_path / "old"
    (run_dir / "checkpoints").mkdir(parents=True)
    for name, data in OLD_RUN_FILES.items():
        (run_dir / name).write_bytes(data)
    return run_dir


ERRORS = [  # (id, config text or None for no file, --run_dir or None, start of the stderr line)
    ("nested typo, explicit run dir", yaml.safe_dump(tiny_config(agent={"params": {"learnig_rate": 0.1}})), "out",
     "error: config key 'agent.params.learnig_rate': unknown key (did you mean 'learning_rate'?)"),
    ("out of range", yaml.safe_dump(tiny_config(agent={"params": {"gamma": 1.5}})), None,
     "error: config key 'agent.params.gamma': must be <= 1"),
    ("malformed yaml", "game:\n\tid: connect4\n", None, "error: config: malformed YAML in c.yaml at line 2"),
    ("missing file", None, None, "error: config: config file not found: c.yaml"),
    ("run dir holds a run", yaml.safe_dump(tiny_config()), "old", "error: run directory old already holds a run"),
    ("run dir is a file", yaml.safe_dump(tiny_config()), "afile", "error: run directory afile exists and is not a directory"),
]


@pytest.mark.parametrize("text, run_dir, first_words", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_cli_main_error_exits_2_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, text, run_dir,
                                                                  first_words):
    from src.cli.train import main

    monkeypatch.chdir(tmp_path)
    if text is not None:
        (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    old = old_run(tmp_path) if run_dir == "old" else None
    old_files = files_of(old) if old else None
    if run_dir == "afile":
        (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())

    code = main(["--config", "c.yaml"] + (["--run_dir", run_dir] if run_dir else []))

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(first_words) and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run dir, no runs/
    if old:
        assert files_of(old) == old_files
