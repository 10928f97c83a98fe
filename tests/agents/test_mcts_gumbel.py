"""Gumbel root search (docs/mcts.md; Danihelka et al. 2022) in the batched search: against the
separately written one-game reference (tests/agents/reference_mcts.py), on every backend, and
what it plays and learns."""
from __future__ import annotations

import math

import pytest
import torch

from kernels import mcts_torch as kmt
from src.agents.alphazero import BatchedMCTS
from src.games import make_rules
from src.games.connect4 import C4State
from tests.agents.mcts_cuda_sim import hashed_net as words_net
from tests.agents.mcts_cuda_sim import random_positions as game_positions
from tests.agents.reference_mcts import halving_schedule, reference_search
from tests.agents.test_mcts import G, hashed_net, uniform_net
from tests.agents.test_mcts_solver import reference_net
from tests.opponents import helpers as opponent_helpers

BACKENDS = ["numba", "torch"]


def gumbel_search(backend, cur, mask, net, simulations, seed=None, solver=True, considered=16):
    mcts = BatchedMCTS(make_rules("connect4", "cpu", "torch"), "cpu", backend, solver=solver, search="gumbel",
                       gumbel_considered=considered)
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    return mcts, mcts.search(C4State(cur, mask), lambda s: net(*s), simulations, noise=seed is not None,
                             generator=gen)


