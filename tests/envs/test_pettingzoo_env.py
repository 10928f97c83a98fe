"""The PettingZoo AEC adapter: PettingZoo's own API and seed tests, and observations equal to
those of PettingZoo's classic connect_four on the same games."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import api_test, seed_test  # noqa: E402

from src.envs import connect4_aec_env  # noqa: E402


def test_aec_env_passes_pettingzoos_api_test():
    api_test(connect4_aec_env(), num_cycles=1000)


def test_aec_env_passes_pettingzoos_seed_test():
    seed_test(connect4_aec_env, num_cycles=200)


def play_random_games(env, games: int, seed: int, record):
    """Random legal moves until each game ends; ``record(env)`` after every reset and move."""
    rng = np.random.default_rng(seed)
    columns = []
    for g in range(games):
        env.reset(seed=g)
        record(env)
        for agent in env.agent_iter():
            obs, reward, terminated, truncated, info = env.last()
            if terminated or truncated:
                env.step(None)
            else:
                legal = np.flatnonzero(obs["action_mask"])
                columns.append(int(rng.choice(legal)))
                env.step(columns[-1])
            record(env)
    return columns


def snapshot(env, log):
    if env.agents:
        log.append({"selection": env.agent_selection,
                    "obs": {a: env.observe(a) for a in env.agents},
                    "rewards": dict(env.rewards), "terminations": dict(env.terminations)})


def test_observations_rewards_and_terminations_equal_pettingzoos_classic_connect_four():
    classic = pytest.importorskip("pettingzoo.classic")  # needs pygame (the pettingzoo extra installs it)
    ours, theirs = [], []
    columns = play_random_games(connect4_aec_env(), 30, seed=1, record=lambda e: snapshot(e, ours))
    replayed = iter(columns)

    # the classic env replays exactly our columns
    env = classic.connect_four_v3.env()
    for g in range(30):
        env.reset(seed=g)
        snapshot(env, theirs)
        for agent in env.agent_iter():
            _, _, terminated, truncated, _ = env.last()
            env.step(None if terminated or truncated else next(replayed))
            snapshot(env, theirs)
    assert len(ours) == len(theirs) > 30 * 7
    for a, b in zip(ours, theirs):
        assert a["selection"] == b["selection"]
        assert a["rewards"] == b["rewards"] and a["terminations"] == b["terminations"]
        for agent in b["obs"]:
            for key in ("observation", "action_mask"):
                assert a["obs"][agent][key].dtype == b["obs"][agent][key].dtype
                np.testing.assert_array_equal(a["obs"][agent][key], b["obs"][agent][key])
    assert {1, -1} <= {r for s in ours for r in s["rewards"].values()}  # some games were won


def test_an_illegal_move_loses_for_the_mover_and_ends_the_game():
    env = connect4_aec_env(rows=2, cols=2)
    env.reset()
    for column in (0, 0):  # fills column 0
        env.step(column)
    assert env.agent_selection == "player_0"
    env.step(0)
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0}
    assert all(env.terminations.values())


def test_first_stone_lies_in_the_bottom_row_which_is_the_last_row_of_the_observation():
    """
    . . . . . . .      row 0 of the observation (top)
    ...
    . . . X . . .      row 5 (bottom): player_0 played column 3
    """
    env = connect4_aec_env()
    env.reset()
    env.step(3)
    mine = env.observe("player_0")["observation"]
    theirs = env.observe("player_1")["observation"]
    assert mine[5, 3, 0] == 1 and mine.sum() == 1
    assert theirs[5, 3, 1] == 1 and theirs.sum() == 1
    assert env.observe("player_1")["action_mask"].tolist() == [1] * 7
    assert env.observe("player_0")["action_mask"].tolist() == [0] * 7
