"""Othello 8x8 bitboard kernels in torch: pure functions over int64 tensors, any device.

Same names, arguments and bit layout as ``kernels.othello_numba`` (see
``kernels.othello_geometry``). The eight directions are a dimension of size 8: one flood-fill
step is a shift of every direction at once (``x << left >> right`` with per-direction
amounts, one of them 0), so a move generation is ~30 tensor ops whatever the batch. No Python
loop over games, no host synchronisation.
"""
from __future__ import annotations

import torch

from kernels.othello_geometry import (BLACK_START, DIRECTIONS, NUM_ACTIONS, PASS, WHITE_START, signed)

_TABLES: dict[str, dict[str, torch.Tensor]] = {}


def tables(device: torch.device | str) -> dict[str, torch.Tensor]:
    """Per-direction shifts and masks, and the cell bits, on ``device`` (cached)."""
    device = torch.device(device)
    t = _TABLES.get(str(device))
    if t is None:
        i64 = dict(dtype=torch.int64, device=device)
        t = {
            "left": torch.tensor([s if left else 0 for s, left, _ in DIRECTIONS], **i64),
            "right": torch.tensor([0 if left else s for s, left, _ in DIRECTIONS], **i64),
            "dir_mask": torch.tensor([signed(m) for _, _, m in DIRECTIONS], **i64),
            "cells": torch.arange(64, **i64),
            "cell_bits": torch.tensor([signed(1 << k) for k in range(64)], **i64),
            "start": torch.tensor([BLACK_START, WHITE_START], **i64),
            "m1": torch.tensor(signed(0x5555555555555555), **i64),
            "m2": torch.tensor(signed(0x3333333333333333), **i64),
            "m4": torch.tensor(signed(0x0F0F0F0F0F0F0F0F), **i64),
            "h01": torch.tensor(signed(0x0101010101010101), **i64),
        }
        _TABLES[str(device)] = t
    return t


def popcount(x: torch.Tensor) -> torch.Tensor:
    """int64 [...]: set bits of each word (SWAR; every right shift is masked, so the sign
    bit does not leak; the final byte sum is at most 64, so ``>> 56`` is exact)."""
    t = tables(x.device)
    x = x - ((x >> 1) & t["m1"])
    x = (x & t["m2"]) + ((x >> 2) & t["m2"])
    x = (x + (x >> 4)) & t["m4"]
    return (x * t["h01"]) >> 56


def _or8(x: torch.Tensor) -> torch.Tensor:
    """[..., 8] -> [...]: bitwise or over the direction dimension."""
    x = x[..., :4] | x[..., 4:]
    x = x[..., :2] | x[..., 2:]
    return x[..., 0] | x[..., 1]


