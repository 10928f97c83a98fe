"""DQN targets on a hand-made example, and what one update and the target sync do."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from src.agents.dqn import DQNAgent
from src.agents.dqn import DQN_PARAMS

OBS_SHAPE = (2, 2, 3)  # any board works for the agent: 2x3, three columns


def agent(**params) -> DQNAgent:
    p = DQN_PARAMS.fill({"hidden_sizes": [16], "device": "cpu", "gamma": 0.9, **params}, "agent.params")
    return DQNAgent(p, OBS_SHAPE, 3, "cpu", seed=0)


class FixedQ(nn.Module):
    """Q-values looked up by the row index stored in obs[:, 0, 0, 0]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table, dtype=torch.float32)

    def forward(self, obs):
        return self.table[obs[:, 0, 0, 0].long()]


def indexed_obs(n: int) -> torch.Tensor:
    obs = torch.zeros(n, *OBS_SHAPE)
    obs[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    return obs


#               column:   0      1      2
ONLINE = [[5.0, 1.0, 0.0],    # row 0: unmasked argmax is column 0 (illegal), legal argmax column 1
          [0.0, 2.0, 9.0],    # row 1: unmasked argmax is column 2 (illegal), legal argmax column 1
          [0.0, 0.0, 0.0]]    # row 2: done
TARGET = [[10.0, 20.0, 30.0],
          [60.0, 50.0, 40.0],
          [1e6, 1e6, 1e6]]
LEGAL = torch.tensor([[False, True, True],
                      [True, True, False],
                      [True, True, True]])
REWARD = torch.tensor([0.5, -1.0, 1.0])
DONE = torch.tensor([False, False, True])


@pytest.mark.parametrize("double_dqn, expected", [
    # double: online picks among legal moves, target evaluates: row 0 -> col 1 -> 20, row 1 -> col 1 -> 50
    (True, [0.5 + 0.9 * 20.0, -1.0 + 0.9 * 50.0, 1.0]),
    # plain: the target's own max over legal moves: row 0 -> 30, row 1 -> 60
    (False, [0.5 + 0.9 * 30.0, -1.0 + 0.9 * 60.0, 1.0]),
])
def test_td_target_uses_legal_next_moves_only_and_just_the_reward_when_done(double_dqn, expected):
    a = agent(double_dqn=double_dqn)
    a.online, a.target = FixedQ(ONLINE), FixedQ(TARGET)
    targets = a.td_targets(REWARD, DONE, indexed_obs(3), LEGAL)
    assert targets.tolist() == pytest.approx(expected)


def random_batch(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    obs = (torch.rand(n, *OBS_SHAPE, generator=g) < 0.3).float()
    next_obs = (torch.rand(n, *OBS_SHAPE, generator=g) < 0.3).float()
    actions = torch.randint(0, 3, (n,), generator=g)
    rewards = torch.randint(-1, 2, (n,), generator=g).float()
    dones = torch.rand(n, generator=g) < 0.5
    return obs, actions, rewards, dones, next_obs, torch.ones(n, 3, dtype=torch.bool)


def test_update_moves_q_of_the_taken_action_toward_the_target():
    """100 updates on one batch at least halve the error and the loss.

    Measured on a 2-core AMD EPYC (torch 2.13 CPU), init seeds 0-9 with batch seeds 1-10: the error
    falls to 0.05-0.19 of its start, the loss to 0.003-0.12, so the halving holds with a wide
    margin. (With the 40 updates this test used to take, seed 4 reached only 0.502: a fail.)
    The init is seeded here so the result does not depend on which tests ran before."""
    torch.manual_seed(1)
    # plain DQN targets and no sync: the targets stay fixed while the online net learns
    a = agent(learning_rate=1e-2, target_update_interval=10 ** 6, max_grad_norm=None, double_dqn=False)
    obs, actions, rewards, dones, next_obs, legal = batch = random_batch(64, seed=1)
    targets = a.td_targets(rewards, dones, next_obs, legal)

    def error():
        with torch.no_grad():
            return (a.online(obs).gather(1, actions[:, None]).squeeze(1) - targets).abs().mean().item()

    before = error()
    losses = [a.update(*batch).item() for _ in range(100)]
    assert error() < before / 2
    assert losses[-1] < losses[0] / 2
    assert torch.equal(a.td_targets(rewards, dones, next_obs, legal), targets)
    assert a.num_updates == 100


def test_target_network_syncs_every_target_update_interval_updates():
    a = agent(learning_rate=1e-2, target_update_interval=3)
    batch = random_batch(32, seed=2)

    def params(net):
        return [p.detach().clone() for p in net.parameters()]

    def same(x, y):
        return all(torch.equal(p, q) for p, q in zip(x, y))

    initial = params(a.target)
    assert same(initial, params(a.online))
    for n in (1, 2):
        a.update(*batch)
        assert same(params(a.target), initial) and not same(params(a.target), params(a.online)), n
    a.update(*batch)
    synced = params(a.online)
    assert same(params(a.target), synced)
    a.update(*batch)
    assert same(params(a.target), synced) and not same(params(a.online), synced)


def test_epsilon_greedy_explores_only_among_legal_moves():
    a = agent(epsilon=1.0)
    legal = torch.tensor([[False, True, False], [True, False, True]]).repeat(200, 1)
    actions = a.act(torch.zeros(400, *OBS_SHAPE), legal, deterministic=False)
    assert legal[torch.arange(400), actions].all()
    assert set(actions[1::2].tolist()) == {0, 2}  # both legal moves of row 2 are explored
    greedy = copy.deepcopy(a).act(torch.zeros(400, *OBS_SHAPE), legal, deterministic=True)
    assert legal[torch.arange(400), greedy].all()


@pytest.mark.slow
def test_compiled_update_follows_the_eager_update_closely():
    """``compile: true`` runs the loss through torch.compile (inductor): the same minibatches
    give the same losses and weights as eager, up to float rounding (fused kernels sum in
    another order, so not bit for bit)."""
    eager, compiled = agent(), agent(compile=True)
    compiled.load_state_dict(eager.state_dict())  # the networks' initial weights come from the global stream
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        obs, next_obs = (torch.rand(32, *OBS_SHAPE, generator=gen) < 0.3).float(), (torch.rand(32, *OBS_SHAPE, generator=gen) < 0.3).float()
        args = (obs, torch.randint(0, 3, (32,), generator=gen), torch.randint(-1, 2, (32,), generator=gen).float(),
                torch.rand(32, generator=gen) < 0.2, next_obs, torch.rand(32, 3, generator=gen) < 0.8)
        torch.testing.assert_close(compiled.update(*args), eager.update(*args), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(compiled.last_q_mean, eager.last_q_mean, rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(eager.online.state_dict().items(), compiled.online.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
    assert compiled.num_updates == eager.num_updates == 3
