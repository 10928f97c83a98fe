"""``python -m src.cli.evaluate PLAYER --accuracy N``: solver-judged accuracy from the command line."""
from __future__ import annotations

import re
import sys

import pytest

from tests.cli.test_play import checkpoint  # noqa: F401  (fixture)

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    from src.training import accuracy

    monkeypatch.setenv("C4ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(accuracy, "_MEMORY", {})


ROW = re.compile(r"^\s+(4-24|4-9|10-16|17-24)\s+(\d+)\s+([\d.]+) \[([\d.]+), ([\d.]+)\]\s+([\d.]+) \[([\d.]+), ([\d.]+)\]")


def rows(out: str) -> dict:
    found = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            n, p, plo, phi, g, glo, ghi = (float(x) for x in m.groups()[1:])
            found[m.group(1)] = dict(n=n, perfect=p, good=g)
            assert plo <= p <= phi and glo <= g <= ghi
    return found


def test_accuracy_of_a_checkpoint_overall_and_by_band(checkpoint, capsys):  # noqa: F811
    from src.cli.evaluate import main

    assert main([str(checkpoint), "--accuracy", "60"]) == 0
    out = capsys.readouterr().out
    table = rows(out)
    assert set(table) == {"4-24", "4-9", "10-16", "17-24"}
    assert table["4-24"]["n"] == 60 == sum(table[b]["n"] for b in ("4-9", "10-16", "17-24"))
    assert table["4-24"]["perfect"] <= table["4-24"]["good"]
    assert "games per opponent" not in out  # --accuracy alone plays no games


def test_the_perfect_player_scores_one_and_games_still_work(capsys):
    from src.cli.evaluate import main

    assert main(["perfect", "--accuracy", "40", "--opponents", "random", "--games", "4"]) == 0
    out = capsys.readouterr().out
    assert rows(out)["4-24"]["perfect"] == 1.0
    assert re.search(r"random\s+score 1\.0000", out)


@pytest.mark.parametrize("argv, message", [
    (["CKPT", "--accuracy", "-3"], "--accuracy must be a positive number"),
    (["CKPT", "--opponents", "solver:0"], "solver depth must be an integer from 1 to 42"),
    (["nothing/here.pt", "--accuracy", "5"], "checkpoint not found"),
    (["CKPT", "--opening-plies", "17"], "--opening-plies must be from 0 to 16"),
    (["CKPT", "--accuracy", "5", "--simulations", "8"], "a dqn agent does not search"),
    (["perfect", "--accuracy", "5", "--simulations", "8"], "--simulations applies to a search agent"),
    (["CKPT", "--accuracy", "5", "--search", "gumbel"], "'--search': "),
    (["CKPT", "--accuracy", "5", "--solver", "off"], "does not search"),
    (["CKPT", "--accuracy", "5", "--search", "mcts"], "invalid choice: 'mcts'"),
])
def test_bad_arguments_are_one_line_errors(checkpoint, argv, message, capsys):  # noqa: F811
    from src.cli.evaluate import main

    try:
        rc = main([str(checkpoint) if a == "CKPT" else a for a in argv])
    except SystemExit as e:  # argparse errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err


def test_missing_solver_is_one_clear_line(checkpoint, monkeypatch, capsys):  # noqa: F811
    from src.cli.evaluate import main

    monkeypatch.setitem(sys.modules, "bitbully.bitbully_core", None)
    assert main([str(checkpoint), "--accuracy", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "pip install -e '.[solver]'" in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def az_checkpoint(tmp_path_factory):
    """An (untrained) AlphaZero checkpoint as the trainer writes them, acting with 4 simulations."""
    import torch

    from src.agents.alphazero.agent import AZ_PARAMS, AlphaZeroAgent

    params = AZ_PARAMS.fill({"device": "cpu", "channels": 4, "blocks": 1, "simulations": 4}, "agent.params")
    agent = AlphaZeroAgent(params, (2, 6, 7), 7, "cpu", seed=0)
    path = tmp_path_factory.mktemp("az") / "model_64.pt"
    game = {"id": "connect4", "params": {"rows": 6, "cols": 7}}
    torch.save(agent.checkpoint({"step": 64, "episode": 3, "game": game, "seed": 7}), path)
    return path


def test_simulations_overrides_the_search_of_an_alphazero_checkpoint(az_checkpoint, capsys):
    from src.cli.evaluate import main

    assert main([str(az_checkpoint), "--accuracy", "20", "--simulations", "0"]) == 0
    out = capsys.readouterr().out
    assert "(step 64, 0 simulations)" in out and rows(out)["4-24"]["n"] == 20
    assert main([str(az_checkpoint), "--opponents", "random", "--games", "6", "--opening-plies", "3",
                 "--simulations", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 games per opponent (half with agent first, each pair from its own 3-ply random opening)" in out
    assert main([str(az_checkpoint), "--accuracy", "20", "--simulations", "-1"]) == 2
    assert "non-negative" in capsys.readouterr().err


def test_search_and_solver_flags_override_the_checkpoints_search(az_checkpoint, monkeypatch, capsys):
    from src.agents.alphazero.mcts import BatchedMCTS
    from src.cli.evaluate import main

    seen = []
    search = BatchedMCTS.search

    def spy(self, *args, **kwargs):
        seen.append((self.kind, self.solver))
        return search(self, *args, **kwargs)

    monkeypatch.setattr(BatchedMCTS, "search", spy)
    assert main([str(az_checkpoint), "--accuracy", "10", "--simulations", "2"]) == 0
    assert set(seen) == {("puct", True)}  # the checkpoint's own (the defaults)
    seen.clear()
    assert main([str(az_checkpoint), "--accuracy", "10", "--simulations", "2", "--search", "gumbel",
                 "--solver", "off"]) == 0
    assert seen and set(seen) == {("gumbel", False)}
    assert rows(capsys.readouterr().out)["4-24"]["n"] == 10


PONS_ROW = re.compile(r"^\s+(\S+)\s+(Test_L\d_R\d)\s+(\d+)\s+([\d.]+) \[([\d.]+), ([\d.]+)\]\s+([\d.]+) \[([\d.]+), ([\d.]+)\]")
SEAT_ROW = re.compile(r"^\s+seated (first|second)\s+win ([\d.]+)\s+draw ([\d.]+)\s+loss ([\d.]+)\s+mean length ([\d.]+) plies, (\d+) games")


def test_perfect_games_per_seat_and_the_pons_benchmark_from_the_command_line(capsys):
    from src.cli.evaluate import main

    assert main(["perfect", "--perfect-games", "1", "--benchmark", "pons", "--positions", "3"]) == 0
    out = capsys.readouterr().out
    seats = {m.group(1): m.groups()[1:] for m in map(SEAT_ROW.match, out.splitlines()) if m}
    assert seats["first"][:3] == ("1.000", "0.000", "0.000") and seats["second"][2] == "1.000"
    assert seats["first"][3] == "41.0" == seats["second"][3] and seats["second"][4] == "1"  # perfect vs perfect
    sets = [m.groups() for m in map(PONS_ROW.match, out.splitlines()) if m]
    assert [s[1] for s in sets] == ["Test_L3_R1", "Test_L2_R1", "Test_L2_R2", "Test_L1_R1", "Test_L1_R2", "Test_L1_R3"]
    assert all(s[2] == "3" and s[3] == "1.000" and s[6] == "1.000" for s in sets)
    assert "games per opponent" not in out


@pytest.mark.parametrize("argv, message", [
    (["perfect", "--perfect-games", "-1"], "--perfect-games must be a positive"),
    (["perfect", "--positions", "5"], "--positions applies to --benchmark"),
    (["perfect", "--benchmark", "pons", "--positions", "0"], "--positions must be from 1 to 1000"),
    (["perfect", "--benchmark", "ponz"], "invalid choice: 'ponz'"),
])
def test_bad_measure_arguments_are_one_line_errors(argv, message, capsys):
    from src.cli.evaluate import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_each_opponent_line_gives_the_score_per_seat(capsys):
    """The line of each opponent ends with the agent's score seated first and seated second;
    with as many games in each seat, their mean is the overall score."""
    from src.cli.evaluate import main

    assert main(["heuristic", "--opponents", "random", "search:2", "--games", "16"]) == 0
    out = capsys.readouterr().out
    lines = re.findall(r"(random|search:2)\s+score ([\d.]+) .* first ([\d.]+)  second ([\d.]+)$", out, re.M)
    assert [name for name, *_ in lines] == ["random", "search:2"], out
    for _, score, first, second in lines:
        assert abs((float(first) + float(second)) / 2 - float(score)) < 1e-3
