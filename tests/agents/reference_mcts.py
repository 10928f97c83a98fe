"""A slow, obviously-correct, one-game PUCT search: the test oracle for the batched MCTS.

Written from ``docs/mcts.md`` alone, for one game at a time, with explicit node objects and
plain loops. The rules of the game come from ``tests/games/reference.py`` (an int8 board,
walked cell by cell), never from the bitboard kernels, so the oracle shares no code with the
engine. Positions enter and leave as bitboard words only because that is what the engine and
``evaluate`` speak: ``decode`` turns them into a board and ``encode`` turns boards back.

Readings where ``docs/mcts.md`` is silent (each also marked ``# reading:`` where it is applied):

* All arithmetic is Python floats (float64); the batched versions may use float32, so ties and
  near-ties can in principle come out differently there.
* Softmax is the usual one, shifted by the largest legal logit before ``exp``.
* A move that both completes four in a row and fills the board counts as a win (value -1 for
  the player to move at the leaf): "the move won" comes first in the document.
* A root with no legal move: ``evaluate`` is not called, every output is 0
  (``network_value`` included).
* A root position in which someone already has four in a row is not a position the document
  searches from: ``ValueError``. So is a board with a floating stone.
* ``root_noise`` is mixed into the legal columns only and must be 0 on full columns
  (``ValueError`` otherwise); it is applied even when ``simulations`` is 0 (nothing depends on
  it then). The root's network value is never changed by noise.
* ``simulations = 0``: the root is still expanded with its one network call, so
  ``network_value`` is the network's; visits, q and value are all 0.
"""
from __future__ import annotations

import math

import numpy as np

from tests.games.reference import EMPTY, decode, encode, wins_at, winner

FIRST_MOVER = 1  # in every board below, 1 = the side to move at that node, 2 = the other side


class Node:
    """One position. ``board`` is int8 [rows, cols] with 1 = side to move here, 2 = the other."""

    def __init__(self, board: np.ndarray, won: bool, full: bool):
        self.board = board
        self.cur, self.mask = encode(board, mover=FIRST_MOVER)
        rows, cols = board.shape
        self.rows, self.cols = rows, cols
        # terminal: the move into this node won, or filled the board
        self.won = won
        self.full = full
        self.terminal = won or full
        self.expanded = False
        self.P = [0.0] * cols
        self.N = [0] * cols
        self.W = [0.0] * cols
        self.children: dict[int, Node] = {}

    def legal_columns(self) -> list[int]:
        """Columns whose top cell is empty, in increasing order."""
        return [c for c in range(self.cols) if self.board[self.rows - 1, c] == EMPTY]

    def terminal_value(self) -> float:
        """Value of a terminal node for the player to move at it."""
        assert self.terminal
        # reading: a last move that both wins and fills the board is a win (-1), not a draw.
        if self.won:
            return -1.0  # the player who just moved made four: the player to move has lost
        return 0.0  # full board, nobody won

    def child(self, col: int) -> "Node":
        """The node after the side to move here drops a stone in ``col`` (created on first use)."""
        if col not in self.children:
            board = self.board.copy()
            row = int(np.count_nonzero(board[:, col]))
            assert row < self.rows, f"column {col} is full"
            board[row, col] = 1  # the side to move here plays
            won = bool(wins_at(board, row, col))
            full = bool(np.all(board != EMPTY))
            # flip the colours: at the child the other side is to move
            flipped = np.where(board == 1, 2, np.where(board == 2, 1, 0)).astype(np.int8)
            self.children[col] = Node(flipped, won=won, full=full)
        return self.children[col]

    def expand(self, logits) -> None:
        """Priors = softmax of the logits over the legal columns only; illegal columns get 0."""
        legal = self.legal_columns()
        assert legal, "a non-terminal node always has a legal column"
        # reading: the standard softmax, shifted by the largest legal logit for stability.
        top = max(logits[c] for c in legal)
        exps = {c: math.exp(logits[c] - top) for c in legal}
        total = sum(exps.values())
        self.P = [exps[c] / total if c in exps else 0.0 for c in range(self.cols)]
        self.expanded = True

    def select(self, c_puct: float, fpu: float) -> int:
        """argmax over legal a of Q(a) + c_puct * P(a) * sqrt(1 + sum_b N(b)) / (1 + N(a));
        Q = W/N when visited, fpu otherwise; ties go to the lowest column index."""
        total_visits = sum(self.N)
        best_col, best_score = None, None
        for a in self.legal_columns():  # increasing column order
            q = self.W[a] / self.N[a] if self.N[a] > 0 else fpu
            score = q + c_puct * self.P[a] * math.sqrt(1 + total_visits) / (1 + self.N[a])
            if best_score is None or score > best_score:  # strict: an equal score keeps the lower column
                best_col, best_score = a, score
        return best_col


