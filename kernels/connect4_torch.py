"""Connect4 bitboard kernels in torch: pure functions over int64 tensors, any device.

Same names, arguments and bit layout as ``kernels.connect4_numba`` (see ``kernels.geometry``).
Every function works on a whole batch with tensor ops: no Python loop over games, no
host synchronisation.
"""
from __future__ import annotations

import torch

from kernels.geometry import Geometry

_TABLES: dict[tuple[int, int, str], dict[str, torch.Tensor]] = {}


def tables(g: Geometry, device: torch.device | str) -> dict[str, torch.Tensor]:
    """Per-column constants of geometry ``g`` on ``device`` (cached)."""
    device = torch.device(device)
    key = (g.rows, g.cols, str(device))
    t = _TABLES.get(key)
    if t is None:
        i64 = dict(dtype=torch.int64, device=device)
        rr, cc = torch.meshgrid(torch.arange(g.rows), torch.arange(g.cols), indexing="ij")
        t = {
            "bottom": torch.tensor(g.bottom, **i64),
            "top": torch.tensor(g.top, **i64),
            "column": torch.tensor(g.column, **i64),
            "board": torch.tensor(g.board, **i64),
            # plane_shift[r, c]: bit index of cell (r, c)
            "plane_shift": (cc * g.height + rr).to(**i64),
        }
        _TABLES[key] = t
    return t


def has_four(p: torch.Tensor, g: Geometry) -> torch.Tensor:
    """bool [N]: whether the stones ``p`` (int64 [N]) hold four in a row in any direction."""
    found = torch.zeros_like(p)
    for s in g.shifts:
        m = p & (p >> s)
        found |= m & (m >> (2 * s))
    return found != 0


def legal_mask(mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """bool [N, cols]: columns whose top cell is empty."""
    return (mask.unsqueeze(1) & tables(g, mask.device)["top"]) == 0


def play(cur: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor, active: torch.Tensor | None, g: Geometry):
    """Play ``actions`` (int64 [N]) for the side to move in the ``active`` games (bool [N] or None = all).

    Returns ``(cur, mask, reward, done, illegal)``: the new position (side to move swapped
    where a stone was placed), reward float32 [N] for the player who just moved (+1 win,
    -1 illegal move, else 0), done bool [N] (win, full board or illegal move) and illegal
    bool [N]. Inactive games and games with an illegal move keep their position. No reset.
    """
    t = tables(g, cur.device)
    in_range = (actions >= 0) & (actions < g.cols)
    a = actions.clamp(0, g.cols - 1)
    legal = in_range & ((mask & t["top"][a]) == 0)
    if active is None:
        active = torch.ones_like(legal)
    ok = legal & active
    move = torch.where(ok, (mask + t["bottom"][a]) & t["column"][a], torch.zeros_like(mask))
    p = cur | move
    new_mask = mask | move
    win = ok & has_four(p, g)
    illegal = active & ~legal
    done = win | illegal | (ok & (new_mask == t["board"]))
    reward = win.to(torch.float32) - illegal.to(torch.float32)
    return torch.where(ok, p ^ new_mask, cur), new_mask, reward, done, illegal


def reset_where(cur: torch.Tensor, mask: torch.Tensor, done: torch.Tensor):
    """Auto-reset: the games flagged in ``done`` become empty boards."""
    zero = torch.zeros_like(cur)
    return torch.where(done, zero, cur), torch.where(done, zero, mask)


def step_autoreset(cur: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor, g: Geometry,
                   dtype: torch.dtype = torch.float32):
    """play + auto-reset + observation (of ``dtype``) for every game (the env's ``step``); pure,
    so it can be handed to ``torch.compile`` whole. Returns ``(cur, mask, obs, reward, done, illegal)``."""
    cur, mask, reward, done, illegal = play(cur, mask, actions, None, g)
    cur, mask = reset_where(cur, mask, done)
    return cur, mask, to_planes(cur, mask, g, dtype), reward, done, illegal


def win_cells(p: torch.Tensor, mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """int64 [N]: the empty cells where stones ``p`` would complete four in a row, playable or
    not (http://blog.gamesolver.org/solving-connect-four/09-anticipate-losing-moves/). Bits
    pushed past bit 62 by the left shifts are dropped by the final mask."""
    h = g.height
    r = (p << 1) & (p << 2) & (p << 3)  # vertical: only the cell above three stones
    for s in (h, h - 1, h + 1):
        pair = (p << s) & (p << 2 * s)
        r |= pair & (p << 3 * s)
        r |= pair & (p >> s)
        pair = (p >> s) & (p >> 2 * s)
        r |= pair & (p << s)
        r |= pair & (p >> 3 * s)
    return r & (tables(g, p.device)["board"] ^ mask)


def feature_planes(cur: torch.Tensor, mask: torch.Tensor, g: Geometry, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[N, 5, rows, cols] from bitboards, the 'threats' network input: stones of the side to
    move, the other side's, the playable cells, and the cells where each side would complete
    four (equal to ``src.agents.networks.threat_planes`` of the two stone planes)."""
    t = tables(g, cur.device)
    opp = cur ^ mask
    playable = (mask + t["bottom"].sum()) & t["board"]
    words = torch.stack((cur, opp, playable, win_cells(cur, mask, g), win_cells(opp, mask, g)), dim=1)
    return ((words[:, :, None, None] >> t["plane_shift"]) & 1).to(dtype)


def to_planes(cur: torch.Tensor, mask: torch.Tensor, g: Geometry, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """obs [N, 2, rows, cols]: plane 0 = stones of the side to move, plane 1 = the other side's."""
    shift = tables(g, cur.device)["plane_shift"]
    both = torch.stack((cur, cur ^ mask), dim=1)  # [N, 2]
    return ((both[:, :, None, None] >> shift) & 1).to(dtype)


def random_legal_actions(mask: torch.Tensor, g: Geometry, generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal column per game (0 where the board is full)."""
    u = torch.rand((mask.shape[0], g.cols), device=mask.device, generator=generator)
    return torch.where(legal_mask(mask, g), u + 1.0, 0.0).argmax(dim=1)  # all-zero row: 0


def random_rollout(cur: torch.Tensor, mask: torch.Tensor, steps: int, g: Geometry,
                   generator: torch.Generator | None = None):
    """Kernel ceiling: ``steps`` random legal moves in every game with auto-reset, no observations.

    Returns ``(cur, mask, finished)`` with finished int64 [N] games completed per slot.
    """
    finished = torch.zeros_like(cur)
    for _ in range(steps):
        a = random_legal_actions(mask, g, generator)
        cur, mask, _, done, _ = play(cur, mask, a, None, g)
        finished += done
        cur, mask = reset_where(cur, mask, done)
    return cur, mask, finished
