"""Exact resume (``run(resume=RUN_DIR)``, ``python -m src.cli.train --resume``): a run stopped,
crashed or completed and then resumed ends bit-identical to the same run left uninterrupted;
what the run directory records about it; and every refusal (exit 2, one line, nothing touched).

Same seed, CPU, small configs. Status is written at every step here (``STATUS_MIN_SECONDS``
is 0) so that stops can be requested at an exact step; status writes do not change training.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch

from src.agents import AGENTS, load_agent, read_checkpoint
from src.runs.monitor import inspect_run, list_report
from src.runs.rundir import RunDir, utc_now_iso
from src.training import trainer as trainer_module
from src.training.run import run
from src.training.state import STATE_VERSION, read_state
from tests.training.helpers import (assert_identical, comparable, crash_dqn_update, final_state, spawn_train_cli,
                                    status_of, stopped_and_resumed_states, tiny_config, wait_until, write_config)

PLAIN = tiny_config(
    agent={"params": {"n_step": 3, "epsilon_decay": 0.995, "learning_rate": 3e-3}},
    train={"total_steps": 640, "callbacks": [
        {"type": "checkpoint", "params": {"interval": 96, "keep_last": 2}},
        {"type": "epsilon_decay", "params": {"every": "step"}},
        {"type": "lr_decay", "params": {"interval_steps": 160, "decay_factor": 0.5}}]})
POOL_EVAL = tiny_config(
    agent={"params": {"features": "threats", "epsilon_decay": 0.99}},
    train={"total_steps": 640, "opponent_sampler": {"type": "pool", "params": {
        "self_play": {"start_episode": 4, "current_self_fraction": 0.25, "past_self_fraction": 0.35,
                      "max_frozen_agents": 2, "save_every": 6},
        "heuristic_distribution": {"random": 0.5, "heuristic": 0.3, "search:2": 0.2}}},
        "callbacks": [{"type": "checkpoint", "params": {"interval": 128, "prefix": "ck"}},
                      {"type": "epsilon_decay", "params": {"every": "episode"}}]},
    eval={"interval": 112, "games": 6, "opponents": ["random", "heuristic"]})

AZ_SELF_PLAY = tiny_config(
    train={"total_steps": 640, "opponent_sampler": {"type": "self_play"},
           "callbacks": [{"type": "checkpoint", "params": {"interval": 96, "keep_last": 2}},
                         {"type": "lr_decay", "params": {"interval_steps": 160, "decay_factor": 0.5}}]},
    eval={"interval": 224, "games": 4, "opponents": ["random"]})
AZ_SELF_PLAY["agent"] = {"id": "alphazero", "params": {
    "device": "cpu", "channels": 8, "blocks": 1, "simulations": 4, "act_simulations": 4, "batch_size": 16,
    "replay_buffer_size": 400, "learning_starts": 64, "temperature_moves": 4,
    "random_opening_plies": 3, "value_target_q_weight": 0.5,
    "value_length_penalty": 0.3}}  # its targets need each pending position's state words: resumed too


@pytest.fixture(autouse=True)
def status_every_step(monkeypatch):
    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)


@pytest.fixture
def at_status(monkeypatch):
    """``at_status(step, action)``: call ``action(run_dir)`` right after the first run (not a
    resumed one) writes a 'running' status at ``step``; patched for the rest of the test."""
    original = RunDir.write_status

    def arm(step, action):
        def write_status(self, fields):
            original(self, fields)
            if fields["status"] == "running" and fields["step"] == step and "resumes" not in fields:
                action(self.path)

        monkeypatch.setattr(RunDir, "write_status", write_status)

    return arm


def assert_same_run(resumed: Path, reference: Path) -> None:
    """Final training state (weights, target, optimizer, schedules, replay, games, every RNG
    stream, pool, callbacks, evaluator, counters) and final model file identical."""
    assert status_of(resumed)["step"] == status_of(reference)["step"]
    state_a, state_b = final_state(resumed), final_state(reference)
    assert state_a["learner"]["agent"]["num_updates"] > 0 and state_a["learner"]["replay"] is not None
    assert_identical(comparable(state_a), comparable(state_b))
    step = state_a["step"]
    prefix = next(p.name.rsplit("_", 1)[0] for p in (reference / "checkpoints").iterdir())
    assert_identical(read_checkpoint(resumed / "checkpoints" / f"{prefix}_{step}.pt"),
                     read_checkpoint(reference / "checkpoints" / f"{prefix}_{step}.pt"), "model file")
    for key in ("step", "episode", "results", "updates", "epsilon", "learning_rate"):
        assert status_of(resumed)[key] == status_of(reference)[key], key


def status_steps(run_dir: Path, kind: str = "status") -> list[int]:
    return [r["step"] for r in RunDir(run_dir).read_metrics() if r.get("kind") == kind]


def stop_by(how: str):
    if how == "stop file":
        return lambda path: (path / "stop").touch()
    return lambda path: os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("how, raw, stop_at", [
    ("stop file", PLAIN, 208),  # between checkpoints (96, 192, 288...) and lr decays (160, 320...)
    ("SIGTERM", POOL_EVAL, 352),  # after snapshots were taken and retired, between evaluations
    ("stop file", AZ_SELF_PLAY, 272),  # AlphaZero self-play: games in progress, pending positions
], ids=["stop file", "SIGTERM, pool sampler and eval", "alphazero self-play"])
def test_run_stopped_at_an_arbitrary_step_and_resumed_ends_bit_identical_to_an_uninterrupted_run(
        tmp_path, monkeypatch, at_status, how, raw, stop_at):
    if raw is POOL_EVAL:  # read the finished-game count every 3rd step, as a GPU does every 8th
        from src.opponents.pool import PoolSampler

        init = PoolSampler.__init__

        def lagging_init(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.check_every = 3

        monkeypatch.setattr(PoolSampler, "__init__", lagging_init)
    config = write_config(tmp_path / "c.yaml", raw)
    reference = run(config, tmp_path / "reference", progress=False, status_interval=16)
    at_status(stop_at, stop_by(how))
    resumed = run(config, tmp_path / "resumed", progress=False, status_interval=16)
    assert status_of(resumed)["status"] == "stopped" and status_of(resumed)["step"] == stop_at
    assert RunDir(resumed).state_steps()[-1] == stop_at  # the final checkpoint holds the whole state
    if raw is POOL_EVAL:
        pool = read_state(RunDir(resumed).state_path(stop_at))["sampler"]
        assert pool["retired"] or len([s for s in pool["slots"] if s is not None]) >= 2
    meta, first_start = (resumed / "meta.json").read_bytes(), status_of(resumed)["start_time"]

    assert run(resume=resumed, progress=False, status_interval=16) == resumed

    assert_same_run(resumed, reference)
    status = status_of(resumed)
    assert status["status"] == "completed" and status["total_steps"] == 640
    assert (status["resumed_from_step"], status["resumes"], status["resume_exact"]) == (stop_at, 1, True)
    assert status["start_time"] == first_start  # the run's, not the resume's
    assert (resumed / "meta.json").read_bytes() == meta and not (resumed / "pid").exists()
    (record,) = RunDir(resumed).read_resumes()
    assert record["from_step"] == stop_at and record["total_steps"] == 640 and record["exact"] is True
    assert {"time", "command", "git_commit"} <= record.keys()
    assert status_steps(resumed) == status_steps(reference)  # each step once, none missing
    assert status_steps(resumed, "eval") == status_steps(reference, "eval")
    # keep_last: the newest 2 (default 2) training states; every model file stays
    assert RunDir(resumed).state_steps() == RunDir(reference).state_steps() == [640 - 128 if raw is POOL_EVAL else 576, 640]
    if raw is AZ_SELF_PLAY:  # the replay ring filled past its capacity: positions from both seats
        assert read_state(RunDir(resumed).state_path(640))["learner"]["replay"]["size"] == 400
    assert {p.name for p in (reference / "checkpoints").iterdir()} <= {p.name for p in (resumed / "checkpoints").iterdir()}


def test_run_that_crashed_resumes_from_its_last_checkpoint_and_ends_bit_identical(tmp_path, monkeypatch):
    from src.agents.dqn import DQNAgent

    config = write_config(tmp_path / "c.yaml", PLAIN)
    reference = run(config, tmp_path / "reference", progress=False, status_interval=16)
    update = crash_dqn_update(monkeypatch, at_update=20)
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="boom"):
        run(config, crashed, progress=False, status_interval=16)
    assert inspect_run(crashed).status == "dead" and max(status_steps(crashed)) == 336
    monkeypatch.setattr(DQNAgent, "update", update)

    run(resume=crashed, progress=False, status_interval=16)

    assert_same_run(crashed, reference)
    assert status_of(crashed)["resumed_from_step"] == 288 and "error" not in status_of(crashed)
    assert status_steps(crashed) == status_steps(reference)  # records past 288 were dropped, then rewritten
    assert not (crashed / "error.log").exists() and "boom" in (crashed / "error.0.log").read_text()
    assert inspect_run(crashed).status == "completed"


def test_completed_run_extended_with_total_steps_continues_from_its_last_state(tmp_path):
    short = write_config(tmp_path / "short.yaml", {**PLAIN, "train": {**PLAIN["train"], "total_steps": 320}})
    reference = run(write_config(tmp_path / "c.yaml", PLAIN), tmp_path / "reference", progress=False,
                    status_interval=16)
    extended = run(short, tmp_path / "extended", progress=False, status_interval=16)
    assert status_of(extended)["status"] == "completed"
    config_text = (extended / "config.yaml").read_bytes()

    run(resume=extended, total_steps=640, progress=False, status_interval=16)

    assert_same_run(extended, reference)  # reaching 320 first changes nothing
    status = status_of(extended)
    assert (status["status"], status["total_steps"], status["resumed_from_step"]) == ("completed", 640, 320)
    assert (extended / "config.yaml").read_bytes() == config_text  # the run's config stays as written
    assert RunDir(extended).read_resumes()[0]["total_steps"] == 640
    assert status_steps(extended) == status_steps(reference)


def test_without_the_replay_ring_in_checkpoints_resume_refills_it_and_says_it_is_not_exact(tmp_path, at_status):
    raw = {**PLAIN, "train": {**PLAIN["train"], "checkpoint_replay": False}}
    config = write_config(tmp_path / "c.yaml", raw)
    at_status(208, stop_by("stop file"))
    run_dir = run(config, tmp_path / "run", progress=False, status_interval=16)
    state = read_state(RunDir(run_dir).state_path(208))
    assert state["learner"]["replay"] is None and state["learner"]["agent"]["num_updates"] > 0 and not state["exact"]

    run(resume=run_dir, progress=False, status_interval=16)

    status = status_of(run_dir)
    assert status["status"] == "completed" and status["resume_exact"] is False
    assert "not exact" in status["resume_note"]
    assert RunDir(run_dir).read_resumes()[0]["exact"] is False
    assert status_steps(run_dir) == sorted(set(status_steps(run_dir)))


def test_kill_during_a_checkpoint_write_resumes_from_the_previous_complete_one(tmp_path, at_status):
    config = write_config(tmp_path / "c.yaml", PLAIN)
    at_status(208, stop_by("stop file"))
    run_dir = run(config, tmp_path / "run", progress=False, status_interval=16)
    rd = RunDir(run_dir)
    assert rd.state_steps() == [192, 208]
    # what a kill -9 leaves mid-write: the temp file of the atomic write (never the final name);
    # a state file damaged some other way is passed over too
    data = rd.state_path(208).read_bytes()
    (rd.state_dir / ".state_288.pt.x1y2.tmp").write_bytes(data[: len(data) // 2])
    rd.state_path(304).write_bytes(data[: len(data) // 3])

    run(resume=run_dir, progress=False, status_interval=16)

    status = status_of(run_dir)
    assert status["status"] == "completed" and status["resumed_from_step"] == 208
    assert not any(p.name.endswith(".tmp") for p in rd.state_dir.iterdir())
    assert rd.state_steps() == [576, 640]


# --- refusals: exit 2, one line, nothing touched --------------------------------------------

@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped at step 48 (checkpoints at 32 and 48), to copy."""
    root = tmp_path_factory.mktemp("stopped")
    raw = tiny_config(train={"total_steps": 10 ** 6, "callbacks": [{"type": "checkpoint", "params": {"interval": 32}}]})
    config = write_config(root / "c.yaml", raw)
    original = RunDir.write_status

    def write_status(self, fields):
        original(self, fields)
        if fields["step"] == 48:
            (self.path / "stop").touch()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunDir, "write_status", write_status)
        mp.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)
        run(config, root / "run", progress=False, status_interval=16)
    assert status_of(root / "run")["status"] == "stopped"
    return root / "run"


