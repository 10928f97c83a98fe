"""Batched PUCT tree search steps in numba: one tree per game, parallel loops over games, for the CPU.

The search is defined in ``docs/mcts.md``; ``kernels.mcts_torch`` has the same names, the same
tree arrays and the same arithmetic (float64, same operation order), so both give the same
visit counts. Bit layout from ``kernels.geometry``. As in ``kernels.connect4_numba``, each
board size gets its own compiled kernels with rows/cols as constants, the per-game helpers
are module-level (so the disk cache hits), and compilation is cached on disk.

The network is not called here: ``select_leaves`` descends every tree to a leaf and creates
the leaf's node, the caller evaluates the leaves, ``expand_and_backup`` stores the leaves'
priors and backs their values up. Simulation ``k`` (0-based) always puts its new node, if
any, in slot ``k + 1``; slot 0 is the root.
"""
from __future__ import annotations

import functools

from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from kernels.connect4_numba import play_one
from kernels.geometry import Geometry


def init_tree(n: int, simulations: int, g: Geometry, cur, mask) -> SimpleNamespace:
    """Preallocated tree arrays of ``n`` games for ``simulations`` simulations, roots at
    ``cur``/``mask`` (int64 [n]); the root priors are set by ``set_root``.

    node_cur, node_mask int64 [n, S+1]; children int32 [n, S+1, A] (-1: no node yet);
    prior float64, visits int32, wsum float64 [n, S+1, A]; terminal bool, node_value float64
    [n, S+1] (a terminal node's exact value for its player to move). Per simulation scratch:
    path_node, path_action int64 [n, D] (D = the deepest descent possible), depth int64 [n]
    (edges on the path, 0 when the game is not searched), leaf_node int64 [n], needs_net bool [n].
    """
    s1, a = simulations + 1, g.cols
    d = max(1, min(simulations, g.rows * g.cols))
    t = SimpleNamespace(
        node_cur=np.zeros((n, s1), np.int64), node_mask=np.zeros((n, s1), np.int64),
        children=np.full((n, s1, a), -1, np.int32), prior=np.zeros((n, s1, a), np.float64),
        visits=np.zeros((n, s1, a), np.int32), wsum=np.zeros((n, s1, a), np.float64),
        terminal=np.zeros((n, s1), np.bool_), node_value=np.zeros((n, s1), np.float64),
        path_node=np.zeros((n, d), np.int64), path_action=np.zeros((n, d), np.int64),
        depth=np.zeros(n, np.int64), leaf_node=np.zeros(n, np.int64), needs_net=np.zeros(n, np.bool_),
        leaf_cur=np.zeros(n, np.int64), leaf_mask=np.zeros(n, np.int64),
    )
    t.node_cur[:, 0] = cur
    t.node_mask[:, 0] = mask
    return t


def set_root(tree: SimpleNamespace, prior) -> None:
    """Expand the roots with ``prior`` float64 [n, A] (0 on illegal columns)."""
    tree.prior[:, 0, :] = prior


@njit(inline="always", cache=True)
def _best_column(prior, visits, wsum, i, node, mask, c_puct, fpu, rows, cols):
    """PUCT argmax over the legal columns of one node, lowest index on ties (-1: none legal).

    Same operations in the same order as ``kernels.mcts_torch.select_leaves``:
    ``q + c_puct * p * sqrt(1 + sum N) / (1 + N)`` in float64."""
    h = rows + 1
    nsum = np.int64(0)
    for a in range(cols):
        nsum += visits[i, node, a]
    root_term = np.sqrt(np.float64(1 + nsum))
    best = -1
    best_score = -np.inf
    for a in range(cols):
        if ((mask >> (a * h + rows - 1)) & 1) != 0:
            continue
        n = visits[i, node, a]
        q = wsum[i, node, a] / n if n > 0 else fpu
        score = q + c_puct * prior[i, node, a] * root_term / np.float64(1 + n)
        if best < 0 or score > best_score:
            best, best_score = a, score
    return best


@njit(inline="always", cache=True)
def _any_legal(mask, rows, cols):
    h = rows + 1
    for a in range(cols):
        if ((mask >> (a * h + rows - 1)) & 1) == 0:
            return True
    return False


