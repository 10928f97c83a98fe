"""The agent that comes with the repository (``bundled``): it loads, plays legal moves on both search
backends, is accepted wherever a checkpoint is, and is as strong as the README says."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from kernels.geometry import Geometry
from src.agents.pretrained import BUNDLED_PATH
from tests.games.reference import encode, parse

REPO = Path(__file__).resolve().parents[2]

# x to move; column 3 (the fourth) is full, with no four anywhere
FULL_CENTRE = """
...o...
...x...
...o...
...x...
...o...
..xx.o.
"""


def test_the_bundled_file_is_small_and_holds_no_optimizer_state():
    from src.agents import read_checkpoint

    assert BUNDLED_PATH.is_file() and BUNDLED_PATH.stat().st_size < 1_000_000
    ckpt = read_checkpoint("bundled")
    assert ckpt["agent_id"] == "alphazero" and "optimizer" not in ckpt["state"]
    assert (ckpt["game"]["params"]["rows"], ckpt["game"]["params"]["cols"]) == (6, 7)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_the_bundled_agent_plays_legal_moves_on_both_search_backends(backend):
    from src.agents import agent_from_checkpoint, read_checkpoint
    from src.games.backends import make_ops
    from src.training.accuracy import sample_positions

    ckpt = read_checkpoint("bundled")
    ckpt["params"] = {**ckpt["params"], "search_backend": backend}
    agent = agent_from_checkpoint(ckpt, "cpu", simulations=16)
    assert agent.mcts.backend == backend
    cur, mask, _ = sample_positions(40, seed=3, geometry=Geometry())
    c, m = encode(parse(FULL_CENTRE))
    cur, mask = torch.from_numpy(np.append(cur, c)), torch.from_numpy(np.append(mask, m))
    ops = make_ops(Geometry(), torch.device("cpu"), backend, 0)
    legal = ops.legal_mask(mask)
    assert not bool(legal[-1, 3])
    moves = agent.act(ops.to_planes(cur, mask), legal)
    assert moves.dtype == torch.int64 and bool(legal[torch.arange(len(moves)), moves].all())


def test_the_name_bundled_is_accepted_by_load_agent_play_and_evaluate(capsys):
    from src.agents import load_agent
    from src.cli.evaluate import main as evaluate
    from src.cli.play import main as play
    from src.training.evaluation import validate_eval_opponents
    import io

    assert load_agent("bundled", simulations=0).act_simulations == 0
    assert evaluate(["bundled", "--simulations", "0", "--opponents", "random", "--games", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the bundled agent (step ") and re.search(r"random\s+score", out)
    # as an evaluation opponent (checked as eval.opponents and `evaluate --opponents` are; playing
    # it at its 200 simulations a move would take half a minute)
    game = {"id": "connect4", "params": {"rows": 6, "cols": 7}}
    assert validate_eval_opponents(["random", "bundled"], "eval.opponents", REPO, game) == ["random", str(BUNDLED_PATH)]
    text = io.StringIO()
    assert play(["random", "--opponent", "bundled"], inp=io.StringIO(""), out=text) == 0
    assert "result: " in text.getvalue() and "opponent random vs the bundled agent" in text.getvalue()
    text = io.StringIO()
    assert play([], inp=io.StringIO("q\n"), out=text) == 0  # no checkpoint: you against the bundled agent
    assert text.getvalue().startswith("the bundled agent (step ") and "quit: game abandoned" in text.getvalue()


# -- the README's figures, measured afresh on a few hundred positions ------------------------------
FIGURE = re.compile(r"^\| (?P<name>[^|]+?) \| (?P<value>[\d.]+) \[(?P<lo>[\d.]+), (?P<hi>[\d.]+)\] \|", re.M)


def readme_figures() -> dict[str, float]:
    """The bundled agent's strength table in the README: measure name -> value."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Strength of the bundled agent", 1)[1].split("\n#", 1)[0]
    return {m["name"]: float(m["value"]) for m in FIGURE.finditer(section)}


def test_the_readme_figures_hold_on_a_fresh_measurement():
    """Each figure lies in the 95% interval of a fresh measurement (300 other random positions;
    the first 25 positions of each Pons set), so a new bundled file cannot leave them stale."""
    pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")
    from src.cli.players import load_player
    from src.training.accuracy import measure, position_set
    from src.training.pons import measure_pons

    figures = readme_figures()
    names = ("accuracy: best-score moves", "accuracy: outcome-keeping moves",
             "Pons: best-score moves", "Pons: outcome-keeping moves")
    assert set(names) <= set(figures), f"the README's strength table lacks {set(names) - set(figures)}"
    player = load_player("bundled", torch.device("cpu"))
    acc = measure(player.opponent, position_set(300, seed=0))
    pons = measure_pons(player.opponent, positions=25)
    fresh = dict(zip(names, (acc["perfect"], acc["good"], pons["perfect"], pons["good"])))
    for name, share in fresh.items():
        lo, hi = share["ci95"]
        assert lo <= figures[name] <= hi, f"README {name} {figures[name]} is outside the fresh [{lo}, {hi}]"
