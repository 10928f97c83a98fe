"""Test helpers: ASCII boards, random positions, a slow reference search and a batched match."""
from __future__ import annotations

import numpy as np
import torch

from kernels import connect4_torch as kt
from kernels.geometry import Geometry


def board(picture: str) -> tuple[torch.Tensor, torch.Tensor, Geometry]:
    """(cur int64 [1], mask int64 [1], geometry) of an ASCII picture, top row first.

    ``x`` = a stone of the side to move, ``o`` = the other side's, ``.`` = empty; the board
    size is the picture's size. Stones must rest on stones (gravity).
    """
    lines = [ln.split() for ln in picture.strip().splitlines()]
    rows, cols = len(lines), len(lines[0])
    g = Geometry(rows, cols)
    cur = mask = 0
    for i, line in enumerate(lines):
        assert len(line) == cols, f"ragged picture row {i}"
        r = rows - 1 - i
        for c, ch in enumerate(line):
            assert ch in "xo.", f"unknown cell {ch!r}"
            if ch != ".":
                assert r == 0 or lines[i + 1][c] != ".", f"floating stone at row {r}, column {c}"
                mask |= g.bit(r, c)
                cur |= g.bit(r, c) if ch == "x" else 0
    return torch.tensor([cur]), torch.tensor([mask]), g


def random_positions(n: int, g: Geometry, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n positions reached by uniform random play from the empty board, stopping at a
    random ply in [0, rows*cols) or before the move that would end the game (none is over)."""
    gen = torch.Generator().manual_seed(seed)
    cur = torch.zeros(n, dtype=torch.int64)
    mask = torch.zeros_like(cur)
    target = torch.randint(0, g.rows * g.cols, (n,), generator=gen)
    going = torch.ones(n, dtype=torch.bool)
    for ply in range(g.rows * g.cols):
        going &= ply < target
        a = kt.random_legal_actions(mask, g, gen)
        c, m, _, done, _ = kt.play(cur, mask, a, going, g)
        going &= ~done
        cur = torch.where(going, c, cur)
        mask = torch.where(going, m, mask)
    return cur, mask


# --- slow pure-Python reference: one game at a time, cell by cell, straight from the rules ---

def ref_moves(mask: int, g: Geometry) -> list[tuple[int, int]]:
    """(column, landing row) of every legal move, by scanning the column from the bottom."""
    out = []
    for c in range(g.cols):
        for r in range(g.rows):
            if not mask & g.bit(r, c):
                out.append((c, r))
                break
    return out


def ref_completes_four(p: int, r: int, c: int, g: Geometry) -> bool:
    """Whether a stone of ``p`` at (r, c) makes four in a row, walking out from (r, c)."""
    def run(dr: int, dc: int) -> int:
        n, rr, cc = 0, r + dr, c + dc
        while 0 <= rr < g.rows and 0 <= cc < g.cols and p & g.bit(rr, cc):
            n, rr, cc = n + 1, rr + dr, cc + dc
        return n
    return any(1 + run(dr, dc) + run(-dr, -dc) >= 4 for dr, dc in ((1, 0), (0, 1), (1, 1), (1, -1)))


def ref_value(cur: int, mask: int, d: int, g: Geometry) -> int:
    """Plain negamax value for the side to move, ``d`` plies, scores as in ``search_scores``."""
    return max(ref_move_score(cur, mask, c, r, d, g) for c, r in ref_moves(mask, g))


def ref_move_score(cur: int, mask: int, c: int, r: int, d: int, g: Geometry) -> int:
    if ref_completes_four(cur, r, c, g):
        return d
    cell = g.bit(r, c)
    if (mask | cell) == g.board or d == 1:
        return 0
    return -ref_value(cur ^ mask, mask | cell, d - 1, g)


def ref_scores(cur: int, mask: int, d: int, g: Geometry, illegal: int) -> list[int]:
    """Negamax score of every column (``illegal`` for full ones), as ``search_scores`` defines them."""
    rows = dict(ref_moves(mask, g))
    return [ref_move_score(cur, mask, c, rows[c], d, g) if c in rows else illegal for c in range(g.cols)]


def ref_wins_now(cur: int, mask: int, g: Geometry) -> list[bool]:
    """Per column: the side to move wins by playing there."""
    rows = dict(ref_moves(mask, g))
    return [c in rows and ref_completes_four(cur, rows[c], c, g) for c in range(g.cols)]


def ref_safe(cur: int, mask: int, g: Geometry) -> list[bool]:
    """Per column: legal, and afterwards the opponent has no winning move."""
    out = [False] * g.cols
    for c, r in ref_moves(mask, g):
        m2 = mask | g.bit(r, c)
        out[c] = not any(ref_wins_now(cur ^ mask, m2, g))
    return out


def play_match(act_a, act_b, n_games: int, g: Geometry, device="cpu") -> float:
    """Score of A against B (win 1, draw 0.5) over ``n_games`` batched games from the empty
    board, A moving first in the even-numbered games. ``act_*(cur, mask) -> int64 [N]``."""
    cur = torch.zeros(n_games, dtype=torch.int64, device=device)
    mask = torch.zeros_like(cur)
    a_to_move = torch.arange(n_games, device=device) % 2 == 0
    over = torch.zeros(n_games, dtype=torch.bool, device=device)
    a_score = torch.full((n_games,), 0.5, device=device)
    for _ in range(g.rows * g.cols):
        actions = torch.where(a_to_move, act_a(cur, mask), act_b(cur, mask))
        cur, mask, reward, done, illegal = kt.play(cur, mask, actions, ~over, g)
        assert not illegal.any(), "an opponent played an illegal move"
        won = done & (reward > 0)
        a_score = torch.where(won, a_to_move.float(), a_score)
        over |= done
        a_to_move = ~a_to_move
    assert over.all()
    return a_score.mean().item()
