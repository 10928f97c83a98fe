"""Every random stream of a run, derived from the one config seed by name.

``stream_seed(seed, "replay")`` is the seed of the replay ring's stream, and so on for each
name in ``STREAMS``; ``child_seed(seed, "pool.opponent", i)`` the seed of the i-th member of a
family of streams (the pool's opponents, the evaluation's opponents and games). One table, so
two components never share a stream by accident and a new one takes a new name.

The formulas are the ones the project used before this table existed, so runs keep their
trajectories (``tests/training/test_dqn_pinned.py`` pins them). ``None`` (no seed) stays
``None``: the component then draws fresh entropy.

Data-parallel runs (``torchrun``): ``rank_seed(seed, rank)`` is the seed every per-rank stream
(games, exploration, replay, opponents, seats) is derived from, so each rank plays different
games; rank 0 keeps the config seed, so a one-process run is unchanged.
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
    "eval.perfect_games": (0, 104_729),  # perfect's tie-breaks in the games against it (one child)
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


_RANK_SALT = 0x9E3779B97F4A7C15  # the golden-ratio constant of splitmix64


def rank_seed(seed: int | None, rank: int) -> int | None:
    """The seed of rank ``rank``'s streams in a data-parallel run: ``seed`` itself for rank 0
    (a one-process run keeps its trajectory), for rank r > 0 a splitmix64 mix of (seed, r),
    so two ranks never share a stream and no rank's seed is another's plus a small offset."""
    if seed is None or rank == 0:
        return seed
    z = (seed + _RANK_SALT * rank) % 2 ** 64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2 ** 64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2 ** 64
    return (z ^ (z >> 31)) % _MOD
