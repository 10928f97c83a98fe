"""Opponent specs, the factory, seeding and state_dict."""
from __future__ import annotations

import pytest
import torch

from kernels.geometry import Geometry
from src.opponents import (OPPONENT_NAMES, HeuristicOpponent, SearchOpponent, format_opponent_spec, make_opponent,
                           parse_opponent_spec)
from tests.opponents.helpers import random_positions

SPECS = ["random", "heuristic", "smart_heuristic", "search:3"]


@pytest.mark.parametrize("spec,expected", [
    ("random", ("random", {})),
    ("smart_heuristic", ("smart_heuristic", {})),
    ("search", ("search", {"depth": 4})),
    ("search:6", ("search", {"depth": 6})),
    (" search : 2 ", ("search", {"depth": 2})),
    ({"search": {"depth": 3}}, ("search", {"depth": 3})),
    ({"search": {}}, ("search", {"depth": 4})),
    ({"heuristic": None}, ("heuristic", {})),
    ({"random": {}}, ("random", {})),
])
def test_parse_opponent_spec_accepts_strings_and_one_key_mappings(spec, expected):
    assert parse_opponent_spec(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("heurstic", "unknown opponent 'heurstic'; did you mean 'heuristic'?"),
    ("smart", "did you mean 'smart_heuristic'?"),
    ("serch:4", "did you mean 'search'?"),
    ("minimax", "unknown opponent 'minimax' (expected one of random, heuristic, smart_heuristic, search, perfect, solver, greedy)"),
    ("search:0", "search depth must be an integer from 1 to 8, got 0"),
    ("search:9", "from 1 to 8, got 9"),
    ("search:two", "got 'two'"),
    ("search:", "got ''"),
    ({"search": {"depth": 2.0}}, "got 2.0"),
    ({"search": {"depth": True}}, "got True"),
    ("search:4:1", "'search' takes one parameter, depth"),
    ("random:3", "'random' takes no parameters"),
    ({"search": {"deep": 3}}, "unknown parameter 'deep' for 'search'"),
    ({"heuristic": {"depth": 3}}, "unknown parameter 'depth' for 'heuristic'"),
    ({"search": 4}, "must be a mapping"),
    ({"random": {}, "heuristic": {}}, "exactly one key"),
    (4, "expected a string like 'search:4'"),
])
def test_parse_opponent_spec_rejects_bad_specs_with_a_one_line_message(spec, message):
    with pytest.raises(ValueError) as e:
        parse_opponent_spec(spec)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_names_and_canonical_specs():
    assert OPPONENT_NAMES == ("random", "heuristic", "smart_heuristic", "search", "perfect", "solver", "greedy")
    assert format_opponent_spec("search", {"depth": 5}) == "search:5"
    assert format_opponent_spec("heuristic") == "heuristic"
    for spec in SPECS + [{"search": {"depth": 2}}]:
        opp = make_opponent(spec, Geometry(), "cpu", "torch", 0)
        assert parse_opponent_spec(opp.spec) == parse_opponent_spec(spec)


def test_make_opponent_builds_the_named_class_on_the_asked_backend():
    opp = make_opponent({"search": {"depth": 2}}, Geometry(5, 6), "cpu", "numba", 1)
    assert isinstance(opp, SearchOpponent) and opp.depth == 2 and opp.backend == "numba"
    assert opp.geometry == Geometry(5, 6)
    opp = make_opponent("heuristic", device="cpu")
    assert isinstance(opp, HeuristicOpponent) and opp.backend == "numba" and opp.geometry == Geometry()
    with pytest.raises(ValueError, match="backend"):
        make_opponent("random", Geometry(), "cpu", "jax", 0)


def _actions(opp, cur, mask, calls=3):
    return [opp.act(cur, mask).cpu() for _ in range(calls)]


@pytest.mark.parametrize("spec", SPECS)
def test_same_seed_same_actions_and_another_seed_other_actions(spec, backend_device):
    backend, device = backend_device
    g = Geometry()
    cur, mask = (t.to(device) for t in random_positions(500, g, seed=4))
    a = _actions(make_opponent(spec, g, device, backend, 7), cur, mask)
    b = _actions(make_opponent(spec, g, device, backend, 7), cur, mask)
    c = _actions(make_opponent(spec, g, device, backend, 8), cur, mask)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    assert not torch.equal(a[0], a[1]), "successive calls should draw fresh random numbers"


@pytest.mark.parametrize("spec", SPECS)
def test_state_dict_restores_the_random_stream(spec, backend_device):
    backend, device = backend_device
    g = Geometry()
    cur, mask = (t.to(device) for t in random_positions(500, g, seed=5))
    opp = make_opponent(spec, g, device, backend, 3)
    opp.act(cur, mask)
    state = opp.state_dict()
    after = _actions(opp, cur, mask)
    other = make_opponent(spec, g, device, backend, 99)
    other.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(after, _actions(other, cur, mask)))


def test_load_state_dict_of_another_backend_raises():
    numba_state = make_opponent("random", Geometry(), "cpu", "numba", 0).state_dict()
    with pytest.raises(ValueError, match="backend 'numba'"):
        make_opponent("random", Geometry(), "cpu", "torch", 0).load_state_dict(numba_state)


def test_opponent_and_env_given_the_same_seed_draw_different_numbers():
    from src.games import make_game

    g = Geometry()
    env = make_game("connect4", 4096, device="cpu", backend="torch", seed=11)
    opp = make_opponent("random", g, "cpu", "torch", 11)
    assert not torch.equal(env.sample_actions(), opp.act(env.cur, env.mask))


def test_othellos_greedy_parses_but_does_not_play_connect4():
    assert parse_opponent_spec("greedy") == ("greedy", {})
    with pytest.raises(ValueError, match="'greedy' does not play connect4"):
        make_opponent("greedy", Geometry(), "cpu", "torch", 0)
