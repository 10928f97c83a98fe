"""Batched Othello opponents in torch: pure functions over int64 bitboards, any device.

Same names and definitions as ``kernels.othello_opponents_numba`` (see there and
``docs/opponents.md``). Tensor ops over the whole batch, no host synchronisation; ties are
broken uniformly at random with a ``torch.Generator``.
"""
from __future__ import annotations

import torch

from kernels import othello_torch as kt
from kernels.othello_geometry import NUM_ACTIONS
from kernels.othello_opponents_numba import ILLEGAL_SCORE, MAX_SEARCH_DEPTH

# nodes of one ply of the torch search, about (each costs ~8 directions x a few int64 temporaries)
_LEAF_BUDGET = 1 << 21
_NEG = -1000  # below every score


def _pick_uniform(cand: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """int64 [N]: a uniformly random action among ``cand`` (bool [N, 65], never empty)."""
    u = torch.rand(cand.shape, device=cand.device, generator=generator)
    return torch.where(cand, u, -1.0).argmax(dim=1)


def random_actions(mine, theirs, generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal action (the pass where no cell is legal)."""
    return _pick_uniform(kt.legal_mask(mine, theirs), generator)


def greedy_actions(mine, theirs, generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: uniformly random among the legal moves that turn over the most discs."""
    f = kt.flip_counts(mine, theirs)
    return _pick_uniform(f == f.amax(dim=1, keepdim=True), generator)


def search_scores(mine: torch.Tensor, theirs: torch.Tensor, depth: int) -> torch.Tensor:
    """int8 [N, 65]: as ``kernels.othello_opponents_numba.search_scores`` (the same values).

    Breadth-first minimax over the legal moves only: each ply's nodes are the legal actions of
    the last ply's (``nonzero``: one host read per ply, so this search is for evaluation, not a
    CUDA hot loop), backed up with ``scatter_reduce`` (amax) onto their parents. Games go in
    chunks, so that one ply holds about ``_LEAF_BUDGET`` nodes at most (~12 legal moves a node).
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_SEARCH_DEPTH:
        raise ValueError(f"depth must be an integer in 1..{MAX_SEARCH_DEPTH}, got {depth!r}")
    n = mine.shape[0]
    chunk = max(1, _LEAF_BUDGET // 12 ** depth)
    if n <= chunk:
        return _search_scores(mine, theirs, depth)
    return torch.cat([_search_scores(mine[i:i + chunk], theirs[i:i + chunk], depth) for i in range(0, n, chunk)])


def _search_scores(mine: torch.Tensor, theirs: torch.Tensor, depth: int) -> torch.Tensor:
    n = mine.shape[0]
    m, o = mine, theirs  # the nodes of the last ply
    alive = torch.ones_like(m, dtype=torch.bool)  # not over: they have children
    levels = []  # per ply: (parent index, action, over, disc difference for the child's side to move)
    for _ in range(depth):
        parent, action = (kt.legal_mask(m, o) & alive.unsqueeze(1)).nonzero(as_tuple=True)
        m, o, _, _, over, _ = kt.play(m[parent], o[parent], torch.zeros_like(parent), action)
        levels.append((parent, action, over, kt.popcount(m) - kt.popcount(o)))
        alive = ~over
    v = None  # value of the last ply's nodes for their side to move
    for k in range(depth, 0, -1):
        parent, action, over, static = levels[k - 1]
        s = -(static if v is None else torch.where(over, static, v))
        if k > 1:
            size = levels[k - 2][0].shape[0]
            v = torch.full((size,), _NEG, dtype=s.dtype, device=s.device).scatter_reduce(0, parent, s, "amax")
    out = torch.full((n, NUM_ACTIONS), ILLEGAL_SCORE, dtype=torch.int64, device=mine.device)
    out[parent, action] = s
    return out.to(torch.int8)


def search_actions(mine: torch.Tensor, theirs: torch.Tensor, depth: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: uniformly random among the actions of the highest ``search_scores``."""
    s = search_scores(mine, theirs, depth)
    return _pick_uniform(s == s.amax(dim=1, keepdim=True), generator)
