"""The Gymnasium adapters: Gymnasium's own checker, registration, and the vector env's games
replayed move by move on ``make_game`` (the engine's rule reference)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402

import src.envs  # noqa: E402,F401  (registers c4engine/Connect4-v0)
from src.envs.gym_env import Connect4Env, Connect4VectorEnv  # noqa: E402
from src.games import make_game  # noqa: E402

ROWS, COLS = 6, 7


@pytest.mark.parametrize("opponent", ["random", "heuristic", "search:2"])
def test_connect4_env_passes_gymnasiums_env_checker(opponent):
    check_env(Connect4Env(opponent=opponent), skip_render_check=True)


def test_connect4_env_passes_the_checker_with_ansi_rendering():
    check_env(gym.make("c4engine/Connect4-v0", render_mode="ansi").unwrapped)  # made: render modes checked too


def test_gymnasiums_episode_statistics_wrapper_counts_the_vector_envs_games():
    from gymnasium.wrappers.vector import RecordEpisodeStatistics

    envs = RecordEpisodeStatistics(Connect4VectorEnv(8))
    _, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    ended, recorded = 0, 0
    for _ in range(40):
        _, reward, terminated, _, info = envs.step(np.argmax(rng.random((8, COLS)) * info["action_mask"], axis=1))
        ended += terminated.sum()
        if "episode" in info:
            recorded += info["_episode"].sum()
            np.testing.assert_array_equal(info["episode"]["r"][terminated], reward[terminated])
    assert recorded == ended > 0


def test_gymnasium_make_builds_connect4_env_with_the_named_opponent():
    env = gym.make("c4engine/Connect4-v0", opponent="heuristic")
    assert isinstance(env.unwrapped, Connect4Env)
    assert env.unwrapped._matches.opponent_spec == "heuristic"
    assert env.observation_space == gym.spaces.Box(0.0, 1.0, (2, ROWS, COLS), np.float32)
    assert env.action_space == gym.spaces.Discrete(COLS)


def test_unknown_opponent_name_is_refused_with_the_opponent_modules_message():
    with pytest.raises(ValueError, match="did you mean 'heuristic'"):
        gym.make("c4engine/Connect4-v0", opponent="heuristc")


def test_make_vec_with_vector_entry_point_returns_the_batched_vector_env():
    envs = gym.make_vec("c4engine/Connect4-v0", num_envs=5, vectorization_mode="vector_entry_point",
                        opponent="smart_heuristic")
    assert isinstance(envs, Connect4VectorEnv)
    assert envs.num_envs == 5
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert envs.single_observation_space == gym.spaces.Box(0.0, 1.0, (2, ROWS, COLS), np.float32)
    assert envs.single_action_space == gym.spaces.Discrete(COLS)
    assert envs.observation_space.shape == (5, 2, ROWS, COLS)
    obs, info = envs.reset(seed=3)
    assert obs.shape == (5, 2, ROWS, COLS) and obs.dtype == np.float32
    assert info["action_mask"].shape == (5, COLS)


def test_an_out_of_range_move_loses_and_ends_the_game():
    env = Connect4Env(start_policy="agent_first")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(COLS)
    assert (reward, terminated, truncated, info["illegal"]) == (-1.0, True, False, True)
    assert not obs.any()  # the empty board the illegal move was tried on
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_the_agent_sees_its_own_winning_four_in_plane_0_of_the_final_observation():
    """The agent stacks column 0; a random opponent that never blocks it on these seeds
    lets it win, and the final observation shows the four from the agent's side."""
    wins = 0
    for seed in range(20):
        env = Connect4Env(start_policy="agent_first")
        obs, info = env.reset(seed=seed)
        terminated = False
        while not terminated:
            obs, reward, terminated, _, info = env.step(0 if info["action_mask"][0] else int(np.argmax(info["action_mask"])))
        if reward == 1.0 and obs[0, :4, 0].all():
            wins += 1
            assert not obs[1, :4, 0].any()
    assert wins > 0


def test_vector_env_same_seed_same_games_other_seed_other_games():
    def play(seed):
        envs = Connect4VectorEnv(16, opponent="random")
        obs, _ = envs.reset(seed=seed)
        rng = np.random.default_rng(0)
        seen = [obs]
        for _ in range(30):
            obs, *_ = envs.step(rng.integers(0, COLS, 16))
            seen.append(obs)
        return np.stack(seen)

    assert np.array_equal(play(1), play(1))
    assert not np.array_equal(play(1), play(2))


class Reference:
    """One game on ``make_game`` (torch backend), from the agent's side."""

    def __init__(self, rows: int, cols: int):
        self.env = make_game("connect4", 1, device="cpu", backend="torch", seed=0, rows=rows, cols=cols)
        self.env.reset()

    def obs(self) -> np.ndarray:
        return self.env.observe()[0].numpy()

    def legal(self) -> np.ndarray:
        return self.env.legal_actions()[0].numpy()

    def play(self, column: int):
        """(reward of the mover, done, obs of the position before any reset)."""
        cur, mask = self.env.cur.clone(), self.env.mask.clone()
        _, reward, done, _ = self.env.step(torch.tensor([column]))
        after = self.env.ops.play(cur, mask, torch.tensor([column]))
        self.env.cur, self.env.mask = after[0], after[1]
        return float(reward[0]), bool(done[0]), self.obs()

    def start(self, obs: np.ndarray) -> None:
        """A fresh game; where the env shows the opponent's first stone, play it."""
        self.env.reset()
        if obs.any():
            self.play(new_stone_column(np.zeros(obs.shape[1:]), obs[1]))