def _call_network(evaluate, node: Node) -> tuple[list[float], float]:
    logits, value = evaluate(node.cur, node.mask)
    logits = [float(x) for x in logits]
    if len(logits) != node.cols:
        raise ValueError(f"evaluate returned {len(logits)} logits, expected {node.cols}")
    return logits, float(value)


def reference_search(
    cur: int,
    mask: int,
    evaluate,
    simulations: int,
    rows: int = 6,
    cols: int = 7,
    c_puct: float = 1.25,
    fpu: float = 0.0,
    root_noise=None,
    eps: float = 0.25,
) -> dict:
    """PUCT search of one position, exactly as ``docs/mcts.md`` defines it.

    ``evaluate(cur, mask) -> (logits [cols], value)`` is the network, called once for the root
    and once per non-terminal leaf, never on a terminal position. ``root_noise``: an already
    drawn Dirichlet sample over the legal columns (0 elsewhere), mixed into the root priors as
    ``(1 - eps) * P + eps * noise``.

    Returns ``{"visits": list[int], "q": list[float], "value": float, "network_value": float}``.
    """
    if simulations < 0:
        raise ValueError(f"simulations must be >= 0, got {simulations}")
    board = decode(cur, mask, rows, cols)  # 1 = side to move, 2 = other side
    for c in range(cols):
        filled = board[:, c] != EMPTY
        h = int(filled.sum())
        if not (filled[:h].all() and not filled[h:].any()):
            raise ValueError(f"floating stone in column {c}")
    # reading: searching from a finished game (four in a row on the board) is undefined.
    if winner(board) != EMPTY:
        raise ValueError("the root position already has four in a row")

    root = Node(board, won=False, full=bool(np.all(board != EMPTY)))
    zeros = {"visits": [0] * cols, "q": [0.0] * cols, "value": 0.0, "network_value": 0.0}
    if not root.legal_columns():
        # "A root with no legal move is not searched."
        # reading: not even the network is called; network_value is reported as 0.
        return zeros

    # the root is expanded first with one network evaluation (its value is not a simulation)
    logits, network_value = _call_network(evaluate, root)
    root.expand(logits)
    if root_noise is not None:
        noise = [float(x) for x in root_noise]
        if len(noise) != cols:
            raise ValueError(f"root_noise has {len(noise)} entries, expected {cols}")
        legal = root.legal_columns()
        # reading: the noise lives on the legal columns only; a full column keeps prior 0.
        for c in range(cols):
            if c not in legal and noise[c] != 0.0:
                raise ValueError(f"root_noise is {noise[c]} on full column {c}")
        root.P = [(1 - eps) * root.P[c] + eps * noise[c] if c in legal else 0.0 for c in range(cols)]

    for _ in range(simulations):
        # select: descend from the root until the first child that is terminal or not expanded
        path: list[tuple[Node, int]] = []  # edges (node, column) from the root down
        node = root
        while True:
            a = node.select(c_puct, fpu)
            path.append((node, a))
            child = node.child(a)
            if child.terminal or not child.expanded:
                leaf = child
                break
            node = child

        # evaluate the leaf, for the player to move at the leaf
        if leaf.terminal:
            v = leaf.terminal_value()  # no network call
        else:
            leaf_logits, v = _call_network(evaluate, leaf)
            leaf.expand(leaf_logits)

        # back up: the edge into a child whose value (child's mover's view) is v gets
        # N += 1, W += -v, and -v is passed up
        for parent, a in reversed(path):
            parent.N[a] += 1
            parent.W[a] += -v
            v = -v

    visits = list(root.N)
    q = [root.W[a] / root.N[a] if root.N[a] > 0 else 0.0 for a in range(cols)]
    value = sum(root.W) / simulations if simulations > 0 else 0.0
    return {"visits": visits, "q": q, "value": value, "network_value": network_value}


def reference_act(visits) -> int:
    """The most visited column; ties go to the lowest index."""
    best = 0
    for a in range(len(visits)):
        if visits[a] > visits[best]:
            best = a
    return best
