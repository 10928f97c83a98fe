"""Batched Othello opponents in numba: parallel loops over games, for the CPU.

Same names and definitions as ``kernels.othello_opponents_torch`` (documented in
``docs/opponents.md``): ``greedy`` plays a move that turns over the most discs, ``search``
is a depth-limited alpha-beta negamax on the disc difference. Ties are broken uniformly at
random from a counter-based stream (splitmix64 of the call's seed and the game index), so
the same seed gives the same actions whatever the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels.connect4_numba import splitmix64
from kernels.othello_geometry import NUM_ACTIONS, PASS
from kernels.othello_numba import flips_of, moves_of, pick_bit, popcount, trailing_zeros

#: ``search_scores`` value of an illegal action (every real score is within -64..64).
ILLEGAL_SCORE = -128
#: deepest search ``search_scores`` accepts.
MAX_SEARCH_DEPTH = 8
_U64 = 0xFFFFFFFFFFFFFFFF
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_INF = 1000


@njit(inline="always", cache=True)
def _diff(me, opp):
    return np.int64(popcount(me)) - np.int64(popcount(opp))


@njit(inline="always", cache=True)
def _push(su, si, sp, me, opp):
    """Enter the child (me, opp) of node ``sp - 1`` at ``sp`` with the negated window."""
    su[0, sp], su[1, sp] = me, opp
    si[1, sp], si[2, sp] = -si[2, sp - 1], -si[1, sp - 1]


@njit(cache=True)
def _negamax(me0, opp0, depth, su, si):
    """Value for the side to move (``me0``) looking ``depth`` >= 0 plies ahead: the disc
    difference at the horizon or at the end of the game, a forced pass counting as a ply;
    alpha-beta with the full window (an exact value). Explicit stack (numba's disk cache does not
    take recursive functions): node ``sp`` is ``su`` uint64 [3, depth+1] = me, opp, moves left
    to try, and ``si`` int64 [3, depth+1] = best, alpha, beta.
    """
    sp = 0
    su[0, 0], su[1, 0] = me0, opp0
    si[1, 0], si[2, 0] = -_INF, _INF
    while True:
        # entering node sp: its value now (horizon, end of game) or its first child
        me, opp = su[0, sp], su[1, sp]
        si[0, sp] = -_INF
        v = np.int64(0)
        ready = True
        if sp == depth:
            v = _diff(me, opp)
        else:
            legal = moves_of(me, opp)
            if legal != _ZERO:
                mv = legal & (~legal + _ONE)  # lowest set bit
                su[2, sp] = legal ^ mv
                f = flips_of(mv, me, opp)
                sp += 1
                _push(su, si, sp, opp ^ f, me | mv | f)
                ready = False
            elif moves_of(opp, me) != _ZERO:  # a forced pass: its only child
                su[2, sp] = _ZERO
                sp += 1
                _push(su, si, sp, opp, me)
                ready = False
            else:
                v = _diff(me, opp)  # the game is over
        if not ready:
            continue
        # pass v up while the parents are done (cut off or out of moves), then enter a sibling
        while True:
            if sp == 0:
                return v
            sp -= 1
            score = -v
            if score > si[0, sp]:
                si[0, sp] = score
            if score > si[1, sp]:
                si[1, sp] = score
            rest = su[2, sp]
            if si[1, sp] >= si[2, sp] or rest == _ZERO:
                v = si[0, sp]
                continue
            mv = rest & (~rest + _ONE)
            su[2, sp] = rest ^ mv
            me, opp = su[0, sp], su[1, sp]
            f = flips_of(mv, me, opp)
            sp += 1
            _push(su, si, sp, opp ^ f, me | mv | f)
            break  # the sibling is entered at the top of the outer loop, with its pushed window


@njit(inline="always", cache=True)
def _root_scores(me, opp, depth, out, i):
    """out[i, a]: the exact value of action ``a`` for the side to move (full window per move)."""
    su = np.empty((3, depth), np.uint64)
    si = np.empty((3, depth), np.int64)
    legal = moves_of(me, opp)
    for a in range(NUM_ACTIONS):
        out[i, a] = ILLEGAL_SCORE
    if legal == _ZERO:
        out[i, PASS] = -_negamax(opp, me, depth - 1, su, si)
    while legal != _ZERO:
        mv = legal & (~legal + _ONE)
        legal ^= mv
        f = flips_of(mv, me, opp)
        out[i, trailing_zeros(mv)] = -_negamax(opp ^ f, me | mv | f, depth - 1, su, si)


@njit(inline="always", cache=True)
def _pick_best(scores, i, r):
    """A uniformly random action among those of the highest score in ``scores[i]``."""
    best = ILLEGAL_SCORE
    for a in range(NUM_ACTIONS):
        best = max(best, np.int64(scores[i, a]))
    n = np.int64(0)
    for a in range(NUM_ACTIONS):
        n += scores[i, a] == best
    k = np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
    for a in range(NUM_ACTIONS):
        if scores[i, a] == best:
            if k == 0:
                return np.int64(a)
            k -= 1
    return np.int64(PASS)


@njit(parallel=True, cache=True)
def _greedy_actions(me, opp, seed, out):
    for i in prange(me.shape[0]):
        m, o = me[i], opp[i]
        legal = moves_of(m, o)
        if legal == _ZERO:
            out[i] = PASS
            continue
        best, ties, rest = np.uint64(0), _ZERO, legal
        while rest != _ZERO:
            mv = rest & (~rest + _ONE)
            rest ^= mv
            c = popcount(flips_of(mv, m, o))
            if c > best:
                best, ties = c, mv
            elif c == best:
                ties |= mv
        out[i] = pick_bit(ties, splitmix64(seed + np.uint64(i)))


@njit(parallel=True, cache=True)
def _search_scores(me, opp, depth, out):
    for i in prange(me.shape[0]):
        _root_scores(me[i], opp[i], depth, out, i)


@njit(parallel=True, cache=True)
def _search_actions(me, opp, depth, seed, scores, out):
    for i in prange(me.shape[0]):
        _root_scores(me[i], opp[i], depth, scores, i)
        out[i] = _pick_best(scores, i, splitmix64(seed + np.uint64(i)))


def _u64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64).view(np.uint64)


def _seed(seed: int) -> np.uint64:
    return np.uint64(int(seed) & _U64)


def _check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_SEARCH_DEPTH:
        raise ValueError(f"depth must be an integer in 1..{MAX_SEARCH_DEPTH}, got {depth!r}")


def greedy_actions(mine, theirs, seed: int):
    """int64 [N]: uniformly random among the legal moves that turn over the most discs (the pass
    where no cell is legal)."""
    out = np.empty(mine.shape[0], dtype=np.int64)
    _greedy_actions(_u64(mine), _u64(theirs), _seed(seed), out)
    return out


def search_scores(mine, theirs, depth: int):
    """int8 [N, 65]: the depth-limited negamax value of each action for the side to move (the
    disc difference, its discs minus the other side's, at ``depth`` plies or at the end of the
    game, both sides maximising their own); ``ILLEGAL_SCORE`` where the action is illegal."""
    _check_depth(depth)
    out = np.empty((mine.shape[0], NUM_ACTIONS), dtype=np.int8)
    _search_scores(_u64(mine), _u64(theirs), depth, out)
    return out


def search_actions(mine, theirs, depth: int, seed: int):
    """int64 [N]: uniformly random among the actions of the highest ``search_scores``."""
    _check_depth(depth)
    n = mine.shape[0]
    out = np.empty(n, dtype=np.int64)
    _search_actions(_u64(mine), _u64(theirs), depth, _seed(seed), np.empty((n, NUM_ACTIONS), np.int8), out)
    return out
