"""The solver-backed opponents ``perfect`` and ``solver:D`` (bitbully), and their errors."""
from __future__ import annotations

import random
import sys

import pytest
import torch

from kernels.geometry import Geometry
from src.opponents import SolverUnavailable, check_opponent_usable, make_opponent, parse_opponent_spec
from src.training.evaluation import FixedSampler
from tests.games.reference import RefGame, check_reachable, encode, parse

pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")


def test_specs_parse_perfect_and_solver_depths():
    assert parse_opponent_spec("perfect") == ("perfect", {})
    assert parse_opponent_spec("solver:12") == ("solver", {"depth": 12})
    assert parse_opponent_spec({"solver": {"depth": 3}}) == ("solver", {"depth": 3})
    assert parse_opponent_spec("solver") == ("solver", {"depth": 8})
    for bad, why in [("solver:0", "solver depth must be an integer from 1 to 42, got 0"),
                     ("solver:43", "from 1 to 42"), ("perfect:3", "'perfect' takes no parameters"),
                     ("perfekt", "did you mean 'perfect'")]:
        with pytest.raises(ValueError, match=why):
            parse_opponent_spec(bad)


def test_solver_opponents_refuse_other_board_sizes():
    for spec in ("perfect", "solver:4"):
        with pytest.raises(ValueError, match="6x7 boards only; this board is 5x6"):
            check_opponent_usable(spec, Geometry(5, 6))
        with pytest.raises(ValueError, match="6x7 boards only"):
            make_opponent(spec, Geometry(5, 6), "cpu")


def test_missing_solver_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitbully.bitbully_core", None)  # import fails as if not installed
    with pytest.raises(SolverUnavailable, match=r"pip install -e '\.\[solver\]'"):
        check_opponent_usable("perfect")
    with pytest.raises(SolverUnavailable, match=r"pip install -e '\.\[solver\]'"):
        make_opponent("solver:4", device="cpu")


def test_board_conversion_matches_the_solvers_own_move_replay():
    """Our bitboards of random games -> bitbully board == bitbully's board from the same moves."""
    import bitbully.bitbully_core as core

    from src.opponents.solver import Solver

    solver, rng = Solver(depth=1), random.Random(3)
    for _ in range(40):
        game, moves = RefGame(), []
        for _ in range(rng.randrange(0, 30)):
            col = rng.choice([c for c in range(7) if game.legal()[c]])
            before = (game.board.copy(), game.to_move)
            _, done, _ = game.step(col)
            if done:  # the reference resets a finished game: keep the position before the last move
                game.board, game.to_move = before
                break
            moves.append(col)
        cur, mask = encode(game.board, mover=game.to_move)
        expected = core.BoardCore()
        assert expected.play(moves)
        assert solver.board(cur, mask) == expected, moves


def _first_moves(spec: str, picture: str, seeds=range(12)) -> set[int]:
    board = parse(picture)
    check_reachable(board)
    cur, mask = encode(board)
    out = set()
    for s in seeds:
        opp = make_opponent(spec, device="cpu", seed=s)
        out.add(int(opp.act(torch.tensor([cur]), torch.tensor([mask]))[0]))
    return out


def test_perfect_takes_the_unique_winning_opening_and_the_immediate_win():
    empty = "\n".join(["......."] * 6)
    assert _first_moves("perfect", empty) == {3}  # only the centre opening wins for the first player
    # x to move: three in a row on the bottom with both ends open -> columns 0 and 4 win at once,
    # equally fast, so random ties pick both over seeds (a faster win beats every slower one)
    double = """
    .......
    .......
    .......
    .......
    ......o
    .xxx.oo
    """
    assert _first_moves("perfect", double) == {0, 4}
    assert _first_moves("solver:2", double) == {0, 4}


def test_perfect_first_never_loses():
    """Perfect play wins 6x7 Connect4 for the first player: against random, heuristic and
    search:4 movers, the perfect opponent seated first wins every game."""
    from src.cli.players import OpponentAsAgent

    g = Geometry()
    for i, spec in enumerate(["random", "heuristic", "search:4"]):
        mover = OpponentAsAgent(make_opponent(spec, g, "cpu", "numba", seed=i), g)
        perfect = make_opponent("perfect", g, "cpu", seed=10 + i)
        r = _opponent_first(mover, perfect, g, 12, seed=i)
        assert r["loss"] == 1.0, (spec, r)


def _opponent_first(agent, opponent, g, n, seed):
    from src.games.connect4 import BatchedConnect4
    from src.training.versus import Versus

    env = BatchedConnect4(n, device="cpu", seed=seed)
    versus = Versus(env, FixedSampler(opponent), "opponent_first", seed=seed)
    versus.reset()
    outcome = torch.zeros(n, dtype=torch.int8)
    finished = torch.zeros(n, dtype=torch.bool)
    for _ in range(g.rows * g.cols):
        batch = versus.step(agent.act(versus.observe(), versus.legal_mask()))
        outcome = torch.where(batch["done"] & ~finished, batch["reward"].sign().to(torch.int8), outcome)
        finished |= batch["done"]
        if bool(finished.all()):
            break
    assert bool(finished.all())
    return {"win": float((outcome > 0).float().mean()), "loss": float((outcome < 0).float().mean())}


def test_solver_opponent_only_solves_active_games_and_keeps_its_stream():
    opp = make_opponent("perfect", device="cpu", seed=5)
    cur = torch.zeros(4, dtype=torch.int64)
    mask = torch.zeros(4, dtype=torch.int64)
    active = torch.tensor([True, False, True, False])
    moves = opp.act(cur, mask, active)
    assert moves.tolist() == [3, 0, 3, 0]
    state = opp.state_dict()
    a = [int(opp.choose(0, 0)) for _ in range(3)]
    opp.load_state_dict(state)
    assert [int(opp.choose(0, 0)) for _ in range(3)] == a


def test_pool_with_a_solver_opponent_trains(tmp_path):
    from tests.training.helpers import make_trainer, tiny_config

    cfg = tiny_config(train={"total_steps": 64, "num_envs": 8, "opponent_sampler": {
        "type": "pool", "params": {"heuristic_distribution": {"solver:2": 1.0, "random": 1.0}}}})
    t = make_trainer(cfg)
    assert t.train() == "completed"
    assert t.step == 64
