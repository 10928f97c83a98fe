"""Bit layout shared by every Connect4 kernel.

A board of ``rows x cols`` is stored column-major in one 64-bit word, with one sentinel
bit above each column: cell (row r, column c) is bit ``c * (rows + 1) + r``; row 0 is the
bottom row. A position is two words per game:

* ``cur``  - stones of the side to move,
* ``mask`` - all stones.

The other side's stones are ``cur ^ mask``. The sentinel row is always empty, so the
four-in-a-row test by shift-and pairs never wraps from one column into the next
(http://blog.gamesolver.org/solving-connect-four/06-bitboard/). Only bits 0..62 are used,
so the words stay non-negative in signed int64 and arithmetic right shifts are safe.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

MAX_BITS = 63


def check_size(rows: int, cols: int) -> None:
    """Raise ValueError naming rows/cols when a board does not fit the bitboard."""
    if not isinstance(rows, int) or isinstance(rows, bool) or not isinstance(cols, int) or isinstance(cols, bool):
        raise ValueError(f"rows and cols must be integers, got rows={rows!r}, cols={cols!r}")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be positive, got rows={rows}, cols={cols}")
    if cols * (rows + 1) > MAX_BITS:
        raise ValueError(
            f"board rows={rows}, cols={cols} does not fit the bitboard: "
            f"cols*(rows+1) = {cols * (rows + 1)} > {MAX_BITS}"
        )


@dataclass(frozen=True)
class Geometry:
    rows: int = 6
    cols: int = 7

    def __post_init__(self) -> None:
        check_size(self.rows, self.cols)

    @property
    def height(self) -> int:
        """Bits per column, the sentinel included."""
        return self.rows + 1

    @cached_property
    def bottom(self) -> list[int]:
        """bottom[c]: the bit of column c's bottom cell."""
        return [1 << (c * self.height) for c in range(self.cols)]

    @cached_property
    def top(self) -> list[int]:
        """top[c]: the bit of column c's top playable cell (set means the column is full)."""
        return [1 << (c * self.height + self.rows - 1) for c in range(self.cols)]

    @cached_property
    def column(self) -> list[int]:
        """column[c]: every playable bit of column c."""
        return [((1 << self.rows) - 1) << (c * self.height) for c in range(self.cols)]

    @cached_property
    def board(self) -> int:
        """Every playable bit: mask == board means the board is full."""
        return sum(self.column)

    @cached_property
    def shifts(self) -> tuple[int, int, int, int]:
        """Shift distances of the four directions: vertical, horizontal and the two diagonals."""
        h = self.height
        return (1, h, h - 1, h + 1)

    def bit(self, row: int, col: int) -> int:
        return 1 << (col * self.height + row)
