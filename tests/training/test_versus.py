"""Versus: the agent's side of a batch of games against scripted opponents. Boards are drawn
top row first, ``x`` = the agent's stones (it is always the agent's move), ``o`` = the opponent's."""
from __future__ import annotations

import textwrap

import torch

from kernels.geometry import Geometry
from src.games import make_game
from src.opponents.samplers import OpponentSampler
from src.training.versus import Versus


class Scripted(OpponentSampler):
    """Replies with a fixed column per game and records which games it was told are new."""

    def __init__(self, columns):
        self.columns = torch.as_tensor(columns, dtype=torch.int64)
        self.new_calls: list[torch.Tensor] = []

    def on_new_games(self, new):
        self.new_calls.append(new.clone())

    def act(self, cur, mask, active):
        return self.columns.clone()


def versus(num_envs, opponent_columns, start_policy, rows=6, cols=7, seed=0):
    game = make_game("connect4", num_envs, device="cpu", backend="torch", seed=seed, rows=rows, cols=cols)
    opponent = Scripted(opponent_columns)
    v = Versus(game, opponent, start_policy, seed=seed)
    v.reset()
    return v, opponent


def picture(cur, mask, g: Geometry, i: int = 0) -> str:
    cur, mask = int(cur[i]), int(mask[i])
    rows = []
    for r in reversed(range(g.rows)):
        cells = ["." if not mask & g.bit(r, c) else ("x" if cur & g.bit(r, c) else "o") for c in range(g.cols)]
        rows.append(" ".join(cells))
    return "\n".join(rows)


def board(text: str) -> str:
    return textwrap.dedent(text).strip()


def stones(mask: torch.Tensor) -> list[int]:
    return [bin(int(m)).count("1") for m in mask]


def play(v, columns, times):
    return [v.step(torch.as_tensor(columns, dtype=torch.int64)) for _ in range(times)]


def test_agent_win_gives_plus_one_and_a_fresh_empty_board():
    v, opp = versus(1, [1], "agent_first")
    steps = play(v, [0], 3)
    assert [(s["reward"].item(), s["done"].item()) for s in steps] == [(0, False)] * 3
    assert picture(v.cur, v.mask, v.game.geometry) == board("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        x o . . . . .
        x o . . . . .
        x o . . . . .""")
    (last,) = play(v, [0], 1)
    assert (last["reward"].item(), last["done"].item()) == (1.0, True)
    assert stones(last["next_mask"]) == [7]  # the terminal position is reported before the reset
    assert stones(v.mask) == [0] and torch.equal(v.observe(), torch.zeros(1, 2, 6, 7))  # a new game
    assert torch.equal(opp.new_calls[-1], torch.tensor([True]))


def test_opponent_win_gives_minus_one_and_a_new_game_with_its_first_stone():
    v, opp = versus(1, [1], "opponent_first")
    assert picture(v.cur, v.mask, v.game.geometry) == board("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . o . . . . .""")
    steps = play(v, [0], 3)
    assert [(s["reward"].item(), s["done"].item()) for s in steps] == [(0, False), (0, False), (-1, True)]
    assert stones(steps[-1]["next_mask"]) == [7]
    assert picture(v.cur, v.mask, v.game.geometry) == board("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . o . . . . .""")


def test_illegal_agent_move_loses_the_game():
    v, _ = versus(1, [0], "agent_first")
    play(v, [0], 3)
    assert picture(v.cur, v.mask, v.game.geometry).splitlines()[0] == "o . . . . . ."  # column 0 is full
    (last,) = play(v, [0], 1)
    assert (last["reward"].item(), last["done"].item()) == (-1.0, True)


def test_full_board_is_a_draw_with_reward_zero():
    v, _ = versus(1, [1], "agent_first", rows=1, cols=2)
    (last,) = play(v, [0], 1)
    assert (last["reward"].item(), last["done"].item()) == (0.0, True)
    assert stones(v.mask) == [0]


def test_only_finished_games_are_reset():
    v, opp = versus(2, [1, 2], "agent_first")
    for a in ([0, 2], [0, 3], [0, 2]):
        play(v, a, 1)
    (last,) = play(v, [0, 3], 1)
    assert last["done"].tolist() == [True, False] and last["reward"].tolist() == [1.0, 0.0]
    assert stones(v.mask) == [0, 8]
    assert torch.equal(v.cur[1], last["next_cur"][1]) and torch.equal(v.mask[1], last["next_mask"][1])
    assert picture(v.cur, v.mask, v.game.geometry, 1) == board("""
        . . o . . . .
        . . o . . . .
        . . x . . . .
        . . o . . . .
        . . o x . . .
        . . x x . . .""")
    assert opp.new_calls[-1].tolist() == [True, False]


def test_agent_first_exposes_empty_boards():
    v, _ = versus(64, [3] * 64, "agent_first")
    assert stones(v.mask) == [0] * 64 and v.observe().sum() == 0 and bool(v.agent_first.all())


def test_opponent_first_exposes_one_opponent_stone_and_the_agent_to_move():
    v, _ = versus(64, [3] * 64, "opponent_first")
    obs = v.observe()
    assert stones(v.mask) == [1] * 64 and int(v.cur.abs().sum()) == 0
    assert obs[:, 0].sum() == 0 and torch.equal(obs[:, 1].sum(dim=(1, 2)), torch.ones(64))
    assert not bool(v.agent_first.any())


def test_random_start_policy_seats_the_agent_first_in_about_half_the_games():
    v, _ = versus(4000, [3] * 4000, "random")
    opponent_started = torch.tensor(stones(v.mask)) == 1
    assert 0.45 < opponent_started.float().mean().item() < 0.55
    assert torch.equal(v.agent_first, ~opponent_started)
