"""Checks of the one-game reference search itself (tests/agents/reference_mcts.py), on
hand-drawn boards. In the pictures ``x`` is the side to move at the root, ``o`` the other side."""
import math

import numpy as np
import pytest

from tests.agents.reference_mcts import reference_act, reference_search
from tests.games.reference import check_reachable, decode, encode, parse, winner, wins_at


def position(picture: str) -> tuple[int, int, int, int]:
    """(cur, mask, rows, cols) of a hand-drawn, reachable, unfinished board with x to move."""
    board = parse(picture)
    check_reachable(board)
    assert winner(board) == 0
    cur, mask = encode(board)
    return cur, mask, board.shape[0], board.shape[1]


class Net:
    """A fake network that refuses terminal positions and logs every position it is shown.

    ``logits(board)`` and ``value(board)`` get the decoded board (1 = side to move there)."""

    def __init__(self, rows, cols, logits=None, value=None):
        self.rows, self.cols = rows, cols
        self.logits = logits or (lambda board: [0.0] * cols)
        self.value = value or (lambda board: 0.0)
        self.calls = []  # decoded boards, in call order

    def __call__(self, cur, mask):
        board = decode(cur, mask, self.rows, self.cols)
        assert winner(board) == 0, f"evaluate called on a won position:\n{board[::-1]}"
        assert not np.all(board != 0), f"evaluate called on a full board:\n{board[::-1]}"
        self.calls.append(board)
        return self.logits(board), self.value(board)


def search(picture, simulations, **kw):
    cur, mask, rows, cols = position(picture)
    net = kw.pop("net", None) or Net(rows, cols)
    result = reference_search(cur, mask, net, simulations, rows=rows, cols=cols, **kw)
    assert sum(result["visits"]) == simulations
    return result, net


def moves_that_win_now(picture):
    board = parse(picture)
    wins = []
    for c in range(board.shape[1]):
        row = int(np.count_nonzero(board[:, c]))
        if row < board.shape[0]:
            after = board.copy()
            after[row, c] = 1
            if wins_at(after, row, c):
                wins.append(c)
    return wins


# x wins at once in column 3 (bottom row); o has nothing
WIN_IN_ONE = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    o . . . . . .
    o . . . . . .
    x x x . o . .
"""

# o threatens to win in column 3; x has no win of its own
MUST_BLOCK = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    x x . . . . .
    o o o . . . x
"""

# only column 2 wins by force: it makes . x x x . on the bottom row, open at both ends
# (columns 0 and 4); o can block one end, x wins at the other on its next move
WIN_IN_THREE = """
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . . . . . . .
    . o . o . . .
    . x . x . . .
"""

# columns 0, 3, 4 and 6 are full; 1, 2 and 5 are empty
FULL_COLUMNS = """
    o . . x o . x
    x . . x o . o
    o . . o x . x
    x . . o x . o
    o . . x o . x
    x . . x o . o
"""


def test_pictures_say_what_they_claim():
    assert moves_that_win_now(WIN_IN_ONE) == [3]
    assert moves_that_win_now(MUST_BLOCK) == []
    assert moves_that_win_now(WIN_IN_THREE) == []
    # o (the other side) wins at column 3 in MUST_BLOCK
    swapped = MUST_BLOCK.replace("x", "t").replace("o", "x").replace("t", "o")
    assert moves_that_win_now(swapped) == [3]


def test_plays_an_immediate_win():
    result, _ = search(WIN_IN_ONE, 100)
    assert reference_act(result["visits"]) == 3
    assert result["visits"][3] > 80
    assert result["q"][3] == 1.0  # every visit backs up the exact win


def test_blocks_the_opponents_immediate_win():
    result, _ = search(MUST_BLOCK, 200)
    assert reference_act(result["visits"]) == 3
    assert result["visits"][3] > 100


def test_finds_a_forced_win_three_plies_deep():
    result, _ = search(WIN_IN_THREE, 300)
    assert reference_act(result["visits"]) == 2
    assert result["visits"][2] > 200
    assert result["q"][2] > 0.9


def test_full_columns_never_get_visits_even_with_huge_logits():
    full = [0, 3, 4, 6]
    cur, mask, rows, cols = position(FULL_COLUMNS)
    net = Net(rows, cols, logits=lambda board: [50.0 if c in full else 0.0 for c in range(cols)])
    for sims in (1, 7, 200):
        result, _ = search(FULL_COLUMNS, sims, net=net)
        assert [result["visits"][c] for c in full] == [0, 0, 0, 0]
        assert [result["q"][c] for c in full] == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("sims", [0, 1, 2, 5, 50, 123])
def test_visits_add_up_to_simulations(sims):
    for picture in (WIN_IN_ONE, MUST_BLOCK, WIN_IN_THREE, FULL_COLUMNS):
        result, net = search(picture, sims)  # search() asserts the sum
        assert all(v >= 0 for v in result["visits"])
        assert len(net.calls) <= sims + 1


