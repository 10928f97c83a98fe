"""The torch kernels on a CUDA device: same scores as the CPU, no host synchronisation in ``act``.

Every behaviour test of this package also runs on CUDA through the ``torch-cuda`` backend
parameter (``conftest.py``); these add what only a GPU can check. They skip without one.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels import opponents_numba as knb
from kernels import opponents_torch as kt
from kernels.geometry import Geometry
from src.opponents import make_opponent
from tests.opponents.helpers import random_positions

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("rows,cols", [(6, 7), (5, 4)])
def test_cuda_kernels_agree_with_numba_on_random_positions(rows, cols):
    g = Geometry(rows, cols)
    cur, mask = random_positions(4000, g, seed=21)
    c, m = cur.cuda(), mask.cuda()
    np.testing.assert_array_equal(kt.immediate_wins(c, m, g).cpu().numpy(), knb.immediate_wins(cur.numpy(), mask.numpy(), g))
    np.testing.assert_array_equal(kt.safe_moves(c, m, g).cpu().numpy(), knb.safe_moves(cur.numpy(), mask.numpy(), g))
    for depth in (1, 3, 4):
        np.testing.assert_array_equal(kt.search_scores(c, m, g, depth).cpu().numpy(),
                                      knb.search_scores(cur.numpy(), mask.numpy(), g, depth))


def test_cuda_search_in_several_chunks_agrees_with_numba():
    g = Geometry()
    cur, mask = random_positions(8000, g, seed=22)  # 8000 * 7**4 leaves: two chunks
    assert 8000 * 7 ** 4 > kt._LEAF_BUDGET
    np.testing.assert_array_equal(kt.search_scores(cur.cuda(), mask.cuda(), g, 4).cpu().numpy(),
                                  knb.search_scores(cur.numpy(), mask.numpy(), g, 4))


@pytest.mark.parametrize("spec", ["random", "heuristic", "smart_heuristic", "search:4"])
def test_cuda_act_stays_on_the_device_without_synchronising(spec):
    g = Geometry()
    cur, mask = (t.cuda() for t in random_positions(4096, g, seed=23))
    opp = make_opponent(spec, g, "cuda", "torch", 0)
    opp.act(cur, mask)  # builds the cached tables (host-to-device copies)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        a = opp.act(cur, mask)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert a.device.type == "cuda" and a.dtype == torch.int64
    legal = (mask & torch.tensor(g.top, device="cuda")[a]) == 0
    assert bool(legal.all())
