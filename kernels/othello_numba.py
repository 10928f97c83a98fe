"""Othello 8x8 bitboard kernels in numba: parallel loops over games, for the CPU.

Same names and bit layout as ``kernels.othello_torch`` (see ``kernels.othello_geometry``).
The words are uint64 here: the public functions take the int64 arrays of the game state
(numpy views of CPU tensors) and view them as uint64, zero-copy. Randomness is
counter-based (splitmix64 of a per-call seed and the game index), as in
``kernels.connect4_numba``: the same seed gives the same results whatever the thread count.

Move generation and flips are directional flood fills
(https://www.chessprogramming.org/Dumb7Fill): from the seed discs, step along one direction
through the opponent's discs (masked so that a run never wraps from one row into the next),
six steps at most on an 8x8 board.
"""
from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from kernels.connect4_numba import splitmix64
from kernels.othello_geometry import (BLACK_START, DIRECTIONS, NUM_ACTIONS, PASS, WHITE_START, spread_table)

_U64 = 0xFFFFFFFFFFFFFFFF
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_ALL = np.uint64(_U64)
_BLACK0 = np.uint64(BLACK_START)
_WHITE0 = np.uint64(WHITE_START)
# (shift, is_left, mask of the opponent discs a run may pass through), see othello_geometry
_D = tuple((np.uint64(s), left, np.uint64(m)) for s, left, m in DIRECTIONS)
_SPREAD = spread_table()  # uint64 [256]: byte j of _SPREAD[b] = bit j of b