def files_of(d: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.rglob("*") if p.is_file()}


def running(run_dir: Path) -> None:
    rd = RunDir(run_dir)  # this process plays the live training process
    rd.write_pid()
    rd.write_status({**status_of(run_dir), "status": "running", "last_heartbeat": utc_now_iso()})


def no_state(run_dir: Path) -> None:
    rd = RunDir(run_dir)
    for step in rd.state_steps():
        rd.state_path(step).unlink()
    (rd.state_dir / ".state_64.pt.abc.tmp").write_bytes(b"torn")


def newer_format(run_dir: Path) -> None:
    rd = RunDir(run_dir)
    path = rd.state_path(rd.state_steps()[-1])
    state = torch.load(path, weights_only=False)
    torch.save({**state, "version": STATE_VERSION + 1}, path)


def completed(run_dir: Path) -> None:
    rd = RunDir(run_dir)
    path = rd.state_path(48)
    torch.save({**torch.load(path, weights_only=False), "total_steps": 48}, path)
    rd.write_status({**status_of(run_dir), "status": "completed", "total_steps": 48})


def other_device(run_dir: Path) -> None:
    rd = RunDir(run_dir)
    path = rd.state_path(48)
    torch.save({**torch.load(path, weights_only=False), "device": "cuda"}, path)


