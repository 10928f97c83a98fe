"""Othello's opponents on both backends against the slow reference (``tests/games/othello_reference.py``):
greedy turns over the most discs, ``search:1`` is greedy by disc difference, ``search:D``
scores equal a plain minimax written over the reference boards."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from kernels.othello_opponents_numba import ILLEGAL_SCORE
from kernels import othello_opponents_numba as knb
from kernels import othello_opponents_torch as kt
from src.games import make_game
from src.opponents.othello import make_othello_opponent
from tests.games.othello_reference import PASS, flipped, from_words, legal_cells, other

BACKENDS = [pytest.param(("numba", "cpu"), id="numba"), pytest.param(("torch", "cpu"), id="torch-cpu"),
            pytest.param(("torch", "cuda"), id="torch-cuda", marks=pytest.mark.cuda)]


def positions(n: int, plies: tuple[int, int], seed: int):
    """``n`` positions after a random number of random plies in ``plies`` (none finished)."""
    env = make_game("othello", n, device="cpu", backend="numba", seed=seed)
    rng = np.random.default_rng(seed)
    stop = rng.integers(*plies, n)
    keep = [None] * n
    for ply in range(plies[1]):
        for i in np.flatnonzero(stop == ply):
            keep[i] = tuple(int(w[i]) for w in env.state)
        _, _, done, _ = env.step(env.sample_actions())
        stop[done.numpy() & (stop > ply)] = -1  # a game that ended before its stop: dropped
    words = [k for k in keep if k is not None]
    return tuple(torch.tensor(c, dtype=torch.int64) for c in zip(*words))


def minimax(g, depth: int) -> int:
    """Plain minimax (no pruning) over a reference game: the disc difference for the side to move."""
    me, them = g.to_move, other(g.to_move)
    diff = g.count(me) - g.count(them)
    if depth == 0:
        return diff
    cells = legal_cells(g.board, me)
    if not cells:
        if not legal_cells(g.board, them):
            return diff
        h = copy.deepcopy(g)
        h.to_move = them
        return -minimax(h, depth - 1)
    return max(-minimax(child(g, a), depth - 1) for a in cells)


def child(g, a: int):
    h = copy.deepcopy(g)
    r, c = divmod(a, 8)
    for rr, cc in flipped(h.board, h.to_move, r, c):
        h.board[rr][cc] = h.to_move
    h.board[r][c] = h.to_move
    h.to_move = other(h.to_move)
    return h


def ref_scores(g, depth: int) -> list[int]:
    out = [ILLEGAL_SCORE] * 65
    cells = legal_cells(g.board, g.to_move)
    for a in cells:
        out[a] = -minimax(child(g, a), depth - 1)
    if not cells:
        h = copy.deepcopy(g)
        h.to_move = other(g.to_move)
        out[PASS] = -minimax(h, depth - 1)
    return out


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_greedy_turns_over_the_most_discs(backend_device):
    backend, device = backend_device
    mine, theirs, player = positions(300, (0, 50), seed=1)
    opp = make_othello_opponent("greedy", {}, device=device, backend=backend, seed=2)
    a = opp.act(mine.to(device), theirs.to(device), player.to(device)).cpu().numpy()
    for i in range(len(a)):
        g = from_words(int(mine[i]), int(theirs[i]), int(player[i]))
        flips = {c: len(flipped(g.board, g.to_move, *divmod(c, 8))) for c in legal_cells(g.board, g.to_move)}
        if not flips:
            assert a[i] == PASS
        else:
            assert a[i] in flips and flips[a[i]] == max(flips.values())


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_search_1_is_greedy_by_disc_difference(backend_device):
    backend, device = backend_device
    mine, theirs, player = positions(300, (0, 50), seed=3)
    kernels = knb if backend == "numba" else kt
    args = (mine.numpy(), theirs.numpy()) if backend == "numba" else (mine.to(device), theirs.to(device))
    scores = np.asarray(torch.as_tensor(kernels.search_scores(*args, 1)).cpu())
    for i in range(len(scores)):
        g = from_words(int(mine[i]), int(theirs[i]), int(player[i]))
        diff = g.count(g.to_move) - g.count(other(g.to_move))
        want = [ILLEGAL_SCORE] * 65
        for c in legal_cells(g.board, g.to_move):  # one disc placed, f turned over: diff + 2f + 1
            want[c] = diff + 2 * len(flipped(g.board, g.to_move, *divmod(c, 8))) + 1
        if want == [ILLEGAL_SCORE] * 65:
            want[PASS] = diff
        assert scores[i].tolist() == want
    greedy = make_othello_opponent("greedy", {}, device=device, backend=backend, seed=4)
    search = make_othello_opponent("search", {"depth": 1}, device=device, backend=backend, seed=4)
    m, t, p = mine.to(device), theirs.to(device), player.to(device)
    a_g, a_s = greedy.act(m, t, p).cpu().numpy(), search.act(m, t, p).cpu().numpy()
    best = scores.max(axis=1)
    assert (scores[np.arange(len(a_s)), a_s] == best).all() and (scores[np.arange(len(a_g)), a_g] == best).all()


@pytest.mark.parametrize("depth,n", [(2, 40), (3, 8)])
def test_search_scores_equal_a_plain_minimax(depth, n):
    mine, theirs, player = positions(n, (4, 56), seed=10 + depth)
    scores = knb.search_scores(mine.numpy(), theirs.numpy(), depth)
    for i in range(len(scores)):
        g = from_words(int(mine[i]), int(theirs[i]), int(player[i]))
        assert scores[i].tolist() == ref_scores(g, depth), i


def test_search_scores_reach_the_end_of_the_game_and_forced_passes():
    # late positions: many lines end the game or pass within 4 plies
    mine, theirs, player = positions(30, (54, 62), seed=20)
    scores = knb.search_scores(mine.numpy(), theirs.numpy(), 4)
    for i in range(len(scores)):
        g = from_words(int(mine[i]), int(theirs[i]), int(player[i]))
        assert scores[i].tolist() == ref_scores(g, 4), i


@pytest.mark.parametrize("depth,n", [(1, 100), (2, 100), (3, 100), (4, 10)])
def test_torch_and_numba_search_give_the_same_scores(depth, n):
    mine, theirs, _ = positions(n, (0, 60), seed=30 + depth)
    a = knb.search_scores(mine.numpy(), theirs.numpy(), depth)
    b = kt.search_scores(mine, theirs, depth).numpy()
    assert (a == b).all()


@pytest.mark.parametrize("backend_device", BACKENDS)
def test_opponents_play_legal_actions_and_repeat_with_the_same_seed(backend_device):
    backend, device = backend_device
    mine, theirs, player = (w.to(device) for w in positions(200, (0, 60), seed=40))
    legal = make_game("othello", 1, device=device, backend=backend).game.legal_mask(
        type(make_game("othello", 1).state)(mine, theirs, player))
    for spec in (("random", {}), ("greedy", {}), ("search", {"depth": 2})):
        a = make_othello_opponent(*spec, device=device, backend=backend, seed=5).act(mine, theirs, player)
        b = make_othello_opponent(*spec, device=device, backend=backend, seed=5).act(mine, theirs, player)
        assert torch.equal(a, b) and legal.gather(1, a.unsqueeze(1)).all(), spec


def test_unknown_opponent_and_bad_depth_are_clear_errors():
    with pytest.raises(ValueError, match="does not play othello"):
        make_othello_opponent("heuristic", {})
    with pytest.raises(ValueError, match="depth must be an integer from 1 to"):
        make_othello_opponent("search", {"depth": 0})
