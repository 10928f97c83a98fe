"""BatchedConnect4 on both backends against the naive reference in ``reference.py``.

Backends are parametrised as (backend, device); the torch-on-CUDA cases carry the ``cuda``
marker, so ``pytest -m cuda`` runs them on a GPU and they skip without one. Numba compiles
its kernels for each board size, so it runs on three sizes and torch on many more.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels import connect4_numba as knb
from kernels import connect4_torch as kt
from kernels.geometry import Geometry
from src.games import make_game
from tests.games.reference import RefGame, check_reachable, decode, encode, parse, winner, wins_at

NUMBA = pytest.param(("numba", "cpu"), id="numba")
TORCH = pytest.param(("torch", "cpu"), id="torch-cpu")
CUDA = pytest.param(("torch", "cuda"), id="torch-cuda", marks=pytest.mark.cuda)
BACKENDS = [NUMBA, TORCH, CUDA]

# Numba compiles each board size in every process (~5 s of CPU per size; its disk cache
# misses, see tests/kernels), torch does not.
NUMBA_SIZES = [(6, 7), (4, 5), (8, 7)]  # standard, small, 63 bits exactly
# ... plus boards where no four fits (draws only), single rows and columns
TORCH_SIZES = NUMBA_SIZES + [(4, 4), (5, 6), (7, 7), (2, 3), (3, 3), (1, 1), (62, 1), (1, 31)]


def np_(t: torch.Tensor) -> np.ndarray:
    """A host copy: numba's step returns buffers that the next step overwrites."""
    return t.detach().cpu().numpy().copy()


def env_for(backend_device, n, rows=6, cols=7, seed=0):
    backend, device = backend_device
    return make_game("connect4", n, device=device, backend=backend, seed=seed, rows=rows, cols=cols)


def load_boards(env, boards, mover=1):
    """Put hand-drawn positions (``mover`` to move in every board) into the env's state."""
    words = [encode(b, mover) for b in boards]
    env.load_state_dict({
        "cur": torch.tensor([w[0] for w in words], dtype=torch.int64),
        "mask": torch.tensor([w[1] for w in words], dtype=torch.int64),
        "rng": env.ops.state_dict(),
    })


def env_boards(env) -> list[np.ndarray]:
    """The env's positions as reference boards (1 = side to move, 2 = other side)."""
    return [decode(int(c), int(m), env.rows, env.cols) for c, m in zip(np_(env.cur), np_(env.mask))]


def ref_boards(refs) -> list[np.ndarray]:
    """The reference positions with the same labels as ``env_boards``."""
    out = []
    for g in refs:
        b = np.zeros_like(g.board)
        b[g.board == g.to_move] = 1
        b[(g.board != 0) & (g.board != g.to_move)] = 2
        out.append(b)
    return out


def mixed_actions(rng: np.random.Generator, legal: np.ndarray, p_full=0.04, p_out=0.03) -> np.ndarray:
    """int64 [N]: mostly uniform legal columns, some full columns, some out of range."""
    n, cols = legal.shape
    scores = rng.random((n, cols)) + legal  # argmax = a uniform legal column
    actions = scores.argmax(axis=1)
    full_scores = rng.random((n, cols)) + ~legal
    has_full = (~legal).any(axis=1)
    pick_full = has_full & (rng.random(n) < p_full)
    actions = np.where(pick_full, full_scores.argmax(axis=1), actions)
    out_of_range = rng.choice(np.array([-1, cols, cols + 3, -(2 ** 40), 2 ** 40]), size=n)
    return np.where(rng.random(n) < p_out, out_of_range, actions).astype(np.int64)


# --- random games against the reference ---------------------------------------------

REF_CASES = [pytest.param(NUMBA.values[0], s, id=f"numba-{s[0]}x{s[1]}") for s in NUMBA_SIZES]
REF_CASES += [pytest.param(TORCH.values[0], s, id=f"torch-cpu-{s[0]}x{s[1]}") for s in TORCH_SIZES]
REF_CASES += [pytest.param(CUDA.values[0], s, id=f"torch-cuda-{s[0]}x{s[1]}", marks=pytest.mark.cuda)
              for s in NUMBA_SIZES]


