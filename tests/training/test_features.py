"""The 'threats' input features: playable cells and each side's four-completing cells."""
from __future__ import annotations

import torch

from kernels import connect4_torch as kt
from kernels.geometry import Geometry
from src.agents.networks import threat_planes

G = Geometry()



def board(picture: str):
    """ASCII board, top row first: 'x' = side to move, 'o' = the other side, '.' = empty."""
    lines = [l.strip() for l in picture.strip().splitlines()]
    cur = mask = 0
    for r, line in enumerate(reversed(lines)):
        for c, ch in enumerate(line):
            if ch in "xo":
                mask |= G.bit(r, c)
                if ch == "x":
                    cur |= G.bit(r, c)
    return kt.to_planes(torch.tensor([cur]), torch.tensor([mask]), G)


def cells(plane: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in plane.nonzero()}


def test_playable_cells_are_the_lowest_empty_cell_of_each_column():
    f = threat_planes(board("""
        .......
        .......
        .......
        ......o
        x.....o
        xo....o
    """))[0]
    assert cells(f[2]) == {(2, 0), (1, 1), (0, 2), (0, 3), (0, 4), (0, 5), (3, 6)}


def test_win_cells_in_every_direction_for_both_sides():
    f = threat_planes(board("""
        .......
        .......
        ...o...
        ..ox...
        .oxx...
        xxxo..o
    """))[0]
    own, opp = cells(f[3]), cells(f[4])
    assert own == {(3, 4)}  # x diagonal (0,1) (1,2) (2,3); the bottom x x x is closed by the o at (0,3)
    assert opp == {(4, 4)}  # o diagonal (1,1) (2,2) (3,3); (0,0) below it is x


def test_win_cells_only_mark_empty_cells():
    f = threat_planes(board("""
        .......
        .......
        .......
        .......
        .......
        xxx.o..
    """))[0]
    assert cells(f[3]) == {(0, 3)}  # horizontal; nothing else
    assert cells(f[4]) == set()


def test_vertical_win_cell_for_the_other_side():
    f = threat_planes(board("""
        .......
        .......
        ..o....
        ..o....
        ..o....
        .xxx...
    """))[0]
    assert (4, 2) in cells(f[4]) and (4, 2) not in cells(f[3])
    assert (0, 0) in cells(f[3]) and (0, 4) in cells(f[3])


def test_load_agent_rebuilds_a_threats_network(tmp_path):
    from src.agents import load_agent
    from src.agents.dqn import DQNAgent
    from src.agents.dqn import DQN_PARAMS

    params = DQN_PARAMS.fill({"features": "threats", "hidden_sizes": [16]}, "agent.params")
    agent = DQNAgent(params, (2, 6, 7), 7, "cpu", seed=0)
    path = tmp_path / "a.pt"
    torch.save(agent.checkpoint({"step": 1}), path)
    loaded = load_agent(path)
    obs = board("""
        .......
        .......
        .......
        .......
        o......
        xxx.o..
    """)
    assert torch.equal(loaded.q_values(obs), agent.q_values(obs))


def test_bitboard_features_equal_the_planes_computed_inside_the_network():
    from src.games import make_game

    for rows, cols in ((6, 7), (5, 4), (8, 7)):
        g = Geometry(rows, cols)
        env = make_game("connect4", 500, backend="torch", seed=rows, rows=rows, cols=cols)
        for _ in range(rows * cols):
            assert torch.equal(kt.feature_planes(env.cur, env.mask, g),
                               threat_planes(kt.to_planes(env.cur, env.mask, g)))
            env.step(env.sample_actions())
