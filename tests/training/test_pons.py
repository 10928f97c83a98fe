"""Pascal Pons' benchmark sets (parsing checked by the solver) and games against ``perfect`` per seat."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.geometry import Geometry
from src.training import accuracy, pons
from tests.games.reference import check_reachable, decode, winner

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")


N = 8  # positions per set in these tests: the solver takes up to a second for an opening position


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """One private label cache for the module: each set's first N positions are labelled once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("C4ENGINE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    mp.setattr(pons, "_MEMORY", {})
    mp.setattr(accuracy, "_MEMORY", {})
    yield
    mp.undo()


def reference_position(moves: str) -> np.ndarray:
    """Drop the stones by hand: int8 [6, 7], row 0 at the bottom, 1 = first player, 2 = second."""
    board = np.zeros((6, 7), dtype=np.int8)
    for i, ch in enumerate(moves):
        c = int(ch) - 1
        r = int((board[:, c] != 0).sum())
        board[r, c] = 1 + i % 2
    return board


def test_the_six_files_hold_1000_lines_each_and_parse_to_the_positions_dropped_by_hand():
    for name, _ in pons.SETS:
        lines = (pons.DATA_DIR / name).read_text().splitlines()
        assert len(lines) == 1000
        cur, mask, ply, score = pons.read_set(name, 40)
        for line, c, m, p in zip(lines, cur.tolist(), mask.tolist(), ply.tolist()):
            moves = line.split()[0]
            board = decode(c, m, 6, 7)  # 1 = side to move
            mover = 1 + len(moves) % 2  # the first player moves after an even number of stones
            expected = reference_position(moves)
            assert np.array_equal(np.where(board == 0, 0, np.where(board == 1, mover, 3 - mover)), expected)
            assert p == len(moves) and winner(board) == 0
            check_reachable(board)


def test_the_solver_scores_every_parsed_position_as_the_file_does():
    # benchmark_set refuses a set where they differ; check it here too, independently
    for name, _ in pons.SETS:
        ps = pons.benchmark_set(name, N)
        _, _, _, file_scores = pons.read_set(name, N)
        assert np.array_equal(ps.scores.max(axis=1), file_scores)


def test_a_wrong_score_or_a_malformed_line_is_refused(tmp_path):
    lines = (pons.DATA_DIR / "Test_L3_R1").read_text().splitlines()[:3]
    moves, score = lines[1].split()
    (tmp_path / "Test_L3_R1").write_text("\n".join([lines[0], f"{moves} {int(score) + 2}", lines[2]]) + "\n")
    with pytest.raises(pons.BenchmarkError, match="position 2"):
        pons.benchmark_set("Test_L3_R1", 3, data_dir=tmp_path)
    for bad, message in (("1234 x", "expected '<moves> <score>'"), ("1111111 0", "full column"),
                         ("1212121 0", "wins the game"), ("8 0", "off the board")):
        with pytest.raises(pons.BenchmarkError, match=message):
            pons.parse_line(bad, "here")


def test_the_perfect_player_keeps_every_score_and_a_random_one_does_not():
    from src.opponents import make_opponent

    r = pons.measure_pons(make_opponent("perfect", seed=0), positions=N)
    assert r["perfect"]["value"] == 1.0 and r["good"]["value"] == 1.0
    assert [s["file"] for s in r["sets"].values()] == [n for n, _ in pons.SETS]
    assert all(s["positions"] == N for s in r["sets"].values())
    rnd = pons.measure_pons(make_opponent("random", seed=0), positions=N)
    assert rnd["perfect"]["value"] < 0.6 and rnd["perfect"]["ci95"][0] <= rnd["perfect"]["value"] <= rnd["perfect"]["ci95"][1]
    lines = pons.format_pons(r)
    assert len(lines) == 8 and lines[-1].split()[:3] == ["all", "six", str(6 * N)]


class Recorder:
    """Passes ``act`` through and keeps every move it returned."""

    def __init__(self, player):
        self.player, self.moves = player, []

    def act(self, cur, mask, active=None):
        out = self.player.act(cur, mask)
        self.moves.append(out.clone())
        return out


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_backend_players_shares_agree_with_judging_its_moves_against_the_files_scores(backend):
    from src.opponents import make_opponent

    player = Recorder(make_opponent("heuristic", backend=backend, seed=3))
    r = pons.measure_pons(player, positions=N)
    for (name, label), moves in zip(pons.SETS, player.moves):
        scores = pons.benchmark_set(name, N).scores  # the solver's, checked against the file's
        _, _, _, file_scores = pons.read_set(name, N)
        chosen = [int(s[m]) for s, m in zip(scores.tolist(), moves.tolist())]
        best = sum(c == f for c, f in zip(chosen, file_scores.tolist()))
        good = sum(np.sign(c) == np.sign(f) for c, f in zip(chosen, file_scores.tolist()))
        assert r["sets"][label]["perfect"]["value"] == round(best / N, 4)
        assert r["sets"][label]["good"]["value"] == round(good / N, 4)
    assert r["perfect"]["value"] == round(np.mean([s["perfect"]["value"] for s in r["sets"].values()]), 4)