@pytest.mark.parametrize("backend_device,size", REF_CASES)
def test_random_games_match_reference_step_by_step(backend_device, size):
    rows, cols = size
    n, steps = 24, max(60, 3 * rows * cols)
    env = env_for(backend_device, n, rows, cols)
    refs = [RefGame(rows, cols) for _ in range(n)]
    rng = np.random.default_rng(rows * 100 + cols)
    obs = np_(env.reset())
    assert not obs.any()
    finished = illegal_seen = wins = 0
    for t in range(steps):
        legal = np.stack([g.legal() for g in refs])
        np.testing.assert_array_equal(np_(env.legal_actions()), legal, err_msg=f"legal mask, step {t}")
        actions = mixed_actions(rng, legal)
        obs, reward, done, info = env.step(torch.as_tensor(actions, device=env.device))
        expected = [g.step(int(a)) for g, a in zip(refs, actions)]
        np.testing.assert_array_equal(np_(reward), [e[0] for e in expected], err_msg=f"reward, step {t}")
        np.testing.assert_array_equal(np_(done), [e[1] for e in expected], err_msg=f"done, step {t}")
        np.testing.assert_array_equal(np_(info["illegal"]), [e[2] for e in expected], err_msg=f"illegal, step {t}")
        np.testing.assert_array_equal(np_(obs), np.stack([g.obs() for g in refs]), err_msg=f"obs, step {t}")
        for i, (got, want) in enumerate(zip(env_boards(env), ref_boards(refs))):
            np.testing.assert_array_equal(got, want, err_msg=f"state of game {i}, step {t}")
        assert reward.dtype == torch.float32 and done.dtype == torch.bool and obs.dtype == torch.float32
        assert obs.shape == (n, 2, rows, cols)
        finished += int(np_(done).sum())
        illegal_seen += int(np_(info["illegal"]).sum())
        wins += int((np_(reward) == 1).sum())
    # the streams did reach game ends, illegal moves and (where four can be made) wins
    assert finished > n and illegal_seen > 0
    assert wins > 0 or not (cols >= 4 or (rows >= 4 and cols >= 2))


# --- hand-drawn positions -------------------------------------------------------------
# x = side to move, o = the other side; the top line is the top row. Each case: picture,
# the column x plays, and whether that move wins.

POSITIONS = {
    "vertical": ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        x . . . . . .
        x o . . . . .
        x o . . . . o
    """, 0, True),
    "horizontal_filling_a_gap": ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . o . o . .
        o x x . x o .
    """, 3, True),
    "diagonal_rising": ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . x o . . .
        . x o x . . .
        x o o o . . .
    """, 3, True),
    "diagonal_falling_middle_stone": ("""
        . . . . . . .
        . . . . . . .
        x . . . . . .
        o . . . . . .
        o o x . . . .
        x o o x . . .
    """, 1, True),
    # bits 3,4,5 of column 0 and bit 0 of column 1 would be four in a row without the
    # sentinel bit between the columns
    "no_win_across_a_column_boundary": ("""
        . . . . . . .
        x . . . . . .
        x . . . . . .
        o . . . . . .
        o . . . . . .
        o x . . . . o
    """, 0, False),
    "three_is_not_four": ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o o . x x . o
    """, 2, False),
}


