"""The learner's fused minibatch paths equal the plain torch path, bit for bit.

``TorchMinibatch`` spelled out with the torch kernels is the reference (ring gather with the
n-step loop of ``ReplayBuffer.gather_nstep``, ``to_planes`` / ``feature_planes``,
``legal_mask``, ``flip``); the same class over the numba backend's ops, and the one-pass numba
kernel (``NumbaMinibatch``), must give identical tensors: positions, actions, returns,
discounts, done flags and legal masks, mirrored or not, 1-step and n-step, with the ring
wrapped around.
"""
from __future__ import annotations

import functools

import pytest
import torch

from kernels import connect4_torch as kt
from src.agents.minibatch import TorchMinibatch
from src.games.connect4.minibatch import NumbaMinibatch
from src.agents.replay import ReplayBuffer
from src.games import make_game
from src.games.protocol import draw_symmetries
from tests.opponents.helpers import random_positions
from tests.training.helpers import assert_identical

STRIDE = 8  # games per batch step


def filled_ring(capacity: int, written: int, seed: int) -> ReplayBuffer:
    """A ring that has seen ``written`` transitions (so it wrapped when above ``capacity``),
    STRIDE games at a time, with game ends about one move in five."""
    g = make_game("connect4", 1).geometry
    cur, mask = random_positions(written, g, seed)
    ncur, nmask = random_positions(written, g, seed + 1)
    gen = torch.Generator().manual_seed(seed)
    done = torch.rand(written, generator=gen) < 0.2
    reward = torch.where(done, torch.randint(-1, 2, (written,), generator=gen), 0)
    action = torch.randint(0, g.cols, (written,), generator=gen)
    ring = ReplayBuffer(capacity, "cpu", seed=seed)
    for lo in range(0, written, STRIDE):
        sl = slice(lo, lo + STRIDE)
        ring.add({"cur": cur[sl], "mask": mask[sl], "action": action[sl], "reward": reward[sl], "done": done[sl],
                  "next_cur": ncur[sl], "next_mask": nmask[sl]})
    return ring


def clone(b):
    return type(b)(*(None if x is None else x.clone() for x in b))


@pytest.mark.parametrize("planes", [2, 5])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("mirror", [False, True])
def test_fused_minibatch_equals_torch_reference(planes, n, mirror):
    ring = filled_ring(capacity=200, written=328, seed=11 + n + planes)  # wrapped: ptr mid-ring
    gamma = 0.9
    games = {b: make_game("connect4", 1, backend=b) for b in ("torch", "numba")}
    g = games["torch"].geometry
    encode = functools.partial(kt.feature_planes if planes == 5 else kt.to_planes, g=g)
    reference = TorchMinibatch(ring, games["torch"].game, encode, gamma)
    numba_ops = TorchMinibatch(ring, games["numba"].game, encode if planes == 5 else games["numba"].ops.to_planes, gamma)
    fused = NumbaMinibatch(ring, g, planes, gamma)
    gen = torch.Generator().manual_seed(n)
    for _ in range(3):
        idx = ring.sample_indices(256, n, STRIDE)
        flip = (torch.rand(256, generator=gen) < 0.5).long() if mirror else None  # symmetry 1: the mirror
        want = reference(idx, n, STRIDE, flip)
        assert_identical(clone(fused(idx, n, STRIDE, flip)), want, "numba kernel")
        assert_identical(numba_ops(idx, n, STRIDE, flip), want, "torch path on numba ops")
        if n > 1:  # the reference itself is the ring's own n-step sample
            assert want.done.any() and (want.discount < gamma).any()


def test_nstep_reference_follows_the_game_to_its_end():
    """One game of three moves, the last one winning, written with a second game between
    its moves (stride 2): a 3-step sample from its first move sums the discounted rewards and
    stops at the end; the numba kernel agrees."""
    ring = ReplayBuffer(16, "cpu", seed=0)
    z = torch.zeros(2, dtype=torch.int64)
    for k, (r, d) in enumerate([(0, False), (0, False), (1, True)]):
        ring.add({"cur": z, "mask": z + k, "action": torch.tensor([k, 6]), "reward": torch.tensor([r, 0]),
                  "done": torch.tensor([d, False]), "next_cur": z, "next_mask": z + 10 + k})
    game = make_game("connect4", 1, backend="numba")
    idx = torch.tensor([0])
    for mb in (TorchMinibatch(ring, game.game, game.ops.to_planes, 0.5), NumbaMinibatch(ring, game.geometry, 2, 0.5)):
        b = mb(idx, 3, 2, None)
        assert b.reward.tolist() == [0.25] and b.done.tolist() == [True] and b.discount.tolist() == [0.125]
        assert b.action.tolist() == [0]
        assert torch.equal(b.next_legal, game.ops.legal_mask(torch.tensor([12])))


def test_torch_minibatch_path_calls_no_op_that_synchronises_on_cuda():
    """The CPU stand-in for CUDA's sync debug mode (as in tests/agents/test_mcts.py): every aten
    op of drawing and building an n-step, mirrored threat-feature minibatch on the torch path."""
    from tests.agents.host_sync import host_syncs, recorded_ops

    ring = filled_ring(capacity=200, written=328, seed=3)
    game = make_game("connect4", 1, backend="torch")
    mb = TorchMinibatch(ring, game.game, functools.partial(kt.feature_planes, g=game.geometry), 0.9)
    with recorded_ops() as seen:
        idx = ring.sample_indices(64, 3, STRIDE)
        sym = draw_symmetries(64, 2, "cpu", ring.generator)
        mb(idx, 3, STRIDE, sym)
    assert "randint" in seen and "where" in seen  # the recording works
    assert not host_syncs(seen)
