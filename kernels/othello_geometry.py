"""Bit layout shared by every Othello kernel.

The 8x8 board is one 64-bit word per colour, row-major: cell (row r, column c) is bit
``8 r + c``, the same number as its action (as OpenSpiel numbers them: row 0 is rank 1,
the top row of the printed board, column 0 is file a). Action 64 is the pass. A position is
three words per game:

* ``me``     - discs of the side to move,
* ``opp``    - discs of the other side,
* ``player`` - who is to move: 0 = black (moves first), 1 = white.

numba works on these words as uint64; torch as int64 (the same bits), where ``>>`` is an
arithmetic shift: the masks below clear every bit a right shift could fill with the sign.
"""
from __future__ import annotations

import numpy as np

NUM_CELLS = 64
PASS = 64
NUM_ACTIONS = 65

FILE_A = 0x0101010101010101  # column 0
FILE_H = 0x8080808080808080  # column 7
ROW_7 = 0xFF00000000000000  # the last row (rank 8)
FULL = (1 << 64) - 1
INNER = FULL & ~FILE_A & ~FILE_H  # a horizontal or diagonal run never passes through columns 0 or 7


def bit(row: int, col: int) -> int:
    return 1 << (8 * row + col)


# black (to move first) on e4 and d5, white on d4 and e5
BLACK_START = bit(3, 4) | bit(4, 3)
WHITE_START = bit(3, 3) | bit(4, 4)

# (shift, is_left, mask): one step in a direction is ``x << shift`` (is_left) or ``x >> shift``;
# a run of opponent discs may pass only through ``mask``. Masking the discs of the run (not the
# shifted word) is what stops wrapping: columns 0 and 7 for every direction with a column step,
# and, for the directions that go up a row (right shifts), the last row, where an arithmetic
# shift of a negative int64 would put sign bits (nothing moving up can land there).
DIRECTIONS: tuple[tuple[int, bool, int], ...] = (
    (1, True, INNER),           # east   (c + 1)
    (1, False, INNER),          # west   (c - 1)
    (8, True, FULL),            # south  (r + 1)
    (8, False, FULL & ~ROW_7),  # north  (r - 1)
    (9, True, INNER),           # south-east
    (7, True, INNER),           # south-west
    (7, False, INNER & ~ROW_7),  # north-east
    (9, False, INNER & ~ROW_7),  # north-west
)


def signed(x: int) -> int:
    """The int64 value with the same 64 bits as ``x`` (for torch constants)."""
    x &= FULL
    return x - (1 << 64) if x >> 63 else x


def spread_table() -> np.ndarray:
    """uint64 [256]: byte j of entry b is bit j of b (little-endian: a row of 8 one-byte cells)."""
    out = np.zeros(256, dtype=np.uint64)
    for b in range(256):
        out[b] = sum(((b >> j) & 1) << (8 * j) for j in range(8))
    return out


def symmetry_cells() -> np.ndarray:
    """int64 [8, 64]: ``cells[t, k]`` is where the dihedral transform ``t`` moves cell ``k``.

    t = 0 identity, 1-3 rotations by 90/180/270 degrees (clockwise on the printed board),
    4 mirror left-right, 5-7 that mirror followed by rotations 1-3.
    """
    out = np.zeros((8, 64), dtype=np.int64)
    for k in range(64):
        r, c = divmod(k, 8)
        for t in range(8):
            rr, cc = (r, 7 - c) if t >= 4 else (r, c)
            for _ in range(t % 4):
                rr, cc = cc, 7 - rr  # 90 degrees clockwise
            out[t, k] = 8 * rr + cc
    return out


def symmetry_actions() -> np.ndarray:
    """int64 [8, 65]: ``symmetry_cells`` with the pass (64) fixed."""
    return np.concatenate([symmetry_cells(), np.full((8, 1), PASS, dtype=np.int64)], axis=1)
