"""The self-play ``pool`` opponent sampler (config validation; sampler in PoolSampler)."""
from __future__ import annotations

from src.training.schema import ConfigError, Field, Schema

SELF_PLAY = Schema({
    "start_episode": Field("int", 0, "finished games before frozen snapshots and self-play begin", min=0),
    "current_self_fraction": Field("float", 0.0, "share of new games against the live network (greedy)", min=0, max=1),
    "past_self_fraction": Field("float", 0.0, "share of new games against frozen snapshots", min=0, max=1),
    "max_frozen_agents": Field("int", 5, "snapshots kept (oldest dropped)", min=1),
    "save_every": Field("int", 1000, "finished games between snapshots", min=1),
})

POOL = Schema({
    "self_play": Field("dict", dict, "self-play options"),
    "heuristic_distribution": Field("dict", doc="weights over opponent names, e.g. {random: 0.2, heuristic: 0.8}"),
    "seed": Field("int", None, "unused: the pool uses the top-level seed", nullable=True),
})


def validate_pool_params(params, seed: int | None) -> dict:
    if seed is None:
        raise ConfigError("seed", "the pool opponent sampler requires a top-level seed")
    p = POOL.fill(params, "train.opponent_sampler.params")
    p["self_play"] = SELF_PLAY.fill(p["self_play"], "train.opponent_sampler.params.self_play")
    sp = p["self_play"]
    if sp["current_self_fraction"] + sp["past_self_fraction"] > 1 + 1e-9:
        raise ConfigError("train.opponent_sampler.params.self_play",
                          f"current_self_fraction + past_self_fraction = "
                          f"{sp['current_self_fraction'] + sp['past_self_fraction']:g} exceeds 1")
    p["heuristic_distribution"] = validate_distribution(p["heuristic_distribution"],
                                                        "train.opponent_sampler.params.heuristic_distribution")
    return p


def validate_distribution(dist: dict, key: str) -> dict:
    from src.opponents import parse_opponent_spec

    if not dist:
        raise ConfigError(key, "must name at least one opponent with a positive weight")
    out = {}
    for name, w in dist.items():
        k = f"{key}.{name}"
        try:
            parse_opponent_spec(name)
        except ValueError as e:
            raise ConfigError(k, str(e)) from None
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w >= 0) or w == float("inf"):
            raise ConfigError(k, f"weight must be a non-negative number, got {w!r}")
        out[str(name)] = float(w)
    if sum(out.values()) <= 0:
        raise ConfigError(key, "weights must not all be zero")
    return out