def new_stone_column(before: np.ndarray, after: np.ndarray) -> int:
    """The column of the single stone ``after`` has and ``before`` lacks (2-D planes)."""
    diff = np.argwhere(after.astype(bool) & ~before.astype(bool))
    assert len(diff) == 1, f"expected exactly one new stone, got {diff.tolist()}"
    return int(diff[0][1])


def replay_on_make_game(opponent: str, rows: int, cols: int, device: str = "cpu", n: int = 12,
                        steps: int = 80, backend: str | None = None) -> dict:
    """Play random (sometimes illegal) agent moves in the vector env and replay every game on
    ``make_game``: the opponent's replies are read off the env's observations, everything
    else (positions, legal masks, rewards, terminations, final observations) must agree."""
    envs = Connect4VectorEnv(n, opponent=opponent, rows=rows, cols=cols, device=device, backend=backend)
    obs, info = envs.reset(seed=11)
    rng = np.random.default_rng(5)
    refs = [Reference(rows, cols) for _ in range(n)]
    for i, ref in enumerate(refs):
        ref.start(obs[i])
    outcomes = {"win": 0, "loss": 0, "draw": 0, "illegal": 0}
    for _ in range(steps):
        for i, ref in enumerate(refs):
            np.testing.assert_array_equal(obs[i], ref.obs())
            np.testing.assert_array_equal(info["action_mask"][i], ref.legal().astype(np.int8))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
        odd = rng.random(n) < 0.05  # sometimes a full column or an out-of-range one
        actions[odd] = rng.integers(-1, cols + 1, odd.sum())
        obs, reward, terminated, truncated, info = envs.step(actions)
        assert not truncated.any()
        assert info.get("_final_obs", np.zeros(n, bool)).tolist() == terminated.tolist()
        if terminated.any():
            assert all(x is None for x in info["final_obs"][~terminated])  # only finished games have one
        for i, ref in enumerate(refs):
            before = ref.obs()
            r1, d1, after = ref.play(int(actions[i]))
            if d1:  # the agent's move ended the game: its final position, seen from its side
                assert terminated[i] and reward[i] == r1
                kind = "illegal" if r1 < 0 else "win" if r1 > 0 else "draw"
                outcomes[kind] += 1
                expected = before if kind == "illegal" else after[::-1]
                np.testing.assert_array_equal(info["final_obs"][i], expected)
            else:  # the opponent replied: find its stone in what the env shows next
                shown = info["final_obs"][i] if terminated[i] else obs[i]
                r2, d2, after2 = ref.play(new_stone_column(after[0], shown[1]))
                np.testing.assert_array_equal(shown, after2)
                assert terminated[i] == d2 and reward[i] == -r2
                if d2:
                    outcomes["loss" if r2 > 0 else "draw"] += 1
            if terminated[i]:  # the same step started the next game
                ref.start(obs[i])
    return outcomes


@pytest.mark.parametrize("opponent", ["random", "heuristic"])
def test_vector_env_games_replay_move_for_move_on_make_game(opponent):
    outcomes = replay_on_make_game(opponent, ROWS, COLS)
    assert outcomes["win"] and outcomes["loss"] and outcomes["illegal"], outcomes


def test_vector_env_on_the_torch_backend_replays_move_for_move_on_make_game():
    outcomes = replay_on_make_game("heuristic", ROWS, COLS, backend="torch", steps=60)
    assert outcomes["win"] and outcomes["loss"], outcomes


@pytest.mark.parametrize("rows, cols", [(3, 3), (2, 3)])
def test_vector_env_draws_on_boards_too_small_for_four_replay_on_make_game(rows, cols):
    """No four fits: every game is a draw (or an illegal move), ended by the agent's or the
    opponent's move depending on the seat and on whether the board has an odd cell count."""
    outcomes = replay_on_make_game("random", rows, cols, steps=40)
    assert outcomes["draw"] > 20 and outcomes["win"] == outcomes["loss"] == 0, outcomes


@pytest.mark.cuda
def test_vector_env_on_cuda_replays_move_for_move_on_make_game():
    outcomes = replay_on_make_game("heuristic", ROWS, COLS, device="cuda")
    assert outcomes["win"] and outcomes["loss"], outcomes


def test_random_agent_scores_far_worse_against_search_than_against_random():
    def score(opponent):
        envs = Connect4VectorEnv(256, opponent=opponent)
        _, info = envs.reset(seed=0)
        rng = np.random.default_rng(0)
        results = []
        for _ in range(60):
            actions = np.argmax(rng.random(info["action_mask"].shape) * info["action_mask"], axis=1)
            _, reward, terminated, _, info = envs.step(actions)
            results += reward[terminated].tolist()
        return (np.array(results) > 0).mean() + 0.5 * (np.array(results) == 0).mean()

    assert 0.4 < score("random") < 0.6
    assert score("search:4") < 0.1


def test_solver_opponents_are_available_by_name_and_never_lose_to_a_random_agent():
    pytest.importorskip("bitbully")  # the solver extra
    check_env(Connect4Env(opponent="solver:4"), skip_render_check=True)
    envs = Connect4VectorEnv(8, opponent="perfect")
    _, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    results = []
    for _ in range(20):
        _, reward, terminated, _, info = envs.step(np.argmax(rng.random((8, COLS)) * info["action_mask"], axis=1))
        results += reward[terminated].tolist()
    assert len(results) > 8 and max(results) <= 0
