"""``train.tensorboard: true``: a small trained run leaves event files that TensorBoard's own
reader loads with the scalars of metrics.jsonl at the same steps."""
from __future__ import annotations

import importlib.util
import json
import math
import sys

import pytest

from src.runs.show import show_report
from src.runs.tensorboard import record_scalars
from src.training import trainer as trainer_module
from src.training.config import validate_config
from src.training.run import run
from src.config.schema import ConfigError
from tests.training.helpers import crash_dqn_update, tiny_config, write_config

STATUS_SCALARS = ("loss", "mean_q", "steps_per_sec", "epsilon", "learning_rate")


def nested(prefix: str, value) -> dict:
    """{prefix/key/.../index: leaf} of nested mappings and lists."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in nested(f"{prefix}/{key}", item).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in nested(f"{prefix}/{i}", item).items()}
    return {prefix: value}


def expected_scalars(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} written out from metrics.jsonl, one record kind at a time."""
    out: dict[str, list] = {}
    for r in records:
        if r["kind"] == "status":
            assert not any(isinstance(v, (dict, list)) for v in r.values())
            pairs = {f"train/{k}": v for k, v in r.items() if k not in ("step", "kind", "time")}
        else:
            assert r["kind"] == "eval" and set(r) <= {"kind", "step", "time", "episode", "eval", "accuracy"}
            pairs = {f"eval/{opp}/{k}": v for opp, res in r["eval"].items() for k, v in res.items()}
            pairs["eval/episode"] = r["episode"]
            pairs.update(nested("eval/accuracy", r.get("accuracy", {})))
        for tag, v in pairs.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(tag, []).append((r["step"], float(v)))
    return out


@pytest.fixture
def tensorboard_run(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)  # a status record every 64 steps
    evaluation = {"interval": 128, "games": 10, "opponents": ["random", "heuristic"]}
    if importlib.util.find_spec("bitbully") is not None:  # the solver extra: solver-judged accuracy too
        from src.training import accuracy

        monkeypatch.setenv("C4ENGINE_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setattr(accuracy, "_MEMORY", {})
        evaluation["accuracy"] = 30
    raw = tiny_config(train={"total_steps": 320, "tensorboard": True}, eval=evaluation)
    return run(write_config(tmp_path / "tb.yaml", raw), tmp_path / "run", status_interval=64, progress=False)


def assert_events_match_metrics(run_dir) -> dict:
    """TensorBoard's own reader finds exactly the scalars of metrics.jsonl at its steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    expected = expected_scalars(records)
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        for (_, value), (_, want) in zip(got, points):
            assert math.isclose(value, want, rel_tol=1e-6, abs_tol=1e-6), (tag, value, want)
    return expected


def test_event_files_hold_the_metrics_scalars_at_the_metrics_steps(tensorboard_run):
    expected = assert_events_match_metrics(tensorboard_run)
    assert {f"train/{k}" for k in STATUS_SCALARS} | {"eval/random/score", "eval/heuristic/score"} <= set(expected)
    assert [s for s, _ in expected["eval/random/score"]] == [128, 256, 320]  # each evaluation, and the final one
    if importlib.util.find_spec("bitbully") is not None:
        assert {"eval/accuracy/perfect/value", "eval/accuracy/good/ci95/1",
                "eval/accuracy/bands/4-9/perfect/value"} <= set(expected)


def test_a_crashed_and_resumed_run_shows_each_step_once_in_tensorboard(tmp_path, monkeypatch):
    """The resume drops the metrics records past its checkpoint; TensorBoard drops those events."""
    pytest.importorskip("tensorboard")
    from src.agents.dqn import DQNAgent

    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)
    raw = tiny_config(train={"total_steps": 480, "tensorboard": True,
                             "callbacks": [{"type": "checkpoint", "params": {"interval": 96}}]})
    config = write_config(tmp_path / "c.yaml", raw)
    update = crash_dqn_update(monkeypatch, at_update=20)
    with pytest.raises(RuntimeError, match="boom"):
        run(config, tmp_path / "run", progress=False, status_interval=16)
    monkeypatch.setattr(DQNAgent, "update", update)
    crashed_steps = [s for s, _ in expected_scalars(
        [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()])["train/loss"]]

    run(resume=tmp_path / "run", progress=False, status_interval=16)

    resumed_from = json.loads((tmp_path / "run" / "status.json").read_text())["resumed_from_step"]
    assert max(crashed_steps) > resumed_from  # the crashed run had logged steps that the resume redid
    expected = assert_events_match_metrics(tmp_path / "run")
    steps = [s for s, _ in expected["train/loss"]]
    assert steps == sorted(set(steps)) and steps[-1] == 480


def test_runs_show_prints_the_tensorboard_command_for_a_run_that_logs_to_it(tensorboard_run):
    assert f"tensorboard: tensorboard --logdir {tensorboard_run / 'tensorboard'}" in show_report(tensorboard_run)


def test_a_run_without_tensorboard_writes_no_event_files_and_show_prints_no_command(tmp_path):
    run_dir = run(write_config(tmp_path / "plain.yaml", tiny_config()), tmp_path / "run", progress=False)
    assert not (run_dir / "tensorboard").exists()
    assert not any("--logdir" in line for line in show_report(run_dir))


def test_tensorboard_true_without_the_package_is_a_config_error_naming_the_key_and_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(ConfigError) as e:
        validate_config(tiny_config(train={"tensorboard": True}))
    assert e.value.key == "train.tensorboard"
    assert "pip install -e '.[tensorboard]'" in str(e.value)
    assert validate_config(tiny_config(train={"tensorboard": False}))["train"]["tensorboard"] is False


def test_nested_numeric_fields_become_slash_separated_tags_so_new_fields_need_no_code():
    record = {"kind": "eval", "step": 64, "episode": 9, "time": "2026-11-26T12:00:00+00:00",
              "eval": {"random": {"score": 0.75, "games": 20},
                       "accuracy": {"perfect": 0.5, "label": "text is skipped", "none": None}}}
    assert record_scalars(record) == {"eval/episode": 9.0, "eval/random/score": 0.75, "eval/random/games": 20.0,
                                      "eval/accuracy/perfect": 0.5}
    record["accuracy"] = {"good": {"value": 0.8, "ci95": [0.7, 0.9]}}  # a top-level field, lists by index
    assert {k: v for k, v in record_scalars(record).items() if "good" in k} == {
        "eval/accuracy/good/value": 0.8, "eval/accuracy/good/ci95/0": 0.7, "eval/accuracy/good/ci95/1": 0.9}
    status = {"kind": "status", "step": 64, "loss": None, "epsilon": 0.5, "flag": True}
    assert record_scalars(status) == {"train/epsilon": 0.5}
