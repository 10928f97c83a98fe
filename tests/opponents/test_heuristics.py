"""random / heuristic / smart_heuristic (and search where it applies) on hand-drawn boards.

Boards are drawn top row first: ``x`` = the side to move, ``o`` = the other side.
"""
from __future__ import annotations

import pytest
import torch

from kernels.geometry import Geometry
from src.opponents import make_opponent
from tests.opponents.helpers import board, play_match, random_positions

ALL = ["random", "heuristic", "smart_heuristic", "search:1", "search:3"]
TACTICAL = ["heuristic", "smart_heuristic", "search:2", "search:4"]  # win now, block


def acts(spec, picture, backend_device, n=None, seed=0):
    """The moves of ``spec`` in ``n`` copies of the drawn position, as a set of columns
    (256 copies; 64 for search, whose torch version expands cols**depth lines per copy)."""
    backend, device = backend_device
    n = n or (64 if spec.startswith("search") else 256)
    cur, mask, g = board(picture)
    opp = make_opponent(spec, g, device, backend, seed)
    a = opp.act(cur.repeat(n).to(device), mask.repeat(n).to(device))
    assert a.dtype == torch.int64 and a.shape == (n,) and a.device.type == torch.device(device).type
    return set(a.cpu().tolist())


@pytest.mark.parametrize("spec", TACTICAL)
def test_tactical_opponents_take_a_winning_move(spec, backend_device):
    horizontal = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o o o . . . .
        x x x . . o .
    """
    assert acts(spec, horizontal, backend_device) == {3}
    diagonal = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . x o . .
        . . x o x . .
        o x o o x . .
    """
    assert acts(spec, diagonal, backend_device) == {4}


@pytest.mark.parametrize("spec", TACTICAL)
def test_tactical_opponents_win_rather_than_block(spec, backend_device):
    both = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        x . . . . . o
        x . . . . . o
        x . . . . . o
    """
    assert acts(spec, both, backend_device) == {0}


@pytest.mark.parametrize("spec", TACTICAL)
def test_tactical_opponents_block_the_only_threat(spec, backend_device):
    vertical = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . o . . .
        . . . o . . .
        x . x o . . .
    """
    assert acts(spec, vertical, backend_device) == {3}
    horizontal_gap = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        x . . . . . .
        o . o o x . .
    """
    assert acts(spec, horizontal_gap, backend_device) == {1}


@pytest.mark.parametrize("spec", ALL)
def test_opponents_play_only_legal_moves_on_random_positions(spec, backend_device):
    backend, device = backend_device
    g = Geometry()
    cur, mask = random_positions(1000 if spec.startswith("search") else 3000, g, seed=1)
    opp = make_opponent(spec, g, device, backend, seed=2)
    a = opp.act(cur.to(device), mask.to(device)).cpu()
    assert a.dtype == torch.int64 and a.shape == cur.shape
    assert ((a >= 0) & (a < g.cols)).all()
    top = torch.tensor(g.top)[a]
    assert ((mask & top) == 0).all(), "a move into a full column"


@pytest.mark.parametrize("spec", ALL)
def test_opponents_return_column_zero_on_a_full_board(spec, backend_device):
    backend, device = backend_device
    g = Geometry()
    full = torch.tensor([g.board], device=device)
    opp = make_opponent(spec, g, device, backend, seed=0)
    assert opp.act(full & 0x5555, full).cpu().tolist() == [0]


def test_random_is_uniform_over_the_legal_columns(backend_device):
    picture = """
        x . . o . . x
        o . . x . . o
        x . . o . . x
        o . . x . . o
        x . . o . . x
        o . . x . . o
    """  # columns 0, 3 and 6 are full
    backend, device = backend_device
    cur, mask, g = board(picture)
    n = 40000
    a = make_opponent("random", g, device, backend, 3).act(cur.repeat(n).to(device), mask.repeat(n).to(device))
    freq = torch.bincount(a.cpu(), minlength=g.cols).double() / n
    assert freq[[0, 3, 6]].sum() == 0
    assert torch.allclose(freq[[1, 2, 4, 5]], torch.full((4,), 0.25, dtype=torch.double), atol=0.015)


def test_smart_heuristic_never_hands_over_an_immediate_win(backend_device):
    # o would win at (1, 3), just above column 3's playable cell: column 3 is the only unsafe move
    picture = """
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o o o . . . .
        x o x . x . x
    """
    assert acts("smart_heuristic", picture, backend_device) == {2, 4}  # the safe columns nearest the centre
    assert 3 in acts("heuristic", picture, backend_device)


def test_smart_heuristic_hands_over_a_win_only_when_every_move_does(backend_device):
    # only columns 2 and 4 are open, and o wins at (1, 2) and at (1, 4), above either move
    picture = """
        o x . x . o o
        x x . x . o x
        o x . x . x x
        x o . o . o x
        o o . o . o o
        o x . x . x o
    """
    assert acts("smart_heuristic", picture, backend_device) == {2, 4}


def test_smart_heuristic_prefers_the_centre_and_breaks_mirror_ties_at_random(backend_device):
    empty = "\n".join([". . . . . . ."] * 6)
    assert acts("smart_heuristic", empty, backend_device) == {3}
    centre_full = """
        . . . x . . .
        . . . o . . .
        . . . x . . .
        . . . o . . .
        . . . x . . .
        . . . o . . .
    """
    assert acts("smart_heuristic", centre_full, backend_device) == {2, 4}
    even = "\n".join([". . . . . ."] * 6)  # two centre columns tie on a 6-wide board
    assert acts("smart_heuristic", even, backend_device) == {2, 3}


def _policy(spec, g, backend_device, seed):
    backend, device = backend_device
    return make_opponent(spec, g, device, backend, seed).act


def test_smart_heuristic_beats_heuristic_over_2000_games(backend_device):
    g = Geometry()
    device = backend_device[1]
    score = play_match(_policy("smart_heuristic", g, backend_device, 1), _policy("heuristic", g, backend_device, 2),
                       2000, g, device)
    assert score > 0.8, score  # measured about 0.93 on both backends


def test_heuristic_beats_random_over_1000_games(backend_device):
    g = Geometry()
    device = backend_device[1]
    score = play_match(_policy("heuristic", g, backend_device, 1), _policy("random", g, backend_device, 2),
                       1000, g, device)
    assert score > 0.9, score  # measured about 0.96