@pytest.mark.parametrize("name", list(POSITIONS))
@pytest.mark.parametrize("backend_device", BACKENDS)
def test_hand_drawn_position_win_or_not(backend_device, name):
    picture, column, wins = POSITIONS[name]
    board = parse(picture)
    check_reachable(board)
    assert winner(board) == 0
    after = board.copy()
    row = int(np.count_nonzero(board[:, column]))
    after[row, column] = 1
    assert wins_at(after, row, column) == wins  # the picture says what it claims

    # game 0 plays the move; game 1 (same position) plays a harmless move elsewhere
    env = env_for(backend_device, 2)
    load_boards(env, [board, board])
    harmless = 6
    obs, reward, done, info = env.step(torch.tensor([column, harmless], device=env.device))
    obs, reward, done, illegal = np_(obs), np_(reward), np_(done), np_(info["illegal"])
    assert (reward[0], done[0], illegal[0]) == (float(wins), wins, False)
    assert (reward[1], done[1], illegal[1]) == (0.0, False, False)
    if wins:
        assert not obs[0].any(), "a finished game is reset within the step"
        assert np_(env.mask)[0] == 0 and np_(env.cur)[0] == 0
    else:
        # the side to move swaps: x's stones are now plane 1
        np.testing.assert_array_equal(obs[0, 1], after == 1)
        np.testing.assert_array_equal(obs[0, 0], after == 2)


DRAW_MOVES = [5, 5, 6, 6, 6, 1, 0, 3, 2, 6, 5, 2, 4, 4, 6, 0, 3, 4, 3, 6, 5, 4, 2, 5, 0, 3, 1, 1, 4, 4,
              5, 1, 3, 3, 0, 0, 2, 1, 1, 0, 2, 2]
DRAW_BEFORE_LAST = """
    x o . x x o x
    x x o o o x o
    o x o x x o x
    o x o o x o o
    x o x o x x x
    o x o x o o o
"""


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_draw_full_board_ends_with_zero_reward(backend_device):
    # played move by move
    env = env_for(backend_device, 1)
    env.reset()
    for k, a in enumerate(DRAW_MOVES):
        obs, reward, done, info = env.step(torch.tensor([a], device=env.device))
        last = k == len(DRAW_MOVES) - 1
        assert (float(reward[0]), bool(done[0]), bool(info["illegal"][0])) == (0.0, last, False), f"move {k}"
    assert not np_(obs).any() and np_(env.mask)[0] == 0
    # the same last move from the drawn position
    board = parse(DRAW_BEFORE_LAST)
    check_reachable(board)
    filled = board.copy()
    filled[5, 2] = 1
    assert winner(filled) == 0
    load_boards(env, [board])
    obs, reward, done, info = env.step(torch.tensor([2], device=env.device))
    assert (float(reward[0]), bool(done[0]), bool(info["illegal"][0])) == (0.0, True, False)
    assert not np_(obs).any()


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_win_on_the_last_empty_cell_is_a_win_not_a_draw(backend_device):
    board = parse("""
        o x . o x
        x o x o o
        o x x x o
        x o x o o
    """)
    check_reachable(board)
    after = board.copy()
    after[3, 2] = 1
    assert (after != 0).all() and wins_at(after, 3, 2)
    env = env_for(backend_device, 1, rows=4, cols=5)
    load_boards(env, [board])
    obs, reward, done, info = env.step(torch.tensor([2], device=env.device))
    assert (float(reward[0]), bool(done[0]), bool(info["illegal"][0])) == (1.0, True, False)
    assert not np_(obs).any()


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_illegal_moves_lose_end_and_reset_only_their_game(backend_device):
    full_column_0 = parse("""
        o . . . . . .
        x . . . . . .
        o . . . . . .
        x . . . . . .
        o . . . . . .
        x o x . . . .
    """)
    check_reachable(full_column_0)
    bad = [0, -1, 7, 100, -(2 ** 40), 2 ** 40]  # full column, then out of range
    n = len(bad) + 1
    env = env_for(backend_device, n)
    load_boards(env, [full_column_0] * n)
    before_cur, before_mask = np_(env.cur), np_(env.mask)
    obs, reward, done, info = env.step(torch.tensor(bad + [3], device=env.device))
    obs, reward, done, illegal = np_(obs), np_(reward), np_(done), np_(info["illegal"])
    np.testing.assert_array_equal(reward, [-1.0] * len(bad) + [0.0])
    np.testing.assert_array_equal(done, [True] * len(bad) + [False])
    np.testing.assert_array_equal(illegal, [True] * len(bad) + [False])
    assert not obs[:-1].any() and obs[-1].any()
    assert (np_(env.mask)[:-1] == 0).all() and (np_(env.cur)[:-1] == 0).all()
    assert np_(env.mask)[-1] != before_mask[-1] and np_(env.cur)[-1] != before_cur[-1]
    assert np_(env.legal_actions())[:-1].all()


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_auto_reset_starts_a_fresh_game_that_plays_on_correctly(backend_device):
    vertical_win = [0, 1, 0, 1, 0, 1, 0]  # first player wins on the 7th move
    env = env_for(backend_device, 2)
    env.reset()
    for round_ in range(2):
        for k, a in enumerate(vertical_win):
            # game 1 mirrors game 0 one column to the right
            obs, reward, done, _ = env.step(torch.tensor([a, a + 1], device=env.device))
            obs, reward, done = np_(obs), np_(reward), np_(done)
            last = k == len(vertical_win) - 1
            np.testing.assert_array_equal(done, [last, last], err_msg=f"round {round_}, move {k}")
            np.testing.assert_array_equal(reward, [float(last)] * 2, err_msg=f"round {round_}, move {k}")
            if k == 0:  # the stone just played is the opponent's from the new side to move
                assert obs[0, 1, 0, 0] == 1 and obs[0].sum() == 1
                assert obs[1, 1, 0, 1] == 1 and obs[1].sum() == 1
        assert not obs.any(), "the obs of a done game is the new game's empty board"
        assert np_(env.legal_actions()).all()


