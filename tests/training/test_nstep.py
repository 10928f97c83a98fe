"""n-step samples follow one game through the ring, `num_envs` slots apart, until n moves or its end."""
from __future__ import annotations

import torch

from src.agents.replay import ReplayBuffer


def write_step(rb, t, rewards, dones):
    """One batch step of two games: cur encodes (step, game) as 10*t + game."""
    n = len(rewards)
    rb.add({"cur": torch.tensor([10 * t + g for g in range(n)]), "mask": torch.zeros(n, dtype=torch.int64),
            "action": torch.full((n,), t, dtype=torch.int8), "reward": torch.tensor(rewards, dtype=torch.int8),
            "done": torch.tensor(dones), "next_cur": torch.tensor([10 * t + 100 + g for g in range(n)]),
            "next_mask": torch.zeros(n, dtype=torch.int64)})


def test_nstep_returns_stop_at_the_end_of_the_game_and_discount_by_moves_used():
    rb = ReplayBuffer(7, "cpu", seed=0)  # 8 writes into 7 slots: the oldest (step 0, game 0) is gone
    write_step(rb, 0, [0, 0], [False, False])
    write_step(rb, 1, [0, 1], [False, True])   # game 1 won at step 1
    write_step(rb, 2, [1, 0], [True, False])   # game 0 won at step 2
    write_step(rb, 3, [0, 0], [False, False])
    s = rb.sample_nstep(200, n=3, stride=2, gamma=0.5)
    expected = {  # start -> (reward sum, done, last next_cur, gamma ** moves used)
        1: (0.5, True, 111, 0.25),   # game 1: step 0 (r 0), step 1 (r 1, done)
        10: (0.5, True, 120, 0.25),  # game 0: step 1 (r 0), step 2 (r 1, done)
        11: (1.0, True, 111, 0.5),   # game 1: step 1 (r 1, done)
    }
    seen = set()
    for k in range(200):
        start = int(s["cur"][k])
        seen.add(start)
        r, d, nxt, disc = expected[start]  # only starts with two stored successors are drawn
        assert float(s["reward"][k]) == r and bool(s["done"][k]) == d
        assert int(s["next_cur"][k]) == nxt and float(s["discount"][k]) == disc
    assert seen == set(expected)


def test_nstep_without_game_end_bootstraps_from_the_nth_next_position():
    rb = ReplayBuffer(100, "cpu", seed=1)
    for t in range(5):
        write_step(rb, t, [0, 0, 0], [False, False, False])
    s = rb.sample_nstep(100, n=2, stride=3, gamma=0.9)
    assert not s["done"].any()
    assert torch.equal(s["next_cur"], s["cur"] + 110)  # the next position of the following step
    assert torch.allclose(s["discount"], torch.full((100,), 0.81))


def test_trainer_with_nstep_updates_and_learns_from_finished_games():
    from src.training.config import validate_config
    from src.training.trainer import Trainer

    cfg = validate_config({
        "seed": 1, "game": {"id": "connect4"},
        "agent": {"id": "dqn", "params": {"device": "cpu", "batch_size": 64, "replay_buffer_size": 4000,
                                          "learning_starts": 200, "hidden_sizes": [32], "n_step": 3}},
        "train": {"total_steps": 2000, "num_envs": 16, "opponent_sampler": {"type": "random"}},
    })
    trainer = Trainer(cfg, progress=False)
    assert trainer.train() == "completed"
    assert trainer.agent.num_updates > 50
