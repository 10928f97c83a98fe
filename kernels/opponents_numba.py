"""Batched Connect4 opponents in numba: parallel loops over numpy int64 bitboards, for the CPU.

Same names and definitions as ``kernels.opponents_torch`` (the docs of each opponent live in
``docs/opponents.md``); bit layout from ``kernels.geometry``. As in
``kernels.connect4_numba``, each board size gets its own kernels with rows/cols as
constants, and randomness is counter-based (splitmix64 of a per-call seed and the game
index), so the same seed gives the same actions whatever the thread count.

The per-size kernels capture only numbers and tuples: the helpers are module-level
functions inlined with constant arguments. A closure that captures another jitted function
never hits numba's disk cache, because the cache key hashes the pickled closure cells and a
dispatcher pickles with a per-process uuid (``numba.core.caching._CacheImpl`` /
``Cache._index_key``).

Inside one game, sets of columns are small ints (bit c = column c) and sets of cells are
bitboards. The search is an alpha-beta negamax with an explicit stack (no recursion).
"""
from __future__ import annotations

import functools

from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from kernels.connect4_numba import splitmix64
from kernels.geometry import Geometry
from kernels.opponents_torch import ILLEGAL_SCORE, MAX_SEARCH_DEPTH, centre_priority, line_shifts

_U64 = 0xFFFFFFFFFFFFFFFF
_INF = 100  # above every score


# --- one game; bd = (h, cols, colbits, board, bottom_all, use_v, use_h, use_d), constant per size ---

@njit(inline="always", cache=True)
def _lines(p, s):
    """Empty-or-not cells completed by three stones of ``p`` along shift ``s`` (both sides)."""
    t = (p << s) & (p << 2 * s)
    r = (t & (p << 3 * s)) | (t & (p >> s))
    t = (p >> s) & (p >> 2 * s)
    return r | (t & (p << s)) | (t & (p >> 3 * s))


@njit(cache=True)
def _winning_cells(p, mask, bd):
    # see kernels.opponents_torch.winning_cells
    h, board, use_v, use_h, use_d = bd[0], bd[3], bd[5], bd[6], bd[7]
    r = np.int64(0)
    if use_v:
        r |= (p << 1) & (p << 2) & (p << 3)
    if use_h:
        r |= _lines(p, h)
    if use_d:
        r |= _lines(p, h - 1) | _lines(p, h + 1)
    return r & (board ^ mask)


@njit(inline="always", cache=True)
def _playable(mask, bd):
    return (mask + bd[4]) & bd[3]


@njit(inline="always", cache=True)
def _move_cell(mask, c, bd):
    h, colbits = bd[0], bd[2]
    return (mask + (np.int64(1) << (c * h))) & (np.int64(colbits) << (c * h))


@njit(inline="always", cache=True)
def _columns_of(cells, bd):
    h, cols, colbits = bd[0], bd[1], bd[2]
    s = np.int64(0)
    for c in range(cols):
        if (cells >> (c * h)) & colbits:
            s |= np.int64(1) << c
    return s


@njit(inline="always", cache=True)
def _safe_set(cur, mask, bd):
    """Columns after which the opponent has no immediate win (see ``opponents_torch.safe_cells``)."""
    opp = _winning_cells(cur ^ mask, mask, bd)
    poss = _playable(mask, bd)
    t = opp & poss
    if t == 0:
        cand = poss
    elif t & (t - 1) == 0:
        cand = t
    else:
        cand = np.int64(0)
    return _columns_of(cand & ~(opp >> 1), bd)


@njit(inline="always", cache=True)
def _pick_uniform(cset, r, cols):
    """Uniform column of the column set ``cset`` from 64 random bits ``r`` (0 if empty)."""
    n = np.int64(0)
    for c in range(cols):
        n += (cset >> c) & 1
    k = np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
    for c in range(cols):
        if (cset >> c) & 1:
            if k == 0:
                return np.int64(c)
            k -= 1
    return np.int64(0)


@njit(inline="always", cache=True)
def _most_central(cset, priority):
    """The columns of ``cset`` of highest ``priority`` (a column set)."""
    best = np.int64(0)
    for c in range(len(priority)):
        if (cset >> c) & 1:
            best = max(best, np.int64(priority[c]))
    s = np.int64(0)
    for c in range(len(priority)):
        if (cset >> c) & 1 and priority[c] == best:
            s |= np.int64(1) << c
    return s


