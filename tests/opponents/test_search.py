"""search: forced wins and losses within the horizon, against a slow reference, both backends."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels import opponents_numba as knb
from kernels import opponents_torch as kt
from kernels.geometry import Geometry
from src.opponents import make_opponent
from tests.opponents.helpers import board, random_positions, ref_scores

ILLEGAL = kt.ILLEGAL_SCORE

DOUBLE_THREAT_IN_ONE = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . o
    . . x x . . o
"""  # x plays column 1 or 4: three in a row open at both ends, o cannot block both

LOSS_UNLESS_PREVENTED = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    x . o o . . x
"""  # o threatens the same; only columns 1, 4 and 5 leave o at most one open end

WIN_NOW_OR_IN_THREE = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . o x . o . .
    o o x . x x o
"""  # column 3 wins now; column 2 (three up column 2, then column 3) wins on ply 3


def scores(picture, depth, backend):
    cur, mask, g = board(picture)
    if backend == "numba":
        return knb.search_scores(cur.numpy(), mask.numpy(), g, depth)[0].tolist()
    return kt.search_scores(cur, mask, g, depth)[0].tolist()


def acts(spec, picture, backend_device, n=64):
    backend, device = backend_device
    cur, mask, g = board(picture)
    opp = make_opponent(spec, g, device, backend, seed=0)
    return set(opp.act(cur.repeat(n).to(device), mask.repeat(n).to(device)).cpu().tolist())


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_search_scores_of_a_forced_win_in_three_plies(backend):
    assert scores(DOUBLE_THREAT_IN_ONE, 2, backend) == [0] * 7  # beyond the horizon
    assert scores(DOUBLE_THREAT_IN_ONE, 3, backend) == [0, 1, 0, 0, 1, 0, 0]
    assert scores(DOUBLE_THREAT_IN_ONE, 4, backend) == [0, 2, 0, 0, 2, 0, 0]


@pytest.mark.parametrize("spec", ["search:3", "search:4", "search:5"])
def test_search_plays_the_forced_win_in_three_plies(spec, backend_device):
    assert acts(spec, DOUBLE_THREAT_IN_ONE, backend_device) == {1, 4}


def test_shallow_search_and_heuristics_do_not_see_the_forced_win(backend_device):
    for spec in ("search:2", "heuristic"):
        assert len(acts(spec, DOUBLE_THREAT_IN_ONE, backend_device, n=256)) == 7


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_search_scores_of_a_forced_loss(backend):
    assert scores(LOSS_UNLESS_PREVENTED, 3, backend) == [0] * 7
    assert scores(LOSS_UNLESS_PREVENTED, 4, backend) == [-1, 0, -1, -1, 0, 0, -1]


@pytest.mark.parametrize("spec", ["search:4", "search:5"])
def test_search_avoids_a_forced_loss(spec, backend_device):
    assert acts(spec, LOSS_UNLESS_PREVENTED, backend_device) == {1, 4, 5}


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_search_prefers_the_faster_win(backend):
    assert scores(WIN_NOW_OR_IN_THREE, 4, backend) == [0, 0, 2, 4, 0, 0, 0]


def test_search_plays_the_faster_win(backend_device):
    assert acts("search:4", WIN_NOW_OR_IN_THREE, backend_device) == {3}


def test_search_scores_full_columns_as_illegal():
    picture = """
        x . . . . o .
        o . . . . x .
        x . . . . o .
        o . . . . x .
        x . . . . o .
        o . . . . x .
    """
    for backend in ("numba", "torch"):
        s = scores(picture, 3, backend)
        assert s[0] == s[5] == ILLEGAL and ILLEGAL not in s[1:5] + s[6:]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_search_scores_match_the_reference_on_random_positions(depth):
    g = Geometry()
    cur, mask = random_positions(60 if depth == 4 else 150, g, seed=depth)
    ref = np.array([ref_scores(int(c), int(m), depth, g, ILLEGAL) for c, m in zip(cur, mask)])
    np.testing.assert_array_equal(knb.search_scores(cur.numpy(), mask.numpy(), g, depth), ref)
    np.testing.assert_array_equal(kt.search_scores(cur, mask, g, depth).numpy(), ref)


@pytest.mark.parametrize("depth", [4, 5])
def test_search_scores_agree_between_torch_and_numba_on_random_positions(depth):
    g = Geometry()
    cur, mask = random_positions(800 if depth == 4 else 150, g, seed=10 + depth)
    s_numba = knb.search_scores(cur.numpy(), mask.numpy(), g, depth)
    s_torch = kt.search_scores(cur, mask, g, depth).numpy()
    np.testing.assert_array_equal(s_numba, s_torch)
    assert len(np.unique(s_numba)) >= 5, "positions too quiet to test anything"


@pytest.mark.parametrize("rows,cols", [(4, 4), (5, 6), (8, 7), (3, 5), (6, 9)])
def test_torch_search_scores_match_the_reference_on_other_boards(rows, cols):
    g = Geometry(rows, cols)
    cur, mask = random_positions(60, g, seed=rows * cols)
    ref = np.array([ref_scores(int(c), int(m), 3, g, ILLEGAL) for c, m in zip(cur, mask)])
    np.testing.assert_array_equal(kt.search_scores(cur, mask, g, 3).numpy(), ref)


def test_numba_search_scores_match_the_reference_on_another_board():
    g = Geometry(5, 4)  # one more compile; other sizes are covered on torch
    cur, mask = random_positions(100, g, seed=3)
    ref = np.array([ref_scores(int(c), int(m), 4, g, ILLEGAL) for c, m in zip(cur, mask)])
    np.testing.assert_array_equal(knb.search_scores(cur.numpy(), mask.numpy(), g, 4), ref)


def test_torch_search_in_chunks_gives_the_same_scores(monkeypatch):
    g = Geometry()
    cur, mask = random_positions(40, g, seed=5)
    whole = kt.search_scores(cur, mask, g, 3)
    monkeypatch.setattr(kt, "_LEAF_BUDGET", 7 ** 3 * 3)  # chunks of 3 games
    torch.testing.assert_close(kt.search_scores(cur, mask, g, 3), whole)


@pytest.mark.parametrize("depth", [0, 9])
def test_search_kernels_reject_a_depth_out_of_range(depth):
    z = torch.zeros(1, dtype=torch.int64)
    with pytest.raises(ValueError, match="depth"):
        kt.search_scores(z, z, Geometry(), depth)
    with pytest.raises(ValueError, match="depth"):
        knb.search_scores(z.numpy(), z.numpy(), Geometry(), depth)


def test_search_breaks_ties_uniformly_at_random(backend_device):
    empty = "\n".join([". . . . . . ."] * 6)  # every move scores 0 at depth 2
    backend, device = backend_device
    cur, mask, g = board(empty)
    n = 14000
    a = make_opponent("search:2", g, device, backend, 1).act(cur.repeat(n).to(device), mask.repeat(n).to(device))
    freq = torch.bincount(a.cpu(), minlength=7).double() / n
    assert torch.allclose(freq, torch.full((7,), 1 / 7, dtype=torch.double), atol=0.02), freq
