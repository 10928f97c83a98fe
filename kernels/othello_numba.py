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
from kernels.othello_geometry import (BLACK_START, DIRECTIONS, NUM_ACTIONS, PASS, WHITE_START)

_U64 = 0xFFFFFFFFFFFFFFFF
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_BLACK0 = np.uint64(BLACK_START)
_WHITE0 = np.uint64(WHITE_START)
# (shift, is_left, mask of the opponent discs a run may pass through), see othello_geometry
_D = tuple((np.uint64(s), left, np.uint64(m)) for s, left, m in DIRECTIONS)
_OPPOSITE = (1, 0, 3, 2, 7, 6, 5, 4)  # _D[_OPPOSITE[k]] goes the other way along _D[k]'s line


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
def _mask(flag):
    """uint64: all ones where ``flag`` (bool) holds, else 0."""
    return _ZERO - np.uint64(flag)


@njit(inline="always", cache=True)
def flips_of(move, me, opp):
    """uint64: the opponent discs that a disc placed on ``move`` (one bit) turns over (0 when
    ``move`` is not a legal placement).

    Per direction, the discs flipped are those both on the run from ``move`` and on a run from
    one of ``me``'s discs in the opposite direction: no test per direction (no branch), so a
    loop of it over games vectorizes as ``moves_of`` does.
    """
    f = _ZERO
    for k in range(8):
        s, left, m = _D[k]
        s2, left2, m2 = _D[_OPPOSITE[k]]
        f |= _run(move, opp, s, left, m) & _run(me, opp, s2, left2, m2)
    return f


@njit(inline="always", cache=True)
def play_one(me, opp, player, a):
    """One move in one game -> (me, opp, player, reward, done, illegal); no reset.

    ``me``/``opp``: discs of the side to move / the other side (uint64), ``player`` 0 = black
    to move, 1 = white. Afterwards the side to move is always the other side: when it has no
    move the only legal action of the new position is the pass. ``done`` when neither side
    can move after the move; reward for the mover: +1 more discs, -1 fewer, 0 equal (or a
    pass); -1 and done for an illegal action (the position is kept).
    Branch-free (selects only), so that a loop of it over games can use the CPU's vector units.
    """
    pass_ok = (a == PASS) & (moves_of(me, opp) == _ZERO)
    mv = (_ONE << np.uint64(a & 63)) & _mask((a >= 0) & (a < PASS))  # 0 unless a placement
    f = flips_of(mv, me, opp)  # a placement is legal exactly when it is empty and turns a disc over
    illegal = (pass_ok | ((f != _ZERO) & ((mv & (me | opp)) == _ZERO))) ^ True  # (not ~: on a bool that is -2)
    mine = me | mv | f
    theirs = opp ^ f
    ended = (mv != _ZERO) & (moves_of(theirs, mine) == _ZERO) & (moves_of(mine, theirs) == _ZERO)
    diff = np.int64(popcount(mine)) - np.int64(popcount(theirs))
    r = np.float32(-1.0) if illegal else (np.float32((diff > 0) - (diff < 0)) if ended else np.float32(0.0))
    return ((me if illegal else theirs), (opp if illegal else mine), (player if illegal else player ^ 1), r,
            illegal | ended, illegal)


@njit(inline="always", cache=True)
def start_position():
    """(me, opp, player) of a new game: black (to move) on e4 and d5, white on d4 and e5."""
    return _BLACK0, _WHITE0, np.int64(0)


@njit(inline="always", cache=True)
def select_bit(bits, k):
    """The index of the ``k``-th (0-based, from the lowest) set bit of ``bits`` (k < popcount):
    a branch-free binary search on the popcounts of halves, quarters, ... of the word."""
    pos = _ZERO
    for w in (32, 16, 8, 4, 2, 1):
        width = np.uint64(w)
        low = popcount(bits & ((_ONE << width) - _ONE))
        up = _ZERO - np.uint64(k >= low)  # all ones when the bit is in the upper part
        k -= low & up
        bits >>= width & up
        pos += width & up
    return np.int64(pos)


@njit(inline="always", cache=True)
def pick_bit(bits, r):
    """The index of a uniformly random set bit of ``bits`` (nonzero) from 64 random bits ``r``."""
    return select_bit(bits, ((r >> np.uint64(32)) * popcount(bits)) >> np.uint64(32))


@njit(inline="always", cache=True)
def random_action_one(me, opp, r):
    """A uniformly random legal action (the pass when no cell is legal)."""
    legal = moves_of(me, opp)
    a = pick_bit(legal | np.uint64(legal == _ZERO), r)  # never an empty word (branch-free); unused then
    return a if legal != _ZERO else np.int64(PASS)


_F32_ONE = np.uint32(0x3F800000)  # the bits of float32 1.0


@njit(inline="always", cache=True)
def write_planes(me, opp, flat, i):
    """Game ``i``'s planes into ``flat`` [N, 128] of any numeric dtype, a cell at a time."""
    for k in range(64):
        flat[i, k] = (me >> np.uint64(k)) & _ONE
        flat[i, 64 + k] = (opp >> np.uint64(k)) & _ONE


