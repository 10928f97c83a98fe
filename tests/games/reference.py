"""A slow, obviously-correct Connect4 for checking the bitboard engine.

One game is a plain 2-D numpy array ``board[row, col]`` (row 0 is the bottom) holding
0 for empty, 1 for the first player and 2 for the second. Wins are found by walking
from a cell in the four directions, one cell at a time. Nothing here shares code with
``kernels/``; the only thing it knows about bitboards is ``encode``/``decode``, which
follow the layout documented in ``kernels/geometry.py`` so that tests can load hand-drawn
positions into an env and read its state back.
"""
from __future__ import annotations

import numpy as np

EMPTY, FIRST, SECOND = 0, 1, 2
DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))  # (d_row, d_col): vertical, horizontal, two diagonals


def line_length(board: np.ndarray, row: int, col: int, d_row: int, d_col: int) -> int:
    """Stones of ``board[row, col]``'s owner in one line through (row, col), both ways."""
    rows, cols = board.shape
    who = board[row, col]
    n = 1
    for sign in (1, -1):
        r, c = row + sign * d_row, col + sign * d_col
        while 0 <= r < rows and 0 <= c < cols and board[r, c] == who:
            n += 1
            r, c = r + sign * d_row, c + sign * d_col
    return n


def wins_at(board: np.ndarray, row: int, col: int) -> bool:
    """Whether the stone at (row, col) is part of four (or more) in a row."""
    return board[row, col] != EMPTY and any(line_length(board, row, col, dr, dc) >= 4 for dr, dc in DIRECTIONS)


def winner(board: np.ndarray) -> int:
    """Scan every cell: FIRST or SECOND if that player has four in a row, EMPTY if nobody does.

    Raises if both players do (not a reachable position).
    """
    found = {int(board[r, c]) for r in range(board.shape[0]) for c in range(board.shape[1]) if wins_at(board, r, c)}
    if len(found) > 1:
        raise ValueError("both players have four in a row")
    return found.pop() if found else EMPTY


class RefGame:
    """One Connect4 game with the env's conventions: reward for the player who just moved
    (+1 win, -1 illegal move, 0 otherwise); an illegal move or a finished game resets the board."""

    def __init__(self, rows: int = 6, cols: int = 7):
        self.rows, self.cols = rows, cols
        self.reset()

    def reset(self) -> None:
        self.board = np.zeros((self.rows, self.cols), dtype=np.int8)
        self.to_move = FIRST

    def height(self, col: int) -> int:
        """Stones in column ``col``."""
        return int(np.count_nonzero(self.board[:, col]))

    def legal(self) -> np.ndarray:
        """bool [cols]: columns that are not full."""
        return np.array([self.height(c) < self.rows for c in range(self.cols)])

    def step(self, action: int) -> tuple[float, bool, bool]:
        """Play ``action``; returns (reward, done, illegal) and resets the board if done."""
        if not (0 <= action < self.cols) or self.height(action) == self.rows:
            self.reset()
            return -1.0, True, True
        row = self.height(action)
        self.board[row, action] = self.to_move
        self.to_move = SECOND if self.to_move == FIRST else FIRST
        if wins_at(self.board, row, action):
            self.reset()
            return 1.0, True, False
        if np.all(self.board != EMPTY):
            self.reset()
            return 0.0, True, False
        return 0.0, False, False

    def obs(self) -> np.ndarray:
        """float32 [2, rows, cols]: plane 0 = stones of the side to move, plane 1 = the other side's."""
        other = SECOND if self.to_move == FIRST else FIRST
        return np.stack([self.board == self.to_move, self.board == other]).astype(np.float32)


# --- hand-drawn positions ------------------------------------------------------------

def parse(picture: str) -> np.ndarray:
    """ASCII board -> int8 [rows, cols]; the top line of the picture is the top row.

    ``x`` = side to move, ``o`` = the other side, ``.`` = empty; spaces are ignored.
    Returns 1 for x, 2 for o, 0 for empty.
    """
    lines = [ln.replace(" ", "") for ln in picture.strip().splitlines()]
    cells = {".": 0, "x": 1, "o": 2}
    return np.array([[cells[ch] for ch in ln] for ln in reversed(lines)], dtype=np.int8)


def check_reachable(board: np.ndarray, mover: int = 1) -> None:
    """Assert that a parsed board (``mover`` = side to move) could occur in a game:
    no floating stones, and the side to move has as many stones as the other side or one less."""
    rows, cols = board.shape
    for c in range(cols):
        filled = board[:, c] != EMPTY
        h = int(filled.sum())
        assert filled[:h].all() and not filled[h:].any(), f"floating stone in column {c}"
    n_mover = int(np.sum(board == mover))
    n_other = int(np.sum((board != EMPTY) & (board != mover)))
    assert n_mover in (n_other, n_other - 1), f"side to move has {n_mover} stones, the other side {n_other}"


def encode(board: np.ndarray, mover: int = 1) -> tuple[int, int]:
    """(cur, mask) words of ``board`` with ``mover`` to move: cell (r, c) is bit c*(rows+1)+r."""
    rows, cols = board.shape
    cur = mask = 0
    for r in range(rows):
        for c in range(cols):
            bit = 1 << (c * (rows + 1) + r)
            if board[r, c] != EMPTY:
                mask |= bit
                if board[r, c] == mover:
                    cur |= bit
    return cur, mask


def decode(cur: int, mask: int, rows: int, cols: int) -> np.ndarray:
    """int8 [rows, cols] with 1 = side to move, 2 = other side; raises on bits outside the board."""
    board = np.zeros((rows, cols), dtype=np.int8)
    seen = 0
    for r in range(rows):
        for c in range(cols):
            bit = 1 << (c * (rows + 1) + r)
            seen |= bit
            if mask & bit:
                board[r, c] = 1 if cur & bit else 2
    if mask & ~seen or cur & ~mask:
        raise ValueError(f"bits outside the board or cur not within mask: cur={cur:#x} mask={mask:#x}")
    return board