# --- both backends, same action streams ---------------------------------------------

def _assert_backends_agree(device: str, sizes, n=256, steps=100):
    for rows, cols in sizes:
        a = make_game("connect4", n, device="cpu", backend="numba", seed=1, rows=rows, cols=cols)
        b = make_game("connect4", n, device=device, backend="torch", seed=1, rows=rows, cols=cols)
        np.testing.assert_array_equal(np_(a.reset()), np_(b.reset()))
        rng = np.random.default_rng(7)
        for t in range(steps):
            legal = np_(a.legal_actions())
            np.testing.assert_array_equal(legal, np_(b.legal_actions()))
            actions = torch.from_numpy(mixed_actions(rng, legal))
            got_a = a.step(actions)
            got_a = [np_(x) for x in got_a[:3]] + [np_(got_a[3]["illegal"]), np_(a.cur), np_(a.mask)]
            got_b = b.step(actions.to(device))
            got_b = [np_(x) for x in got_b[:3]] + [np_(got_b[3]["illegal"]), np_(b.cur), np_(b.mask)]
            for name, x, y in zip(("obs", "reward", "done", "illegal", "cur", "mask"), got_a, got_b):
                assert x.dtype == y.dtype, f"{name} dtype {rows}x{cols}"
                np.testing.assert_array_equal(x, y, err_msg=f"{name}, {rows}x{cols}, step {t}")


def test_numba_and_torch_cpu_agree_bit_for_bit_on_the_same_action_streams():
    _assert_backends_agree("cpu", NUMBA_SIZES)


@pytest.mark.cuda
def test_numba_and_torch_cuda_agree_bit_for_bit_on_the_same_action_streams():
    _assert_backends_agree("cuda", [(6, 7), (8, 7)], n=4096, steps=100)


# --- seeds and sampling ---------------------------------------------------------------

def _sampled_stream(backend_device, seed, n=64, steps=40):
    env = env_for(backend_device, n, seed=seed)
    env.reset()
    out = []
    for _ in range(steps):
        a = env.sample_actions()
        out.append(np_(a))
        env.step(a)
    return np.stack(out)


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_same_seed_same_sample_stream_different_seed_different(backend_device):
    s1 = _sampled_stream(backend_device, seed=123)
    np.testing.assert_array_equal(s1, _sampled_stream(backend_device, seed=123))
    assert (s1 != _sampled_stream(backend_device, seed=124)).mean() > 0.5


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_state_dict_round_trip_resumes_the_same_streams(backend_device):
    env = env_for(backend_device, 32, seed=5)
    env.reset()
    for _ in range(10):
        env.step(env.sample_actions())
    saved = env.state_dict()
    run = lambda: [np_(env.step(env.sample_actions())[0]) for _ in range(10)]  # noqa: E731
    first = run()
    env.load_state_dict(saved)
    np.testing.assert_array_equal(np.stack(first), np.stack(run()))


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_unseeded_env_leaves_the_global_torch_rng_alone(backend_device):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    env_for(backend_device, 4, seed=None)
    np.testing.assert_array_equal(torch.rand(3), expected)


