"""A slow, obviously-correct Othello for checking the bitboard engine.

One game is a list of 8 rows of 8 cells: 0 empty, 1 black, 2 white. A move is legal when,
walking from the cell in one of the eight directions, one meets one or more of the other
colour's discs and then one's own. Nothing here shares code with ``kernels/``; only
``words``/``from_words`` know the bit layout (cell (r, c) is bit 8r + c, see
``kernels/othello_geometry.py``), so tests can load positions and read states back.
"""
from __future__ import annotations

EMPTY, BLACK, WHITE = 0, 1, 2
PASS = 64
STEPS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]


def other(colour: int) -> int:
    return WHITE if colour == BLACK else BLACK


def start_board() -> list[list[int]]:
    board = [[EMPTY] * 8 for _ in range(8)]
    board[3][3] = board[4][4] = WHITE  # d4, e5
    board[3][4] = board[4][3] = BLACK  # e4, d5
    return board


def flipped(board, colour: int, row: int, col: int) -> list[tuple[int, int]]:
    """The discs a ``colour`` disc placed on the empty (row, col) turns over."""
    if board[row][col] != EMPTY:
        return []
    out = []
    for dr, dc in STEPS:
        line = []
        r, c = row + dr, col + dc
        while 0 <= r < 8 and 0 <= c < 8 and board[r][c] == other(colour):
            line.append((r, c))
            r, c = r + dr, c + dc
        if line and 0 <= r < 8 and 0 <= c < 8 and board[r][c] == colour:
            out += line
    return out


def legal_cells(board, colour: int) -> list[int]:
    return [8 * r + c for r in range(8) for c in range(8) if flipped(board, colour, r, c)]


class RefOthello:
    """One game with the env's conventions: reward for the player who just moved; an illegal
    action (or the end of the game) ends the game, and the board starts again."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.board = start_board()
        self.to_move = BLACK

    def legal(self) -> list[int]:
        """The legal actions: the cells, or only the pass when there is none."""
        return legal_cells(self.board, self.to_move) or [PASS]

    def count(self, colour: int) -> int:
        return sum(row.count(colour) for row in self.board)

    def step(self, action: int) -> tuple[float, bool, bool]:
        """Play ``action``; returns (reward, done, illegal) and resets the board if done."""
        if action not in self.legal():
            self.reset()
            return -1.0, True, True
        mover = self.to_move
        if action != PASS:
            r, c = divmod(action, 8)
            for rr, cc in flipped(self.board, mover, r, c):
                self.board[rr][cc] = mover
            self.board[r][c] = mover
        self.to_move = other(mover)
        if action != PASS and not legal_cells(self.board, BLACK) and not legal_cells(self.board, WHITE):
            mine, theirs = self.count(mover), self.count(other(mover))
            self.reset()
            return (1.0 if mine > theirs else -1.0 if mine < theirs else 0.0), True, False
        return 0.0, False, False

    def words(self) -> tuple[int, int, int]:
        """(mine, theirs, player) as the engine stores them, as signed int64 values."""
        def word(colour):
            w = sum(1 << (8 * r + c) for r in range(8) for c in range(8) if self.board[r][c] == colour)
            return w - (1 << 64) if w >> 63 else w
        return word(self.to_move), word(other(self.to_move)), 0 if self.to_move == BLACK else 1


def from_words(mine: int, theirs: int, player: int) -> RefOthello:
    """A reference game at the engine's position (mine, theirs, player)."""
    g = RefOthello()
    g.to_move = BLACK if player == 0 else WHITE
    for k in range(64):
        r, c = divmod(k, 8)
        g.board[r][c] = g.to_move if (mine >> k) & 1 else other(g.to_move) if (theirs >> k) & 1 else EMPTY
    return g


def parse(picture: str, to_move: int = BLACK) -> RefOthello:
    """An ASCII board (8 lines of 8 of ``x`` black, ``o`` white, ``.`` empty; spaces ignored;
    the top line is rank 1) with ``to_move`` to move."""
    lines = [ln.replace(" ", "") for ln in picture.strip().splitlines()]
    g = RefOthello()
    g.board = [[{".": EMPTY, "x": BLACK, "o": WHITE}[ch] for ch in ln] for ln in lines]
    g.to_move = to_move
    return g