@njit(cache=True)
def _negamax(cur0, mask0, depth, st, bd, order):
    """Value of (cur0, mask0) for its side to move looking ``depth`` >= 1 plies ahead
    (scores as in ``search_scores``); exact, as the root window is (-inf, inf).

    ``st`` int64 [7, depth + 1] is the explicit stack: cur, mask, moves to try (a cell set),
    next index into ``order`` (-1: node not entered yet), best, alpha, beta.
    """
    h, cols, colbits, board = bd[0], bd[1], bd[2], bd[3]
    sp = 0
    st[0, 0], st[1, 0], st[3, 0] = cur0, mask0, -1
    st[4, 0], st[5, 0], st[6, 0] = -_INF, -_INF, _INF
    while True:
        c, m, d = st[0, sp], st[1, sp], depth - sp
        done, result = False, np.int64(0)
        if st[3, sp] == -1:  # entering the node: shortcuts that give its exact value
            poss = _playable(m, bd)
            threats = _winning_cells(c ^ m, m, bd) & poss
            if _winning_cells(c, m, bd) & poss:
                done, result = True, np.int64(d)
            elif d == 1:
                done, result = True, np.int64(0)
            elif threats & (threats - 1):  # two threats: whatever we play, one wins next ply
                done, result = True, np.int64(-(d - 1))
            else:  # one threat: every other move loses at once, so the block is the value
                st[2, sp] = threats if threats else poss
                st[3, sp] = 0
        if not done:
            mv = np.int64(0)
            while st[3, sp] < cols and mv == 0:
                col = order[st[3, sp]]
                st[3, sp] += 1
                mv = st[2, sp] & (np.int64(colbits) << (col * h))
            if mv == 0:  # every move tried
                done, result = True, st[4, sp]
            elif (m | mv) == board:  # no win (checked on entry) and the board is full: a draw, value 0
                if st[4, sp] < 0:
                    st[4, sp] = 0
                if st[5, sp] < 0:
                    st[5, sp] = 0
                if st[5, sp] < st[6, sp]:
                    continue
                done, result = True, st[4, sp]
            else:
                sp += 1
                st[0, sp], st[1, sp], st[3, sp] = c ^ m, m | mv, -1
                st[4, sp], st[5, sp], st[6, sp] = -_INF, -st[6, sp - 1], -st[5, sp - 1]
                continue
        # pop finished nodes, passing the value up while they cut off
        while True:
            if sp == 0:
                return result
            sp -= 1
            score = -result
            if score > st[4, sp]:
                st[4, sp] = score
            if score > st[5, sp]:
                st[5, sp] = score
            if st[5, sp] >= st[6, sp]:
                result = st[4, sp]
                continue
            break


@njit(inline="always", cache=True)
def _root_scores(c, m, depth, st, out, i, bd, order):
    wins = _winning_cells(c, m, bd)
    for col in range(bd[1]):
        mv = _move_cell(m, col, bd)
        if mv == 0:
            out[i, col] = ILLEGAL_SCORE
        elif wins & mv:
            out[i, col] = depth
        elif (m | mv) == bd[3] or depth == 1:
            out[i, col] = 0
        else:
            out[i, col] = -_negamax(c ^ m, m | mv, depth - 1, st, bd, order)


def _build(rows: int, cols: int, board: int, use_v: bool, use_h: bool, use_d: bool):
    """Compile the kernels of one board size: ``bd``, ``order`` and ``priority`` are constants inside."""
    h = rows + 1
    bd = (h, cols, (1 << rows) - 1, board, sum(1 << (c * h) for c in range(cols)), int(use_v), int(use_h), int(use_d))
    # centre-first move order: alpha-beta cuts earlier
    order = tuple(sorted(range(cols), key=lambda c: (abs(2 * c - (cols - 1)), c)))
    priority = tuple(centre_priority(Geometry(rows, cols)))

    @njit(parallel=True, cache=True)
    def immediate_wins(cur, mask, out):
        for i in prange(cur.shape[0]):
            s = _columns_of(_winning_cells(cur[i], mask[i], bd) & _playable(mask[i], bd), bd)
            for c in range(cols):
                out[i, c] = ((s >> c) & 1) != 0

    @njit(parallel=True, cache=True)
    def safe_moves(cur, mask, out):
        for i in prange(cur.shape[0]):
            s = _safe_set(cur[i], mask[i], bd)
            for c in range(cols):
                out[i, c] = ((s >> c) & 1) != 0

    @njit(parallel=True, cache=True)
    def random_actions(mask, seed, out):
        for i in prange(mask.shape[0]):
            out[i] = _pick_uniform(_columns_of(_playable(mask[i], bd), bd), splitmix64(seed + np.uint64(i)), cols)

    @njit(parallel=True, cache=True)
    def heuristic_actions(cur, mask, seed, out):
        for i in prange(cur.shape[0]):
            c, m = cur[i], mask[i]
            poss = _playable(m, bd)
            cells = _winning_cells(c, m, bd) & poss
            if cells == 0:
                cells = _winning_cells(c ^ m, m, bd) & poss
            if cells == 0:
                cells = poss
            out[i] = _pick_uniform(_columns_of(cells, bd), splitmix64(seed + np.uint64(i)), cols)

    @njit(parallel=True, cache=True)
    def smart_heuristic_actions(cur, mask, seed, out):
        for i in prange(cur.shape[0]):
            c, m = cur[i], mask[i]
            poss = _playable(m, bd)
            cset = _columns_of(_winning_cells(c, m, bd) & poss, bd)
            if cset == 0:
                cset = _columns_of(_winning_cells(c ^ m, m, bd) & poss, bd)
            if cset == 0:
                cset = _safe_set(c, m, bd)
            if cset == 0:
                cset = _columns_of(poss, bd)
            out[i] = _pick_uniform(_most_central(cset, priority), splitmix64(seed + np.uint64(i)), cols)

    @njit(parallel=True, cache=True)
    def search_scores(cur, mask, depth, out):
        for i in prange(cur.shape[0]):
            st = np.empty((7, depth + 1), np.int64)
            _root_scores(cur[i], mask[i], depth, st, out, i, bd, order)

    @njit(parallel=True, cache=True)
    def search_actions(cur, mask, depth, seed, scores, out):
        for i in prange(cur.shape[0]):
            st = np.empty((7, depth + 1), np.int64)
            _root_scores(cur[i], mask[i], depth, st, scores, i, bd, order)
            best = np.int64(ILLEGAL_SCORE)
            for col in range(cols):
                best = max(best, np.int64(scores[i, col]))
            cset = np.int64(0)
            for col in range(cols):
                if scores[i, col] == best and best != ILLEGAL_SCORE:
                    cset |= np.int64(1) << col
            out[i] = _pick_uniform(cset, splitmix64(seed + np.uint64(i)), cols)

    return SimpleNamespace(immediate_wins=immediate_wins, safe_moves=safe_moves, random_actions=random_actions,
                           heuristic_actions=heuristic_actions, smart_heuristic_actions=smart_heuristic_actions,
                           search_scores=search_scores, search_actions=search_actions)


