"""What bounds the AlphaZero plateau: the network, or its self-play targets?

    python benchmarks/solver_targets.py STATE --out CKPT [--value selfplay|solver]
        [--policy selfplay|solver] [--positions N] [--labels FILE] [--seed S] [--updates U]
        [--fit N] [--param KEY=VALUE]

STATE is a trainer state written by a run with ``train.checkpoint_replay: true``
(``RUN_DIR/state/state_<step>.pt``). Its replay ring holds the positions that run's self-play
recorded over its last plies, each with its self-play targets: the search's visit policy, the
game's outcome and the root search's value (mixed by ``value_target_q_weight``).

This trains a fresh network of the run's own config (its ``config.yaml``: architecture,
learner, batch size, updates per step, mirror augmentation, learning rate and its decay) for
as many gradient steps as the run made, through the run's own learner, on a fixed set of those
positions, with each target taken from one of two sources:

* ``--value selfplay``: the ring's value target; ``solver``: the exact outcome (the sign of the
  solver's best score, from the mover's side), in both the outcome and the search-value slots;
* ``--policy selfplay``: the ring's visit policy; ``solver``: uniform over the best-score moves.

With both from self-play it distils the run's last positions again, a control for the
rest; with both from the solver the network is taught the exact answer on the positions
self-play reached. It then prints how well the raw policy (no search) fits ``--fit`` of its
own distinct training positions, judged by the solver: a fit well below 1 means the network
cannot represent or has not learnt its training data, whatever the targets. The checkpoint at
``--out`` is read by ``python -m src.cli.evaluate``.

``--positions N`` keeps N ring entries drawn at random (the same for every target source,
given ``--seed``). The distinct positions are labelled by the solver with two processes and
cached in ``--labels`` (default: next to ``--out``). ``--param channels=64`` (and the like)
changes the network or the learner from the run's config, and ``--updates U`` the number of
gradient steps (the learning-rate steps move with it), to see what a larger network or longer
training does with the same targets. Needs the solver extra (``pip install -e '.[solver]'``).
benchmarks/RESULTS.md (issue 21, "What bounds the plateau") has the figures.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import src  # noqa: E402,F401  (threading settings before torch)


def _label_chunk(cur, mask):
    from src.opponents.solver import Solver
    from src.training.accuracy import label_positions

    return label_positions(cur, mask, Solver(cache=0))


def label(cur, mask, workers: int = 2):
    """int16 [n, 7]: the solver's score of every column of each (cur, mask), as
    ``src.training.accuracy.label_positions`` gives them, with ``workers`` processes (each its own
    solver and opening book)."""
    import multiprocessing as mp

    import numpy as np

    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.starmap(_label_chunk, [(cur[i::workers], mask[i::workers]) for i in range(workers)])
    out = np.zeros((len(cur), 7), dtype=np.int16)
    for i, part in enumerate(parts):
        out[i::workers] = part
    return out


def solver_targets(scores):
    """(policy float32 [n, 7]: uniform over the best-score columns, value float32 [n]: the sign of
    the best score) from the solver's scores (``ILLEGAL`` for full columns)."""
    import numpy as np

    from src.opponents.solver import ILLEGAL

    best = scores.max(axis=1)  # ILLEGAL lies below every score, as in ``accuracy.judge``
    top = (scores != ILLEGAL) & (scores == best[:, None])
    return (top / top.sum(axis=1, keepdims=True)).astype(np.float32), np.sign(best).astype(np.float32)


def ring_entries(state: dict, positions: int | None = None, seed: int = 0) -> dict:
    """The replay ring of a trainer state (its ``storage``, CPU tensors), or ``positions`` of its
    entries drawn without replacement (seeded by ``seed``), in ring order."""
    import numpy as np
    import torch

    ring = state["learner"].get("replay")
    if ring is None:
        raise ValueError("it holds no replay ring (train with train.checkpoint_replay: true)")
    if not {"cur", "mask"} <= set(ring["storage"]):
        raise ValueError("its positions are not Connect4's (the solver judges 6x7 Connect4 only)")
    n = int(ring["size"])
    keep = np.arange(n)
    if positions is not None and positions < n:
        keep = np.sort(np.random.default_rng(seed).choice(n, positions, replace=False))
    return {k: v[:n][torch.from_numpy(keep)] for k, v in ring["storage"].items()}


