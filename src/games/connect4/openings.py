"""Connect4's random openings for evaluation (``play_games(..., opening_plies=K)``)."""
from __future__ import annotations

import torch

from kernels import connect4_torch as kt
from kernels.opponents_torch import immediate_wins


def random_openings(n: int, plies: int, geometry, seed: int) -> tuple:
    """cur, mask int64 [n] (CPU): positions after ``plies`` uniformly random legal moves, drawn
    from their own seeded stream, where no game ended on the way and the side to move cannot
    win at once (so whoever moves first from one plays a live game). Rejected draws are redrawn."""
    g = geometry
    gen = torch.Generator().manual_seed(int(seed))
    out_cur = torch.zeros(n, dtype=torch.int64)
    out_mask = torch.zeros(n, dtype=torch.int64)
    filled = torch.zeros(n, dtype=torch.bool)
    while not bool(filled.all()):
        cur, mask = torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)
        alive = torch.ones(n, dtype=torch.bool)
        for _ in range(plies):
            cur, mask, _, done, _ = kt.play(cur, mask, kt.random_legal_actions(mask, g, gen), alive, g)
            alive &= ~done
        take = alive & ~immediate_wins(cur, mask, g).any(dim=1) & ~filled
        out_cur, out_mask = torch.where(take, cur, out_cur), torch.where(take, mask, out_mask)
        filled |= take
    return out_cur, out_mask