# -- games against perfect, per seat --------------------------------------------------------------
def test_perfect_against_perfect_wins_seated_first_and_lasts_41_plies_from_both_seats():
    from src.cli.players import OpponentAsAgent
    from src.opponents import make_opponent
    from src.training.evaluation import perfect_games

    g = Geometry()
    agent = OpponentAsAgent(make_opponent("perfect", g, "cpu", None, 5), g)
    r = perfect_games(agent, g, torch.device("cpu"), games=1, seed=1)
    assert r["first"]["win"] == 1.0 and r["second"]["loss"] == 1.0
    assert r["first"]["mean_plies"] == 41.0 and r["second"]["mean_plies"] == 41.0


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_weak_agent_loses_every_game_seated_second_and_sooner(backend):
    from src.cli.players import OpponentAsAgent
    from src.opponents import make_opponent
    from src.training.evaluation import perfect_games

    g = Geometry()
    agent = OpponentAsAgent(make_opponent("heuristic", g, "cpu", backend, 2), g)
    r = perfect_games(agent, g, torch.device("cpu"), games=6, seed=0)
    assert r["games"] == 6 and r["first"]["games"] == 6 and r["second"]["games"] == 6
    assert r["second"]["loss"] == 1.0 and r["first"]["loss"] == 1.0  # perfect wins from either seat against it
    assert 7 <= r["second"]["mean_plies"] < 41 and r["first"]["mean_plies"] < 41


# -- in the eval section: status.json, metrics.jsonl, runs show and its plot -----------------------
def test_perfect_games_and_pons_in_each_evaluation_reach_status_metrics_show_and_plot(tmp_path):
    import json
    import subprocess
    import sys

    from src.runs.rundir import RunDir
    from src.training.run import run
    from tests.training.helpers import REPO, tiny_config, write_config

    cfg = tiny_config(train={"total_steps": 256},
                      eval={"interval": 256, "opponents": [], "perfect_games": 1, "benchmark": "pons",
                            "benchmark_positions": N})
    rd = RunDir(run(write_config(tmp_path / "c.yaml", cfg), tmp_path / "run", progress=False))
    evals = [r for r in rd.read_metrics() if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [256]
    pg, bench = evals[0]["perfect_games"], evals[0]["benchmark"]["pons"]
    for seat in ("first", "second"):
        assert pg[seat]["games"] == 1 and pg[seat]["win"] + pg[seat]["draw"] + pg[seat]["loss"] == 1
        assert 7 <= pg[seat]["mean_plies"] <= 42
    assert pg["first"]["loss"] == 1.0  # perfect seated first beats an untrained agent
    assert bench["positions"] == N and [s["positions"] for s in bench["sets"].values()] == [N] * 6
    status = json.loads((rd.path / "status.json").read_text())
    assert status["eval"]["perfect_games"] == pg and status["eval"]["benchmark"]["pons"] == bench

    def runs(*args):
        return subprocess.run([sys.executable, "-m", "src.cli.runs", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    out = runs("show", rd.path)
    assert out.returncode == 0, out.stderr
    assert "seated second" in out.stdout and "benchmark pons" in out.stdout and "begin-hard" in out.stdout
    assert "1 games per seat vs perfect" in out.stdout
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    assert runs("show", rd.path, "--plot", png).returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("section, key, message", [
    ({"benchmark": "ponz"}, "eval.benchmark", "must be one of pons"),
    ({"benchmark_positions": 1001}, "eval.benchmark_positions", "1000"),
    ({"perfect_games": -1}, "eval.perfect_games", ""),
])
def test_bad_eval_measures_name_their_key(section, key, message):
    from src.config.schema import ConfigError
    from src.training.config import validate_config
    from tests.training.helpers import tiny_config

    with pytest.raises(ConfigError, match=key) as e:
        validate_config(tiny_config(eval={"opponents": [], **section}))
    assert message in str(e.value)


def test_games_against_perfect_on_another_board_size_name_the_key():
    from src.config.schema import ConfigError
    from src.training.config import validate_config
    from tests.training.helpers import tiny_config

    with pytest.raises(ConfigError, match="eval.perfect_games.*6x7"):
        validate_config(tiny_config(game={"params": {"rows": 5, "cols": 6}}, eval={"opponents": [], "perfect_games": 2}))