def test_zero_simulations_still_calls_the_network_once_for_the_root():
    cur, mask, rows, cols = position(WIN_IN_ONE)
    net = Net(rows, cols, value=lambda board: 0.375)
    result, _ = search(WIN_IN_ONE, 0, net=net)
    assert len(net.calls) == 1
    assert result == {"visits": [0] * 7, "q": [0.0] * 7, "value": 0.0, "network_value": 0.375}


def test_a_root_with_no_legal_move_is_not_searched():
    full = "x o x \n o x o"
    net = Net(2, 3)
    result, _ = search(full, 0, net=net)
    assert net.calls == []
    assert result == {"visits": [0, 0, 0], "q": [0.0] * 3, "value": 0.0, "network_value": 0.0}
    with pytest.raises(AssertionError):  # search() insists the visits add up to the simulations
        search(full, 5, net=net)


def test_one_simulation_goes_where_the_formula_says():
    # legal columns 1, 2, 5 with logits 0, 1, 1 (the full columns' logit 10 is ignored):
    #   P(1) = 1 / (1 + 2e) = 0.1554,  P(2) = P(5) = e / (1 + 2e) = 0.4223
    # with no visits yet, score(a) = fpu + 1.25 * P(a) * sqrt(1 + 0) / (1 + 0) = 1.25 * P(a):
    #   col 1: 0.1942, col 2: 0.5279, col 5: 0.5279 -> tie, the lower index: column 2.
    # The child says v = 0.5 for o, so the edge gets N = 1, W = -0.5.
    cur, mask, rows, cols = position(FULL_COLUMNS)
    root_logits = [10.0, 0.0, 1.0, 10.0, 10.0, 1.0, 10.0]

    def logits(board):
        return root_logits

    def value(board):
        return 0.3 if encode(board) == (cur, mask) else 0.5

    net = Net(rows, cols, logits=logits, value=value)
    result, _ = search(FULL_COLUMNS, 1, net=net)
    assert result["visits"] == [0, 0, 1, 0, 0, 0, 0]
    assert result["q"] == [0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0]
    assert result["value"] == -0.5
    assert result["network_value"] == 0.3
    # the child evaluated is the root with an x stone at the bottom of column 2, seen from o's side
    child = parse(FULL_COLUMNS)
    child[0, 2] = 1
    child = np.where(child == 1, 2, np.where(child == 2, 1, 0))
    assert len(net.calls) == 2 and np.array_equal(net.calls[1], child)


def test_priors_are_normalised_over_the_legal_columns_only():
    # Same root logits as above, at every node: P(1) = 0.15536, P(2) = P(5) = 0.42232 (a softmax
    # over all 7 columns would make them ~1e-4 and let Q alone decide). Values: -0.5 one ply
    # below the root, +0.5 two plies below (for the player to move there), so every backup
    # adds W += +0.5 to the root edge it went through.
    # sim 1: 1.25 * P -> col 2 (tie with 5, lower index); leaf = child, v = -0.5 -> N2 = 1, W2 = 0.5
    # sim 2: sqrt(2) = 1.41421. col 2: 0.5 + 1.25*0.42232*1.41421/2 = 0.87327;
    #        col 5: 1.25*0.42232*1.41421 = 0.74655; col 1: 1.25*0.15536*1.41421 = 0.27464 -> col 2,
    #        expanded: descend (inside it col 2 again, all unvisited); the grandchild says +0.5,
    #        the child's edge gets W += -0.5, the root edge W += +0.5 -> N2 = 2, W2 = 1
    # sim 3: sqrt(3) = 1.73205. col 2: 0.5 + 1.25*0.42232*1.73205/3 = 0.80479;
    #        col 5: 1.25*0.42232*1.73205 = 0.91435; col 1: 0.33636 -> col 5: N5 = 1, W5 = 0.5
    cur, mask, rows, cols = position(FULL_COLUMNS)
    root_logits = [10.0, 0.0, 1.0, 10.0, 10.0, 1.0, 10.0]
    root_stones = bin(mask).count("1")

    def value(board):
        plies = int(np.count_nonzero(board)) - root_stones
        return {0: 0.0, 1: -0.5, 2: 0.5}[plies]

    expected = [[0, 0, 1, 0, 0, 0, 0], [0, 0, 2, 0, 0, 0, 0], [0, 0, 2, 0, 0, 1, 0]]
    for sims, visits in enumerate(expected, start=1):
        net = Net(rows, cols, logits=lambda board: root_logits, value=value)
        result, _ = search(FULL_COLUMNS, sims, net=net)
        assert result["visits"] == visits, sims
    assert result["q"] == [0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0]
    assert result["value"] == pytest.approx(0.5)