def _chi_square(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_sample_actions_are_legal_and_roughly_uniform(backend_device):
    # columns 0, 3 and 6 full (played round robin, so nobody has four); 1, 2, 4, 5 legal
    ref = RefGame()
    for a in [0, 3, 6] * 6:
        ref.step(a)
    board = ref_boards([ref])[0]
    check_reachable(board)
    n = 20_000
    env = env_for(backend_device, n, seed=11)
    load_boards(env, [board] * n)
    a = np_(env.sample_actions())
    assert set(np.unique(a)) == {1, 2, 4, 5}
    # chi-square with 3 degrees of freedom: 25 is p ~ 1e-5, generous for a fixed seed
    assert _chi_square(np.bincount(a, minlength=7)[[1, 2, 4, 5]]) < 25
    env.reset()
    a = np_(env.sample_actions())
    assert _chi_square(np.bincount(a, minlength=7)) < 35  # 6 degrees of freedom

    # along random games, every sampled column is legal
    env = env_for(backend_device, 512, seed=12)
    env.reset()
    for _ in range(60):
        legal = np_(env.legal_actions())
        a = env.sample_actions()
        assert legal[np.arange(512), np_(a)].all()
        _, _, _, info = env.step(a)
        assert not np_(info["illegal"]).any()


# --- argument checks ------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("rows,cols", [(0, 7), (6, 0), (-1, 7), (6, -2), (9, 7), (8, 8), (1, 32), (63, 1)])
def test_bad_board_sizes_are_rejected_naming_rows_and_cols(backend, rows, cols):
    with pytest.raises(ValueError) as err:
        make_game("connect4", 4, device="cpu", backend=backend, rows=rows, cols=cols)
    assert "rows" in str(err.value) and "cols" in str(err.value)


@pytest.mark.parametrize("rows,cols", [(8, 7), (62, 1), (1, 31), (1, 1)])
def test_largest_and_smallest_boards_are_accepted(rows, cols):
    env = make_game("connect4", 2, device="cpu", backend="torch", rows=rows, cols=cols)
    assert env.reset().shape == (2, 2, rows, cols)


@pytest.mark.parametrize("backend_device", BACKENDS)
@pytest.mark.parametrize("shape", [(5,), (3,), (4, 1), ()])
def test_actions_of_the_wrong_shape_are_rejected(backend_device, shape):
    env = env_for(backend_device, 4)
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(shape, dtype=torch.int64, device=env.device))


# --- play with an active mask (both kernels) ------------------------------------------

def _random_positions(n, rows, cols, seed):
    """cur, mask int64 [n] and legal bool [n, cols] from the reference, after a random
    number of random moves."""
    rng = np.random.default_rng(seed)
    cur, mask = np.zeros(n, np.int64), np.zeros(n, np.int64)
    legal = np.zeros((n, cols), bool)
    for i in range(n):
        g = RefGame(rows, cols)
        for _ in range(rng.integers(0, rows * cols)):
            _, done, _ = g.step(int(rng.choice(np.flatnonzero(g.legal()))))
            if done:
                break
        cur[i], mask[i] = encode(g.board, g.to_move)
        legal[i] = g.legal()
    return cur, mask, legal


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_play_with_active_mask_leaves_inactive_games_unchanged(backend_device):
    backend, device = backend_device
    g = Geometry(6, 7)
    n = 400
    cur, mask, legal = _random_positions(n, 6, 7, seed=3)
    rng = np.random.default_rng(4)
    actions = mixed_actions(rng, legal, p_full=0.2, p_out=0.1)
    active = rng.random(n) < 0.5
    if backend == "numba":
        play = lambda act: knb.play(cur, mask, actions, act, g)  # noqa: E731
    else:
        t = lambda x: torch.as_tensor(x, device=device)  # noqa: E731
        play = lambda act: kt.play(t(cur), t(mask), t(actions), None if act is None else t(act), g)  # noqa: E731
    masked = [np_(torch.as_tensor(x)) for x in play(active)]
    full = [np_(torch.as_tensor(x)) for x in play(None)]
    new_cur, new_mask, reward, done, illegal = masked
    np.testing.assert_array_equal(new_cur[~active], cur[~active])
    np.testing.assert_array_equal(new_mask[~active], mask[~active])
    assert not reward[~active].any() and not done[~active].any() and not illegal[~active].any()
    for x, y in zip(masked, full):
        np.testing.assert_array_equal(x[active], y[active])
    assert illegal[active].any() and (new_mask[active] != mask[active]).any()


