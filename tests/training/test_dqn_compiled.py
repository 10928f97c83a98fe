"""The compiled DQN batch step (``agent.params.compile: true``): what it launches and what it computes.

The launch counter (``benchmarks/launch_count.py``) reads a profiler trace; it is checked against
an independent count (a ``TorchDispatchMode``) on eager code, then used on the GPU config's batch
step, games on the torch backend as on CUDA: compiled, at most 80 launches (issue 20's target).
The compiled move against the opponent gives the eager one's results bit for bit; the compiled
acting is greedy at epsilon 0 and uniform over the legal moves at epsilon 1.
"""
from __future__ import annotations

import collections

import pytest
import torch

from benchmarks.launch_count import VIEW_OPS, ProfiledLaunches, _CountOps, count_config
from src.agents.dqn import DQN_PARAMS, DQNAgent
from src.games import make_game, make_rules
from src.opponents.samplers import RandomSampler
from src.training.versus import Versus


def test_profiled_launches_agree_with_a_dispatch_mode_count_on_eager_code():
    net = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.Adam(net.parameters())
    x, target = torch.randn(8, 12), torch.randn(8)

    def update():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.huber_loss(net(x).gather(1, torch.zeros(8, 1, dtype=torch.long)).squeeze(1), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    update()  # Adam's state exists from here on
    with ProfiledLaunches() as profiled:
        update()
    dispatched = collections.Counter()
    with _CountOps(dispatched):
        update()
    marks = {"_record_function_enter_new", "_record_function_exit"}  # the optimizer's profiler marks
    a = sum(v for k, v in profiled.ops.items() if k not in VIEW_OPS)
    b = sum(v for k, v in dispatched.items() if k not in VIEW_OPS | marks)
    assert a > 40 and a == b, (profiled.ops, dispatched)
    assert profiled.ops["<compiled kernel>"] == 0


def test_profiled_launches_count_the_kernels_a_compiled_function_runs():
    w = torch.randn(16, 16)
    f = torch.compile(lambda x: (torch.relu(x @ w + 1.0) * 2.0).sum(1).tanh(), dynamic=False)
    x = torch.randn(4, 16)
    f(x)
    with ProfiledLaunches() as p:
        f(x)
    assert p.ops["<compiled kernel>"] >= 1  # the fused pointwise ops and the reduction
    assert p.ops["mm"] + p.ops["addmm"] == 1  # the matmul: an extern call, counted as its aten op
    assert p.launches() <= 4  # not the 6 eager ops


def test_compiled_dqn_batch_step_launches_at_most_80_on_the_gpu_config():
    """``configs/dqn_connect4_gpu.yaml`` (compile on) at a CPU size, games on the torch backend: every
    part of the batch step (acting, the move against the random opponent, the replay write, the
    results count, the epsilon decay and one update) in the count."""
    kw = dict(device="cpu", num_envs=1024, batch_size=1024, learning_starts=256, game_backend="torch",
              steps=2, warmup_steps=1)
    eager = count_config("configs/dqn_connect4_gpu.yaml", compile=False, **kw)
    compiled = count_config("configs/dqn_connect4_gpu.yaml", **kw)  # the config compiles
    assert compiled["steps"] == 2
    assert compiled["compiled_kernels_per_step"] >= 5
    assert compiled["compute_ops_per_step"] <= 80, compiled["top"]
    assert eager["compute_ops_per_step"] > 300  # the same step uncompiled


def _trace(versus: Versus, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    out = []
    versus.reset()
    for _ in range(steps):
        legal = versus.legal_mask()
        actions = torch.where(legal, torch.rand(legal.shape, generator=g) + 1, 0.0).argmax(1)
        b = versus.step(actions)
        out.append({k: v.clone() for k, v in b.items()})
        out.append({"state": torch.stack([w.clone() for w in versus.state])})
    return out


def test_compiled_versus_step_gives_the_eager_results_bit_for_bit():
    """Odd batch, random seats, 60 moves (many games end and restart): every transition and position."""
    def versus(compile):
        env = make_game("connect4", 37, device="cpu", backend="torch", seed=5)
        return Versus(env, RandomSampler(env.game, 9), "random", seed=7, compile=compile)

    eager, compiled = _trace(versus(False), 60, 0), _trace(versus(True), 60, 0)
    assert sum(int(b["done"].sum()) for b in eager[::2]) > 30
    for x, y in zip(eager, compiled):
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k


def _agent(**params):
    p = DQN_PARAMS.fill({"hidden_sizes": [32], "device": "cpu", **params}, "agent.params")
    return DQNAgent(p, (2, 6, 7), 7, "cpu", seed=0, game=make_rules("connect4", "cpu", "torch"))


def _positions(n: int, seed: int):
    game = make_rules("connect4", "cpu", "torch", seed=seed)
    state = game.init(n)
    g = torch.Generator().manual_seed(seed)
    for _ in range(int(torch.randint(0, 20, (), generator=g))):
        state = game.step(state, game.random_actions(state))[0]
    return game, state


def test_compiled_acting_is_greedy_at_epsilon_zero_and_uniform_over_legal_moves_at_one():
    eager, compiled = _agent(), _agent(compile=True)
    compiled.load_state_dict(eager.state_dict())
    game, state = _positions(4000, 3)
    legal = game.legal_mask(state)
    greedy = eager.act(eager.encode(*state), legal, deterministic=True)
    assert torch.equal(compiled.act_on_state(state, legal, deterministic=True), greedy)
    compiled.epsilon.fill_(0.0)
    assert torch.equal(compiled.act_on_state(state, legal, deterministic=False), greedy)
    compiled.epsilon.fill_(1.0)
    moves = compiled.act_on_state(state, legal, deterministic=False)
    assert legal.gather(1, moves.unsqueeze(1)).all()
    # uniform over the legal columns: each column's count against its expectation, sum of 1 / legal count
    expected = (legal.float() / legal.sum(1, keepdim=True)).sum(0)
    counts = torch.bincount(moves, minlength=7).float()
    assert ((counts - expected).abs() <= 5 * expected.sqrt() + 1).all(), (counts, expected)
    assert not torch.equal(moves, greedy)


def test_a_compiled_agents_checkpoint_loads_into_an_eager_one_and_back():
    compiled, eager = _agent(compile=True), _agent()
    eager.load_state_dict(compiled.state_dict())
    assert eager.optimizer.param_groups[0]["fused"] is None
    compiled.load_state_dict(eager.state_dict())
    assert compiled.optimizer.param_groups[0]["fused"] is True
    for a, b in zip(eager.online.parameters(), compiled.online.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("compile", [False, True])
def test_an_update_on_the_ring_lowers_the_loss_of_its_minibatch(compile):
    """The learner's update (the compiled minibatch-and-loss graph and its backward, or eager)
    on a fixed ring of real transitions: repeated on the same draw, the loss falls."""
    from src.agents.dqn_learner import DQNLearner

    p = DQN_PARAMS.fill({"hidden_sizes": [32], "device": "cpu", "batch_size": 64, "learning_starts": 1,
                         "learning_rate": 3e-3, "compile": compile, "target_update_interval": 10 ** 6},
                        "agent.params")
    env = make_game("connect4", 64, device="cpu", backend="torch", seed=1)
    learner = DQNLearner(p, env, torch.device("cpu"), 0, 0)
    versus = Versus(env, RandomSampler(env.game, 2), "random", seed=3)
    versus.reset()
    for _ in range(8):
        learner.observe(versus.step(learner.act(versus.state, versus.legal_mask(), False)))
    losses = []
    for _ in range(30):
        learner.replay.generator.manual_seed(0)  # the same minibatch every time
        learner.reset_report()
        learner.learn()
        losses.append(float(learner.loss_sum))
    assert losses[-1] < 0.5 * losses[0], losses