REFUSALS = [  # (id, prepare the copy, extra arguments, the error line starts with, ... contains)
    ("still running", running, [], "error: cannot resume", "is still running (pid"),
    ("no complete checkpoint", no_state, [], "error: cannot resume", "no complete checkpoint"),
    ("total_steps at the checkpoint's step", None, ["--total_steps", "48"], "error: cannot resume",
     "--total_steps 48 is not above the checkpoint's step 48"),
    ("total_steps below it", None, ["--total_steps", "16"], "error: cannot resume", "is not above"),
    ("completed, no --total_steps", completed, [], "error: cannot resume", "pass --total_steps above 48"),
    ("newer checkpoint format", newer_format, [], "error: cannot resume",
     f"newer checkpoint format (version {STATE_VERSION + 1}"),
    ("checkpoint from another device", other_device, [], "error: cannot resume", "written on cuda"),
    ("not a run directory", lambda d: (d / "config.yaml").unlink(), [], "error: cannot resume", "not a run directory"),
]


@pytest.mark.parametrize("prepare, extra, start, contains", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_resume_refusal_exits_2_with_one_line_and_touches_nothing(stopped_run, tmp_path, capsys, prepare, extra,
                                                                   start, contains):
    from src.cli.train import main

    run_dir = tmp_path / "run"
    shutil.copytree(stopped_run, run_dir)
    if prepare is not None:
        prepare(run_dir)
    before = files_of(run_dir)

    code = main(["--resume", str(run_dir), *extra])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(start) and contains in err and len(err.splitlines()) == 1, err
    assert files_of(run_dir) == before


def test_resume_of_a_stopped_run_through_main_prints_the_run_directory(stopped_run, tmp_path, capsys):
    from src.cli.train import main

    run_dir = tmp_path / "run"
    shutil.copytree(stopped_run, run_dir)
    assert main(["--resume", str(run_dir), "--total_steps", "96"]) == 0
    assert f"run directory: {run_dir}" in capsys.readouterr().out
    status = status_of(run_dir)
    assert (status["status"], status["step"], status["resumed_from_step"]) == ("completed", 96, 48)
    assert RunDir(run_dir).read_resumes()[0]["command"].startswith("python -m src.cli.train --resume")

    from src.runs.show import show_report

    report = "\n".join(show_report(run_dir))
    assert "resumed:  1 time(s)" in report and "from step 48" in report and "resume:   from step 96" in report


# --- a real process killed with SIGKILL -------------------------------------------------------

def test_run_killed_with_sigkill_at_a_random_moment_resumes_and_completes_counting_no_step_twice(tmp_path):
    raw = tiny_config(train={"total_steps": 20000, "num_envs": 32, "callbacks": [
        {"type": "checkpoint", "params": {"interval": 256, "keep_last": 1}}]},
        eval={"interval": 2048, "games": 4, "opponents": ["random"]})
    write_config(tmp_path / "c.yaml", raw)
    proc = spawn_train_cli("--config", "c.yaml", "--run_dir", "run", cwd=tmp_path)
    run_dir = tmp_path / "run"
    try:
        wait_until(lambda: RunDir(run_dir).state_steps(), 150, "a first complete checkpoint")
        time.sleep(random.Random().uniform(0.0, 1.0))
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.kill()  # SIGKILL: no handler, no final status, pid file left behind
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert inspect_run(run_dir).status == "dead"

    resumed = spawn_train_cli("--resume", "run", cwd=tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err

    status = status_of(run_dir)
    assert status["status"] == "completed" and status["step"] == 20000 and status["resumes"] == 1
    assert status["resumed_from_step"] % 256 == 0  # a checkpoint's step (32 games per batch step)
    for kind in ("status", "eval"):
        steps = status_steps(run_dir, kind)
        assert steps == sorted(set(steps)), kind  # no step counted twice
    assert status_steps(run_dir, "eval")[-1] == 20000
    assert inspect_run(run_dir).status == "completed" and not (run_dir / "pid").exists()
    (line,) = list_report(tmp_path, show_all=True).lines  # `runs list --all`
    assert line.split()[:3] == ["run", "completed", "step=20000/20000"]
    load_agent(run_dir / "checkpoints" / "model_20000.pt")  # model files stay loadable


# --- every agent in the registry carries its whole state -------------------------------------

TINY_PARAMS = {  # every registered agent, small: a new agent adds its entry here
    "dqn": {"device": "cpu", "hidden_sizes": [32], "target_update_interval": 3, "epsilon": 0.5,
            "batch_size": 16, "replay_buffer_size": 512, "learning_starts": 32},
    "alphazero": {"device": "cpu", "channels": 8, "blocks": 1, "simulations": 4, "batch_size": 16,
                  "replay_buffer_size": 512, "learning_starts": 32},
}


@pytest.mark.parametrize("agent_id", sorted(AGENTS))
def test_every_registered_agent_resumes_from_its_trainer_state_identically(agent_id):
    """Each registered agent's learner (networks, optimizer, schedules, replay, pending data,
    streams) and the trainer around it: a trainer stopped at step 160, its state saved through a
    file and loaded into a fresh trainer that goes on to 320, ends exactly as one that ran to 320."""
    from src.training.config import validate_config

    raw = tiny_config(train={"total_steps": 320, "opponent_sampler": {
        "type": "self_play" if AGENTS[agent_id].self_play else "random"}})
    raw["agent"] = {"id": agent_id, "params": TINY_PARAMS[agent_id]}
    a, b = stopped_and_resumed_states(validate_config(raw), 320, 160)
    assert a["learner"]["agent"]["num_updates"] > 0
    assert_identical(comparable(a), comparable(b))


def test_a_self_play_state_from_before_steps_counted_plies_is_refused_with_one_line(tmp_path, capsys):
    """State version 1 (a self-play batch step was an agent move and a reply) cannot continue
    under one ply per batch step: the resume says so and touches nothing."""
    from src.cli.train import main

    cfg = json.loads(json.dumps(AZ_SELF_PLAY))
    cfg["train"]["total_steps"] = 96
    run_dir = tmp_path / "run"
    run(write_config(tmp_path / "az.yaml", cfg), run_dir, progress=False)
    rd = RunDir(run_dir)
    path = rd.state_path(rd.state_steps()[-1])
    torch.save({**torch.load(path, weights_only=False), "version": 1}, path)
    before = files_of(run_dir)

    code = main(["--resume", str(run_dir), "--total_steps", "192"])

    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("error: cannot resume") and "one ply per game" in err and "start a new run" in err
    assert files_of(run_dir) == before