def the_noise(n: int, seed: int | None) -> torch.Tensor:
    """The Gumbel noise a search with ``generator`` seeded ``seed`` draws first (0 without noise)."""
    if seed is None:
        return torch.zeros((n, G.cols), dtype=torch.float64)
    u = torch.rand((n, G.cols), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return -torch.log(-torch.log(u.clamp(min=1e-300)))


def test_the_halving_schedule_matches_the_reference_and_the_paper():
    # 4 actions, 8 simulations: each of the 4 once, then the best 2 twice more each
    assert kmt.considered_visits(4, 8) == [0, 0, 0, 0, 1, 1, 2, 2]
    assert kmt.considered_visits(1, 4) == [0, 1, 2, 3]
    for m in range(0, 17):
        for n in (1, 2, 3, 4, 7, 8, 16, 33, 64, 200):
            assert kmt.considered_visits(m, n) == halving_schedule(m, n), (m, n)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("simulations,seed,solver,considered", [
    (4, 1, True, 16), (8, 2, True, 16), (16, None, True, 16), (32, 3, False, 16), (16, 4, True, 4), (64, 5, True, 3),
])
def test_agrees_with_the_one_game_reference(backend, simulations, seed, solver, considered):
    """Visits, the chosen action and the improved policy equal the reference's, game by game,
    on small trees (4 to 64 simulations), with and without noise and the solver."""
    cur, mask = opponent_helpers.random_positions(12, G, seed=30 + simulations)
    _, r = gumbel_search(backend, cur, mask, hashed_net, simulations, seed, solver, considered)
    g = the_noise(cur.shape[0], seed)
    for i in range(cur.shape[0]):
        ref = reference_search(int(cur[i]), int(mask[i]), reference_net(hashed_net), simulations, solver=solver,
                               gumbel=g[i].tolist(), considered=considered)
        assert r.visits[i].tolist() == ref["visits"], i
        assert int(r.gumbel_action[i]) == ref["gumbel_action"], i
        assert r.improved_policy[i].tolist() == pytest.approx(ref["improved_policy"], abs=1e-6), i


@pytest.mark.parametrize("backend", BACKENDS)
def test_policy_target_is_a_distribution_over_the_legal_moves(backend):
    cur, mask = opponent_helpers.random_positions(64, G, seed=7)
    mcts, r = gumbel_search(backend, cur, mask, hashed_net, 8, seed=0)
    target = mcts.policy_target(r)
    legal = r.legal
    assert torch.allclose(target.sum(dim=1), torch.ones(64), atol=1e-6)
    assert (target[~legal] == 0).all() and (target[legal] > 0).any(dim=0).any()
    moves = mcts.act(r, 1.0, torch.Generator().manual_seed(1))
    assert legal.gather(1, moves.unsqueeze(1)).all()
    # without the solver the target is the improved policy itself, and the move the search's own
    _, plain = gumbel_search(backend, cur, mask, hashed_net, 8, seed=0, solver=False)
    assert torch.equal(BatchedMCTS.policy_target(plain), plain.improved_policy)
    assert torch.equal(BatchedMCTS.act(plain, 1.0), plain.gumbel_action)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequential_halving_spends_the_budget_on_the_survivors(backend):
    """16 simulations over the 7 columns of an early position: every column once or twice
    (rounds of 7, then 4... of the schedule), and the chosen column is among the most visited."""
    cur, mask = opponent_helpers.random_positions(40, G, seed=8)
    keep = (mask.bitwise_and(int(sum(1 << (c * (G.rows + 1) + G.rows - 1) for c in range(G.cols)))) == 0)
    cur, mask = cur[keep], mask[keep]  # no full column: all 7 legal
    _, r = gumbel_search(backend, cur, mask, uniform_net, 16, seed=2, solver=False)
    sched = kmt.considered_visits(7, 16)
    counts = [0] * 7  # what the schedule gives the columns, in the order they are picked
    for v in sched:
        j = counts.index(v)
        counts[j] += 1
    for i in range(cur.shape[0]):
        assert sorted(r.visits[i].tolist(), reverse=True) == sorted(counts, reverse=True), i
        assert r.visits[i, r.gumbel_action[i]] == r.visits[i].max(), i


def test_numba_and_torch_give_identical_gumbel_searches_on_othello():
    game = make_rules("othello", "cpu", "torch")
    state = game_positions(game, 10, 30, seed=5)
    out = []
    for backend in BACKENDS:
        mcts = BatchedMCTS(game, "cpu", backend, search="gumbel")
        out.append(mcts.search(state, words_net(game), 12, noise=True, generator=torch.Generator().manual_seed(9)))
    for name in ("visits", "gumbel_action", "solved", "exact"):
        assert torch.equal(getattr(out[0], name), getattr(out[1], name)), name
    assert torch.allclose(out[0].improved_policy, out[1].improved_policy, atol=1e-6)


def test_noise_makes_the_choice_a_sample_and_none_makes_it_deterministic():
    cur, mask = opponent_helpers.random_positions(1, G, seed=3)
    cur, mask = cur.repeat(400), mask.repeat(400)
    _, r = gumbel_search("numba", cur, mask, hashed_net, 4, seed=11, solver=False, considered=2)
    assert len(set(r.gumbel_action.tolist())) > 1  # the same position, different samples
    _, d1 = gumbel_search("numba", cur[:2], mask[:2], hashed_net, 4, solver=False)
    assert d1.gumbel_action[0] == d1.gumbel_action[1]
    # Gumbel-top-k: with one simulation and no search information, the noisy argmax of the
    # log priors is a sample of the prior (Gumbel-max trick)
    _, one = gumbel_search("numba", cur, mask, hashed_net, 1, seed=12, solver=False)
    prior = one.prior[0].double()
    freq = torch.bincount(one.gumbel_action, minlength=G.cols).double() / cur.shape[0]
    assert torch.allclose(freq, prior, atol=4 * math.sqrt(0.25 / cur.shape[0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_per_game_noise_mask_draws_noise_only_in_its_games(backend):
    """A bool [N] ``noise``: the games where it is True search as the reference does with the
    generator's noise, the others as the reference does without noise."""
    cur, mask = opponent_helpers.random_positions(12, G, seed=41)
    on = torch.tensor([i % 3 == 0 for i in range(12)])
    mcts = BatchedMCTS(make_rules("connect4", "cpu", "torch"), "cpu", backend, search="gumbel")
    r = mcts.search(C4State(cur, mask), lambda s: hashed_net(*s), 8, noise=on,
                    generator=torch.Generator().manual_seed(6))
    g = the_noise(12, 6)
    for i in range(12):
        noise_i = g[i].tolist() if on[i] else [0.0] * G.cols
        ref = reference_search(int(cur[i]), int(mask[i]), reference_net(hashed_net), 8, gumbel=noise_i)
        assert r.visits[i].tolist() == ref["visits"], i
        assert int(r.gumbel_action[i]) == ref["gumbel_action"], i
    with pytest.raises(ValueError, match="gumbel"):
        BatchedMCTS(make_rules("connect4", "cpu", "torch"), "cpu", backend).search(
            C4State(cur, mask), lambda s: hashed_net(*s), 8, noise=on)
