"""CUDA-only checks of the training loop (skipped without a GPU; run by benchmarks/gpu_check.sh)."""
from __future__ import annotations

import pytest
import torch

from src.training.config import validate_config
from src.training.trainer import Trainer

pytestmark = pytest.mark.cuda


def tiny_config(device: str, compile: bool = False) -> dict:
    return validate_config({
        "seed": 5,
        "game": {"id": "connect4"},
        "agent": {"id": "dqn", "params": {"device": device, "batch_size": 256, "replay_buffer_size": 20000,
                                          "learning_starts": 512, "hidden_sizes": [64], "compile": compile}},
        "train": {"total_steps": 40 * 1024, "num_envs": 1024, "opponent_sampler": {"type": "random"},
                  "callbacks": [{"type": "epsilon_decay"}, {"type": "lr_decay", "params": {"interval_steps": 8192}}]},
    })


@pytest.mark.parametrize("compile", [False, True])
def test_training_loop_never_synchronises_with_the_host_between_status_writes(compile):
    """Eager, and with the compiled batch step (``compile: true``, as the GPU DQN config has it)."""
    cfg = tiny_config("cuda", compile)
    trainer = Trainer(cfg, progress=False, status_interval=10 ** 9)
    original = Trainer.write_status
    try:
        Trainer.write_status = lambda self, status: None  # status writes read counters on purpose
        trainer.total_steps = 8 * 1024  # warm up: allocator, cuBLAS handles, kernel tables, compiling
        trainer.train()
        trainer.total_steps = cfg["train"]["total_steps"]
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        trainer.train()
    finally:
        torch.cuda.set_sync_debug_mode("default")
        Trainer.write_status = original
    assert trainer.step >= cfg["train"]["total_steps"]
    assert trainer.agent.num_updates > 0


def test_cuda_training_learns_the_same_kind_of_policy_as_cpu_smoke():
    """The same config trains on CUDA end to end and its greedy agent beats a random player."""
    from src.training.evaluation import play_games
    from src.opponents import make_opponent

    cfg = tiny_config("cuda")
    cfg["train"]["total_steps"] = 200 * 1024
    trainer = Trainer(cfg, progress=False)
    trainer.train()
    opp = make_opponent("random", trainer.game.geometry, trainer.device, "torch", 1)
    result = play_games(trainer.agent, opp, trainer.game.geometry, trainer.device, 1000, seed=3)
    assert result["score"] > 0.6, result


def test_cuda_and_cpu_replay_and_versus_agree_on_bitboards():
    """Versus + replay on CUDA and on the CPU (torch backend) produce the same transitions
    for the same scripted actions and a deterministic opponent."""
    from src.games.connect4 import BatchedConnect4
    from src.training.versus import Versus

    from src.opponents.samplers import OpponentSampler

    class FirstLegal(OpponentSampler):
        def __init__(self, ops):
            self.ops = ops

        def on_new_games(self, new):
            pass

        def act(self, cur, mask, active=None):
            return self.ops.legal_mask(mask).to(torch.int8).argmax(dim=1)

    outs = []
    for device in ("cpu", "cuda"):
        game = BatchedConnect4(64, device=device, backend="torch", seed=1)
        v = Versus(game, FirstLegal(game.ops), "agent_first", seed=1)
        v.reset()
        trace = []
        gen = torch.Generator().manual_seed(0)
        for _ in range(40):
            legal = v.legal_mask().cpu()
            a = torch.where(legal, torch.rand(legal.shape, generator=gen) + 1, torch.zeros(legal.shape)).argmax(1)
            b = v.step(a.to(device))
            trace.append({k: t.cpu().clone() for k, t in b.items()})
        outs.append(trace)
    for x, y in zip(*outs):
        for k in x:
            assert torch.equal(x[k], y[k]), k


def test_cuda_run_stopped_and_resumed_ends_bit_identical_to_an_uninterrupted_one(tmp_path, monkeypatch):
    """Resume on CUDA (torch backends, the pool's every-8-steps host check): same final state.
    A second uninterrupted run is the control: if it differs too, the GPU kernels are not
    deterministic here, which is not a resume problem."""
    from src.runs.rundir import RunDir
    from src.training import trainer as trainer_module
    from src.training.run import run
    from tests.training.helpers import tiny_config as raw_config
    from tests.training.helpers import write_config
    from tests.training.test_resume import assert_identical, comparable, final_state, status_of

    monkeypatch.setattr(trainer_module, "STATUS_MIN_SECONDS", 0.0)
    raw = raw_config(agent={"params": {"device": "cuda", "batch_size": 128, "replay_buffer_size": 8192,
                                       "learning_starts": 512, "n_step": 3}},
                     train={"num_envs": 256, "total_steps": 48 * 256, "opponent_sampler": {"type": "pool", "params": {
                         "self_play": {"start_episode": 100, "current_self_fraction": 0.2, "past_self_fraction": 0.3,
                                       "max_frozen_agents": 2, "save_every": 300},
                         "heuristic_distribution": {"random": 0.5, "heuristic": 0.5}}},
                         "callbacks": [{"type": "checkpoint", "params": {"interval": 16 * 256}},
                                       {"type": "epsilon_decay", "params": {"every": "step"}}]})
    config = write_config(tmp_path / "c.yaml", raw)
    reference = run(config, tmp_path / "reference", progress=False, status_interval=256)
    control = run(config, tmp_path / "control", progress=False, status_interval=256)
    assert_identical(comparable(final_state(control)), comparable(final_state(reference)), "control")

    original = RunDir.write_status

    def stop_at_step_27(self, fields):
        original(self, fields)
        if fields["status"] == "running" and fields["step"] == 27 * 256 and "resumes" not in fields:
            (self.path / "stop").touch()

    monkeypatch.setattr(RunDir, "write_status", stop_at_step_27)
    resumed = run(config, tmp_path / "resumed", progress=False, status_interval=256)
    assert status_of(resumed)["step"] == 27 * 256
    run(resume=resumed, progress=False, status_interval=256)
    assert status_of(resumed)["status"] == "completed"
    assert_identical(comparable(final_state(resumed)), comparable(final_state(reference)))