def test_root_noise_is_mixed_into_the_priors():
    # uniform logits over legal 1, 2, 5: P = 1/3 each. noise (0.2 on 1, 0.8 on 5), eps = 0.25:
    #   P'(1) = 0.75/3 + 0.25*0.2 = 0.30, P'(2) = 0.25, P'(5) = 0.75/3 + 0.25*0.8 = 0.45
    # one simulation -> argmax 1.25 * P' -> column 5 (without noise it would be column 1)
    noise = [0.0, 0.2, 0.0, 0.0, 0.0, 0.8, 0.0]
    assert search(FULL_COLUMNS, 1)[0]["visits"] == [0, 1, 0, 0, 0, 0, 0]
    assert search(FULL_COLUMNS, 1, root_noise=noise)[0]["visits"] == [0, 0, 0, 0, 0, 1, 0]
    # eps = 0.1: P'(1) = 0.9/3 + 0.1*0.2 = 0.32, P'(2) = 0.30, P'(5) = 0.9/3 + 0.1*0.8 = 0.38 -> column 5
    assert search(FULL_COLUMNS, 1, root_noise=noise, eps=0.1)[0]["visits"] == [0, 0, 0, 0, 0, 1, 0]
    # eps = 0: the noise changes nothing
    assert search(FULL_COLUMNS, 1, root_noise=noise, eps=0.0)[0]["visits"] == [0, 1, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError):
        search(FULL_COLUMNS, 1, root_noise=[0.5, 0.5, 0, 0, 0, 0, 0])  # noise on a full column


def test_hand_computed_visit_sequence_at_the_root():
    # WIN_IN_ONE (column 3 wins at once). Root logits [ln 4, 0, 0, 0, 0, 0, 0]:
    #   P(0) = 4/10 = 0.4, P(1..6) = 0.1 each. Every other position's value is 0.5 (for o,
    #   the player to move there), so each non-winning child's edge gets W += -0.5. c = 1.25.
    # sim 1: sum N = 0, sqrt(1) = 1. score = 1.25 * P: col 0 0.5, others 0.125 -> col 0.
    #        N0 = 1, W0 = -0.5
    # sim 2: sqrt(2) = 1.4142. col 0: -0.5 + 1.25*0.4*1.4142/2 = -0.1464;
    #        cols 1..6: 0 + 1.25*0.1*1.4142/1 = 0.1768 (tie, lowest) -> col 1. N1 = 1, W1 = -0.5
    # sim 3: sqrt(3) = 1.7321. col 0: -0.5 + 0.5*1.7321/2 = -0.0670; col 1: -0.5 + 0.125*1.7321/2
    #        = -0.3917; cols 2..6: 0.125*1.7321 = 0.2165 -> col 2. N2 = 1, W2 = -0.5
    # sim 4: sqrt(4) = 2. col 0: -0.5 + 0.5*2/2 = 0; cols 1, 2: -0.5 + 0.125*2/2 = -0.375;
    #        cols 3..6: 0.125*2 = 0.25 -> col 3, a won terminal: v = -1, N3 = 1, W3 = +1
    # sim 5: sqrt(5) = 2.2361. col 0: -0.5 + 0.5*2.2361/2 = 0.0590; col 3: 1 + 0.125*2.2361/2
    #        = 1.1398; cols 4..6: 0.125*2.2361 = 0.2795 -> col 3 again. N3 = 2, W3 = +2
    # value after 5: (-0.5*3 + 2) / 5 = 0.1
    cur, mask, rows, cols = position(WIN_IN_ONE)

    def logits(board):
        return [math.log(4.0), 0, 0, 0, 0, 0, 0] if encode(board) == (cur, mask) else [0.0] * 7

    def value(board):
        return -0.25 if encode(board) == (cur, mask) else 0.5

    expected = [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 2, 0, 0, 0],
    ]
    for sims, visits in enumerate(expected, start=1):
        net = Net(rows, cols, logits=logits, value=value)
        result, _ = search(WIN_IN_ONE, sims, net=net)
        assert result["visits"] == visits, sims
        assert len(net.calls) == 1 + min(sims, 3)  # the root, then cols 0, 1, 2; never col 3
    assert result["q"] == [-0.5, -0.5, -0.5, 1.0, 0.0, 0.0, 0.0]
    assert result["value"] == pytest.approx(0.1, abs=1e-12)
    assert result["network_value"] == -0.25


