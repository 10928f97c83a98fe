"""Trainer callbacks and options, in-process on tiny configs: epsilon and learning-rate decay,
checkpoint steps and names, greedy (deterministic) acting, timings, the learner schedule and
when status is written."""
from __future__ import annotations

import io
import json

import pytest

from src.agents.dqn import masked_argmax
from src.runs.rundir import RunDir
from src.training import trainer as trainer_module
from tests.training.helpers import Recorder, checkpoint_files, checkpoint_steps, make_trainer, tiny_config

NO_LEARNING = {"params": {"learning_starts": 10 ** 6}}  # callbacks do not need updates: faster


def train_recording(raw, probe, run_dir=None, **kwargs):
    trainer = make_trainer(raw, run_dir, **kwargs)
    recorder = Recorder(probe)
    trainer.callbacks.append(recorder)  # after the configured callbacks: sees their effect
    status = trainer.train()
    return trainer, recorder.rows, status


def test_epsilon_decays_per_agent_step_num_envs_times_per_batch_step_down_to_min():
    raw = tiny_config(agent={"params": {"epsilon": 0.9, "epsilon_decay": 0.99, "epsilon_min": 0.2,
                                        "learning_starts": 10 ** 6}},
                      train={"num_envs": 8, "total_steps": 8 * 25,
                             "callbacks": [{"type": "epsilon_decay", "params": {"every": "step"}}]})
    trainer, rows, _ = train_recording(raw, lambda t, b: (t.step, float(t.agent.epsilon)))
    assert [step for step, _ in rows] == [8 * k for k in range(1, 26)]
    for k, (_, eps) in enumerate(rows, start=1):
        assert eps == pytest.approx(max(0.2, 0.9 * 0.99 ** (8 * k)), rel=1e-5), k
    assert rows[5][1] > 0.2 and rows[-1][1] == pytest.approx(0.2)  # both regimes seen
    assert trainer.last_status["epsilon"] == pytest.approx(0.2)


def test_epsilon_decays_once_per_finished_game_with_every_episode():
    raw = tiny_config(agent={"params": {"epsilon": 1.0, "epsilon_decay": 0.9, "epsilon_min": 0.05,
                                        "learning_starts": 10 ** 6}},
                      train={"num_envs": 8, "total_steps": 8 * 30,
                             "callbacks": [{"type": "epsilon_decay", "params": {"every": "episode"}}]})
    _, rows, _ = train_recording(raw, lambda t, b: (int(b["done"].sum()), float(t.agent.epsilon)))
    finished = 0
    for k, (done, eps) in enumerate(rows, start=1):
        finished += done
        assert eps == pytest.approx(max(0.05, 0.9 ** finished), rel=1e-5), k
    assert 0 < finished and any(done == 0 for done, _ in rows)


def test_disabled_epsilon_decay_leaves_epsilon_alone():
    raw = tiny_config(agent=NO_LEARNING, train={"total_steps": 64, "callbacks": [
        {"type": "epsilon_decay", "enabled": False, "params": {"every": "step"}}]})
    trainer, _, _ = train_recording(raw, lambda t, b: None)
    assert float(trainer.agent.epsilon) == 1.0


