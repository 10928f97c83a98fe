"""Solver-judged accuracy: position sampling, labels, judging, intervals and the cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.geometry import Geometry
from src.training import accuracy as acc
from tests.games.reference import check_reachable, decode, encode, parse, winner

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("C4ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(acc, "_MEMORY", {})


def test_sampled_positions_are_reachable_unfinished_and_seeded():
    g = Geometry()
    cur, mask, ply = acc.sample_positions(300, seed=4, geometry=g)
    assert ply.min() >= 4 and ply.max() <= 24 and len(set(ply.tolist())) > 15
    for c, m, p in zip(cur.tolist(), mask.tolist(), ply.tolist()):
        board = decode(c, m, 6, 7)
        assert int((board > 0).sum()) == p
        check_reachable(board)  # no floating stones, the side to move has as many stones or one less
        assert int((board == 1).sum()) == p // 2  # the side to move has moved ply // 2 times
        assert winner(board) == 0  # nobody has four: the game is not over
    again = acc.sample_positions(300, seed=4, geometry=g)
    other = acc.sample_positions(300, seed=5, geometry=g)
    assert all(np.array_equal(a, b) for a, b in zip((cur, mask, ply), again))
    assert not np.array_equal(cur, other[0])


def test_wilson_interval_matches_closed_forms():
    lo, hi = acc.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1.96 ** 2 / (10 + 1.96 ** 2))  # k = 0: upper = z²/(n+z²)
    lo, hi = acc.wilson(50, 100)
    assert (lo, hi) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))  # 50/100: 0.404-0.596


def test_the_solver_as_a_player_is_perfect():
    from src.opponents import make_opponent

    ps = acc.position_set(150, seed=1)
    r = acc.measure(make_opponent("perfect", device="cpu", seed=0), ps)
    assert r["perfect"]["value"] == 1.0 and r["good"]["value"] == 1.0
    assert sum(b["positions"] for b in r["bands"].values()) == 150
    assert all(b["perfect"]["value"] == 1.0 for b in r["bands"].values() if b["positions"])


# Hand-made positions (x to move) and what a uniformly random player scores on them, worked out by hand.
EMPTY = "\n".join(["......."] * 6)
# x has three on the bottom row with both ends open: 0 and 4 win at once (the fastest wins, so
# 'perfect' = 2 of 7); any other move keeps the double threat (o has no threat of its own), so
# every move still wins: 'good' = 7 of 7.
X_DOUBLE_THREAT = """
.......
.......
.......
.......
......o
.xxx.oo
"""
# the mirror image for o: x cannot win now and o wins next move whatever x does, at the same ply,
# so every move is equally (and maximally) good: 'perfect' = 'good' = 7 of 7.
O_DOUBLE_THREAT = """
.......
.......
.......
.......
......x
.ooo.xx
"""
HAND = [  # picture, perfect columns, good columns (over 7 legal columns each)
    (EMPTY, {3}, {3}),  # only the centre opening wins for the first player
    (X_DOUBLE_THREAT, {0, 4}, set(range(7))),
    (O_DOUBLE_THREAT, set(range(7)), set(range(7))),
]


def _hand_set(copies: int) -> acc.PositionSet:
    words = []
    for picture, _, _ in HAND:
        board = parse(picture)
        check_reachable(board)
        words.append(encode(board))
    cur = np.array([w[0] for w in words] * copies, dtype=np.int64)
    mask = np.array([w[1] for w in words] * copies, dtype=np.int64)
    ply = np.array([bin(m).count("1") for m in mask], dtype=np.int8)
    return acc.PositionSet(cur, mask, ply, acc.label_positions(cur, mask), seed=0, geometry=Geometry())


def test_solver_labels_agree_with_the_hand_analysis():
    ps = _hand_set(1)
    for i, (_, perfect, good) in enumerate(HAND):
        for col in range(7):
            p, g = acc.judge(ps, np.full(ps.n, col))
            assert p[i] == (col in perfect) and g[i] == (col in good), (i, col, ps.scores[i])


def test_random_player_accuracy_matches_the_hand_computed_expectation():
    from src.opponents import make_opponent

    copies = 3000
    ps = _hand_set(copies)
    moves = make_opponent("random", device="cpu", backend="numba", seed=9).act(
        torch.from_numpy(ps.cur), torch.from_numpy(ps.mask)).numpy()
    perfect, good = acc.judge(ps, moves)
    for i, (_, p_cols, g_cols) in enumerate(HAND):
        for flags, cols in ((perfect, p_cols), (good, g_cols)):
            expected = len(cols) / 7
            got = flags[i::len(HAND)].mean()
            sigma = max((expected * (1 - expected) / copies) ** 0.5, 1e-9)
            assert abs(got - expected) <= 5 * sigma, (i, got, expected)
    # the overall shares are the means over the positions
    r = acc.summarize(ps, perfect, good)
    assert r["perfect"]["value"] == pytest.approx((1 / 7 + 2 / 7 + 1) / 3, abs=0.02)
    assert r["perfect"]["ci95"][0] < r["perfect"]["value"] < r["perfect"]["ci95"][1]


def test_illegal_or_out_of_range_moves_are_neither_perfect_nor_good():
    board = parse("""
    ...x...
    ...o...
    ...x...
    ...o...
    ...x...
    ...o...
    """)
    cur, mask = encode(board)
    ps = acc.PositionSet(np.array([cur] * 3), np.array([mask] * 3), np.array([6] * 3, np.int8),
                         acc.label_positions(np.array([cur] * 3), np.array([mask] * 3)), 0, Geometry())
    p, g = acc.judge(ps, np.array([3, 7, -1]))
    assert not p.any() and not g.any()


def test_labels_are_cached_on_disk_and_reused(tmp_path, monkeypatch):
    first = acc.position_set(40, seed=2)
    files = list((tmp_path / "cache" / "accuracy").glob("*.npz"))
    assert len(files) == 1 and "6x7_seed2_n40" in files[0].name
    monkeypatch.setattr(acc, "_MEMORY", {})

    def no_solver(*a, **k):
        raise AssertionError("the solver was asked again")

    monkeypatch.setattr(acc, "label_positions", no_solver)
    second = acc.position_set(40, seed=2)
    assert np.array_equal(first.scores, second.scores) and np.array_equal(first.cur, second.cur)
    assert acc.position_set(40, seed=2) is second  # and in memory from then on


def test_a_corrupt_cache_file_is_relabelled_and_replaced(tmp_path, capsys):
    first = acc.position_set(20, seed=3)
    path = next((tmp_path / "cache" / "accuracy").glob("*.npz"))
    path.write_bytes(b"not a zip file")
    acc._MEMORY.clear()
    again = acc.position_set(20, seed=3)
    assert "ignoring accuracy cache" in capsys.readouterr().err
    assert np.array_equal(first.scores, again.scores)
    acc._MEMORY.clear()
    assert np.array_equal(acc.position_set(20, seed=3).scores, first.scores)  # the rewritten file loads


def test_accuracy_refuses_other_board_sizes():
    with pytest.raises(ValueError, match="6x7 boards only"):
        acc.position_set(10, seed=0, geometry=Geometry(5, 6))
