"""Evaluation (the config's ``eval`` section), metrics.jsonl and ``runs show``/``--plot``."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kernels.geometry import Geometry
from src.runs.rundir import RunDir
from src.training.evaluation import play_games
from src.training.run import run
from tests.training.helpers import REPO, tiny_config, write_config


class Column:
    """A scripted player: always the given column (agent- or opponent-style interface)."""

    def __init__(self, column: int):
        self.column = column

    def act(self, *args, deterministic=True, active=None):
        n = args[0].shape[0]
        return torch.full((n,), self.column, dtype=torch.int64)


class UniformAgent:
    """An agent that plays uniformly random legal moves with its own stream."""

    def __init__(self, seed: int):
        self.g = torch.Generator().manual_seed(seed)

    def act(self, obs, legal, deterministic=True):
        u = torch.rand(legal.shape, generator=self.g)
        return torch.where(legal, u + 1, 0.0).argmax(1)


def test_column_race_gives_exactly_the_seat_split():
    # agent stacks column 0, opponent column 1: whoever moves first connects four first
    r = play_games(Column(0), Column(1), Geometry(), torch.device("cpu"), games=101, seed=1)
    assert r["games"] == 101
    assert r["win"] == round(51 / 101, 4) and r["loss"] == round(50 / 101, 4) and r["draw"] == 0


def test_random_agent_against_random_scores_about_one_half():
    from src.opponents import make_opponent

    opp = make_opponent("random", Geometry(), "cpu", "numba", seed=5)
    r = play_games(UniformAgent(3), opp, Geometry(), torch.device("cpu"), games=4000, seed=2)
    assert r["games"] == 4000 and r["win"] + r["draw"] + r["loss"] == pytest.approx(1.0, abs=1e-3)
    assert r["score"] == pytest.approx(0.5, abs=0.035)  # seats are balanced, so random vs random is even
    assert r["draw"] < 0.01


def _final_checkpoint(run_dir: Path) -> dict:
    paths = sorted((run_dir / "checkpoints").glob("*.pt"), key=lambda p: int(p.stem.split("_")[-1]))
    return torch.load(paths[-1], map_location="cpu", weights_only=False)


def test_evaluation_leaves_the_training_trajectory_identical(tmp_path):
    base = tiny_config(train={"total_steps": 480})
    with_eval = tiny_config(train={"total_steps": 480},
                            eval={"interval": 96, "games": 24, "opponents": ["random", "heuristic"]})
    a = run(write_config(tmp_path / "a.yaml", base), tmp_path / "a", progress=False)
    b = run(write_config(tmp_path / "b.yaml", with_eval), tmp_path / "b", progress=False)
    ca, cb = _final_checkpoint(a), _final_checkpoint(b)
    assert ca["step"] == cb["step"] and ca["episode"] == cb["episode"]
    for k in ca["state"]["online"]:
        assert torch.equal(ca["state"]["online"][k], cb["state"]["online"][k]), k
    evals = [r for r in RunDir(b).read_metrics() if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [96, 192, 288, 384, 480]
    assert set(evals[-1]["eval"]) == {"random", "heuristic"}
    assert json.loads((b / "status.json").read_text())["eval"]["step"] == 480


def test_metrics_lines_parse_and_are_only_appended_across_a_stop(tmp_path):
    from src.training.callbacks import Callback
    from src.training.config import load_config
    from src.training.trainer import Trainer

    cfg_path = write_config(tmp_path / "c.yaml", tiny_config(
        train={"total_steps": 100_000}, eval={"interval": 64, "games": 8, "opponents": ["random"]}))
    text, cfg = load_config(cfg_path)
    rd = RunDir(tmp_path / "run")
    rd.create(text, {"seed": cfg["seed"]})
    trainer = Trainer(cfg, run_dir=rd, status_interval=16, progress=False)
    snapshots = []

    class SnapshotThenStop(Callback):
        def on_step(self, tr, batch):
            if tr.step == 320:
                snapshots.append(rd.metrics_path.read_bytes())
            if tr.step == 640:
                tr.request_stop("test")

    trainer.callbacks.append(SnapshotThenStop())
    trainer._maybe_write_status = lambda: trainer.write_status("running")  # a status line every step
    assert trainer.train() == "stopped"
    final = rd.metrics_path.read_bytes()
    assert snapshots and final.startswith(snapshots[0]) and len(final) > len(snapshots[0])
    records = [json.loads(line) for line in final.decode().splitlines()]
    status = [r for r in records if r["kind"] == "status"]
    assert [r["step"] for r in status] == sorted(r["step"] for r in status)
    for r in status:
        assert {"step", "episode", "time", "loss", "mean_q", "epsilon", "learning_rate", "steps_per_sec"} <= r.keys()
    assert any(r["kind"] == "eval" and r["eval"]["random"]["games"] == 8 for r in records)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("show")
    cfg = tiny_config(train={"total_steps": 256}, eval={"interval": 128, "games": 16, "opponents": ["random"]})
    return run(write_config(tmp / "c.yaml", cfg), tmp / "myrun", progress=False)


def _runs(*args):
    return subprocess.run([sys.executable, "-m", "src.cli.runs", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_runs_show_prints_config_progress_latest_eval_and_checkpoints(finished_run):
    out = _runs("show", finished_run)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "myrun" in text and "completed" in text and "step=256/256" in text
    assert "connect4 rows=6 cols=7" in text and "dqn" in text
    assert "evaluation at step 256" in text and "random" in text
    assert "model_256.pt" in text


def test_runs_show_plot_writes_a_valid_png(finished_run, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    out = _runs("show", finished_run, "--plot", png)
    assert out.returncode == 0, out.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 300


def test_runs_show_plot_without_matplotlib_says_how_to_install_it(finished_run, tmp_path, monkeypatch):
    import builtins

    from src.runs.show import ShowError, plot_run

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ShowError, match=r"matplotlib.*pip install"):
        plot_run(finished_run, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_runs_show_on_a_folder_that_is_not_a_run_fails_clearly(tmp_path):
    out = _runs("show", tmp_path)
    assert out.returncode == 1 and "not a run directory" in out.stderr and "Traceback" not in out.stderr


def test_accuracy_in_each_evaluation_reaches_status_metrics_show_and_plot(tmp_path, monkeypatch):
    """eval.accuracy: each evaluation measures the agent's accuracy on the same cached position set;
    it lands in status.json, metrics.jsonl, runs show and the plot."""
    pytest.importorskip("bitbully")
    from src.training import accuracy

    monkeypatch.setenv("C4ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(accuracy, "_MEMORY", {})
    calls = []
    real_label = accuracy.label_positions
    monkeypatch.setattr(accuracy, "label_positions", lambda *a, **k: calls.append(1) or real_label(*a, **k))
    cfg = tiny_config(train={"total_steps": 256}, eval={"interval": 128, "opponents": [], "accuracy": 30})
    rd = RunDir(run(write_config(tmp_path / "c.yaml", cfg), tmp_path / "accrun", progress=False))
    evals = [r for r in rd.read_metrics() if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [128, 256] and len(calls) == 1  # labelled once, measured twice
    for r in evals:
        a = r["accuracy"]
        assert a["positions"] == 30 and 0 <= a["perfect"]["value"] <= a["good"]["value"] <= 1
        assert a["perfect"]["ci95"][0] <= a["perfect"]["value"] <= a["perfect"]["ci95"][1]
        assert set(a["bands"]) == {"4-9", "10-16", "17-24"}
    status = json.loads((rd.path / "status.json").read_text())
    assert status["eval"]["accuracy"] == evals[-1]["accuracy"]
    # the agent's moves on the labelled set, judged here, agree with the recorded shares
    from src.agents import load_agent
    from src.training.evaluation import AgentOpponent

    final = sorted((rd.path / "checkpoints").glob("*.pt"), key=lambda p: int(p.stem.split("_")[-1]))[-1]
    ps = accuracy.position_set(30, 0)
    moves = AgentOpponent(load_agent(final), Geometry()).act(
        torch.from_numpy(ps.cur), torch.from_numpy(ps.mask)).numpy()
    perfect, good = accuracy.judge(ps, moves)
    assert round(perfect.mean(), 4) == evals[-1]["accuracy"]["perfect"]["value"]
    assert round(good.mean(), 4) == evals[-1]["accuracy"]["good"]["value"]
    out = _runs("show", rd.path)
    assert out.returncode == 0, out.stderr
    assert "accuracy on 30 random positions" in out.stdout and "perfect (95% CI)" in out.stdout
    if pytest.importorskip("matplotlib"):
        png = tmp_path / "acc.png"
        assert _runs("show", rd.path, "--plot", png).returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_random_openings_are_live_positions_of_the_requested_ply_checked_by_the_reference():
    import numpy as np

    from src.games.connect4.openings import random_openings
    from tests.games.reference import EMPTY, check_reachable, decode, winner, wins_at

    cur, mask = random_openings(300, 7, Geometry(), seed=4)
    again = random_openings(300, 7, Geometry(), seed=4)
    assert torch.equal(cur, again[0]) and torch.equal(mask, again[1])
    assert not torch.equal(mask, random_openings(300, 7, Geometry(), seed=5)[1])
    assert len(set(zip(cur.tolist(), mask.tolist()))) > 250  # 7 random plies: nearly all distinct
    for c, m in zip(cur.tolist(), mask.tolist()):
        board = decode(c, m, 6, 7)  # 1: the side to move, 2: the other side
        check_reachable(board, mover=1)
        assert int(np.sum(board != EMPTY)) == 7 and winner(board) == EMPTY
        for col in range(7):  # no column wins at once for the side to move
            h = int(np.sum(board[:, col] != EMPTY))
            if h < 6:
                board[h, col] = 1
                assert not wins_at(board, h, col)
                board[h, col] = EMPTY


class PositionHash:
    """A deterministic player that depends on the whole position: the legal column with the
    largest hash of (position, column). Agent interface (planes) and opponent interface (bitboards)."""

    def _pick(self, cur, mask):
        from kernels import connect4_torch as kt

        cols = torch.arange(7)
        h = (cur[:, None] * 1000003 + mask[:, None] * 7919 + cols * 104729) % 1009
        return torch.where(kt.legal_mask(mask, Geometry()), h, -1).argmax(1)

    def act(self, *args, deterministic=True, active=None):
        if args[0].dim() == 4:  # observation planes
            from src.games import as_game

            return self._pick(*as_game(Geometry(), "cpu").from_observation(args[0]))
        return self._pick(args[0], args[1])


def test_openings_give_deterministic_players_many_games_each_opening_once_from_each_seat():
    player = PositionHash()
    same = play_games(player, player, Geometry(), torch.device("cpu"), games=200, seed=3, opening_plies=4)
    # the same player on both sides: a pair's two games mirror each other, so every win has its loss
    assert same["games"] == 200 and same["win"] == same["loss"] and same["score"] == 0.5
    assert 0.1 < same["win"] < 0.5  # the openings made the games differ
    # without openings, the two deterministic players can only play two distinct games
    plain = play_games(player, Column(3), Geometry(), torch.device("cpu"), games=200, seed=3)
    assert plain["win"] in (0.0, 0.5, 1.0) and plain["loss"] in (0.0, 0.5, 1.0)
    varied = play_games(player, Column(3), Geometry(), torch.device("cpu"), games=200, seed=3, opening_plies=4)
    assert varied["win"] not in (0.0, 0.5, 1.0) or varied["loss"] not in (0.0, 0.5, 1.0)