# --- compact observations (obs_dtype) -------------------------------------------------

@pytest.mark.parametrize("obs_dtype", ["uint8", "bool"])
@pytest.mark.parametrize("backend_device", BACKENDS)
def test_compact_obs_dtype_holds_the_same_planes_as_float32(backend_device, obs_dtype):
    """Same seed, same actions: the uint8/bool env's reset, step and observe give exactly the
    float32 env's planes in the compact dtype, and the same rewards, dones and positions."""
    backend, device = backend_device
    want_dtype = {"uint8": torch.uint8, "bool": torch.bool}[obs_dtype]
    ref = env_for(backend_device, 256, seed=3)
    env = make_game("connect4", 256, device=device, backend=backend, seed=3, obs_dtype=obs_dtype)
    for x, y in ((ref.reset(), env.reset()), (ref.observe(), env.observe())):
        assert y.dtype == want_dtype and torch.equal(x, y.float())
    for t in range(60):
        a = ref.sample_actions()
        assert torch.equal(a, env.sample_actions())
        o_ref, r_ref, d_ref, i_ref = ref.step(a)
        o, r, d, i = env.step(a)
        assert o.dtype == want_dtype and o.shape == o_ref.shape
        assert torch.equal(o.float(), o_ref), f"step {t}"
        assert torch.equal(r, r_ref) and torch.equal(d, d_ref) and torch.equal(i["illegal"], i_ref["illegal"])
        assert torch.equal(env.observe().float(), ref.observe())


@pytest.mark.parametrize("obs_dtype", ["uint8", "bool"])
@pytest.mark.parametrize("n, rows, cols", [(512, 6, 7), (13, 6, 7), (7, 6, 7), (21, 6, 5), (19, 6, 8), (21, 4, 5),
                                           (19, 8, 7)])
def test_compact_obs_numba_and_torch_agree_bit_for_bit(obs_dtype, n, rows, cols):
    """Any batch size and board size: numba's 1-byte planes are torch's (on 6-row boards numba
    writes them a 64-bit word at a time in blocks of 8 games, the last n % 8 a byte at a time)."""
    envs = [make_game("connect4", n, backend=b, seed=5, obs_dtype=obs_dtype, rows=rows, cols=cols)
            for b in ("numba", "torch")]
    gen = torch.Generator().manual_seed(1)
    for e in envs:
        e.reset()
    for t in range(80):
        a = torch.randint(0, cols + 1, (n,), generator=gen)  # cols is out of range: illegal moves too
        outs = [e.step(a) for e in envs]
        (o1, r1, d1, i1), (o2, r2, d2, i2) = outs
        assert o1.dtype == o2.dtype and torch.equal(o1, o2), f"step {t}"
        assert torch.equal(r1, r2) and torch.equal(d1, d2) and torch.equal(i1["illegal"], i2["illegal"])


@pytest.mark.parametrize("bad", ["float16", "int8", None, 3])
def test_unknown_obs_dtype_is_rejected_naming_the_choices(bad):
    with pytest.raises(ValueError, match="obs_dtype.*float32, uint8, bool"):
        make_game("connect4", 4, obs_dtype=bad)
