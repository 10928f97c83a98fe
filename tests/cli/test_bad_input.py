"""Bad input to ``play``, ``evaluate`` and ``runs`` (issue 22, ``docs/robustness.md``): a short
answer, the right exit code, no traceback; and the clean cases stay clean."""
from __future__ import annotations

import errno
import io
import os

import pytest
import torch

from tests.cli.test_evaluate import az_checkpoint  # noqa: F401  (fixture)
from tests.cli.test_play import checkpoint, play  # noqa: F401  (fixture)
from tests.training.helpers import tiny_config, write_config


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """An (untrained) DQN checkpoint of a 2x3 board."""
    from src.agents.dqn import DQNAgent
    from src.training.config import validate_config

    cfg = validate_config(tiny_config(game={"params": {"rows": 2, "cols": 3}}))
    agent = DQNAgent(cfg["agent"]["params"], (2, 2, 3), 3, "cpu", seed=0)
    path = tmp_path_factory.mktemp("small") / "model_8.pt"
    torch.save(agent.checkpoint({"step": 8, "episode": 1, "game": cfg["game"], "seed": 7}), path)
    return path


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ---- play -------------------------------------------------------------------------------------
def test_play_with_a_5000_digit_line_says_not_a_column_and_asks_again(checkpoint):  # noqa: F811
    rc, out, err = play(checkpoint, "--first", "human", stdin="7" * 5000 + "\n" + "q\n")
    assert rc == 0 and err == ""
    assert "is not a column number: type 1 to 7" in out and "(5000 characters)" in out
    assert out.count("your move (1-7, q to quit): ") == 2 and out.rstrip().endswith("quit: game abandoned")
    assert max(len(line) for line in out.splitlines()) < 200  # the line is not echoed in full


class Interrupted(io.StringIO):
    """A terminal on which the user presses Ctrl-C at the prompt."""

    def readline(self, *args):
        raise KeyboardInterrupt

    def isatty(self):
        return True


def test_ctrl_c_at_the_play_prompt_quits_like_q(checkpoint):  # noqa: F811
    from src.cli.play import main

    out = io.StringIO()
    assert main([str(checkpoint), "--first", "human"], inp=Interrupted(), out=out) == 0
    assert out.getvalue().rstrip().endswith("quit: game abandoned")


def test_play_with_more_simulations_than_memory_holds_is_a_range_error(az_checkpoint):  # noqa: F811
    rc, out, err = play(az_checkpoint, "--simulations", 1_000_000_000_000, stdin="q\n")
    assert rc == 2 and out == ""
    line = error_line(err)
    assert "'--simulations'" in line and "the largest value that fits is at most" in line
    rc, out, err = play(az_checkpoint, "--simulations", 2, stdin="q\n")
    assert rc == 0 and err == ""


@pytest.mark.parametrize("content", [None, b"this is a text file\n" * 8])
def test_a_truncated_or_text_checkpoint_says_it_is_not_a_checkpoint(checkpoint, tmp_path, content):  # noqa: F811
    bad = tmp_path / "bad.pt"
    bad.write_bytes(checkpoint.read_bytes()[:3000] if content is None else content)
    rc, out, err = play(bad, stdin="q\n")
    assert rc == 2
    assert error_line(err) == f"error: not a checkpoint (truncated or not a torch file): {bad}"


# ---- evaluate ---------------------------------------------------------------------------------
def test_evaluate_against_a_checkpoint_of_another_board_size_is_refused(checkpoint, small_checkpoint, capsys):  # noqa: F811
    from src.cli.evaluate import main

    assert main([str(checkpoint), "--opponents", str(small_checkpoint), "--games", "2"]) == 2
    assert "plays 2x3 boards, not 6x7" in error_line(capsys.readouterr().err)


def test_evaluate_with_more_games_than_memory_holds_is_a_range_error(checkpoint, capsys):  # noqa: F811
    from src.cli.evaluate import main

    assert main([str(checkpoint), "--opponents", "random", "--games", "100000000000000"]) == 2
    line = error_line(capsys.readouterr().err)
    assert "'--games'" in line and "the largest value that fits is at most" in line
    assert main([str(checkpoint), "--opponents", "random", "--games", "4"]) == 0


# ---- runs -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    from src.training.run import run

    root = tmp_path_factory.mktemp("run")
    return run(write_config(root / "c.yaml", tiny_config(train={"total_steps": 32})), root / "r", progress=False)


def runs(*argv) -> int:
    from src.cli.runs import main

    return main([str(a) for a in argv])


def test_runs_show_plot_to_a_missing_folder_or_a_directory_is_one_error_line(a_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    missing = tmp_path / "nope" / "curves.png"
    assert runs("show", a_run, "--plot", missing) == 2
    assert error_line(capsys.readouterr().err) == f"error: cannot write {missing}: No such file or directory"
    folder = tmp_path / "curves.png"
    folder.mkdir()
    assert runs("show", a_run, "--plot", folder) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: cannot write {folder}: ")
    assert runs("show", a_run, "--plot", tmp_path / "ok.png") == 0 and (tmp_path / "ok.png").stat().st_size > 0


def test_runs_show_plot_to_a_read_only_place_is_one_error_line(a_run, tmp_path, capsys, monkeypatch):
    """A read-only filesystem, simulated in the write layer (the tests may run as root)."""
    pytest.importorskip("matplotlib")
    from src.runs import files

    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files, "_atomic_write", read_only)
    target = tmp_path / "curves.png"
    assert runs("show", a_run, "--plot", target) == 2
    assert error_line(capsys.readouterr().err) == f"error: cannot write {target}: Read-only file system"


def test_runs_list_of_a_file_says_it_is_a_file(tmp_path, capsys):
    f = tmp_path / "runs.txt"
    f.write_text("x")
    assert runs("list", "--runs_dir", f) == 0
    assert capsys.readouterr().out.strip() == f"No runs: {f} is a file, not a folder of run directories."
