"""The engine on a second game written only against the ``Game`` protocol (tic-tac-toe,
``tests/games/toy_game.py``): its rules against a brute-force reference, its symmetries, the
generic search on both backends, training both agents through the trainer, evaluation, and
the config errors for Connect4-only pieces."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from src.agents.alphazero import BatchedMCTS
from src.config.schema import ConfigError
from src.games import GAMES, make_game, make_rules
from src.games.protocol import apply_symmetries
from src.training.config import validate_config
from tests.games import toy_game
from tests.training.helpers import make_trainer, tiny_config


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    monkeypatch.setitem(GAMES, "tictactoe", toy_game.ENTRY)


def winner(board: np.ndarray) -> int:
    """1 or 2 when that player has three in a row of the int8 [3, 3] board, else 0."""
    lines = list(board) + list(board.T) + [board.diagonal(), np.fliplr(board).diagonal()]
    for p in (1, 2):
        if any((line == p).all() for line in lines):
            return p
    return 0


def test_random_games_agree_with_a_brute_force_reference():
    game = make_rules("tictactoe", "cpu", "torch", seed=1)
    n = 200
    state = game.init(n)
    boards = np.zeros((n, 3, 3), np.int8)  # 1 = first player, 2 = second
    over = np.zeros(n, bool)
    for ply in range(9):
        legal = game.legal_mask(state).numpy()
        assert (legal == (boards.reshape(n, 9) == 0))[~over].all()
        a = game.random_actions(state)
        state, reward, done, illegal = game.play(state, a, torch.from_numpy(~over))
        mover = 1 + ply % 2
        for i in np.flatnonzero(~over):
            boards[i].flat[int(a[i])] = mover
            w, full = winner(boards[i]), (boards[i] != 0).all()
            assert float(reward[i]) == (1.0 if w == mover else 0.0) and bool(done[i]) == (w != 0 or full)
            assert not illegal[i]
        over |= done.numpy()
        # the observation is from the side to move: plane 0 its stones
        obs = game.observe(state).numpy()
        to_move = 1 + (ply + 1) % 2
        live = ~over
        assert (obs[live, 0] == (boards[live] == to_move)).all() and (obs[live, 1] == (boards[live] == 3 - to_move)).all()
    assert over.all()


def test_the_symmetries_map_observations_and_actions_consistently():
    game = make_rules("tictactoe", "cpu", "torch")
    assert len(game.symmetries) == 8 and game.symmetries[0].actions == tuple(range(9))
    state = game.init(9)
    after, _, _, _ = game.play(state, torch.arange(9))  # one stone, in cell a of game a
    obs = game.observe(after)  # the stone is the other side's: plane 1
    for k in range(8):
        ks = torch.full((9,), k)
        (moved,), (acts,), (legal,) = apply_symmetries(game, ks, obs=[obs], actions=[torch.arange(9)],
                                                       per_action=[game.legal_mask(after)])
        # the transformed board has its stone where the permuted action puts it
        assert torch.equal(moved[:, 1].reshape(9, 9).argmax(dim=1), acts)
        assert torch.equal(legal, game.legal_mask(game.from_observation(moved)))
    assert len({s.actions for s in game.symmetries}) == 8  # all distinct


def test_numba_and_torch_search_agree_and_find_the_win():
    game = make_rules("tictactoe", "cpu", "torch")
    # x (to move) has cells 0 and 1; o has 3 and 4: x wins at 2, o threatens 5
    state = toy_game.TState(torch.tensor([0b11]), torch.tensor([0b11000]))

    def net(s):
        return torch.zeros((s[0].shape[0], 9)), torch.zeros(s[0].shape[0])

    results = [BatchedMCTS(game, "cpu", b).search(state, net, 50) for b in ("numba", "torch")]
    assert torch.equal(results[0].visits, results[1].visits) and torch.equal(results[0].q, results[1].q)
    assert BatchedMCTS.act(results[0]).tolist() == [2] and results[0].q[0, 2] == 1.0


@pytest.mark.parametrize("agent", ["dqn", "alphazero"])
def test_both_agents_train_and_evaluate_on_the_second_game(agent):
    raw = tiny_config(game={"id": "tictactoe", "params": {}}, train={"total_steps": 192},
                      eval={"interval": 192, "games": 20, "opponents": ["random"]})
    raw["game"] = {"id": "tictactoe", "params": {}}
    if agent == "alphazero":
        raw["agent"] = {"id": "alphazero", "params": {"device": "cpu", "channels": 4, "blocks": 1, "simulations": 4,
                                                      "batch_size": 16, "learning_starts": 16,
                                                      "random_opening_plies": 2}}
        raw["train"]["opponent_sampler"] = {"type": "self_play"}
    else:
        raw["agent"]["params"].update(mirror_augment=True, n_step=2)
    trainer = make_trainer(raw)
    assert trainer.train() == "completed"
    assert trainer.agent.num_updates > 0 and int(trainer.episode_dev) > 0
    result = trainer.evaluator.latest["results"]["random"]
    assert result["games"] == 20 and abs(result["win"] + result["draw"] + result["loss"] - 1) < 1e-9


@pytest.mark.parametrize("section, key, problem", [
    ({"agent": {"params": {"features": "threats"}}}, "agent.params.features", "not a feature set of game 'tictactoe'"),
    ({"eval": {"opponents": ["heuristic"]}}, "eval.opponents[0]", "does not play tictactoe"),
    ({"eval": {"opponents": ["random"], "accuracy": 10}}, "eval.accuracy", "Connect4's"),
    ({"train": {"opponent_sampler": {"type": "pool", "params": {"heuristic_distribution": {"search:2": 1.0}}}}},
     "train.opponent_sampler.params.heuristic_distribution.search:2", "does not play tictactoe"),
    ({"game": {"params": {"rows": 3}}}, "game.params.rows", "unknown key"),
])
def test_connect4_only_pieces_asked_for_on_another_game_are_config_errors(section, key, problem):
    raw = tiny_config(**section)
    raw["game"]["id"] = "tictactoe"
    if "game" not in section:
        raw["game"]["params"] = {}
    with pytest.raises(ConfigError) as e:
        validate_config(raw)
    assert e.value.key == key and problem in str(e.value) and "\n" not in str(e.value)


def test_the_env_api_and_the_adapters_serve_the_second_game():
    env = make_game("tictactoe", 4, device="cpu", seed=0)
    obs = env.reset()
    assert obs.shape == (4, 2, 3, 3) and env.legal_actions().all()
    for _ in range(9):
        obs, reward, done, info = env.step(env.sample_actions())
    assert done.dtype == torch.bool and "illegal" in info
    pytest.importorskip("gymnasium")
    from src.envs.gym_env import GameVectorEnv

    venv = GameVectorEnv(8, game="tictactoe", opponent="random")
    obs, info = venv.reset(seed=0)
    assert obs.shape == (8, 2, 3, 3) and info["action_mask"].shape == (8, 9)
    for _ in range(5):
        obs, reward, term, trunc, info = venv.step(np.argmax(info["action_mask"], axis=1))
    assert set(np.unique(reward)) <= {-1.0, 0.0, 1.0}
