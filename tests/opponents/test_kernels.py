"""immediate_wins and safe_moves of both kernel modules against the cell-by-cell reference."""
from __future__ import annotations

import numpy as np
import pytest

from kernels import opponents_numba as knb
from kernels import opponents_torch as kt
from kernels.geometry import Geometry
from tests.opponents.helpers import board, random_positions, ref_safe, ref_wins_now

# numba compiles each board size (seconds), torch does not: numba gets two sizes
NUMBA_SIZES = [(6, 7), (5, 4)]
TORCH_SIZES = NUMBA_SIZES + [(4, 4), (8, 7), (6, 9), (3, 5), (12, 4), (20, 3), (2, 2), (1, 1)]


def _reference(cur, mask, g):
    pairs = list(zip(cur.tolist(), mask.tolist()))
    wins = np.array([ref_wins_now(c, m, g) for c, m in pairs])
    threats = np.array([ref_wins_now(c ^ m, m, g) for c, m in pairs])
    safe = np.array([ref_safe(c, m, g) for c, m in pairs])
    return wins, threats, safe


@pytest.mark.parametrize("rows,cols", TORCH_SIZES)
def test_torch_immediate_wins_threats_and_safe_moves_match_the_reference(rows, cols):
    g = Geometry(rows, cols)
    cur, mask = random_positions(400, g, seed=rows + 100 * cols)
    wins, threats, safe = _reference(cur, mask, g)
    np.testing.assert_array_equal(kt.immediate_wins(cur, mask, g).numpy(), wins)
    np.testing.assert_array_equal(kt.immediate_wins(cur ^ mask, mask, g).numpy(), threats)
    np.testing.assert_array_equal(kt.safe_moves(cur, mask, g).numpy(), safe)
    if rows >= 4 and cols >= 4:
        assert wins.any() and threats.any() and not safe.all(), "positions too quiet to test anything"


@pytest.mark.parametrize("rows,cols", NUMBA_SIZES)
def test_numba_immediate_wins_threats_and_safe_moves_match_the_reference(rows, cols):
    g = Geometry(rows, cols)
    cur, mask = random_positions(400, g, seed=rows + 100 * cols)
    wins, threats, safe = _reference(cur, mask, g)
    c, m = cur.numpy(), mask.numpy()
    np.testing.assert_array_equal(knb.immediate_wins(c, m, g), wins)
    np.testing.assert_array_equal(knb.immediate_wins(c ^ m, m, g), threats)
    np.testing.assert_array_equal(knb.safe_moves(c, m, g), safe)


def test_winning_cells_of_a_drawn_board():
    cur, mask, g = board("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . o o o . . .
        x x x o . . x
    """)
    # o's three in row 1 is open at both ends, playable or not; x's three is capped by o
    assert kt.winning_cells(cur ^ mask, mask, g).item() == g.bit(1, 0) | g.bit(1, 4)
    assert kt.winning_cells(cur, mask, g).item() == 0
    assert kt.immediate_wins(cur ^ mask, mask, g).tolist() == [[True] + [False] * 6]  # (1, 4) is not playable yet
