"""Connect4 bitboard kernels in numba: parallel loops over numpy int64 arrays, for the CPU.

Same names and bit layout as ``kernels.connect4_torch`` (see ``kernels.geometry``); the
public functions take and return numpy arrays (torch CPU tensors convert zero-copy with
``.numpy()`` / ``torch.from_numpy``). Each board size gets its own compiled kernels with
rows/cols as compile-time constants (fully unrolled loops, constant shifts); compilation
is cached on disk (``cache=True``), so only the first use of a size on a machine compiles.

Randomness is counter-based (splitmix64 of a per-call seed and the game index), so the
results do not depend on how numba spreads games over threads: same seed, same results.
"""
from __future__ import annotations

import functools

import sys
from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from kernels.geometry import Geometry

_U64 = 0xFFFFFFFFFFFFFFFF


@njit(inline="always", cache=True)
def splitmix64(x):
    # https://prng.di.unimi.it/splitmix64.c ; uint64 arithmetic wraps modulo 2**64
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# Per-game helpers live at module level (not in the closure of ``_build``): a closure that
# captures another dispatcher never hits numba's disk cache, because the pickled dispatcher
# carries a per-process id. The kernels pass their compile-time constants in, and
# ``inline="always"`` lets LLVM fold them after inlining.
@njit(inline="always", cache=True)
def has_four(p, h):
    m = p & (p >> 1)
    f = m & (m >> 2)
    m = p & (p >> h)
    f |= m & (m >> (2 * h))
    m = p & (p >> (h - 1))
    f |= m & (m >> (2 * (h - 1)))
    m = p & (p >> (h + 1))
    f |= m & (m >> (2 * (h + 1)))
    return f != 0


@njit(inline="always", cache=True)
def is_legal(mask, a, rows, cols):
    return a >= 0 and a < cols and ((mask >> (a * (rows + 1) + rows - 1)) & 1) == 0


@njit(inline="always", cache=True)
def play_one(cur, mask, a, rows, cols, board):
    """One move in one game -> (cur, mask, reward, done, illegal); no reset."""
    h = rows + 1
    if not is_legal(mask, a, rows, cols):
        return cur, mask, np.float32(-1.0), True, True
    move = (mask + (np.int64(1) << (a * h))) & (np.int64((1 << rows) - 1) << (a * h))
    p = cur | move
    new_mask = mask | move
    if has_four(p, h):
        return p ^ new_mask, new_mask, np.float32(1.0), True, False
    return p ^ new_mask, new_mask, np.float32(0.0), new_mask == board, False


@njit(inline="always", cache=True)
def step_one(cur, mask, actions, reward, done, illegal, i, rows, cols, board):
    """Game ``i``'s move with the auto-reset (a finished game becomes an empty board within the
    step), its reward/done/illegal stored; returns its new (cur, mask)."""
    c, m, r, d, il = play_one(cur[i], mask[i], actions[i], rows, cols, board)
    if d:
        c = np.int64(0)
        m = np.int64(0)
    cur[i] = c
    mask[i] = m
    reward[i] = r
    done[i] = d
    illegal[i] = il
    return c, m


@njit(inline="always", cache=True)
def random_legal_one(mask, r, rows, cols, chunk, tries):
    """Uniform legal column of one game from 64 random bits ``r`` by rejection (0 if none)."""
    top_shift = rows - 1
    h = rows + 1
    chunk_mask = np.uint64((1 << chunk) - 1)
    for _ in range(tries):
        a = np.int64(r & chunk_mask)
        r = r >> np.uint64(chunk)
        if a < cols and ((mask >> (a * h + top_shift)) & 1) == 0:
            return a
    # every try rejected (likely only with few legal columns: ~6% of calls with one of 7 left):
    # count the legal columns and pick one uniformly, so the overall choice stays uniform
    n = 0
    for c in range(cols):
        n += ((mask >> (c * h + top_shift)) & 1) == 0
    if n == 0:
        return np.int64(0)
    k = np.int64(splitmix64(r) % np.uint64(n))
    for c in range(cols):
        if ((mask >> (c * h + top_shift)) & 1) == 0:
            if k == 0:
                return np.int64(c)
            k -= 1
    return np.int64(0)


