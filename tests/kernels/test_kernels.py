"""The pure kernels of ``kernels/`` called directly: rollouts, play, thread independence."""
from __future__ import annotations

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
import torch

from kernels import connect4_numba as knb
from kernels import connect4_torch as kt
from kernels.geometry import Geometry
from tests.games.reference import RefGame, check_reachable, decode, encode, winner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# numba compiles each board size per process, so it gets the standard board only
ROLLOUT_CASES = [
    pytest.param("numba", "cpu", (6, 7), id="numba-6x7"),
    pytest.param("torch", "cpu", (6, 7), id="torch-cpu-6x7"),
    pytest.param("torch", "cpu", (4, 5), id="torch-cpu-4x5"),
    pytest.param("torch", "cuda", (6, 7), id="torch-cuda-6x7", marks=pytest.mark.cuda),
]


def rollout(backend, device, cur, mask, steps, g, seed):
    """(cur, mask, finished) as numpy arrays; the inputs are left untouched."""
    if backend == "numba":
        cur, mask = cur.copy(), mask.copy()
        finished = knb.random_rollout(cur, mask, steps, g, seed)
        return cur, mask, finished
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    t = lambda x: torch.as_tensor(x, device=device)  # noqa: E731
    return tuple(x.cpu().numpy() for x in kt.random_rollout(t(cur), t(mask), steps, g, gen))


def popcount(words: np.ndarray) -> np.ndarray:
    return np.array([bin(int(w)).count("1") for w in words])


def reference_mean_game_length(rows, cols, games, seed) -> float:
    rng = np.random.default_rng(seed)
    g, moves = RefGame(rows, cols), 0
    for _ in range(games):
        done = False
        while not done:
            _, done, _ = g.step(int(rng.choice(np.flatnonzero(g.legal()))))
            moves += 1
    return moves / games


def min_game_length(rows, cols) -> int:
    """Fewest moves a game can last: a win by the first player's 4th stone, or a full board."""
    four_fits = rows >= 4 or cols >= 4
    return min(7, rows * cols) if four_fits else rows * cols


@pytest.mark.parametrize("backend,device,size", ROLLOUT_CASES)
def test_random_rollout_leaves_reachable_positions_and_consistent_finished_counts(backend, device, size):
    rows, cols = size
    g = Geometry(rows, cols)
    n, steps = 1000, 60
    cur = np.zeros(n, np.int64)
    mask = np.zeros(n, np.int64)
    lengths = []
    for call in range(2):  # the second call starts from the unfinished games of the first
        new_cur, new_mask, finished = rollout(backend, device, cur, mask, steps, g, seed=10 + call)
        assert finished.dtype == np.int64 and (finished >= 0).all()
        for i in range(n):
            board = decode(int(new_cur[i]), int(new_mask[i]), rows, cols)  # raises on stray bits
            check_reachable(board)  # gravity, and side to move has as many stones or one less
            assert winner(board) == 0, f"game {i} holds a finished game that was not reset"
            assert (board == 0).any(), f"game {i} holds a full board that was not reset"
        # every step adds one stone to the current game or finishes it, so the moves of the
        # games finished in this call are exactly these
        moves = steps + popcount(mask) - popcount(new_mask)
        none = finished == 0
        np.testing.assert_array_equal(moves[none], 0)
        assert (moves[~none] >= min_game_length(rows, cols) * finished[~none]).all()
        assert (moves[~none] <= rows * cols * finished[~none]).all()
        lengths.append(moves.sum() / finished.sum())
        cur, mask = new_cur, new_mask
    expected = reference_mean_game_length(rows, cols, games=400, seed=rows * cols)
    # ~5000 finished games per call vs 400 reference games: standard errors ~0.1 and ~0.4
    for got in lengths:
        assert abs(got - expected) < 1.5, f"mean game length {got:.2f}, reference {expected:.2f}"


def test_random_rollout_same_seed_same_result_different_seed_different():
    g = Geometry(6, 7)
    zeros = np.zeros(512, np.int64)
    for backend in ("numba", "torch"):
        a = rollout(backend, "cpu", zeros, zeros, 30, g, seed=1)
        b = rollout(backend, "cpu", zeros, zeros, 30, g, seed=1)
        c = rollout(backend, "cpu", zeros, zeros, 30, g, seed=2)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert (a[1] != c[1]).mean() > 0.5


def test_numba_random_streams_do_not_depend_on_the_thread_count():
    g = Geometry(6, 7)
    n = 4096
    zeros = np.zeros(n, np.int64)
    cur, mask, _ = rollout("numba", "cpu", zeros, zeros, 15, g, seed=3)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append((knb.random_legal_actions(mask, g, seed=9), *rollout("numba", "cpu", cur, mask, 20, g, 4)))
    finally:
        numba.set_num_threads(before)
    for x, y in zip(results[0], results[-1]):
        np.testing.assert_array_equal(x, y)


def test_numba_and_torch_play_agree_with_an_active_mask():
    g = Geometry(6, 7)
    rng = np.random.default_rng(5)
    n = 600
    cur, mask = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for i in range(n):
        ref = RefGame()
        for _ in range(rng.integers(0, 42)):
            _, done, _ = ref.step(int(rng.choice(np.flatnonzero(ref.legal()))))
            if done:
                break
        cur[i], mask[i] = encode(ref.board, ref.to_move)
    actions = rng.integers(-2, 9, size=n)  # out of range and full columns included
    active = rng.random(n) < 0.7
    got_numba = knb.play(cur, mask, actions, active, g)
    got_torch = kt.play(*(torch.from_numpy(x) for x in (cur, mask, actions, active)), g)
    for name, x, y in zip(("cur", "mask", "reward", "done", "illegal"), got_numba, got_torch):
        assert x.dtype == y.numpy().dtype, name
        np.testing.assert_array_equal(x, y.numpy(), err_msg=name)


_CACHE_PROBE = """
import numpy as np
from kernels import connect4_numba as knb
from kernels.geometry import Geometry
g = Geometry(6, 7)
knb.to_planes(np.zeros(2, np.int64), np.zeros(2, np.int64), g)
stats = knb.kernels_for(g).to_planes.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_numba_kernels_load_from_the_disk_cache_in_a_second_process():
    # compiled in this process (and so written to the cache) if no other test did it yet
    knb.to_planes(np.zeros(2, np.int64), np.zeros(2, np.int64), Geometry(6, 7))
    out = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env={**os.environ, "PYTHONPATH": ROOT}, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "0"], f"cache hits, misses in a second process: {out}"
