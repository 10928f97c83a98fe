"""Othello on both backends against OpenSpiel's ``othello`` and the slow reference.

OpenSpiel (``open-spiel``, the ``test`` extra) is an independent implementation: the same
random games are played move by move in it and in a batch of env games, comparing the legal
actions, the discs of both sides, the side to move and each game's outcome. The pure-Python
reference (``othello_reference.py``) checks the same on games sprinkled with illegal actions,
and hand-drawn positions pin the pass and the end of a game.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.othello_geometry import symmetry_actions
from src.games import make_game
from tests.games.openspiel_oracle import step_both
from tests.games.othello_reference import PASS, WHITE, RefOthello, from_words, parse

BACKENDS = [pytest.param(("numba", "cpu"), id="numba"), pytest.param(("torch", "cpu"), id="torch-cpu"),
            pytest.param(("torch", "cuda"), id="torch-cuda", marks=pytest.mark.cuda)]


def env_for(backend_device, n, seed=0, **kw):
    backend, device = backend_device
    return make_game("othello", n, device=device, backend=backend, seed=seed, **kw)


def np_(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def bits(words: np.ndarray) -> np.ndarray:
    """bool [N, 64]: the cells of int64 words."""
    return ((words[:, None].view(np.uint64) >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(bool)


def load(env, games: list[RefOthello]) -> None:
    words = np.array([g.words() for g in games], dtype=np.int64)
    env.load_state_dict({"mine": torch.from_numpy(words[:, 0]), "theirs": torch.from_numpy(words[:, 1]),
                         "player": torch.from_numpy(words[:, 2]), "rng": env.game.state_dict()})


def env_words(env) -> list[tuple[int, int, int]]:
    return list(zip(*(np_(w).tolist() for w in env.state)))


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_random_games_agree_with_openspiel_move_by_move(backend_device):
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("othello")
    assert game.num_distinct_actions() == 65  # cells 0-63 row-major, 64 the pass, as ours
    n, steps = 400, 200  # ~ 1,200 complete games
    env = env_for(backend_device, n, seed=1)
    spiel = [game.new_initial_state() for _ in range(n)]
    finished, passes = 0, 0
    env.reset()
    for _ in range(steps):
        legal = np_(env.legal_actions())
        mine, theirs, player = (np_(w) for w in env.state)
        mine_b, theirs_b = bits(mine), bits(theirs)
        for i, s in enumerate(spiel):
            assert s.current_player() == player[i]
            assert np.flatnonzero(legal[i]).tolist() == s.legal_actions()
            obs = np.asarray(s.observation_tensor(s.current_player())).reshape(3, 64)  # empty, mover's, other's
            assert (obs[1] == 1).tolist() == mine_b[i].tolist() and (obs[2] == 1).tolist() == theirs_b[i].tolist()
        a, done = step_both(env, spiel, game, player)
        passes += (a == PASS).sum()
        finished += done.sum()
    assert finished > 1000 and passes > 0


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_random_games_with_illegal_actions_match_the_reference(backend_device):
    n, steps = 200, 150
    env = env_for(backend_device, n, seed=2)
    refs = [RefOthello() for _ in range(n)]
    rng = np.random.default_rng(3)
    illegal_seen = 0
    for _ in range(steps):
        a = np_(env.sample_actions())
        wild = rng.random(n) < 0.03  # now and then any action in -1..65, mostly illegal
        a[wild] = rng.integers(-1, 66, wild.sum())
        _, reward, done, info = env.step(torch.from_numpy(a).to(env.device))
        reward, done, illegal = np_(reward), np_(done), np_(info["illegal"])
        for i, g in enumerate(refs):
            r, d, il = g.step(int(a[i]))
            assert (reward[i], done[i], illegal[i]) == (r, d, il), i
            illegal_seen += il
        assert env_words(env) == [g.words() for g in refs]
    assert illegal_seen > 50


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_observation_planes_are_mover_then_other_row_major(backend_device):
    env = env_for(backend_device, 1)
    obs = np_(env.reset())[0]
    assert obs.shape == (2, 8, 8) and obs.dtype == np.float32
    assert np.argwhere(obs[0]).tolist() == [[3, 4], [4, 3]]  # black, to move: e4, d5
    assert np.argwhere(obs[1]).tolist() == [[3, 3], [4, 4]]  # white: d4, e5
    obs, *_ = env.step(torch.tensor([19]))  # d3 flips d4
    assert np.argwhere(np_(obs)[0, 0]).tolist() == [[4, 4]]  # white to move now
    assert np.argwhere(np_(obs)[0, 1]).tolist() == [[2, 3], [3, 3], [3, 4], [4, 3]]


def test_pass_is_the_only_legal_action_when_no_cell_is_and_the_game_goes_on():
    # black to move has no legal cell (every white run ends at the edge); white has d1: black
    # must pass, then white plays
    g = parse("""
        o o x . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .""")
    for bd in (("numba", "cpu"), ("torch", "cpu")):
        env = env_for(bd, 1)
        load(env, [g])
        legal = np_(env.legal_actions())[0]
        assert np.flatnonzero(legal).tolist() == [PASS]
        _, reward, done, info = env.step(torch.tensor([PASS]))
        assert (float(reward[0]), bool(done[0]), bool(info["illegal"][0])) == (0.0, False, False)
        assert env_words(env)[0][2] == 1  # white to move
        assert np.flatnonzero(np_(env.legal_actions())[0]).tolist() == [3]  # white: d1


def test_game_ends_when_neither_side_can_move_and_more_discs_win():
    # black plays c1 (action 2), flipping b1: then no empty cell borders anything flippable
    g = parse("""
        x o . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . o""")
    for bd in (("numba", "cpu"), ("torch", "cpu")):
        env = env_for(bd, 2)
        load(env, [g, g])
        _, reward, done, info = env.step(torch.tensor([2, 3]))  # a win (3 discs to 1); d1 is illegal
        assert np_(reward).tolist() == [1.0, -1.0] and np_(done).all() and np_(info["illegal"]).tolist() == [False, True]
        assert env_words(env) == [RefOthello().words()] * 2  # both reset


def test_a_move_ending_the_game_with_fewer_discs_loses_and_equal_discs_draw():
    # black c1 flips b1 and ends the game (no empty cell can flip anything): x x x against
    # white's four (a loss) or three (a draw) in the corner
    corner = {4: ((6, 6), (6, 7), (7, 6), (7, 7)), 3: ((6, 7), (7, 6), (7, 7))}
    games = []
    for whites in (4, 3):
        g = parse("x o . . . . . .\n" + ". . . . . . . .\n" * 7)
        for r, c in corner[whites]:
            g.board[r][c] = WHITE
        games.append(g)
    for bd in (("numba", "cpu"), ("torch", "cpu")):
        env = env_for(bd, 2)
        load(env, games)
        _, reward, done, _ = env.step(torch.tensor([2, 2]))
        assert np_(done).all() and np_(reward).tolist() == [-1.0, 0.0]
        assert [from_words(*g.words()).step(2) for g in games] == [(-1.0, True, False), (0.0, True, False)]


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_symmetries_map_legal_moves_and_moves_onto_each_other(backend_device):
    env = env_for(backend_device, 256, seed=4)
    for _ in range(20):
        env.step(env.sample_actions())
    game, state = env.game, env.state
    obs, legal = game.observe(state), game.legal_mask(state)
    a = game.random_actions(state)
    nxt, reward, done, _ = game.play(state, a)
    assert [s.name for s in game.symmetries][0] == "identity" and len(game.symmetries) == 8
    for sym in game.symmetries:
        perm = torch.tensor(sym.actions, device=env.device)
        assert sorted(sym.actions) == list(range(65)) and sym.actions[PASS] == PASS
        t_state = game.from_observation(sym.transform(obs))
        t_state = type(t_state)(t_state.mine, t_state.theirs, state.player)
        t_legal = game.legal_mask(t_state)
        assert torch.equal(t_legal[:, perm], legal)  # action a legal here <=> its image legal there
        t_nxt, t_reward, t_done, _ = game.play(t_state, perm[a])
        live = ~done
        assert torch.equal(t_reward, reward) and torch.equal(t_done, done)
        assert torch.equal(game.observe(t_nxt)[live], sym.transform(game.observe(nxt))[live])
    assert (symmetry_actions()[:, :64] == np.arange(64)).all(axis=1).sum() == 1  # only the identity fixes every cell


@pytest.mark.parametrize("obs_dtype", ["uint8", "bool"])
@pytest.mark.parametrize("backend_device", BACKENDS)
def test_compact_observations_equal_float32(backend_device, obs_dtype):
    a, b = env_for(backend_device, 37, seed=5), env_for(backend_device, 37, seed=5, obs_dtype=obs_dtype)
    for _ in range(30):
        actions = a.sample_actions()
        oa, *_ = a.step(actions)
        ob, *_ = b.step(actions.clone())
        assert ob.dtype == getattr(torch, obs_dtype) and torch.equal(oa, ob.to(torch.float32))
        assert torch.equal(b.observe().to(torch.float32), a.observe())


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_state_dict_resumes_the_same_games_and_random_stream(backend_device):
    env = env_for(backend_device, 64, seed=6)
    for _ in range(10):
        env.step(env.sample_actions())
    saved = env.state_dict()
    run = lambda e: [np_(e.step(e.sample_actions())[0]) for _ in range(10)]  # noqa: E731
    first = run(env)
    other = env_for(backend_device, 64, seed=99)
    other.load_state_dict(saved)
    assert all((x == y).all() for x, y in zip(first, run(other)))


def test_random_actions_are_uniform_over_the_legal_moves():
    for bd in (("numba", "cpu"), ("torch", "cpu")):
        env = env_for(bd, 20000, seed=7)  # the start: four legal cells
        counts = np.bincount(np_(env.sample_actions()), minlength=65)
        assert counts[[19, 26, 37, 44]].sum() == 20000
        assert (abs(counts[[19, 26, 37, 44]] - 5000) < 300).all()  # ~4.7 sigma


def test_render_parse_and_names():
    env = env_for(("torch", "cpu"), 1)
    env.step(torch.tensor([19]))  # black d3
    text = env.game.render(env.state)
    assert text.splitlines()[0] == "  a b c d e f g h"
    assert text.splitlines()[3] == "3 . . . X . . . ."
    assert text.splitlines()[4] == "4 . . . X X . . ."
    g = env.game
    assert g.parse_action("d3") == 19 and g.parse_action("pass") == PASS and g.parse_action("i9") is None
    assert all(g.parse_action(g.action_name(a)) == a for a in range(65))


def test_reference_agrees_with_openspiel_too():
    """The two oracles agree with each other (so a bug shared by the engine and one of them shows)."""
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("othello")
    rng = np.random.default_rng(8)
    for _ in range(30):
        s, r = game.new_initial_state(), RefOthello()
        while not s.is_terminal():
            assert r.legal() == s.legal_actions()
            a = int(rng.choice(s.legal_actions()))
            mover = s.current_player()
            s.apply_action(a)
            reward, done, _ = r.step(a)
            assert done == s.is_terminal()
        assert reward == s.returns()[mover]


@pytest.mark.parametrize("obs_dtype", ["float32", "uint8"])
def test_numba_and_torch_agree_bit_for_bit_on_the_same_actions(obs_dtype):
    """The numba env step (branch-free kernels, moves and planes in two loops) and the torch one
    give the same words, planes, rewards, ends, illegal flags, legal masks and flip counts."""
    n, steps = 512, 150
    envs = [env_for(bd, n, seed=4, obs_dtype=obs_dtype) for bd in (("numba", "cpu"), ("torch", "cpu"))]
    rng = np.random.default_rng(5)
    for _ in range(steps):
        a = np_(envs[0].sample_actions())
        wild = rng.random(n) < 0.02  # now and then any action in -1..65, mostly illegal
        a[wild] = rng.integers(-1, 66, wild.sum())
        outs = [env.step(torch.from_numpy(a)) for env in envs]
        (obs0, r0, d0, i0), (obs1, r1, d1, i1) = outs
        assert torch.equal(obs0, obs1) and torch.equal(r0, r1) and torch.equal(d0, d1)
        assert torch.equal(i0["illegal"], i1["illegal"])
        assert env_words(envs[0]) == env_words(envs[1])
        assert torch.equal(envs[0].legal_actions(), envs[1].legal_actions())
        assert torch.equal(envs[0].game.flip_counts(envs[0].state), envs[1].game.flip_counts(envs[1].state))
