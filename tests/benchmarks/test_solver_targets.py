"""benchmarks/solver_targets.py: a run's replay ring retrained with self-play or solver targets."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")

import benchmarks.solver_targets as st  # noqa: E402
from benchmarks.solver_targets import label, main, raw_fit, ring_entries, ring_scores, with_targets  # noqa: E402
from src.agents import load_agent  # noqa: E402
from src.opponents.solver import ILLEGAL, Solver  # noqa: E402
from tests.agents.test_alphazero import az_config  # noqa: E402
from tests.training.helpers import REPO, child_env, write_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny self-play run's directory and its final trainer state (with its replay ring)."""
    root = tmp_path_factory.mktemp("solver_targets")
    raw = az_config({"replay_buffer_size": 512, "learning_starts": 32},
                    train={"total_steps": 320, "num_envs": 16,
                           "callbacks": [{"type": "lr_decay", "params": {"interval_steps": 160, "decay_factor": 0.5}}]})
    cfg = write_config(root / "tiny.yaml", raw)
    run_dir = root / "run"
    subprocess.run([sys.executable, "-m", "src.cli.train", "--config", str(cfg), "--run_dir", str(run_dir)],
                   cwd=REPO, env=child_env(), check=True, capture_output=True, timeout=300)
    return run_dir, max((run_dir / "state").glob("state_*.pt"), key=lambda p: int(p.stem.split("_")[1]))


def best_columns(scores) -> set[int]:
    legal = [c for c, s in enumerate(scores) if s != ILLEGAL]
    top = max(scores[c] for c in legal)
    return {c for c in legal if scores[c] == top}


def test_label_keeps_the_order_of_the_positions_over_its_workers(tiny_run):
    store = ring_entries(torch.load(tiny_run[1], weights_only=False), positions=9, seed=1)
    cur, mask = store["cur"].numpy(), store["mask"].numpy()
    solver = Solver()
    assert label(cur, mask, workers=2).tolist() == [list(solver.scores(int(c), int(m))) for c, m in zip(cur, mask)]


def test_solver_targets_are_the_exact_outcome_and_uniform_over_the_best_moves(tiny_run, tmp_path, monkeypatch):
    state = torch.load(tiny_run[1], weights_only=False)
    store = ring_entries(state, positions=60, seed=2)
    assert len(store["value"]) == 60
    exact = with_targets(store, "solver", "solver", ring_scores(store, tmp_path / "labels.npz"))
    solver = Solver()
    for i in range(60):
        scores = solver.scores(int(store["cur"][i]), int(store["mask"][i]))
        best = best_columns(scores)
        support = {c for c, p in enumerate(exact["policy"][i].tolist()) if p > 0}
        assert support == best
        assert exact["policy"][i].float().sum().item() == pytest.approx(1.0, abs=2e-3)
        outcome = (max(scores[c] for c in best) > 0) - (max(scores[c] for c in best) < 0)
        assert int(exact["value"][i]) == outcome and float(exact["q"][i]) == outcome
    # one source replaced, the other kept; the labels file is read back, not recomputed
    monkeypatch.setattr(st, "label", lambda *a, **k: pytest.fail("labelled again"))
    mixed = with_targets(store, "solver", "selfplay", ring_scores(store, tmp_path / "labels.npz"))
    assert torch.equal(mixed["policy"], store["policy"]) and torch.equal(mixed["value"], exact["value"])
    # a damaged labels file is labelled again, not trusted
    (tmp_path / "labels.npz").write_bytes(b"not a labels file")
    monkeypatch.undo()
    again = with_targets(store, "solver", "solver", ring_scores(store, tmp_path / "labels.npz"))
    assert torch.equal(again["policy"], exact["policy"]) and torch.equal(again["value"], exact["value"])
    kept = with_targets(store, "selfplay", "selfplay")
    assert all(torch.equal(kept[k], store[k]) for k in store)


def test_the_command_line_writes_a_loadable_checkpoint_after_the_runs_number_of_updates(tiny_run, tmp_path, capsys):
    run_dir, state_path = tiny_run
    out = tmp_path / "exact.pt"
    assert main([str(state_path), "--out", str(out), "--positions", "40", "--param", "channels=16"]) == 0
    ckpt = torch.load(out, weights_only=False)
    state = torch.load(state_path, weights_only=False)
    assert ckpt["state"]["num_updates"] == state["learner"]["agent"]["num_updates"] > 0
    assert ckpt["solver_targets"]["entries"] == 40 and ckpt["params"]["channels"] == 16
    # the run's two learning-rate steps (x0.5 at 160 and 320 of 320 plies), at the same share of the updates
    assert ckpt["state"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(ckpt["params"]["learning_rate"] * 0.25)
    agent = load_agent(out, simulations=4)
    empty = torch.zeros(2, dtype=torch.int64)
    assert agent.act_state(agent.game.State(empty, empty)).shape == (2,)
    out_text = capsys.readouterr().out
    assert "updates of 16 samples on 40 ring entries" in out_text and "raw policy on" in out_text
    assert 0 <= ckpt["solver_targets"]["raw_fit"]["good"]["value"] <= 1
    for bad, words in ((["--param", "no_such_key=1"], "no_such_key"), (["--param", "channels=abc"], "channels"),
                       (["--updates", "0"], "--updates must be at least 1"),
                       (["--positions", "-3"], "--positions must be at least 1")):
        assert main([str(state_path), "--out", str(tmp_path / "bad.pt"), *bad]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()
    assert main([str(run_dir / "config.yaml"), "--out", str(tmp_path / "bad.pt")]) == 2
    assert "config.yaml" in capsys.readouterr().err


def test_raw_fit_counts_the_raw_policys_best_and_outcome_keeping_moves_as_the_solver_judges_them(tiny_run):
    store = ring_entries(torch.load(tiny_run[1], weights_only=False))
    scores = ring_scores(store, None, workers=1)
    agent = load_agent(max((tiny_run[0] / "checkpoints").glob("*.pt")), simulations=0)
    fit = raw_fit(agent, scores, n=50, seed=3)
    # recount from the tool's own sample, with a separate solver and the agent's moves one by one
    uniq, _, _ = scores
    pick = np.random.default_rng(3).choice(len(uniq), min(50, len(uniq)), replace=False)
    solver, perfect, good = Solver(), 0, 0
    for cur, mask in uniq[pick]:
        s = solver.scores(int(cur), int(mask))
        move = int(agent.act_state(agent.game.State(torch.tensor([int(cur)]), torch.tensor([int(mask)])))[0])
        top = max(s[c] for c in best_columns(s))
        perfect += s[move] == top
        good += (s[move] > 0) - (s[move] < 0) == (top > 0) - (top < 0)
    assert fit["positions"] == len(pick)
    assert fit["perfect"]["value"] == round(perfect / len(pick), 4)
    assert fit["good"]["value"] == round(good / len(pick), 4)
