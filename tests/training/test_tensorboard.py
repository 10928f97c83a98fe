"""``train.tensorboard: true``: a small trained run leaves event files that TensorBoard's own
reader loads with the scalars of metrics.jsonl at the same steps."""
from __future__ import annotations

import json
import math
import sys

import pytest

from src.runs.show import show_report
from src.runs.tensorboard import record_scalars
from src.training import trainer as trainer_module
from src.training.config import validate_config
from src.training.run import run
from src.training.schema import ConfigError
from tests.training.helpers import tiny_config, write_config

STATUS_SCALARS = ("loss", "mean_q", "steps_per_sec", "epsilon", "learning_rate")


def expected_scalars(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} written out from metrics.jsonl, one record kind at a time."""
    out: dict[str, list] = {}
    for r in records:
        if r["kind"] == "status":
            pairs = {f"train/{k}": v for k, v in r.items() if k not in ("step", "kind", "time")}
        else:
            assert r["kind"] == "eval"
            pairs = {f"eval/{opp}/{k}": v for opp, res in r["eval"].items() for k, v in res.items()}
            pairs["eval/episode"] = r["episode"]
        for tag, v in pairs.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(tag, []).append((r["step"], float(v)))
    return out


@pytest.fixture
def tensorboard_run(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)  # a status record every 64 steps
    raw = tiny_config(train={"total_steps": 320, "tensorboard": True},
                      eval={"interval": 128, "games": 10, "opponents": ["random", "heuristic"]})
    return run(write_config(tmp_path / "tb.yaml", raw), tmp_path / "run", status_interval=64, progress=False)


def test_event_files_hold_the_metrics_scalars_at_the_metrics_steps(tensorboard_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    records = [json.loads(line) for line in (tensorboard_run / "metrics.jsonl").read_text().splitlines()]
    expected = expected_scalars(records)
    assert {f"train/{k}" for k in STATUS_SCALARS} | {"eval/random/score", "eval/heuristic/score"} <= set(expected)
    assert len(expected["eval/random/score"]) == 3  # steps 128, 256 and the final 320

    events = EventAccumulator(str(tensorboard_run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        for (_, value), (_, want) in zip(got, points):
            assert math.isclose(value, want, rel_tol=1e-6, abs_tol=1e-6), (tag, value, want)


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
    status = {"kind": "status", "step": 64, "loss": None, "epsilon": 0.5, "flag": True}
    assert record_scalars(status) == {"train/epsilon": 0.5}
