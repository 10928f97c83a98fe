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
        # MCTS-Solver: the exact value for the player to move here once known (a finished game's
        # at once), and the plies from here to the game's end along the proof
        self.proven: float | None = self.terminal_value() if self.terminal else None
        self.proof_plies = 0

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
        Q = W/N when visited, fpu otherwise, and the exact value of a proven child (for the
        player to move here: minus the child's); ties go to the lowest column index."""
        total_visits = sum(self.N)
        best_col, best_score = None, None
        for a in self.legal_columns():  # increasing column order
            kid = self.children.get(a)
            if kid is not None and kid.proven is not None:
                q = 0.0 - kid.proven
            else:
                q = self.W[a] / self.N[a] if self.N[a] > 0 else fpu
            score = q + c_puct * self.P[a] * math.sqrt(1 + total_visits) / (1 + self.N[a])
            if best_score is None or score > best_score:  # strict: an equal score keeps the lower column
                best_col, best_score = a, score
        return best_col

    def try_to_prove(self) -> bool:
        """MCTS-Solver: this node is won if some move leads to a child proven lost (for the
        child's player to move), and, once every legal move's child is proven, worth the best of
        the moves' exact values. The proof's length: a win takes its shortest proven line, a
        draw or loss the longest of its best moves (the losing side holds out longest).
        Returns whether the node is proven now."""
        outcome = {a: 0.0 - kid.proven for a, kid in self.children.items() if kid.proven is not None}
        winning = [a for a, v in outcome.items() if v == 1.0]
        if winning:
            self.proven = 1.0
            self.proof_plies = 1 + min(self.children[a].proof_plies for a in winning)
            return True
        if outcome and set(outcome) == set(self.legal_columns()):
            best = max(outcome.values())
            self.proven = best
            self.proof_plies = 1 + max(self.children[a].proof_plies for a, v in outcome.items() if v == best)
            return True
        return False


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
    solver: bool = False,
    gumbel=None,
    considered: int = 16,
    c_visit: float = 50.0,
    c_scale: float = 0.1,
) -> dict:
    """PUCT search of one position, exactly as ``docs/mcts.md`` defines it.

    ``evaluate(cur, mask) -> (logits [cols], value)`` is the network, called once for the root
    and once per non-terminal leaf, never on a terminal position. ``root_noise``: an already
    drawn Dirichlet sample over the legal columns (0 elsewhere), mixed into the root priors as
    ``(1 - eps) * P + eps * noise``.

    ``solver``: MCTS-Solver as ``docs/mcts.md`` defines it (proven children's exact values in
    Q, descents stop at proven nodes, proofs backed up).

    ``gumbel``: Gumbel root search as ``docs/mcts.md`` defines it, with this per-column Gumbel
    noise (zeros: the deterministic search), ``considered`` actions, ``c_visit`` and
    ``c_scale``; the output then also has ``"gumbel_action"`` and ``"improved_policy"``.

    Returns ``{"visits": list[int], "q": list[float], "value": float, "network_value": float}``,
    with ``solver`` also ``"proven"`` (per column: the proven outcome of playing it for the
    side to move, None where unproven), ``"plies"`` (per column: plies to the end along the
    proof, the move included; 0 where unproven) and ``"root_proven"`` (the root's exact value
    or None; ``value`` is then that value).
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

    schedule = None
    if gumbel is not None:
        schedule = halving_schedule(min(considered, len(root.legal_columns())), simulations)
    for k in range(simulations):
        # select: descend from the root until the first child that is terminal or not expanded
        path: list[tuple[Node, int]] = []  # edges (node, column) from the root down
        node = root
        while True:
            if node is root and schedule is not None:
                a = gumbel_root_choice(root, gumbel, network_value, c_visit, c_scale, schedule[k])
            else:
                a = node.select(c_puct, fpu)
            path.append((node, a))
            child = node.child(a)
            if child.terminal or not child.expanded or child.proven is not None:
                leaf = child
                break
            node = child

        # evaluate the leaf, for the player to move at the leaf
        if leaf.proven is not None:
            v = leaf.proven  # a finished game, or a proven node: no network call
        else:
            leaf_logits, v = _call_network(evaluate, leaf)
            leaf.expand(leaf_logits)

        # back up: the edge into a child whose value (child's mover's view) is v gets
        # N += 1, W += -v, and -v is passed up; with the solver, while the child is proven the
        # parent may be proven too, and then passes its exact value up instead
        chain = solver and leaf.proven is not None
        for parent, a in reversed(path):
            parent.N[a] += 1
            parent.W[a] += -v
            if chain and parent.try_to_prove():
                v = parent.proven
            else:
                chain = False
                v = -v

    visits = list(root.N)
    q = [root.W[a] / root.N[a] if root.N[a] > 0 else 0.0 for a in range(cols)]
    value = sum(root.W) / simulations if simulations > 0 else 0.0
    out = {"visits": visits, "q": q, "value": value, "network_value": network_value}
    if solver:
        kids = [root.children.get(a) for a in range(cols)]
        out["proven"] = [None if k is None or k.proven is None else 0.0 - k.proven for k in kids]
        out["plies"] = [0 if k is None or k.proven is None else 1 + k.proof_plies for k in kids]
        out["root_proven"] = root.proven
        out["prior"] = list(root.P)
        if root.proven is not None:
            out["value"] = root.proven
    if gumbel is not None:
        sig = sigma(root, network_value, c_visit, c_scale)
        legal = root.legal_columns()
        most = max(root.N[a] for a in legal)
        top = [a for a in legal if root.N[a] == most]
        out["gumbel_action"] = max(top, key=lambda a: (gumbel[a] + math.log(root.P[a]) + sig[a], -a))
        z = {a: math.log(root.P[a]) + sig[a] for a in legal}
        zmax = max(z.values())
        e = {a: math.exp(v - zmax) for a, v in z.items()}
        total = sum(e.values())
        out["improved_policy"] = [e[a] / total if a in e else 0.0 for a in range(cols)]
    return out


def halving_schedule(m: int, n: int) -> list[int]:
    """Sequential halving of ``m`` actions over ``n`` simulations, as the visits each
    simulation's root action has before it. Each round gives every action still in
    floor(n / (ceil(log2 m) * alive)) visits (at least 1), one at a time in turn; then half of
    them stay (at least 2); the last round repeats until the budget is used up."""
    if m <= 1:
        return list(range(n))
    rounds = math.ceil(math.log2(m))
    counts = [0] * m  # the actions still in come first
    out: list[int] = []
    alive = m
    while len(out) < n:
        for _ in range(max(1, n // (rounds * alive))):
            for j in range(alive):
                out.append(counts[j])
                counts[j] += 1
        alive = max(2, alive // 2)
    return out[:n]


def _root_q(root: Node, a: int) -> float:
    kid = root.children.get(a)
    if kid is not None and kid.proven is not None:
        return 0.0 - kid.proven
    return root.W[a] / root.N[a] if root.N[a] > 0 else 0.0


def sigma(root: Node, network_value: float, c_visit: float, c_scale: float) -> dict[int, float]:
    """sigma(completed Q) per legal column: Q of the visited columns, the mixed value for the
    others, min-max rescaled over the legal columns, times (c_visit + max N) * c_scale."""
    legal = root.legal_columns()
    total = sum(root.N)
    visited = [a for a in legal if root.N[a] > 0]
    p_visited = sum(root.P[a] for a in visited)
    mixed = network_value
    if total > 0 and p_visited > 0:
        mixed = (network_value + total * sum(root.P[a] * _root_q(root, a) for a in visited) / p_visited) / (1 + total)
    completed = {a: _root_q(root, a) if root.N[a] > 0 else mixed for a in legal}
    lo, hi = min(completed.values()), max(completed.values())
    span = max(hi - lo, 1e-8)
    scale = (c_visit + max(root.N)) * c_scale
    return {a: scale * ((v - lo) / span) for a, v in completed.items()}


def gumbel_root_choice(root: Node, gumbel, network_value: float, c_visit: float, c_scale: float, want: int) -> int:
    """The root column of a Gumbel simulation: among the legal columns visited exactly ``want``
    times, the best by noise + log prior + sigma (lowest column on ties)."""
    sig = sigma(root, network_value, c_visit, c_scale)
    best, best_score = None, None
    for a in root.legal_columns():
        if root.N[a] != want:
            continue
        score = gumbel[a] + math.log(root.P[a]) + sig[a]
        if best is None or score > best_score:
            best, best_score = a, score
    if best is None:
        raise AssertionError(f"no legal column has {want} visits: the halving schedule is inconsistent")
    return best


def reference_act(visits) -> int:
    """The most visited column; ties go to the lowest index."""
    best = 0
    for a in range(len(visits)):
        if visits[a] > visits[best]:
            best = a
    return best


def reference_solver_act(result: dict, legal: list[int]) -> int:
    """The move ``docs/mcts.md`` has the solver's root play (deterministic): a proven win by its
    fewest plies; else the most visited move among those not proven lost; if every legal move
    is proven lost, the one that loses latest. Ties: the lowest column."""
    proven, plies, visits = result["proven"], result["plies"], result["visits"]
    wins = [a for a in legal if proven[a] == 1.0]
    if wins:
        return min(wins, key=lambda a: (plies[a], a))
    safe = [a for a in legal if proven[a] != -1.0]
    if not safe:
        return min(legal, key=lambda a: (-plies[a], a))
    if max(visits[a] for a in safe) == 0:  # the moves left were never searched: their priors decide
        return min(safe, key=lambda a: (-result["prior"][a], a))
    return min(safe, key=lambda a: (-visits[a], a))
