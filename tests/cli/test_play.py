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

    def col1(spec, device, seed=0, geometry=None, simulations=None):
        p = real(spec, device, seed, geometry, simulations)
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