@pytest.mark.parametrize("interval", [20, 4], ids=["interval above num_envs", "two decays per batch step"])
def test_lr_decays_once_per_crossed_interval_down_to_min_lr_and_is_reported(interval):
    raw = tiny_config(agent={"params": {"learning_rate": 0.01, "learning_starts": 10 ** 6}},
                      train={"num_envs": 8, "total_steps": 8 * 12, "callbacks": [{"type": "lr_decay", "params": {
                          "interval_steps": interval, "decay_factor": 0.5, "min_lr": 0.001, "metric_key": "lr_now"}}]})
    trainer, rows, _ = train_recording(raw, lambda t, b: (t.step, t.agent.optimizer.param_groups[0]["lr"]))
    for step, lr in rows:
        assert lr == pytest.approx(max(0.001, 0.01 * 0.5 ** (step // interval))), step
    assert rows[0][1] > 0.001 and rows[-1][1] == pytest.approx(0.001)
    assert trainer.last_status["lr_now"] == pytest.approx(0.001)


@pytest.mark.parametrize("num_envs, interval, total, expected", [
    (8, 20, 100, [24, 40, 64, 80, 104]),
    (8, 12, 60, [16, 24, 40, 48, 64]),
    (16, 3, 48, [16, 32, 48]),
])
def test_checkpoints_at_first_batch_step_past_each_interval_plus_final_with_prefix(
        tmp_path, num_envs, interval, total, expected):
    raw = tiny_config(agent=NO_LEARNING, train={"num_envs": num_envs, "total_steps": total, "callbacks": [
        {"type": "checkpoint", "params": {"interval": interval, "prefix": "snap"}}]})
    make_trainer(raw, RunDir(tmp_path)).train()
    assert expected == checkpoint_steps(num_envs, interval, expected[-1])
    assert checkpoint_files(tmp_path) == sorted(f"snap_{s}.pt" for s in expected)


def test_checkpoint_callback_is_always_present_every_2000_steps_as_model(tmp_path):
    raw = tiny_config(agent=NO_LEARNING, train={"num_envs": 64, "total_steps": 4100, "callbacks": []})
    make_trainer(raw, RunDir(tmp_path)).train()
    assert checkpoint_files(tmp_path) == ["model_2048.pt", "model_4032.pt", "model_4160.pt"]


def greedy_share(trainer, rows) -> float:
    """Share of the recorded agent moves that were the greedy legal move of the (fixed) network."""
    same = total = 0
    for obs, legal, action in rows:
        same += int((masked_argmax(trainer.agent.q_values(obs), legal) == action).sum())
        total += action.numel()
    return same / total


def record_moves(t, b):
    ops = t.game.ops
    return ops.to_planes(b["cur"], b["mask"]).clone(), ops.legal_mask(b["mask"]).clone(), b["action"].clone()


def test_deterministic_training_acts_greedily_despite_epsilon_one():
    raw = tiny_config(agent=NO_LEARNING, train={"total_steps": 160, "deterministic": True})
    trainer, rows, _ = train_recording(raw, record_moves)
    assert float(trainer.agent.epsilon) == 1.0 and greedy_share(trainer, rows) == 1.0
    raw["train"]["deterministic"] = False
    trainer, rows, _ = train_recording(raw, record_moves)
    assert greedy_share(trainer, rows) < 0.5  # epsilon 1: uniformly random legal moves


def test_track_timings_writes_timings_json_and_prints_the_breakdown(tmp_path):
    out = io.StringIO()
    raw = tiny_config(train={"total_steps": 96, "track_timings": True})
    make_trainer(raw, RunDir(tmp_path), progress=True, out=out).train()
    report = json.loads((tmp_path / "timings.json").read_text())
    sections = report["sections"]
    assert {"agent", "env", "opponents", "learner", "callbacks", "io"} <= set(sections)
    assert all(row["seconds"] >= 0 for row in sections.values())
    assert sum(row["seconds"] for row in sections.values()) <= report["wall_seconds"] * 1.01 + 1e-3  # no double count
    text = out.getvalue()
    assert "Timing breakdown" in text and all(name in text for name in sections)


def test_no_timings_without_track_timings(tmp_path):
    out = io.StringIO()
    make_trainer(tiny_config(agent=NO_LEARNING, train={"total_steps": 32}), RunDir(tmp_path), progress=True,
                 out=out).train()
    assert not (tmp_path / "timings.json").exists() and "Timing breakdown" not in out.getvalue()


def test_learner_starts_at_learning_starts_with_updates_per_step_updates_per_batch_step():
    raw = tiny_config(agent={"params": {"learning_starts": 48, "updates_per_step": 2}},
                      train={"num_envs": 16, "total_steps": 96})
    trainer, rows, _ = train_recording(raw, lambda t, b: (len(t.learner.replay), t.agent.num_updates))
    # replay holds 16, 32, 48, ... transitions; updates begin once it holds 48
    assert rows == [(16, 0), (32, 0), (48, 0), (64, 2), (80, 4), (96, 6)]
    assert trainer.agent.num_updates == 8 and trainer.last_status["updates"] == 8


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def perf_counter(self) -> float:
        return self.t


@pytest.mark.parametrize("seconds_per_batch_step, status_interval, running_steps", [
    (0.3, 16, [0, 32, 64, 96, 128, 160]),  # every 2nd batch step crosses 16, but at most once a second
    (4.0, 10 ** 9, [0, 24, 48, 72, 96, 120, 144]),  # never crosses: at least every 10 s
])
def test_status_written_at_interval_crossings_at_most_once_a_second_and_at_least_every_10s(
        monkeypatch, seconds_per_batch_step, status_interval, running_steps):
    clock = FakeClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    trainer = make_trainer(tiny_config(agent=NO_LEARNING, train={"num_envs": 8, "total_steps": 160}),
                           status_interval=status_interval)
    trainer.callbacks.append(Recorder(lambda t, b: setattr(clock, "t", clock.t + seconds_per_batch_step)))
    writes, write = [], trainer.write_status
    trainer.write_status = lambda status: (writes.append((status, trainer.step)), write(status))
    trainer.train()
    assert writes == [("running", s) for s in running_steps] + [("completed", 160)]


def test_checkpoint_without_a_run_directory_reads_nothing_from_the_device():
    """A trainer with no run directory (benchmarks, tests) saves nothing, so its checkpoint
    callback must not read the episode counter back: on CUDA that read is a host sync every
    batch step (issue 20). Recorded as aten ops on the CPU."""
    from tests.agents.host_sync import host_syncs, recorded_ops

    trainer = make_trainer(tiny_config())
    with recorded_ops() as seen:
        assert trainer.save_checkpoint("model") is None
    assert not host_syncs(seen)
