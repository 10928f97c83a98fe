"""Every random stream of a run, derived from the one config seed by name.

``stream_seed(seed, "replay")`` is the seed of the replay ring's stream, and so on for each
name in ``STREAMS``; ``child_seed(seed, "pool.opponent", i)`` the seed of the i-th member of a
family of streams (the pool's opponents, the evaluation's opponents and games). One table, so
two components never share a stream by accident and a new one takes a new name.

The formulas are the ones the project used before this table existed, so runs keep their
trajectories (``tests/training/test_dqn_pinned.py`` pins them). ``None`` (no seed) stays
``None``: the component then draws fresh entropy.
"""
from __future__ import annotations

_MOD = 2 ** 62

# name -> salt of the run-level streams (derived from the top-level seed)
STREAMS = {
    "game": 1,  # the training envs (random_legal_actions, ...)
    "agent": 2,  # the agent's own stream (exploration)
    "sampler.random": 3,  # the random opponent sampler (from its own params.seed, else the top-level one)
    "sampler.pool": 4,  # the pool sampler (opponent draws, its heuristics)
    "replay": 5,  # replay sampling and mirroring
    "versus": 6,  # who starts each game
    "eval": 8,  # the evaluator's games and opponents
}

# name -> (multiplier, offset): the i-th child is seed + multiplier * (i + 1) + offset
FAMILIES = {
    "pool.opponent": (101, 0),  # the pool's i-th heuristic opponent
    "eval.opponent": (17, 0),  # the evaluator's i-th opponent
    "eval.games": (31, 0),  # the games against the evaluator's i-th opponent
    "random.ops": (0, 7919),  # the random sampler's move stream (one child)
}


def stream_seed(seed: int | None, name: str) -> int | None:
    """The seed of the run-level stream ``name`` (a key of ``STREAMS``)."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {', '.join(STREAMS)}")
    return None if seed is None else (seed * 1_000_003 + STREAMS[name] * 7_919) % _MOD


def child_seed(seed: int | None, family: str, index: int = 0) -> int | None:
    """The seed of member ``index`` of the stream family ``family`` (a key of ``FAMILIES``)."""
    if family not in FAMILIES:
        raise KeyError(f"unknown stream family {family!r}; known: {', '.join(FAMILIES)}")
    mult, offset = FAMILIES[family]
    return None if seed is None else seed + mult * (index + 1) + offset
