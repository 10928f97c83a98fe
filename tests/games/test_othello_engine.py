"""Othello through the rest of the engine: resume, torchrun, `evaluate`, `runs`, and the
Gymnasium and PettingZoo adapters, each checked by the same means as for Connect4 (the
library's own checkers for the adapters; bit-identical states for resume)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from src.runs.rundir import RunDir
from src.training.run import run
from tests.training.helpers import REPO, assert_identical, child_env, comparable, final_state, tiny_config, write_config

WORLD = 2


def othello_dqn(total_steps: int, **train) -> dict:
    cfg = tiny_config(agent={"params": {"hidden_sizes": [16]}},
                      train={"num_envs": 8, "total_steps": total_steps,
                             "callbacks": [{"type": "checkpoint", "params": {"interval": 160}}], **train},
                      eval={"interval": 10 ** 6, "games": 4, "opponents": ["random", "greedy"]})
    cfg["game"] = {"id": "othello", "params": {}}
    return cfg


def test_an_othello_run_stopped_and_resumed_ends_bit_identical_to_an_uninterrupted_one(tmp_path, monkeypatch):
    from src.cli.train import main
    from src.training import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)  # a status (and a stop check) every step
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    run(write_config(tmp_path / "full.yaml", othello_dqn(480)), reference, progress=False)
    original = RunDir.write_status

    def stop_at_200(self, fields):  # the stop file, between checkpoints, in the first run only
        original(self, fields)
        if fields["status"] == "running" and fields["step"] == 200 and "resumes" not in fields:
            (self.path / "stop").touch()

    monkeypatch.setattr(RunDir, "write_status", stop_at_200)
    run(write_config(tmp_path / "part.yaml", othello_dqn(480)), resumed, progress=False)
    assert json.loads((resumed / "status.json").read_text())["status"] == "stopped"
    monkeypatch.setattr(RunDir, "write_status", original)
    assert main(["--resume", str(resumed)]) == 0
    a, b = final_state(resumed), final_state(reference)
    assert a["step"] == b["step"] == 480
    assert_identical(comparable(a), comparable(b))


def test_evaluate_and_runs_show_an_othello_checkpoint(tmp_path, capsys):
    from src.cli.evaluate import main as evaluate
    from src.cli.runs import main as runs

    rd = tmp_path / "run"
    run(write_config(tmp_path / "c.yaml", othello_dqn(160)), rd, progress=False)
    ckpt = next((rd / "checkpoints").iterdir())
    capsys.readouterr()
    assert evaluate([str(ckpt), "--opponents", "random", "greedy", "search:1", "--games", "6"]) == 0
    out = capsys.readouterr().out
    for name in ("random", "greedy", "search:1"):
        assert f"  {name}" in out and "first" in out and "second" in out, out
    assert evaluate([str(ckpt), "--opponents", "heuristic"]) == 2  # Connect4's: refused in one line
    assert "does not play othello" in capsys.readouterr().err
    assert runs(["show", str(rd)]) == 0
    assert "othello" in capsys.readouterr().out


def test_alphazero_self_play_on_othello_trains_on_two_ranks_with_identical_networks(tmp_path):
    cfg = tiny_config(train={"num_envs": 8, "total_steps": 1280, "opponent_sampler": {"type": "self_play"}},
                      eval={"interval": 10 ** 6, "games": 2, "opponents": ["random"]})
    cfg["game"] = {"id": "othello", "params": {}}
    cfg["agent"] = {"id": "alphazero", "params": {"device": "cpu", "channels": 8, "blocks": 1, "simulations": 4,
                                                  "act_simulations": 4, "batch_size": 16, "replay_buffer_size": 1000,
                                                  "learning_starts": 64, "random_opening_plies": 0}}
    rd = tmp_path / "az"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
                           "-m", "src.cli.train", "--config", str(write_config(tmp_path / "az.yaml", cfg)),
                           "--run_dir", str(rd)], cwd=REPO, env=child_env(), capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    s = json.loads((rd / "status.json").read_text())
    assert s["status"] == "completed" and s["world_size"] == WORLD and s["updates"] > 0
    digests = s["rank_digests"]
    assert len(digests) == WORLD and digests[0]["weights"] == digests[1]["weights"]


def test_the_gymnasium_adapter_passes_gymnasiums_env_checker_on_othello():
    pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    from src.envs.gym_env import GameEnv, GameVectorEnv

    env = GameEnv(game="othello", opponent="greedy")
    check_env(env, skip_render_check=True)
    venv = GameVectorEnv(4, game="othello", opponent="random")
    obs, info = venv.reset(seed=0)
    assert obs.shape == (4, 2, 8, 8) and info["action_mask"].shape == (4, 65)
    for _ in range(70):  # past the end of the first games: auto-reset, rewards of finished games
        obs, reward, term, trunc, info = venv.step(np.argmax(info["action_mask"], axis=1))
    assert set(np.unique(reward)) <= {-1.0, 0.0, 1.0} and info["action_mask"].any(axis=1).all()


def test_the_pettingzoo_adapter_passes_pettingzoos_api_test_on_othello():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import api_test

    from src.envs import game_aec_env

    api_test(game_aec_env("othello"), num_cycles=200)
