"""Othello through the whole engine: the registry builds its env, opponents and rules, and both
agents train on it from a config and are evaluated against its own opponents."""
from __future__ import annotations

import json

import pytest

from src.training.run import run
from tests.training.helpers import tiny_config, write_config


def _othello(agent: dict, **train) -> dict:
    cfg = tiny_config(agent=agent, train={"num_envs": 8, **train},
                      eval={"interval": 10 ** 6, "games": 4, "opponents": ["random", "greedy", "search:1"]})
    cfg["game"] = {"id": "othello", "params": {}}
    return cfg


@pytest.mark.parametrize("agent", [
    {"params": {"hidden_sizes": [16]}},
    {"id": "alphazero", "params": {"channels": 8, "blocks": 1, "simulations": 4, "act_simulations": 4,
                                    "batch_size": 16, "replay_buffer_size": 512, "learning_starts": 16,
                                    "random_opening_plies": 0, "device": "cpu"}},
], ids=["dqn", "alphazero"])
def test_an_agent_trains_on_othello_and_is_evaluated_against_its_opponents(tmp_path, agent):
    if agent.get("id") == "alphazero":
        cfg = _othello({}, total_steps=8 * 70)
        cfg["agent"] = {"id": "alphazero", "params": agent["params"]}
    else:
        cfg = _othello(agent, total_steps=8 * 70)
    rd = tmp_path / "run"
    run(write_config(tmp_path / "c.yaml", cfg), rd, progress=False)
    status = json.loads((rd / "status.json").read_text())
    assert status["status"] == "completed" and status["episode"] > 0  # games of about 60 plies ended
    results = status["eval"]["results"]
    assert set(results) == {"random", "greedy", "search:1"}
    for r in results.values():
        assert r["games"] == 4 and abs(r["win"] + r["draw"] + r["loss"] - 1) < 1e-6