def _runs(seed: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """int64 [..., 8]: per direction, the opponent discs reached from ``seed`` (int64 [...])
    without a gap (https://www.chessprogramming.org/Dumb7Fill). The masked discs ``o`` never
    hold a bit that an arithmetic right shift fills with the sign (see othello_geometry)."""
    t = tables(seed.device)
    left, right = t["left"], t["right"]
    o = opp.unsqueeze(-1) & t["dir_mask"]
    r = ((seed.unsqueeze(-1) << left) >> right) & o
    for _ in range(5):
        r = r | (((r << left) >> right) & o)
    return r


def _step(x: torch.Tensor) -> torch.Tensor:
    """One step of each direction of ``x`` [..., 8] (``x`` holds no sign-filling bits: runs only)."""
    t = tables(x.device)
    return (x << t["left"]) >> t["right"]


def legal_words(me: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """int64 [N]: the empty cells where the side to move may place a disc."""
    return _or8(_step(_runs(me, opp))) & ~(me | opp)


def flips(move: torch.Tensor, me: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """int64 [N]: the opponent discs a disc on ``move`` (one bit, or 0) turns over."""
    r = _runs(move, opp)
    closed = (_step(r) & me.unsqueeze(-1)) != 0
    return torch.where(closed, r, 0).sum(-1)  # the eight runs are disjoint: sum == or


def legal_mask(me: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """bool [N, 65]: the legal cells, and the pass (legal only where no cell is)."""
    words = legal_words(me, opp)
    cells = (words.unsqueeze(-1) & tables(me.device)["cell_bits"]) != 0
    return torch.cat([cells, (words == 0).unsqueeze(-1)], dim=-1)


def flip_counts(me: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """int8 [N, 65]: discs each legal move turns over (0 for a legal pass), -1 where illegal."""
    t = tables(me.device)
    bits = t["cell_bits"]  # [64]
    f = popcount(flips(bits, me.unsqueeze(-1), opp.unsqueeze(-1)))  # [N, 64]
    legal = legal_mask(me, opp)
    f = torch.cat([f, torch.zeros_like(f[:, :1])], dim=-1)
    return torch.where(legal, f, -1).to(torch.int8)


def play(me: torch.Tensor, opp: torch.Tensor, player: torch.Tensor, actions: torch.Tensor,
         active: torch.Tensor | None = None):
    """Play ``actions`` (int64 [N], 0-63 a cell, 64 the pass) in the ``active`` games (bool
    [N] or None = all).

    Returns ``(me, opp, player, reward, done, illegal)``: the new position (the other side to
    move, even when it then has only the pass), reward float32 [N] for the player who just
    moved (+1 when the move ends the game with more discs for it, -1 with fewer or for an
    illegal action, else 0), done bool [N] (neither side can move, or illegal) and illegal
    bool [N] (a cell that is not a legal move, the pass while a cell is legal, or an action
    outside 0..64). Inactive games and games with an illegal action keep their position. No reset.
    """
    t = tables(me.device)
    if active is None:
        active = torch.ones(me.shape, dtype=torch.bool, device=me.device)
    legal = legal_words(me, opp)
    is_pass = actions == PASS
    mv = torch.where((actions >= 0) & (actions < PASS), t["cell_bits"][actions.clamp(0, 63)], 0)
    ok = torch.where(is_pass, legal == 0, (mv & legal) != 0) & active
    mv = torch.where(ok, mv, 0)
    f = flips(mv, me, opp)
    mine = me | mv | f
    theirs = opp ^ f
    both = torch.stack([theirs, mine])  # the new side to move first
    can = legal_words(both, both.flip(0)) != 0  # [2, N]
    over = ok & ~is_pass & ~can[0] & ~can[1]
    illegal = active & ~ok
    diff = popcount(mine) - popcount(theirs)
    reward = torch.where(over, diff.sign().to(torch.float32), 0.0) - illegal.to(torch.float32)
    moved = ok.to(torch.int64)
    return (torch.where(ok, theirs, me), torch.where(ok, mine, opp), player ^ moved,
            reward, over | illegal, illegal)


def reset_where(me: torch.Tensor, opp: torch.Tensor, player: torch.Tensor, done: torch.Tensor):
    """Auto-reset: the games flagged in ``done`` get the start position (black to move)."""
    start = tables(me.device)["start"]
    return torch.where(done, start[0], me), torch.where(done, start[1], opp), torch.where(done, 0, player)


def to_planes(me: torch.Tensor, opp: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """obs [N, 2, 8, 8]: plane 0 = discs of the side to move, plane 1 = the other side's;
    plane[r, c] is cell ``8 r + c``."""
    cells = tables(me.device)["cells"]
    both = torch.stack((me, opp), dim=1)  # [N, 2]
    return ((both.unsqueeze(-1) >> cells) & 1).to(dtype).view(-1, 2, 8, 8)


def step_autoreset(me: torch.Tensor, opp: torch.Tensor, player: torch.Tensor, actions: torch.Tensor,
                   dtype: torch.dtype = torch.float32):
    """play + auto-reset + observation (of ``dtype``) for every game (the env's ``step``); pure,
    so it can be handed to ``torch.compile`` whole. Returns ``(me, opp, player, obs, reward, done, illegal)``."""
    me, opp, player, reward, done, illegal = play(me, opp, player, actions)
    me, opp, player = reset_where(me, opp, player, done)
    return me, opp, player, to_planes(me, opp, dtype), reward, done, illegal


def random_legal_actions(me: torch.Tensor, opp: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal action per game (64, the pass, where no cell is legal)."""
    legal = legal_mask(me, opp)
    u = torch.rand(legal.shape, device=me.device, generator=generator)
    return torch.where(legal, u + 1.0, 0.0).argmax(dim=1)


def random_rollout(me: torch.Tensor, opp: torch.Tensor, player: torch.Tensor, steps: int,
                   generator: torch.Generator | None = None):
    """Kernel ceiling: ``steps`` random legal moves in every game with auto-reset, no observations.
    Returns ``(me, opp, player, finished)`` with finished int64 [N] games completed per slot."""
    finished = torch.zeros_like(me)
    for _ in range(steps):
        a = random_legal_actions(me, opp, generator)
        me, opp, player, _, done, _ = play(me, opp, player, a)
        finished += done
        me, opp, player = reset_where(me, opp, player, done)
    return me, opp, player, finished


__all__ = ["NUM_ACTIONS", "PASS", "legal_words", "legal_mask", "flips", "flip_counts", "play", "reset_where",
           "to_planes", "step_autoreset", "random_legal_actions", "random_rollout", "popcount"]