@functools.cache
def kernels_for(g: Geometry) -> SimpleNamespace:
    """The compiled opponent kernels of board size ``g`` (built once per process, cached on disk)."""
    vertical, others = line_shifts(g)
    return _build(g.rows, g.cols, g.board, bool(vertical), len(others) > 0, len(others) > 1)


def _seed(seed: int) -> np.uint64:
    return np.uint64(int(seed) & _U64)


def _i64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def immediate_wins(cur, mask, g: Geometry):
    """bool [N, cols]: legal moves that win at once for the side to move."""
    out = np.empty((cur.shape[0], g.cols), dtype=np.bool_)
    kernels_for(g).immediate_wins(_i64(cur), _i64(mask), out)
    return out


def safe_moves(cur, mask, g: Geometry):
    """bool [N, cols]: legal moves after which the opponent has no immediate winning move."""
    out = np.empty((cur.shape[0], g.cols), dtype=np.bool_)
    kernels_for(g).safe_moves(_i64(cur), _i64(mask), out)
    return out


def random_actions(cur, mask, g: Geometry, seed: int):
    """int64 [N]: a uniformly random legal column (0 where the board is full)."""
    out = np.empty(mask.shape[0], dtype=np.int64)
    kernels_for(g).random_actions(_i64(mask), _seed(seed), out)
    return out


def heuristic_actions(cur, mask, g: Geometry, seed: int):
    """int64 [N]: uniform among the winning moves, else among the blocks, else among the legal moves."""
    out = np.empty(cur.shape[0], dtype=np.int64)
    kernels_for(g).heuristic_actions(_i64(cur), _i64(mask), _seed(seed), out)
    return out


def smart_heuristic_actions(cur, mask, g: Geometry, seed: int):
    """int64 [N]: see ``kernels.opponents_torch.smart_heuristic_actions``."""
    out = np.empty(cur.shape[0], dtype=np.int64)
    kernels_for(g).smart_heuristic_actions(_i64(cur), _i64(mask), _seed(seed), out)
    return out


def _check_depth(depth: int) -> None:
    if not 1 <= depth <= MAX_SEARCH_DEPTH:
        raise ValueError(f"depth must be in 1..{MAX_SEARCH_DEPTH}, got {depth}")


def search_scores(cur, mask, g: Geometry, depth: int):
    """int8 [N, cols]: see ``kernels.opponents_torch.search_scores`` (same scores, move by move)."""
    _check_depth(depth)
    out = np.empty((cur.shape[0], g.cols), dtype=np.int8)
    kernels_for(g).search_scores(_i64(cur), _i64(mask), depth, out)
    return out


def search_actions(cur, mask, g: Geometry, depth: int, seed: int):
    """int64 [N]: uniformly random among the legal moves of best ``search_scores`` (0 where none)."""
    _check_depth(depth)
    n = cur.shape[0]
    out = np.empty(n, dtype=np.int64)
    kernels_for(g).search_actions(_i64(cur), _i64(mask), depth, _seed(seed), np.empty((n, g.cols), np.int8), out)
    return out