@intrinsic
def popcount(typingctx, x):
    """Set bits of a uint64 (LLVM's ctpop: one POPCNT instruction where the CPU has it)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def trailing_zeros(typingctx, x):
    """Index of the lowest set bit of a nonzero uint64 (LLVM's cttz)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], context.get_constant(types.boolean, False))

    return sig, codegen


@njit(inline="always", cache=True)
def _shift(x, s, left):
    return (x << s) if left else (x >> s)


@njit(inline="always", cache=True)
def _run(seed, opp, s, left, m):
    """Opponent discs reached from ``seed`` along one direction without a gap (the run to flip
    if an own disc closes it)."""
    o = opp & m
    t = _shift(seed, s, left) & o
    t |= _shift(t, s, left) & o
    t |= _shift(t, s, left) & o
    t |= _shift(t, s, left) & o
    t |= _shift(t, s, left) & o
    t |= _shift(t, s, left) & o
    return t


@njit(inline="always", cache=True)
def moves_of(me, opp):
    """uint64: the empty cells where the side owning ``me`` may place a disc."""
    empty = ~(me | opp)
    r = _ZERO
    for k in range(8):  # unrolled by LLVM: _D is a constant tuple
        s, left, m = _D[k]
        r |= _shift(_run(me, opp, s, left, m), s, left) & empty
    return r


@njit(inline="always", cache=True)
def flips_of(move, me, opp):
    """uint64: the opponent discs that a disc placed on ``move`` (one bit) turns over."""
    f = _ZERO
    for k in range(8):
        s, left, m = _D[k]
        t = _run(move, opp, s, left, m)
        if _shift(t, s, left) & me:
            f |= t
    return f


@njit(inline="always", cache=True)
def play_one(me, opp, player, a):
    """One move in one game -> (me, opp, player, reward, done, illegal); no reset.

    ``me``/``opp``: discs of the side to move / the other side (uint64), ``player`` 0 = black
    to move, 1 = white. Afterwards the side to move is always the other side: when it has no
    move the only legal action of the new position is the pass. ``done`` when neither side
    can move after the move; reward for the mover: +1 more discs, -1 fewer, 0 equal (or a
    pass); -1 and done for an illegal action (the position is kept).
    """
    legal = moves_of(me, opp)
    if a == PASS:
        if legal != _ZERO:
            return me, opp, player, np.float32(-1.0), True, True
        return opp, me, player ^ 1, np.float32(0.0), False, False
    if a < 0 or a > PASS or ((legal >> np.uint64(a)) & _ONE) == _ZERO:
        return me, opp, player, np.float32(-1.0), True, True
    mv = _ONE << np.uint64(a)
    f = flips_of(mv, me, opp)
    mine = me | mv | f
    theirs = opp ^ f
    if (mine | theirs) != _ALL and (moves_of(theirs, mine) != _ZERO or moves_of(mine, theirs) != _ZERO):
        return theirs, mine, player ^ 1, np.float32(0.0), False, False
    nm, no = popcount(mine), popcount(theirs)
    r = np.float32(1.0) if nm > no else (np.float32(-1.0) if nm < no else np.float32(0.0))
    return theirs, mine, player ^ 1, r, True, False


@njit(inline="always", cache=True)
def start_position():
    """(me, opp, player) of a new game: black (to move) on e4 and d5, white on d4 and e5."""
    return _BLACK0, _WHITE0, np.int64(0)


@njit(inline="always", cache=True)
def pick_bit(bits, r):
    """The index of a uniformly random set bit of ``bits`` (nonzero) from 64 random bits ``r``."""
    k = ((r >> np.uint64(32)) * popcount(bits)) >> np.uint64(32)
    for _ in range(k):
        bits &= bits - _ONE
    return np.int64(trailing_zeros(bits))


@njit(inline="always", cache=True)
def random_action_one(me, opp, r):
    """A uniformly random legal action (the pass when no cell is legal)."""
    legal = moves_of(me, opp)
    if legal == _ZERO:
        return np.int64(PASS)
    return pick_bit(legal, r)


@njit(inline="always", cache=True)
def write_planes(me, opp, flat, i):
    for k in range(64):
        flat[i, k] = (me >> np.uint64(k)) & _ONE
        flat[i, 64 + k] = (opp >> np.uint64(k)) & _ONE


@njit(inline="always", cache=True)
def write_planes_bytes(me, opp, words, i):
    """1-byte planes of game ``i`` as 16 uint64 stores: one word per plane row (``_SPREAD``)."""
    for r in range(8):
        words[i, r] = _SPREAD[(me >> np.uint64(8 * r)) & np.uint64(0xFF)]
        words[i, 8 + r] = _SPREAD[(opp >> np.uint64(8 * r)) & np.uint64(0xFF)]


@njit(inline="always", cache=True)
def step_one(me, opp, player, actions, reward, done, illegal, i):
    """Game ``i``'s move with the auto-reset, its reward/done/illegal stored; returns its new words."""
    m, o, p, r, d, il = play_one(me[i], opp[i], player[i], actions[i])
    if d:
        m, o, p = start_position()
    me[i], opp[i], player[i] = m, o, p
    reward[i], done[i], illegal[i] = r, d, il
    return m, o


@njit(parallel=True, cache=True)
def _play(me, opp, player, actions, active, o_me, o_opp, o_player, reward, done, illegal):
    for i in prange(me.shape[0]):
        if active[i]:
            m, o, p, r, d, il = play_one(me[i], opp[i], player[i], actions[i])
        else:
            m, o, p, r, d, il = me[i], opp[i], player[i], np.float32(0.0), False, False
        o_me[i], o_opp[i], o_player[i] = m, o, p
        reward[i], done[i], illegal[i] = r, d, il


@njit(parallel=True, cache=True)
def _legal_mask(me, opp, out):
    for i in prange(me.shape[0]):
        legal = moves_of(me[i], opp[i])
        for k in range(64):
            out[i, k] = ((legal >> np.uint64(k)) & _ONE) != _ZERO
        out[i, PASS] = legal == _ZERO


@njit(parallel=True, cache=True)
def _legal_words(me, opp, out):
    for i in prange(me.shape[0]):
        out[i] = moves_of(me[i], opp[i])


@njit(parallel=True, cache=True)
def _flip_counts(me, opp, out):
    for i in prange(me.shape[0]):
        legal = moves_of(me[i], opp[i])
        for k in range(64):
            mv = _ONE << np.uint64(k)
            out[i, k] = np.int8(popcount(flips_of(mv, me[i], opp[i]))) if legal & mv else np.int8(-1)
        out[i, PASS] = 0 if legal == _ZERO else -1


@njit(parallel=True, cache=True)
def _to_planes(me, opp, flat):
    for i in prange(me.shape[0]):
        write_planes(me[i], opp[i], flat, i)


@njit(parallel=True, cache=True)
def _random_actions(me, opp, seed, out):
    for i in prange(me.shape[0]):
        out[i] = random_action_one(me[i], opp[i], splitmix64(seed + np.uint64(i)))


@njit(parallel=True, cache=True)
def _step_autoreset(me, opp, player, actions, reward, done, illegal, flat):
    for i in prange(me.shape[0]):
        m, o = step_one(me, opp, player, actions, reward, done, illegal, i)
        write_planes(m, o, flat, i)


@njit(parallel=True, cache=True)
def _step_autoreset_bytes(me, opp, player, actions, reward, done, illegal, words):
    for i in prange(me.shape[0]):
        m, o = step_one(me, opp, player, actions, reward, done, illegal, i)
        write_planes_bytes(m, o, words, i)


@njit(parallel=True, cache=True)
def _random_rollout(me, opp, player, steps, seed, finished):
    for i in prange(me.shape[0]):
        x = splitmix64(seed + np.uint64(i)) | _ONE
        m, o, p = me[i], opp[i], player[i]
        f = np.int64(0)
        for _ in range(steps):
            x ^= x << np.uint64(13)  # xorshift64 (https://www.jstatsoft.org/article/view/v008i14)
            x ^= x >> np.uint64(7)
            x ^= x << np.uint64(17)
            m, o, p, r, d, il = play_one(m, o, p, random_action_one(m, o, x))
            if d:
                m, o, p = start_position()
                f += 1
        me[i], opp[i], player[i], finished[i] = m, o, p, f


def _u64(x: np.ndarray) -> np.ndarray:
    """The uint64 view of an int64 state array (zero-copy)."""
    return x.view(np.uint64)


def _seed(seed: int) -> np.uint64:
    return np.uint64(int(seed) & _U64)


def play(me, opp, player, actions, active=None):
    """See ``kernels.othello_torch.play``; numpy int64 arrays in and out."""
    n = me.shape[0]
    active = np.ones(n, dtype=np.bool_) if active is None else active
    o_me, o_opp, o_player = np.empty_like(me), np.empty_like(opp), np.empty_like(player)
    reward, done, illegal = np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.bool_)
    _play(_u64(me), _u64(opp), player, np.asarray(actions, dtype=np.int64), active,
          _u64(o_me), _u64(o_opp), o_player, reward, done, illegal)
    return o_me, o_opp, o_player, reward, done, illegal