@njit(inline="always", cache=True)
def write_planes_f32(me, opp, bits, i):
    """Game ``i``'s float32 planes through their uint32 view ``bits`` [N, 128]: each cell's
    1.0 or 0.0 as an integer mask (no int-to-float conversion, so the loop vectorizes)."""
    for k in range(64):
        bits[i, k] = _F32_ONE & (np.uint32(0) - np.uint32((me >> np.uint64(k)) & _ONE))
        bits[i, 64 + k] = _F32_ONE & (np.uint32(0) - np.uint32((opp >> np.uint64(k)) & _ONE))


@njit(inline="always", cache=True)
def spread_row(x, r):
    """uint64: row ``r`` of the bitboard ``x`` as 8 one-byte cells (byte j = bit ``8 r + j``), by
    arithmetic: the row copied into every byte, byte j keeps bit j, adding 0x7F lifts it to bit 7."""
    b = (x >> np.uint64(8 * r)) & np.uint64(0xFF)
    y = (b * np.uint64(0x0101010101010101)) & np.uint64(0x8040201008040201)
    return ((y + np.uint64(0x7F7F7F7F7F7F7F7F)) >> np.uint64(7)) & np.uint64(0x0101010101010101)


@njit(inline="always", cache=True)
def write_planes_bytes(me, opp, words, i):
    """1-byte planes of game ``i`` as 16 uint64 stores: one word per plane row (``spread_row``)."""
    for r in range(8):
        words[i, r] = spread_row(me, r)
        words[i, 8 + r] = spread_row(opp, r)


@njit(inline="always", cache=True)
def reset_if(done, me, opp, player):
    """(me, opp, player), or the start position where ``done``: selects, no branch."""
    m0, o0, p0 = start_position()
    return (m0 if done else me), (o0 if done else opp), (p0 if done else player)


@njit(inline="always", cache=True)
def step_one(me, opp, player, actions, reward, done, illegal, i):
    """Game ``i``'s move with the auto-reset: its words updated in place, reward/done/illegal stored."""
    m, o, p, r, d, il = play_one(me[i], opp[i], player[i], actions[i])
    me[i], opp[i], player[i] = reset_if(d, m, o, p)
    reward[i], done[i], illegal[i] = r, d, il


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
def _to_planes_f32(me, opp, bits):
    for i in prange(me.shape[0]):
        write_planes_f32(me[i], opp[i], bits, i)


@njit(parallel=True, cache=True)
def _to_planes_bytes(me, opp, words):
    for i in prange(me.shape[0]):
        write_planes_bytes(me[i], opp[i], words, i)


@njit(parallel=True, cache=True)
def _random_actions(me, opp, seed, out):
    for i in prange(me.shape[0]):
        out[i] = random_action_one(me[i], opp[i], splitmix64(seed + np.uint64(i)))


@njit(parallel=True, cache=True)
def _step_autoreset(me, opp, player, actions, reward, done, illegal):
    for i in prange(me.shape[0]):
        step_one(me, opp, player, actions, reward, done, illegal, i)


@njit(parallel=True, cache=True)
def _random_rollout(me, opp, player, steps, seed, finished):
    # steps outside, games inside: each step a branch-free loop over games, as the env step
    n = me.shape[0]
    for i in prange(n):
        finished[i] = 0
    for t in range(steps):
        base = seed + np.uint64(t * n)
        for i in prange(n):
            a = random_action_one(me[i], opp[i], splitmix64(base + np.uint64(i)))
            m, o, p, r, d, il = play_one(me[i], opp[i], player[i], a)
            me[i], opp[i], player[i] = reset_if(d, m, o, p)
            finished[i] += d


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
    plane[r, c] is cell ``8 r + c`` (row 0 = the top row, rank 1). float32 is written through
    its integer bits, a 1-byte dtype a 64-bit word per plane row, any other a cell at a time."""
    n = me.shape[0]
    out = np.empty((n, 2, 8, 8), dtype=dtype) if out is None else out
    flat = out.reshape(n, -1)
    if out.dtype == np.float32:
        _to_planes_f32(_u64(me), _u64(opp), flat.view(np.uint32))
    elif out.itemsize == 1 and sys.byteorder == "little":
        _to_planes_bytes(_u64(me), _u64(opp), flat.view(np.uint8).view(np.uint64))
    else:
        _to_planes(_u64(me), _u64(opp), flat)
    return out


def random_legal_actions(me, opp, seed: int, out=None):
    """int64 [N]: a uniformly random legal action per game (64, the pass, where no cell is legal)."""
    out = np.empty(me.shape[0], dtype=np.int64) if out is None else out
    _random_actions(_u64(me), _u64(opp), _seed(seed), out)
    return out


def step_autoreset(me, opp, player, actions, reward, done, illegal, obs):
    """Fused play + auto-reset + observation: updates ``me``/``opp``/``player`` in place and
    fills the preallocated ``reward`` float32 [N], ``done``/``illegal`` bool [N] and ``obs``
    [N, 2, 8, 8] (``to_planes``). Two parallel loops, the moves then the planes: in one loop
    neither vectorizes (measured: over twice the time)."""
    _step_autoreset(_u64(me), _u64(opp), player, np.asarray(actions, dtype=np.int64), reward, done, illegal)
    to_planes(me, opp, obs.dtype, obs)


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
