"""The DQN learner's minibatch in one pass (numba, CPU): gather from the replay ring, follow
each sample's game for n-step returns, encode both positions as network input (stone planes
or threat features), build the next position's legal mask and mirror the flagged samples.

Equal bit for bit to the torch path it replaces (``src.agents.minibatch.TorchMinibatch``:
``ReplayBuffer.gather`` + ``to_planes``/``feature_planes`` + ``legal_mask`` + the mirror);
float32 arithmetic is done in float32, one rounding per torch op, in the same order.
One loop over the samples, serial: a minibatch is a few hundred samples (tens of
microseconds), and a parallel region here would hand the cores back and forth with torch's
own OpenMP pool between every gradient step.
"""
from __future__ import annotations

import functools

from types import SimpleNamespace

import numpy as np
from numba import njit

from kernels.geometry import Geometry


@njit(inline="always", cache=True)
def win_cells(p, mask, board, h):
    """Empty cells where stones ``p`` would complete four (``kernels.connect4_torch.win_cells``)."""
    r = (p << 1) & (p << 2) & (p << 3)
    for s in (h, h - 1, h + 1):
        pair = (p << s) & (p << (2 * s))
        r |= pair & (p << (3 * s))
        r |= pair & (p >> s)
        pair = (p >> s) & (p >> (2 * s))
        r |= pair & (p << s)
        r |= pair & (p >> (3 * s))
    return r & (board ^ mask)


@njit(inline="always", cache=True)
def write_features(cur, mask, out, i, flip, rows, cols, planes, board, bottoms):
    """out[i] float32 [planes, rows, cols] (columns reflected when ``flip``)."""
    h = rows + 1
    opp = cur ^ mask
    w0, w1 = cur, opp
    w2 = w3 = w4 = np.int64(0)
    if planes == 5:
        w2 = (mask + bottoms) & board
        w3 = win_cells(cur, mask, board, h)
        w4 = win_cells(opp, mask, board, h)
    for r in range(rows):
        for c in range(cols):
            bit = c * h + r
            oc = cols - 1 - c if flip else c
            out[i, 0, r, oc] = (w0 >> bit) & 1
            out[i, 1, r, oc] = (w1 >> bit) & 1
            if planes == 5:
                out[i, 2, r, oc] = (w2 >> bit) & 1
                out[i, 3, r, oc] = (w3 >> bit) & 1
                out[i, 4, r, oc] = (w4 >> bit) & 1


def _build(rows: int, cols: int, board: int, planes: int):
    h = rows + 1
    top_shift = rows - 1
    bottoms = sum(1 << (c * h) for c in range(cols))

    @njit(cache=True)
    def assemble(cur_s, mask_s, action_s, reward_s, done_s, ncur_s, nmask_s, idx, flip, n, stride, gamma,
                 obs, action, reward, done, next_obs, next_legal, discount):
        capacity = cur_s.shape[0]
        g = np.float32(gamma)
        for b in range(idx.shape[0]):
            i0 = idx[b]
            f = flip[b]
            # n-step: follow the game ``stride`` places on per move until n moves or its end
            rew = np.float32(0.0)
            disc = np.float32(1.0)
            d = False
            nc, nm = ncur_s[i0], nmask_s[i0]
            for k in range(n):
                i = (i0 + k * stride) % capacity
                rew = np.float32(rew + np.float32(disc * np.float32(reward_s[i])))
                nc, nm = ncur_s[i], nmask_s[i]
                disc = np.float32(disc * g)
                if done_s[i]:
                    d = True
                    break
            a = np.int64(action_s[i0])
            action[b] = cols - 1 - a if f else a
            reward[b] = rew
            done[b] = d
            discount[b] = disc
            write_features(cur_s[i0], mask_s[i0], obs, b, f, rows, cols, planes, board, bottoms)
            write_features(nc, nm, next_obs, b, f, rows, cols, planes, board, bottoms)
            for c in range(cols):
                oc = cols - 1 - c if f else c
                next_legal[b, oc] = ((nm >> (c * h + top_shift)) & 1) == 0

    return assemble


@functools.cache
def kernel_for(g: Geometry, planes: int):
    """The compiled ``assemble`` of board size ``g`` with 2 (stones) or 5 (threats) planes
    (built once per process)."""
    return _build(g.rows, g.cols, g.board, planes)


def assemble(storage: dict, idx, flip, n: int, stride: int, gamma: float, g: Geometry, planes: int,
             out: SimpleNamespace) -> None:
    """Fill ``out`` (numpy arrays: obs/next_obs float32 [B, planes, rows, cols], action int64 [B],
    reward float32 [B], done bool [B], next_legal bool [B, cols], discount float32 [B]) from the
    ring ``storage`` (numpy views of ``ReplayBuffer.storage``) at positions ``idx`` int64 [B],
    following each game ``n`` moves ``stride`` places apart, mirrored where ``flip`` bool [B]."""
    kernel_for(g, planes)(storage["cur"], storage["mask"], storage["action"], storage["reward"], storage["done"],
                          storage["next_cur"], storage["next_mask"], idx, flip, n, stride, gamma,
                          out.obs, out.action, out.reward, out.done, out.next_obs, out.next_legal, out.discount)