def reset_where(me, opp, player, done):
    """Auto-reset: the games flagged in ``done`` get the start position."""
    return (np.where(done, np.int64(BLACK_START), me), np.where(done, np.int64(WHITE_START), opp),
            np.where(done, 0, player))


def legal_mask(me, opp, out=None):
    """bool [N, 65]: the legal cells, and the pass (legal only where no cell is)."""
    out = np.empty((me.shape[0], NUM_ACTIONS), dtype=np.bool_) if out is None else out
    _legal_mask(_u64(me), _u64(opp), out)
    return out


def legal_words(me, opp):
    """int64 [N]: the legal cells of the side to move as a bitboard."""
    out = np.empty_like(me)
    _legal_words(_u64(me), _u64(opp), _u64(out))
    return out


def flip_counts(me, opp):
    """int8 [N, 65]: discs each legal move turns over (0 for a legal pass), -1 where illegal."""
    out = np.empty((me.shape[0], NUM_ACTIONS), dtype=np.int8)
    _flip_counts(_u64(me), _u64(opp), out)
    return out


def to_planes(me, opp, dtype=np.float32, out=None):
    """obs [N, 2, 8, 8]: plane 0 = discs of the side to move, plane 1 = the other side's;
    plane[r, c] is cell ``8 r + c`` (row 0 = the top row, rank 1)."""
    n = me.shape[0]
    out = np.empty((n, 2, 8, 8), dtype=dtype) if out is None else out
    _to_planes(_u64(me), _u64(opp), out.reshape(n, -1))
    return out


def random_legal_actions(me, opp, seed: int, out=None):
    """int64 [N]: a uniformly random legal action per game (64, the pass, where no cell is legal)."""
    out = np.empty(me.shape[0], dtype=np.int64) if out is None else out
    _random_actions(_u64(me), _u64(opp), _seed(seed), out)
    return out


def step_autoreset(me, opp, player, actions, reward, done, illegal, obs):
    """Fused play + auto-reset + observation: updates ``me``/``opp``/``player`` in place and
    fills the preallocated ``reward`` float32 [N], ``done``/``illegal`` bool [N] and ``obs``
    [N, 2, 8, 8] (float32, or a 1-byte dtype: then written a 64-bit word per plane row)."""
    n = me.shape[0]
    actions = np.asarray(actions, dtype=np.int64)
    flat = obs.reshape(n, -1)
    if obs.itemsize == 1 and sys.byteorder == "little":
        _step_autoreset_bytes(_u64(me), _u64(opp), player, actions, reward, done, illegal,
                              flat.view(np.uint8).view(np.uint64))
    else:
        _step_autoreset(_u64(me), _u64(opp), player, actions, reward, done, illegal, flat)


def random_rollout(me, opp, player, steps: int, seed: int):
    """Kernel ceiling: ``steps`` random legal moves in every game with auto-reset, in place.
    Returns finished int64 [N] (games completed per slot)."""
    finished = np.empty(me.shape[0], dtype=np.int64)
    _random_rollout(_u64(me), _u64(opp), player, steps, _seed(seed), finished)
    return finished


# --- the generic search's rules (src.games.protocol.NumbaRules): a node is words[i, s, 0:3] ---

@njit(inline="always", cache=True)
def rules_play(words, i, src, dst, a):
    """Write into ``words[i, dst]`` the position after action ``a`` at ``words[i, src]``;
    returns (reward, done) for the mover."""
    m, o, p, r, d, _ = play_one(np.uint64(words[i, src, 0]), np.uint64(words[i, src, 1]), words[i, src, 2], a)
    # uint64 -> int64 bits through a numpy uint64 (so Python, e.g. the CUDA simulator, wraps as numba does)
    words[i, dst, 0], words[i, dst, 1], words[i, dst, 2] = np.int64(np.uint64(m)), np.int64(np.uint64(o)), p
    return r, d


@njit(inline="always", cache=True)
def rules_is_legal(words, i, s, a):
    legal = moves_of(np.uint64(words[i, s, 0]), np.uint64(words[i, s, 1]))
    if a == PASS:
        return legal == _ZERO
    return 0 <= a < PASS and ((legal >> np.uint64(a)) & _ONE) != _ZERO
