"""Connect4 on both backends against OpenSpiel's ``connect_four``, move by move.

OpenSpiel (``open-spiel``, the ``test`` extra) is an independent implementation. Its
``connect_four`` is the standard 6x7 board: actions are the columns 0-6 from the left, as ours;
player 0 (``x``) moves first, as our first player (``to_move`` 0); its observation planes are
``[x, o, empty]`` over ``[row, column]`` with row 0 the bottom row, as our bitboards count rows
(``kernels.geometry``). The same random games run in a batch of env games and in OpenSpiel
states, comparing at every ply the legal columns, both sides' stones and the side to move, and
after every move whether the game ended and its reward (for the mover: OpenSpiel's return of
that player).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from src.games import make_game
from tests.games.openspiel_oracle import step_both

ROWS, COLS = 6, 7
BACKENDS = [pytest.param(("numba", "cpu"), id="numba"), pytest.param(("torch", "cpu"), id="torch-cpu"),
            pytest.param(("torch", "cuda"), id="torch-cuda", marks=pytest.mark.cuda)]


def np_(t: torch.Tensor) -> np.ndarray:
    """A host copy: numba's step returns buffers that the next step overwrites."""
    return t.detach().cpu().numpy().copy()


def cells(words: np.ndarray) -> np.ndarray:
    """bool [N, ROWS, COLS] of int64 bitboards [N]: cell (r, c) is bit ``c * (ROWS + 1) + r``, row 0 the bottom."""
    shifts = (np.arange(COLS)[None, :] * (ROWS + 1) + np.arange(ROWS)[:, None]).astype(np.uint64)
    return ((words.view(np.uint64)[:, None, None] >> shifts) & np.uint64(1)).astype(bool)


def first_and_second(cur: np.ndarray, mask: np.ndarray, to_move: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool [N, ROWS, COLS] each: the first player's (``x``) and the second player's (``o``) stones."""
    mover, other = cells(cur), cells(cur ^ mask)
    second_moves = to_move.astype(bool)[:, None, None]
    return np.where(second_moves, other, mover), np.where(second_moves, mover, other)


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_random_games_agree_with_openspiel_move_by_move(backend_device):
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("connect_four")
    assert (game.num_distinct_actions(), game.observation_tensor_shape()) == (COLS, [3, ROWS, COLS])
    backend, device = backend_device
    n, steps = 400, 100  # ~ 1,800 complete games per backend
    env = make_game("connect4", n, device=device, backend=backend, seed=5, rows=ROWS, cols=COLS)
    spiel = [game.new_initial_state() for _ in range(n)]
    finished = 0
    env.reset()
    for _ in range(steps):
        legal = np_(env.legal_actions())
        to_move = np_(env.game.to_move(env.state))
        x, o = first_and_second(np_(env.cur), np_(env.mask), to_move)
        for i, s in enumerate(spiel):
            assert s.current_player() == to_move[i]
            assert np.flatnonzero(legal[i]).tolist() == s.legal_actions()
            obs = np.asarray(s.observation_tensor(0)).reshape(3, ROWS, COLS) == 1
            assert (obs[0] == x[i]).all() and (obs[1] == o[i]).all(), i
        _, done = step_both(env, spiel, game, to_move)
        finished += done.sum()
    assert finished > 1500