def _build(rows: int, cols: int, board: int):
    """Compile the kernels of one board size (rows, cols and board are constants inside)."""

    @njit(parallel=True, cache=True)
    def select(k, c_puct, fpu, node_cur, node_mask, children, prior, visits, wsum, terminal, node_value,
               path_node, path_action, depth, leaf_node, needs_net, leaf_cur, leaf_mask):
        new = k + 1
        for i in prange(node_cur.shape[0]):
            depth[i] = 0
            leaf_node[i] = -1
            needs_net[i] = False
            leaf_cur[i] = node_cur[i, 0]
            leaf_mask[i] = node_mask[i, 0]
            if not _any_legal(node_mask[i, 0], rows, cols):
                continue  # a root with no legal move is not searched
            node = np.int64(0)
            d = 0
            while True:
                a = _best_column(prior, visits, wsum, i, node, node_mask[i, node], c_puct, fpu, rows, cols)
                path_node[i, d] = node
                path_action[i, d] = a
                d += 1
                child = np.int64(children[i, node, a])
                if child < 0:  # the leaf is a new node: create it; the network expands it later
                    c, m, r, done, _ = play_one(node_cur[i, node], node_mask[i, node], a, rows, cols, board)
                    node_cur[i, new] = c
                    node_mask[i, new] = m
                    terminal[i, new] = done
                    node_value[i, new] = -1.0 if r > 0 else 0.0  # won into: the player to move lost
                    children[i, node, a] = new
                    leaf_node[i] = new
                    needs_net[i] = not done
                    break
                if terminal[i, child]:
                    leaf_node[i] = child
                    break
                node = child
            depth[i] = d
            leaf_cur[i] = node_cur[i, leaf_node[i]]
            leaf_mask[i] = node_mask[i, leaf_node[i]]

    @njit(parallel=True, cache=True)
    def backup(leaf_prior, leaf_value, prior, visits, wsum, node_value, path_node, path_action, depth,
               leaf_node, needs_net):
        for i in prange(depth.shape[0]):
            if depth[i] == 0:
                continue
            leaf = leaf_node[i]
            if needs_net[i]:
                for a in range(cols):
                    prior[i, leaf, a] = leaf_prior[i, a]
                v = np.float64(leaf_value[i])
            else:
                v = node_value[i, leaf]
            for d in range(depth[i] - 1, -1, -1):  # the edge into a child of value v gets W += -v
                s = path_node[i, d]
                a = path_action[i, d]
                visits[i, s, a] += 1
                wsum[i, s, a] += -v
                v = -v

    return SimpleNamespace(select=select, backup=backup)


@functools.cache
def kernels_for(g: Geometry) -> SimpleNamespace:
    """The compiled search kernels of board size ``g`` (built once per process, cached on disk)."""
    return _build(g.rows, g.cols, g.board)


def select_leaves(tree: SimpleNamespace, k: int, g: Geometry, c_puct: float, fpu: float):
    """Simulation ``k``: descend every tree by PUCT to its leaf, creating the leaf's node in slot
    ``k + 1`` when it is new. Returns ``(leaf_cur, leaf_mask, needs_net)``: int64 [n] positions
    and bool [n], true where the leaf is new and not terminal (the network must evaluate it)."""
    t = tree
    kernels_for(g).select(np.int64(k), np.float64(c_puct), np.float64(fpu), t.node_cur, t.node_mask, t.children,
                          t.prior, t.visits, t.wsum, t.terminal, t.node_value, t.path_node, t.path_action,
                          t.depth, t.leaf_node, t.needs_net, t.leaf_cur, t.leaf_mask)
    return t.leaf_cur, t.leaf_mask, t.needs_net


def expand_and_backup(tree: SimpleNamespace, k: int, g: Geometry, leaf_prior, leaf_value) -> None:
    """Simulation ``k``: expand the leaves that needed the network with ``leaf_prior`` float64
    [n, A] and back up ``leaf_value`` (float [n], used where ``needs_net``) or the terminal
    leaves' exact values along each game's path (negamax)."""
    t = tree
    kernels_for(g).backup(np.ascontiguousarray(leaf_prior, np.float64), np.ascontiguousarray(leaf_value, np.float64),
                          t.prior, t.visits, t.wsum, t.node_value, t.path_node, t.path_action, t.depth,
                          t.leaf_node, t.needs_net)