def ring_scores(store: dict, labels: Path | None = None, workers: int = 2):
    """(distinct positions int64 [m, 2] (cur, mask), the index of each entry's position int64 [n],
    the solver's scores of the distinct positions int16 [m, 7]). The scores are read from
    ``labels`` when it holds those positions, else computed and written there."""
    import numpy as np

    pairs = np.stack([store["cur"].numpy(), store["mask"].numpy()], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    if labels is not None and labels.is_file():
        try:
            with np.load(labels) as z:
                if np.array_equal(z["positions"], uniq):
                    return uniq, inverse.ravel(), z["scores"]
        except Exception as e:  # noqa: BLE001  (a cache: label again and replace it)
            print(f"warning: ignoring labels file {labels} ({type(e).__name__}: {e}); labelling again", file=sys.stderr)
    t = time.time()
    scores = label(uniq[:, 0], uniq[:, 1], workers)
    print(f"labelled {len(uniq):,} distinct positions of {len(pairs):,} in {time.time() - t:.0f} s", flush=True)
    if labels is not None:
        labels.parent.mkdir(parents=True, exist_ok=True)
        np.savez(labels, positions=uniq, scores=scores)
    return uniq, inverse.ravel(), scores


def with_targets(store: dict, value: str, policy: str, scores=None) -> dict:
    """``store`` with its value targets (outcome and search value) and policy targets each kept
    (``selfplay``) or replaced by the solver's (``solver``; ``solver_targets``) from ``scores``
    (``ring_scores``; needed when either is ``solver``)."""
    import torch

    if "solver" not in (value, policy):
        return dict(store)
    _, inverse, by_position = scores
    pol, val = solver_targets(by_position[inverse])
    out = dict(store)
    if policy == "solver":
        out["policy"] = torch.from_numpy(pol).to(store["policy"].dtype)
    if value == "solver":
        out["value"] = torch.from_numpy(val).to(store["value"].dtype)
        out["q"] = torch.from_numpy(val).to(store["q"].dtype)
    return out


def raw_fit(agent, scores, n: int = 20_000, seed: int = 0) -> dict:
    """How well the raw policy (no search) of ``agent`` fits ``n`` of the distinct training
    positions of ``scores`` (``ring_scores``), judged as ``evaluate --accuracy`` judges: the
    ``src.training.accuracy.summarize`` of its argmax moves (best-score "perfect", outcome-keeping
    "good", with intervals, overall and by ply band)."""
    import numpy as np
    import torch

    from kernels.geometry import Geometry
    from src.training.accuracy import PositionSet, judge, summarize

    uniq, _, by_position = scores
    pick = np.random.default_rng(seed).choice(len(uniq), min(n, len(uniq)), replace=False)
    cur, mask = uniq[pick, 0].copy(), uniq[pick, 1].copy()
    state = agent.game.State(torch.from_numpy(cur), torch.from_numpy(mask))
    ps = PositionSet(cur, mask, agent.game.ply(state).numpy(), by_position[pick], seed, Geometry())
    return summarize(ps, *judge(ps, agent.greedy_moves(agent.acting, state).numpy()))


def train_on(cfg: dict, store: dict, updates: int, log=print):
    """A fresh learner of ``cfg`` (a validated config) trained for ``updates`` gradient steps on
    the fixed ring ``store``, with the learning-rate steps of ``cfg``'s ``lr_decay`` callbacks at
    the same share of the updates as of its plies. Returns the learner."""
    import torch

    from src.agents import AGENTS
    from src.games import make_game
    from src.seeding import stream_seed
    from src.training.callbacks import LRDecayCallback, build_callbacks

    seed, params = cfg["seed"], cfg["agent"]["params"]
    torch.manual_seed(seed)
    env = make_game(cfg["game"]["id"], cfg["train"]["num_envs"], device="cpu", **cfg["game"]["params"])
    learner = AGENTS[cfg["agent"]["id"]].learner_cls(params, env, torch.device("cpu"), stream_seed(seed, "agent"),
                                                     stream_seed(seed, "replay"))
    n = len(store["value"])
    learner.replay.load_state_dict({"storage": store, "ptr": n % learner.replay.capacity, "size": n,
                                    "generator": learner.replay.generator.get_state()})
    # the config's own lr_decay callbacks, driven by the plies that ``done`` updates stand for
    decays = [cb for cb in build_callbacks(cfg["train"]["callbacks"]) if isinstance(cb, LRDecayCallback)]
    plies = lambda k: k * cfg["train"]["total_steps"] // updates  # noqa: E731
    per_call = params["updates_per_step"]
    done = 0
    while done < updates:
        learner.learn()
        done += per_call
        clock = SimpleNamespace(agent=learner.agent, step=plies(done),
                                steps_per_batch=plies(done) - plies(done - per_call))
        for cb in decays:
            cb.on_step(clock, {})
        if done % 1000 < per_call:
            log(f"update {done:,}/{updates:,}  loss {float(learner.loss_sum) / max(learner.loss_count, 1):.4f}")
            learner.reset_report()
    return learner


def main(argv=None) -> int:
    import torch
    import yaml

    from src.config.schema import ConfigError
    from src.training.config import load_config, validate_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--value", choices=("selfplay", "solver"), default="solver")
    ap.add_argument("--policy", choices=("selfplay", "solver"), default="solver")
    ap.add_argument("--positions", type=int, default=None, help="ring entries kept (default: all)")
    ap.add_argument("--labels", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--updates", type=int, default=None, help="gradient steps (default: as many as the run made)")
    ap.add_argument("--fit", type=int, default=20_000,
                    help="distinct training positions the raw policy's fit is judged on (0: none)")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="override one of the config's agent.params (a YAML value), e.g. channels=64")
    a = ap.parse_args(argv)
    for what, n in (("--positions", a.positions), ("--updates", a.updates), ("--fit", a.fit)):
        if n is not None and n < (0 if what == "--fit" else 1):
            print(f"error: {what} must be {'0 or more' if what == '--fit' else 'at least 1'}, got {n}", file=sys.stderr)
            return 2

    try:
        _, cfg = load_config(a.state.resolve().parents[1] / "config.yaml")
        state = torch.load(a.state, map_location="cpu", weights_only=False)
        store = ring_entries(state, a.positions, a.seed)
    except Exception as e:  # noqa: BLE001  (a benchmark's input: say which file and why)
        print(f"error: {a.state}: {e}", file=sys.stderr)
        return 2
    for item in a.param:
        key, sep, value = item.partition("=")
        if not sep or key not in cfg["agent"]["params"]:
            print(f"error: --param {item!r}: expected KEY=VALUE with KEY one of agent.params", file=sys.stderr)
            return 2
        cfg["agent"]["params"][key] = yaml.safe_load(value)
    try:  # the overridden params pass the config's own checks
        cfg = validate_config(cfg)
    except ConfigError as e:
        print(f"error: --param: {e}", file=sys.stderr)
        return 2
    params = cfg["agent"]["params"]
    scores = None
    if "solver" in (a.value, a.policy) or a.fit > 0:
        scores = ring_scores(store, a.labels or a.out.with_suffix(".labels.npz"))
    store = with_targets(store, a.value, a.policy, scores)
    updates = a.updates if a.updates is not None else int(state["learner"]["agent"]["num_updates"])
    t = time.time()
    learner = train_on(cfg, store, updates, log=lambda m: print(m, flush=True))
    n = len(store["value"])
    print(f"{learner.agent.num_updates:,} updates of {params['batch_size']} samples on {n:,} ring entries in "
          f"{time.time() - t:.0f} s (value: {a.value}, policy: {a.policy})")
    ckpt = learner.agent.checkpoint({"step": state.get("step", 0), "episode": 0, "game": cfg["game"],
                                     "seed": cfg["seed"], "solver_targets": {"value": a.value, "policy": a.policy,
                                                                             "entries": n, "from": str(a.state)}})
    if a.fit > 0:
        f = raw_fit(learner.agent, scores, a.fit, a.seed)
        band = f["bands"]["4-9"]
        print(f"raw policy on {f['positions']:,} of its distinct training positions: best-score "
              f"{f['perfect']['value']:.3f}, outcome-keeping {f['good']['value']:.3f}; plies 4-9 "
              f"({band['positions']:,}): {band['perfect']['value']:.3f} / {band['good']['value']:.3f}")
        ckpt["solver_targets"]["raw_fit"] = f
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
