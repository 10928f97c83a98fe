"""The torch.compile'd env step gives exactly the eager step's results."""
from __future__ import annotations

import pytest
import torch

from src.games import make_game


def _trace(env, steps: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    env.reset()
    out = []
    for _ in range(steps):
        # mostly legal moves, some full or out-of-range columns to exercise illegal-move handling
        a = torch.randint(-1, env.cols + 1, (env.num_envs,), generator=gen)
        obs, reward, done, info = env.step(a.to(env.device))
        out.append((obs.cpu().clone(), reward.cpu().clone(), done.cpu().clone(), info["illegal"].cpu().clone(),
                    env.cur.cpu().clone(), env.mask.cpu().clone()))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_compiled_torch_step_matches_eager_step_bit_for_bit(device):
    eager = make_game("connect4", 64, device=device, backend="torch", seed=3)
    compiled = make_game("connect4", 64, device=device, backend="torch", seed=3, compile=True)
    for x, y in zip(_trace(eager, 60, 0), _trace(compiled, 60, 0)):
        for a, b in zip(x, y):
            assert torch.equal(a, b)