@njit(inline="always", cache=True)
def write_planes(cur, mask, flat, i, rows, cols):
    h = rows + 1
    n_obs = rows * cols
    opp = cur ^ mask
    for r in range(rows):
        for c in range(cols):
            flat[i, r * cols + c] = (cur >> (c * h + r)) & 1
            flat[i, n_obs + r * cols + c] = (opp >> (c * h + r)) & 1


@njit(inline="always", cache=True)
def row7_bytes(w, r, bottoms):
    """6-row boards (7 bits per column) of at most 7 columns: uint64 whose byte c is cell (r, c)
    of stones ``w``. The row's bits sit 7 apart (bit 7c); times 127 copies each to bits
    7c..7c+6, ranges that never overlap (no carries), and bit 8c (c <= 6) of them is the one wanted."""
    x = np.uint64((w >> r) & bottoms)
    return (x * np.uint64(127)) & np.uint64(0x0101010101010101)


def _build(rows: int, cols: int, board: int):
    """Compile the kernels of one board size (rows, cols and board are constants inside)."""
    h = rows + 1
    top_shift = rows - 1
    colbits = (1 << rows) - 1
    # bits of a random chunk used per rejection-sampling try, and how many tries 64 bits give
    chunk = max(1, (cols - 1).bit_length())
    tries = 64 // chunk

    @njit(parallel=True, cache=True)
    def play(cur, mask, actions, active, out_cur, out_mask, reward, done, illegal):
        for i in prange(cur.shape[0]):
            if active[i]:
                c, m, r, d, il = play_one(cur[i], mask[i], actions[i], rows, cols, board)
                out_cur[i] = c
                out_mask[i] = m
                reward[i] = r
                done[i] = d
                illegal[i] = il
            else:
                out_cur[i] = cur[i]
                out_mask[i] = mask[i]
                reward[i] = 0.0
                done[i] = False
                illegal[i] = False

    @njit(parallel=True, cache=True)
    def legal_mask(mask, out):
        for i in prange(mask.shape[0]):
            for c in range(cols):
                out[i, c] = ((mask[i] >> (c * h + top_shift)) & 1) == 0

    @njit(parallel=True, cache=True)
    def to_planes(cur, mask, flat):
        for i in prange(cur.shape[0]):
            write_planes(cur[i], mask[i], flat, i, rows, cols)

    @njit(parallel=True, cache=True)
    def random_legal_actions(mask, seed, out):
        for i in prange(mask.shape[0]):
            out[i] = random_legal_one(mask[i], splitmix64(seed + np.uint64(i)), rows, cols, chunk, tries)

    @njit(parallel=True, cache=True)
    def step_autoreset(cur, mask, actions, reward, done, illegal, flat):
        for i in prange(cur.shape[0]):
            c, m = step_one(cur, mask, actions, reward, done, illegal, i, rows, cols, board)
            write_planes(c, m, flat, i, rows, cols)

    # 1-byte observations (uint8/bool) on 6-row boards, written 8 bytes at a time: each plane
    # row is one word (byte c = column c, ``row7_bytes``), streamed into 64-bit stores, a block
    # of 8 games (a whole number of words) per iteration, instead of one store per cell.
    row_bits = np.uint64(8 * cols)
    bottoms = sum(1 << (c * h) for c in range(cols))

    @njit(parallel=True, cache=True)
    def step_autoreset_bytes(cur, mask, actions, reward, done, illegal, flat, words):
        n = cur.shape[0]
        nblocks = n // 8
        per_block = words.shape[0] // max(nblocks, 1)
        for b in prange(nblocks):
            w = b * per_block
            acc = np.uint64(0)
            nb = np.uint64(0)
            for i in range(8 * b, 8 * b + 8):
                c, m = step_one(cur, mask, actions, reward, done, illegal, i, rows, cols, board)
                for plane in range(2):
                    stones = c if plane == 0 else c ^ m
                    for rr in range(rows):
                        y = row7_bytes(stones, rr, bottoms)
                        acc |= y << nb
                        nb += row_bits
                        if nb >= np.uint64(64):
                            words[w] = acc
                            w += 1
                            nb -= np.uint64(64)
                            acc = (y >> (row_bits - nb)) if nb > np.uint64(0) else np.uint64(0)
        for i in range(8 * nblocks, n):  # the last n % 8 games, a byte at a time
            c, m = step_one(cur, mask, actions, reward, done, illegal, i, rows, cols, board)
            write_planes(c, m, flat, i, rows, cols)

    lane_block = 64

    @njit(parallel=True, cache=True)
    def random_rollout(cur, mask, steps, seed, finished):
        # Branch-free and blocked so that LLVM vectorises the lane loop (AVX2: 4 games per
        # instruction): games advance ``lane_block`` at a time, in L1, with an xorshift64
        # stream per game (https://www.jstatsoft.org/article/view/v008i14).
        n = cur.shape[0]
        for b in prange((n + lane_block - 1) // lane_block):
            lo = b * lane_block
            hi = min(lo + lane_block, n)
            cs = cur[lo:hi].copy()
            ms = mask[lo:hi].copy()
            fs = np.zeros(hi - lo, np.int64)
            xs = np.empty(hi - lo, np.uint64)
            for j in range(hi - lo):
                xs[j] = splitmix64(seed + np.uint64(lo + j)) | np.uint64(1)
            for _ in range(steps):
                for j in range(hi - lo):
                    x = xs[j]
                    x ^= x << np.uint64(13)
                    x ^= x >> np.uint64(7)
                    x ^= x << np.uint64(17)
                    xs[j] = x
                    c = cs[j]
                    m = ms[j]
                    # k-th legal column, k uniform in [0, number of legal columns)
                    nl = np.int64(0)
                    for col in range(cols):
                        nl += ((m >> (col * h + top_shift)) & 1) ^ 1
                    k = np.int64(((x >> np.uint64(32)) * np.uint64(nl)) >> np.uint64(32))
                    a = np.int64(0)
                    cnt = np.int64(0)
                    for col in range(cols):
                        l = ((m >> (col * h + top_shift)) & 1) ^ 1
                        a += col * (l & np.int64(cnt == k))
                        cnt += l
                    move = (m + (np.int64(1) << (a * h))) & (np.int64(colbits) << (a * h))
                    p = c | move
                    nm = m | move
                    d = np.int64(has_four(p, h) | (nm == board))
                    keep = d - 1  # all ones while the game goes on, 0 when it ends (auto-reset)
                    cs[j] = (p ^ nm) & keep
                    ms[j] = nm & keep
                    fs[j] += d
            cur[lo:hi] = cs
            mask[lo:hi] = ms
            finished[lo:hi] = fs

    return SimpleNamespace(play=play, legal_mask=legal_mask, to_planes=to_planes,
                           random_legal_actions=random_legal_actions, step_autoreset=step_autoreset,
                           step_autoreset_bytes=step_autoreset_bytes,
                           random_rollout=random_rollout)


@functools.cache
def kernels_for(g: Geometry) -> SimpleNamespace:
    """The compiled kernels of board size ``g`` (built once per process, cached on disk)."""
    return _build(g.rows, g.cols, g.board)


def _seed(seed: int) -> np.uint64:
    return np.uint64(int(seed) & _U64)


def play(cur, mask, actions, active, g: Geometry):
    """See ``kernels.connect4_torch.play``; numpy arrays in and out."""
    n = cur.shape[0]
    if active is None:
        active = np.ones(n, dtype=np.bool_)
    out = (np.empty_like(cur), np.empty_like(mask), np.empty(n, np.float32), np.empty(n, np.bool_), np.empty(n, np.bool_))
    kernels_for(g).play(cur, mask, np.asarray(actions, dtype=np.int64), active, *out)
    return out


def reset_where(cur, mask, done):
    """Auto-reset: the games flagged in ``done`` become empty boards."""
    return np.where(done, 0, cur), np.where(done, 0, mask)


def legal_mask(mask, g: Geometry, out=None):
    """bool [N, cols]: columns whose top cell is empty."""
    out = np.empty((mask.shape[0], g.cols), dtype=np.bool_) if out is None else out
    kernels_for(g).legal_mask(mask, out)
    return out


def to_planes(cur, mask, g: Geometry, dtype=np.float32, out=None):
    """obs [N, 2, rows, cols]: plane 0 = stones of the side to move, plane 1 = the other side's."""
    n = cur.shape[0]
    out = np.empty((n, 2, g.rows, g.cols), dtype=dtype) if out is None else out
    kernels_for(g).to_planes(cur, mask, out.reshape(n, -1))
    return out


def random_legal_actions(mask, g: Geometry, seed: int, out=None):
    """int64 [N]: a uniformly random legal column per game (0 where the board is full).

    ``seed`` (any int) picks the stream; callers use a fresh seed per call.
    """
    out = np.empty(mask.shape[0], dtype=np.int64) if out is None else out
    kernels_for(g).random_legal_actions(mask, _seed(seed), out)
    return out


def step_autoreset(cur, mask, actions, g: Geometry, reward, done, illegal, obs):
    """Fused play + auto-reset + observation: updates ``cur``/``mask`` in place and fills the
    preallocated ``reward`` float32 [N], ``done``/``illegal`` bool [N] and ``obs`` [N, 2, rows, cols]
    (float32, or a 1-byte dtype: on boards of 6 rows and at most 7 columns then written a 64-bit
    word at a time)."""
    n = cur.shape[0]
    actions = np.asarray(actions, dtype=np.int64)
    flat = obs.reshape(n, -1)
    if obs.itemsize == 1 and g.rows == 6 and g.cols <= 7 and sys.byteorder == "little":
        flat8 = flat.view(np.uint8)
        words = flat8.reshape(-1)[: (n // 8) * 8 * flat8.shape[1]].view(np.uint64)
        kernels_for(g).step_autoreset_bytes(cur, mask, actions, reward, done, illegal, flat8, words)
    else:
        kernels_for(g).step_autoreset(cur, mask, actions, reward, done, illegal, flat)


def random_rollout(cur, mask, steps: int, g: Geometry, seed: int):
    """Kernel ceiling: ``steps`` random legal moves in every game with auto-reset, in place,
    with the action choice fused into the step. Returns finished int64 [N] (games completed per slot)."""
    finished = np.empty(cur.shape[0], dtype=np.int64)
    kernels_for(g).random_rollout(cur, mask, steps, _seed(seed), finished)
    return finished


def _build_search_rules(rows: int, cols: int, board: int):
    """The per-game njit rules the generic search (``kernels.mcts_numba``) takes: a node's words
    are ``(cur, mask)`` (``words[i, s, 0]``, ``words[i, s, 1]``)."""

    @njit(inline="always")
    def play(words, i, src, dst, a):
        c, m, r, d, _ = play_one(words[i, src, 0], words[i, src, 1], a, rows, cols, board)
        words[i, dst, 0] = c
        words[i, dst, 1] = m
        return r, d

    @njit(inline="always")
    def is_legal_at(words, i, s, a):
        return is_legal(words[i, s, 1], a, rows, cols)

    return play, is_legal_at


@functools.cache
def search_rules(g: Geometry):
    """``(play, is_legal)`` of board size ``g`` for ``src.games.protocol.NumbaRules`` (built once per process)."""
    return _build_search_rules(g.rows, g.cols, g.board)
