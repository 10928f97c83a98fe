"""benchmarks/perfect_lines.py: the first move off the win in games seated first against perfect."""
from __future__ import annotations

import pytest

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")

from benchmarks.perfect_lines import first_misses, main  # noqa: E402
from src.opponents import make_opponent  # noqa: E402
from src.opponents.solver import SOLVER_GEOMETRY, Solver  # noqa: E402
from src.training.accuracy import _play  # noqa: E402


def test_perfect_seated_first_wins_every_game_and_never_misses():
    games = first_misses(make_opponent("perfect", SOLVER_GEOMETRY, "cpu", None, 1), 6, seed=0)
    assert [g["result"] for g in games] == ["W"] * 6 and all(g["miss"] is None for g in games)


def test_every_game_not_won_holds_a_first_miss_from_a_won_position():
    games = first_misses(make_opponent("heuristic", SOLVER_GEOMETRY, "cpu", None, 3), 12, seed=0)
    assert {g["result"] for g in games} - {"W"}, "the heuristic should lose some games to perfect"
    solver = Solver()
    for g in games:
        if g["result"] != "W":
            assert g["miss"] is not None
        m = g["miss"]
        if m is None:
            continue
        # replay the line independently of the tool's bookkeeping: the position is won, the move is not
        cur = mask = 0
        for col in m["line"]:
            cur, mask = _play(cur, mask, col, SOLVER_GEOMETRY)
        assert len(m["line"]) == m["ply"] and m["ply"] % 2 == 0 and g["line"][:m["ply"]] == m["line"]
        scores = solver.scores(cur, mask)
        assert max(scores) > 0 and scores[m["move"]] <= 0 and g["line"][m["ply"]] == m["move"]
        # and every earlier move of the player kept the win
        c = k = 0
        for ply, col in enumerate(m["line"]):
            if ply % 2 == 0:
                assert solver.scores(c, k)[col] > 0
            c, k = _play(c, k, col, SOLVER_GEOMETRY)


def test_the_command_line_prints_results_and_positions(capsys):
    assert main(["heuristic", "--games", "4"]) == 0
    out = capsys.readouterr().out
    assert "seated first against perfect, 4 games: win" in out and "first move off the win, by ply" in out
    assert main(["perfect", "--games", "2"]) == 0
    out = capsys.readouterr().out
    assert "win 2  draw 0  loss 0" in out and "0 distinct positions" in out
    assert "plies 0-11: 12 moves from won positions, 1.000 of them kept the win" in out