def test_hand_computed_visit_sequence_two_levels_deep():
    # An empty 2-row, 3-column board (nobody can make four; a full board is a draw).
    # Uniform logits: P = 1/3 everywhere, c * P = 1.25/3 = 0.4167. Every network value is -0.6
    # (for the player to move at the evaluated position).
    # sim 1: all unvisited, score 0.4167 each -> col 0 (lowest). Child "x in col 0" is new:
    #        v = -0.6 -> root edge 0: N = 1, W = +0.6
    # sim 2: sqrt(2) = 1.4142. col 0: 0.6 + 0.4167*1.4142/2 = 0.8357; cols 1, 2: 0.4167*1.4142
    #        = 0.5893 -> col 0, now expanded: select inside it (no visits, uniform) -> its col 0.
    #        Grandchild "x col 0, o on top" is new: v = -0.6. Back up: child's edge 0 gets
    #        W += +0.6, passes +0.6 up; root edge 0 gets W += -0.6 -> N0 = 2, W0 = 0
    # sim 3: sqrt(3) = 1.7321. col 0: 0 + 0.4167*1.7321/3 = 0.2406; cols 1, 2: 0.4167*1.7321
    #        = 0.7217 -> col 1 (new, v = -0.6): N1 = 1, W1 = +0.6
    # sim 4: sqrt(4) = 2. col 0: 0 + 0.4167*2/3 = 0.2778; col 1: 0.6 + 0.4167*2/2 = 1.0167;
    #        col 2: 0.4167*2 = 0.8333 -> col 1, expanded: inside it -> its col 0 (all tied).
    #        Grandchild "x col 1, o col 0" is new: v = -0.6 -> N1 = 2, W1 = 0
    # sim 5: sqrt(5) = 2.2361. cols 0, 1: 0 + 0.4167*2.2361/3 = 0.3106; col 2: 0.4167*2.2361
    #        = 0.9317 -> col 2 (new): N2 = 1, W2 = +0.6
    # root value after 5: (0 + 0 + 0.6) / 5 = 0.12
    empty = ". . .\n. . ."
    expected = [[1, 0, 0], [2, 0, 0], [2, 1, 0], [2, 2, 0], [2, 2, 1]]
    for sims, visits in enumerate(expected, start=1):
        net = Net(2, 3, value=lambda board: -0.6)
        result, _ = search(empty, sims, net=net)
        assert result["visits"] == visits, sims
    assert result["q"] == [0.0, 0.0, pytest.approx(0.6)]
    assert result["value"] == pytest.approx(0.12)
    assert result["network_value"] == -0.6
    # the positions the network saw, in order (1 = the side to move there, rows bottom first)
    seen = [b.tolist() for b in net.calls]
    assert seen == [
        [[0, 0, 0], [0, 0, 0]],  # root
        [[2, 0, 0], [0, 0, 0]],  # sim 1: x in col 0 (o to move)
        [[1, 0, 0], [2, 0, 0]],  # sim 2: then o on top of it (x to move)
        [[0, 2, 0], [0, 0, 0]],  # sim 3: x in col 1
        [[2, 1, 0], [0, 0, 0]],  # sim 4: then o in col 0
        [[0, 0, 2], [0, 0, 0]],  # sim 5: x in col 2
    ]


def tree_below(board, mover=1):
    """Brute force over every line of play from ``board``: (non-terminal positions, won
    terminals, drawn terminals) below it, counted as tree nodes (transpositions counted again)."""
    inner = won = drawn = 0
    for c in range(board.shape[1]):
        row = int(np.count_nonzero(board[:, c]))
        if row == board.shape[0]:
            continue
        after = board.copy()
        after[row, c] = mover
        if wins_at(after, row, c):
            won += 1
        elif np.all(after != 0):
            drawn += 1
        else:
            i, w, d = tree_below(after, 3 - mover)
            inner, won, drawn = inner + 1 + i, won + w, drawn + d
    return inner, won, drawn


def test_evaluate_is_never_called_on_terminal_positions():
    # A nearly full 4x4 board whose whole game tree is small and full of terminal positions,
    # both wins and full boards. Net (see above) fails the test if it is shown a won or full
    # position; with many more simulations than the tree has nodes, every node is reached
    # and each non-terminal one is evaluated at most once (the root included).
    picture = """
        . . . .
        . o . x
        o x x o
        x o o x
    """
    inner, won, drawn = tree_below(parse(picture))
    assert (inner, won > 0, drawn > 0) == (280, True, True)
    result, net = search(picture, 1500)
    assert len(net.calls) <= 1 + inner  # far fewer than one per simulation
    assert sum(result["visits"]) == 1500


def test_a_finished_root_is_refused():
    won = parse("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o . . . . . .
        o . . . . . .
        x x x x o . o
    """)
    cur, mask = encode(won, mover=2)  # o to move after x's four
    with pytest.raises(ValueError):
        reference_search(cur, mask, Net(6, 7), 10)


def test_reference_act_takes_the_most_visited_lowest_index_on_ties():
    assert reference_act([0, 3, 1, 3, 0, 0, 0]) == 1
    assert reference_act([5, 0, 0, 0, 0, 0, 5]) == 0
    assert reference_act([0, 0, 0, 0, 0, 0, 1]) == 6
