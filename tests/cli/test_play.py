"""``python -m src.cli.play``: a game from piped input, every kind of bad input, quitting, watching."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch

from tests.training.helpers import REPO, child_env, tiny_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An (untrained) DQN checkpoint as the trainer writes them."""
    from src.agents.dqn import DQNAgent
    from src.training.config import validate_config

    cfg = validate_config(tiny_config())
    agent = DQNAgent(cfg["agent"]["params"], (2, 6, 7), 7, "cpu", seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "model_256.pt"
    torch.save(agent.checkpoint({"step": 256, "episode": 10, "game": cfg["game"], "seed": 7}), path)
    return path


def play(*args, stdin: str = "") -> tuple[int, str, str]:
    from src.cli.play import main

    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args], inp=io.StringIO(stdin), out=out)
    return rc, out.getvalue(), err.getvalue()


def boards(text: str) -> list[list[str]]:
    """Every printed board (6 rows + the column numbers), as lists of row strings, top row first."""
    lines = text.splitlines()
    return [lines[i - 6:i] for i, line in enumerate(lines) if line.strip() == "1 2 3 4 5 6 7"]


def test_piped_game_runs_to_a_result_through_the_real_command(checkpoint):
    moves = "".join(f"{c}\n" for _ in range(6) for c in range(1, 8))  # enough legal tries to finish any game
    proc = subprocess.run([sys.executable, "-m", "src.cli.play", str(checkpoint), "--first", "human"],
                          input=moves, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "result: " in proc.stdout
    shown = boards(proc.stdout)
    assert shown[0] == [" . . . . . . ."] * 6  # the empty board first
    assert shown[1][-1] == " X . . . . . ."  # the human (X, first) played column 1: row 0 is printed last
    for before, after in zip(shown, shown[1:]):  # each move adds exactly one stone
        count = lambda b: sum(row.count("X") + row.count("O") for row in b)  # noqa: E731
        assert count(after) == count(before) + 1


@pytest.mark.parametrize("bad, message", [
    ("0", "column 0 is off the board: type 1 to 7"),
    ("9", "column 9 is off the board: type 1 to 7"),
    ("x", "'x' is not a column number: type 1 to 7 (or q to quit)"),
    ("", "type a column number from 1 to 7 (or q to quit)"),
])
def test_bad_input_gets_a_message_and_a_new_prompt(checkpoint, bad, message):
    rc, out, err = play(checkpoint, "--first", "human", stdin=f"{bad}\n4\nq\n")
    assert rc == 0 and err == ""
    assert message in out
    after = out.split(message, 1)[1]
    assert "your move (1-7, q to quit): " in after and "you (X) plays 4" in after  # asked again, then played
    assert out.rstrip().endswith("quit: game abandoned")


def test_full_column_message_on_a_forced_fill(checkpoint, monkeypatch):
    """Deterministic: the agent is replaced by one that answers in column 4 while it can, so the
    human's and the agent's stones fill column 4 alternately (no four) and the 4th try is refused."""
    from src.cli import players

    real = players.load_player

    def col1(spec, device, seed=0, game=None, simulations=None):
        p = real(spec, device, seed, game, simulations)
        p.agent.act = lambda obs, legal, deterministic=True: torch.where(legal[:, 3], 3, 0)
        return p

    monkeypatch.setattr(players, "load_player", col1)
    rc, out, err = play(checkpoint, "--first", "human", stdin="4\n4\n4\n4\n5\nq\n")
    assert rc == 0 and err == ""
    assert "column 4 is full: choose another" in out
    assert out.count("you (X) plays 4") == 3 and out.count("agent (O) plays 4") == 3
    assert "you (X) plays 5" in out.split("column 4 is full: choose another", 1)[1]


def test_q_and_end_of_input_exit_zero(checkpoint):
    for stdin in ("q\n", "", "4\n"):
        rc, out, err = play(checkpoint, "--first", "human", stdin=stdin)
        assert rc == 0 and err == "" and "Traceback" not in out


def test_watch_the_agent_against_perfect(checkpoint):
    rc, out, _ = play(checkpoint, "--first", "agent", "--opponent", "perfect", "--seed", "3")
    assert rc == 0
    assert "X = agent (moves first), O = perfect" in out
    assert "result: O wins (perfect wins)" in out or "result: draw" in out or "result: X wins" in out
    assert "your move" not in out


def test_perfect_seated_first_beats_the_agent(checkpoint):
    rc, out, _ = play(checkpoint, "--first", "human", "--opponent", "perfect")
    assert rc == 0 and "result: X wins (perfect wins)" in out


def test_show_values_prints_one_value_per_column_before_each_agent_move(checkpoint):
    rc, out, _ = play(checkpoint, "--first", "agent", "--show-values", stdin="q\n")
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("agent values: "))
    assert [part.split(":")[0] for part in line[len("agent values: "):].split("  ")] == [str(c) for c in range(1, 8)]
    assert out.index("agent values: ") < out.index("agent (X) plays")


