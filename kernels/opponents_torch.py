"""Batched Connect4 opponents in torch: pure functions over int64 bitboards, any device.

Same names, arguments and definitions as ``kernels.opponents_numba`` (the docs of each
opponent live in ``docs/opponents.md``); bit layout from ``kernels.geometry``. Every
function acts on a whole batch with tensor ops: no Python loop over games, no host sync.
Randomness comes from a ``torch.Generator`` on the tensors' device.
"""
from __future__ import annotations

import torch

from kernels import connect4_torch as kt
from kernels.geometry import Geometry

#: ``search_scores`` value of a full column.
ILLEGAL_SCORE = -128
#: deepest search that ``search_scores`` accepts.
MAX_SEARCH_DEPTH = 8
# Torch search expands every line of play: at most this many leaves per chunk of games.
_LEAF_BUDGET = 1 << 24
_NEG = -100  # below every score, above int16 overflow when negated

_TABLES: dict[tuple[int, int, str], dict[str, torch.Tensor]] = {}


def line_shifts(g: Geometry) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shifts of the line directions in which a four fits on this board: (vertical, others).

    Directions that cannot hold four are left out, so every shift used is below 64 bits.
    """
    vertical = (1,) if g.rows >= 4 else ()
    others = ((g.height,) if g.cols >= 4 else ()) + ((g.height - 1, g.height + 1) if g.cols >= 4 and g.rows >= 4 else ())
    return vertical, others


def centre_priority(g: Geometry) -> list[int]:
    """p[c] = 1 + min(c, cols-1-c): 1 at the edges, one more per column towards the centre
    (decreasing with |c - (cols-1)/2|; only mirror columns c and cols-1-c tie)."""
    return [1 + min(c, g.cols - 1 - c) for c in range(g.cols)]


def _tables(g: Geometry, device: torch.device) -> dict[str, torch.Tensor]:
    key = (g.rows, g.cols, str(device))
    t = _TABLES.get(key)
    if t is None:
        i64 = dict(dtype=torch.int64, device=device)
        t = dict(kt.tables(g, device))
        t["bottom_all"] = torch.tensor(sum(g.bottom), **i64)
        t["priority"] = torch.tensor(centre_priority(g), dtype=torch.float32, device=device)
        _TABLES[key] = t
    return t


def winning_cells(p: torch.Tensor, mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """int64 [...]: empty cells where the stones ``p`` would complete four in a row.

    ``p`` and ``mask`` broadcast together. Shift-and over the four directions, looking at the
    three cells on each side (http://blog.gamesolver.org/solving-connect-four/09-scoring/);
    bits shifted past the board land on sentinels or off the word and are masked out.
    """
    vertical, others = line_shifts(g)
    r = torch.zeros_like(p)
    for s in vertical:  # only stones below: the cell above an empty cell is empty
        r = r | ((p << s) & (p << 2 * s) & (p << 3 * s))
    for s in others:
        t = (p << s) & (p << 2 * s)
        r = r | (t & (p << 3 * s)) | (t & (p >> s))
        t = (p >> s) & (p >> 2 * s)
        r = r | (t & (p << s)) | (t & (p >> 3 * s))
    return r & (g.board ^ mask)


def playable_cells(mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """int64 [...]: the lowest empty cell of every column that is not full."""
    return (mask + _tables(g, mask.device)["bottom_all"]) & g.board


def move_cells(mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """int64 [..., cols]: the cell a stone dropped in each column lands on (0 if the column is full)."""
    t = _tables(g, mask.device)
    return (mask.unsqueeze(-1) + t["bottom"]) & t["column"]


def _columns_of(cells: torch.Tensor, g: Geometry) -> torch.Tensor:
    """bool [..., cols]: which columns hold a set bit of ``cells``."""
    return (cells.unsqueeze(-1) & _tables(g, cells.device)["column"]) != 0


def immediate_wins(cur: torch.Tensor, mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """bool [N, cols]: legal moves that win at once for the side to move.

    ``immediate_wins(cur ^ mask, mask, g)`` gives the other side's threats: the moves that
    would win for it if it were to move (what a block must cover).
    """
    return _columns_of(winning_cells(cur, mask, g) & playable_cells(mask, g), g)


def safe_cells(cur: torch.Tensor, mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """int64 [N]: the playable cells after which the opponent has no immediate winning move.

    With ``t`` the opponent's playable winning cells: none is safe if ``t`` has two or more
    (one move blocks one), only ``t`` itself can be if it has one, any playable cell can be
    if it has none; and a cell is unsafe when the cell just above it wins for the opponent.
    """
    opp = winning_cells(cur ^ mask, mask, g)
    poss = playable_cells(mask, g)
    t = opp & poss
    cand = torch.where(t == 0, poss, torch.where((t & (t - 1)) == 0, t, torch.zeros_like(t)))
    return cand & ~(opp >> 1)


def safe_moves(cur: torch.Tensor, mask: torch.Tensor, g: Geometry) -> torch.Tensor:
    """bool [N, cols]: legal moves after which the opponent has no immediate winning move."""
    return _columns_of(safe_cells(cur, mask, g), g)


def _first_nonempty(*sets: torch.Tensor) -> torch.Tensor:
    """bool [N, cols]: per game, the first of ``sets`` that has a column set (the last one otherwise)."""
    out = sets[-1]
    for s in reversed(sets[:-1]):
        out = torch.where(s.any(dim=1, keepdim=True), s, out)
    return out


def _pick_uniform(cand: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """int64 [N]: a uniformly random column among ``cand`` (bool [N, cols]); 0 where none."""
    u = torch.rand(cand.shape, device=cand.device, generator=generator)
    return torch.where(cand, u, -1.0).argmax(dim=1)


def _pick_most_central(cand: torch.Tensor, priority: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """int64 [N]: the column of highest ``priority`` among ``cand``, uniformly among ties; 0 where none."""
    u = torch.rand(cand.shape, device=cand.device, generator=generator)
    # priorities are integers: half a random unit reorders only the ties
    return torch.where(cand, priority + 0.5 * u, -1.0).argmax(dim=1)


def random_actions(cur: torch.Tensor, mask: torch.Tensor, g: Geometry,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal column (0 where the board is full)."""
    return _pick_uniform(kt.legal_mask(mask, g), generator)


def heuristic_actions(cur: torch.Tensor, mask: torch.Tensor, g: Geometry,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: uniform among the winning moves, else among the blocks, else among the legal moves."""
    wins = immediate_wins(cur, mask, g)
    blocks = immediate_wins(cur ^ mask, mask, g)
    return _pick_uniform(_first_nonempty(wins, blocks, kt.legal_mask(mask, g)), generator)


def smart_heuristic_actions(cur: torch.Tensor, mask: torch.Tensor, g: Geometry,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: candidates = the winning moves, else the blocks, else the safe moves (see
    ``safe_moves``), else the legal moves; plays the candidate of highest ``centre_priority``,
    uniformly at random between tied (mirror) columns."""
    wins = immediate_wins(cur, mask, g)
    blocks = immediate_wins(cur ^ mask, mask, g)
    cand = _first_nonempty(wins, blocks, safe_moves(cur, mask, g), kt.legal_mask(mask, g))
    return _pick_most_central(cand, _tables(g, cur.device)["priority"], generator)


def search_scores(cur: torch.Tensor, mask: torch.Tensor, g: Geometry, depth: int) -> torch.Tensor:
    """int8 [N, cols]: depth-limited negamax score of each move for the side to move.

    A move that wins on ply k (k = 1 is this move) scores ``depth - k + 1``, one that loses
    on ply k scores ``-(depth - k + 1)`` (both sides play the fastest win / slowest loss);
    everything else within ``depth`` plies, draws included, scores 0. Full columns score
    ``ILLEGAL_SCORE``. Breadth-first: every line of play to ``depth`` plies is expanded
    ([N, cols**depth] leaves, in chunks of games when that is large) and backed up by max.
    """
    if not 1 <= depth <= MAX_SEARCH_DEPTH:
        raise ValueError(f"depth must be in 1..{MAX_SEARCH_DEPTH}, got {depth}")
    n = cur.shape[0]
    chunk = max(1, _LEAF_BUDGET // g.cols ** depth)
    if n <= chunk:
        return _search_scores(cur, mask, g, depth)
    return torch.cat([_search_scores(cur[i:i + chunk], mask[i:i + chunk], g, depth) for i in range(0, n, chunk)])


def _search_scores(cur: torch.Tensor, mask: torch.Tensor, g: Geometry, depth: int) -> torch.Tensor:
    n = cur.shape[0]
    t = _tables(g, cur.device)
    c, m = cur.unsqueeze(1), mask.unsqueeze(1)  # [N, P]: the P = cols**(k-1) positions at ply k-1
    alive = torch.ones_like(c, dtype=torch.bool)  # reached and not over
    levels = []
    for k in range(1, depth + 1):
        mv = (m.unsqueeze(-1) + t["bottom"]) & t["column"]  # [N, P, cols]
        exists = alive.unsqueeze(-1) & (mv != 0)
        win = exists & ((winning_cells(c, m, g).unsqueeze(-1) & mv) != 0)
        nm = m.unsqueeze(-1) | mv
        draw = exists & ~win & (nm == g.board)
        levels.append((exists.reshape(n, -1), win.reshape(n, -1), draw.reshape(n, -1)))
        if k < depth:
            # child index = parent index * cols + column; the mover's opponent moves next
            c = (c ^ m).unsqueeze(-1).expand_as(nm).reshape(n, -1)
            m = nm.reshape(n, -1)
            alive = (exists & ~win & ~draw).reshape(n, -1)
    v = None  # value of the positions at ply k for their side to move
    for k in range(depth, 0, -1):
        exists, win, draw = levels[k - 1]
        s = torch.zeros(exists.shape, dtype=torch.int16, device=cur.device) if v is None else -v
        s = torch.where(win, depth - k + 1, torch.where(draw, 0, s))
        s = torch.where(exists, s, _NEG)  # -v of a dead position is junk: masked here
        if k > 1:
            v = s.reshape(n, -1, g.cols).amax(dim=-1).to(torch.int16)
    return torch.where(s == _NEG, ILLEGAL_SCORE, s).to(torch.int8)


def search_actions(cur: torch.Tensor, mask: torch.Tensor, g: Geometry, depth: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: uniformly random among the legal moves of best ``search_scores`` (0 where none)."""
    s = search_scores(cur, mask, g, depth)
    best = s.amax(dim=1, keepdim=True)
    return _pick_uniform((s == best) & (s != ILLEGAL_SCORE), generator)