def test_random_first_is_seeded(checkpoint):
    a = play(checkpoint, "--first", "random", "--seed", "11", stdin="q\n")[1]
    b = play(checkpoint, "--first", "random", "--seed", "11", stdin="q\n")[1]
    assert a == b


@pytest.mark.parametrize("args, message", [
    (["missing/model_1.pt"], "checkpoint not found"),
    (["heuristc"], "neither a checkpoint file nor an opponent name"),
    (["CKPT", "--opponent", "search:99"], "search depth must be an integer from 1 to"),
    (["CKPT", "--simulations", "16"], "a dqn agent does not search"),
])
def test_bad_arguments_exit_2_with_one_line(checkpoint, args, message, capsys):
    from src.cli.play import main

    rc = main([str(checkpoint) if a == "CKPT" else a for a in args], inp=io.StringIO(""), out=io.StringIO())
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


# -- Othello: the same command, the game's own move names ----------------------------------

OTHELLO_START = "X to move, legal: d3 c4 f5 e6"


def test_othello_opponent_spec_shows_cells_and_legal_moves_and_takes_cells_or_numbers():
    rc, out, err = play("greedy", "--game", "othello", "--first", "human", stdin="d3\n37\nq\n")
    assert rc == 0 and err == ""
    assert "column" not in out
    assert "  a b c d e f g h" in out and OTHELLO_START in out
    assert "your move (a cell a1-h8 or 0-64, pass, q to quit): " in out
    assert "you (X) plays d3" in out and "you (X) plays f5" in out  # a cell, then action number 37
    assert out.rstrip().endswith("quit: game abandoned")


@pytest.mark.parametrize("bad, message", [
    ("zz", "'zz' is not a move: type a cell a1-h8 (file, then rank), an action number 0-64, or pass"),
    ("", "type a cell a1-h8 (file, then rank), an action number 0-64, or pass (or q to quit)"),
    ("99", "'99' is not a move"),
    ("d4", "d4 is not a legal move: choose one of d3 c4 f5 e6"),
    ("a1", "a1 is not a legal move: choose one of d3 c4 f5 e6"),
    ("pass", "you cannot pass while you have a move: choose one of d3 c4 f5 e6"),
])
def test_othello_bad_input_gets_a_message_and_a_new_prompt(bad, message):
    rc, out, err = play("greedy", "--game", "othello", "--first", "human", stdin=f"{bad}\nc4\nq\n")
    assert rc == 0 and err == "" and "Traceback" not in out
    after = out.split(message, 1)[1]
    assert "your move (" in after and "you (X) plays c4" in after


def test_othello_pass_is_typed_when_it_is_the_only_move():
    from src.games import make_rules

    rules = make_rules("othello", "cpu", "numba")
    only_pass = [False] * 64 + [True]
    assert rules.read_move("pass", only_pass) == 64 and rules.read_move("64", only_pass) == 64
    assert rules.read_move("d3", only_pass) == "d3 is not a legal move: you have none, type pass"


def test_othello_watched_game_runs_to_a_result_with_passes_counted_by_the_side_to_move():
    rc, out, err = play("greedy", "--game", "othello", "--first", "agent", "--opponent", "random", "--seed", "2")
    assert rc == 0 and err == "" and "column" not in out
    result = next(ln for ln in out.splitlines() if ln.startswith("result: "))
    assert result.startswith(("result: X wins", "result: O wins", "result: draw"))
    movers = [ln.split(" plays ")[0] for ln in out.splitlines() if " plays " in ln]
    assert len(movers) >= 9 and all("(X)" in m or "(O)" in m for m in movers)


def test_othello_checkpoint_of_another_game_is_refused(checkpoint):
    rc, out, err = play(checkpoint, "--game", "othello")
    assert rc == 2 and "plays" in err and "not othello" in err
