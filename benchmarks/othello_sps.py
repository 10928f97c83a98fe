"""Othello env steps per second: this engine's public API and pgx's Othello, side by side.

* ours   - ``env.step(env.sample_actions())`` on ``make_game("othello", N)`` in a loop (random
           legal actions, auto-reset, observation planes built every step), per backend and
           ``--obs-dtypes``;
* kernel - the numba ``random_rollout`` (action choice fused into the step, no observations),
           the backend's ceiling;
* pgx    - pgx's ``othello`` in the same run: ``jax.jit`` of one batched step (``jax.vmap``'d
           ``env.step``, which builds ``state.observation``) with a random legal action per game
           (``jax.random.categorical`` over the legal mask) and auto-reset of finished games, the
           whole step one compiled function, looped with the state kept on the device. pgx is not
           a dependency of this project: it runs in a subprocess of its own environment's Python
           (``--pgx-python``), made once with

               python3.11 -m venv /work/pgxvenv && /work/pgxvenv/bin/pip install pgx jax

Each measurement is warmed up (numba and XLA compile) and timed for about ``--seconds`` in ~10
windows; the table gives the best window and the median (on a machine shared with other jobs the
best window is the backend's speed, the median what it got), and ours / pgx of the best windows.

    python benchmarks/othello_sps.py                                  # 65,536 games, numba, pgx
    python benchmarks/othello_sps.py --sizes 1024 --seconds 0.2       # a quick check
    python benchmarks/othello_sps.py --backends numba,torch --obs-dtypes float32,uint8
    python benchmarks/othello_sps.py --pgx-python none                # without pgx
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PGX_PYTHON = "/work/pgxvenv/bin/python"
PGX_HELP = "python3.11 -m venv /work/pgxvenv && /work/pgxvenv/bin/pip install pgx jax"


def timed(fn, seconds: float, sync=lambda: None, windows: int = 10) -> list[float]:
    """Calls of ``fn`` per second in each of about ``windows`` windows filling ``seconds``, after
    two warm-up calls (the same scheme as benchmarks/env_sps.py)."""
    fn()
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = time.perf_counter() - t0
    per_window = max(1, round(seconds / windows / max(one, 1e-9)))
    rates = []
    end = time.perf_counter() + seconds
    while not rates or time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(per_window):
            fn()
        sync()
        rates.append(per_window / (time.perf_counter() - t0))
    return rates


# --- pgx, run inside the pgx environment (imports jax and pgx only) -------------------------

def pgx_worker(n: int, seconds: float, steps_per_call: int) -> None:
    """Print one JSON line: pgx Othello steps/s windows at ``n`` games."""
    import jax
    import jax.numpy as jnp
    import pgx

    env = pgx.make("othello")
    init = jax.vmap(env.init)
    step = jax.vmap(env.step)

    def one(carry, _):
        state, key = carry
        key, k_act, k_reset = jax.random.split(key, 3)
        logits = jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
        action = jax.random.categorical(k_act, logits, axis=-1)
        state = step(state, action)
        fresh = init(jax.random.split(k_reset, n))
        done = state.terminated | state.truncated
        state = jax.tree_util.tree_map(
            lambda a, b: jnp.where(done.reshape(done.shape + (1,) * (a.ndim - 1)), b, a), state, fresh)
        return (state, key), None

    @jax.jit
    def run(state, key):
        (state, key), _ = jax.lax.scan(one, (state, key), None, length=steps_per_call)
        return state, key

    key = jax.random.PRNGKey(0)
    carry = [init(jax.random.split(key, n)), key]

    def call():
        carry[0], carry[1] = run(carry[0], carry[1])

    def sync():
        jax.block_until_ready(carry[0].observation)

    rates = [r * n * steps_per_call for r in timed(call, seconds, sync)]
    print(json.dumps({"rates": rates, "pgx": pgx.__version__, "jax": jax.__version__,
                      "devices": [str(d) for d in jax.devices()]}))


def pgx_rates(python: str, n: int, seconds: float, steps_per_call: int) -> tuple[list[float] | None, str]:
    if python == "none":
        return None, "pgx: skipped (--pgx-python none)"
    if not os.path.exists(python):
        return None, f"pgx: no Python at {python}; make the pgx environment with: {PGX_HELP}"
    out = subprocess.run([python, os.path.abspath(__file__), "--pgx-worker", str(n), "--seconds", str(seconds),
                          "--pgx-steps", str(steps_per_call)], capture_output=True, text=True)
    if out.returncode != 0:
        return None, f"pgx: failed ({out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode})"
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return info["rates"], f"pgx {info['pgx']}, jax {info['jax']} on {', '.join(info['devices'])}"


# --- ours ---------------------------------------------------------------------------------

def api_rates(backend: str, n: int, seconds: float, obs_dtype: str) -> list[float]:
    from src.games import make_game

    env = make_game("othello", n, device="cpu", backend=backend, seed=0, obs_dtype=obs_dtype)
    env.reset()

    def step():
        env.step(env.sample_actions())

    return [r * n for r in timed(step, seconds)]


def kernel_rates(n: int, seconds: float, steps: int) -> list[float]:
    import numpy as np

    from kernels import othello_numba as knb
    from kernels.othello_geometry import BLACK_START, WHITE_START

    mine, theirs, player = np.full(n, BLACK_START), np.full(n, WHITE_START), np.zeros(n, np.int64)
    seed = iter(range(1, 1 << 62))

    def rollout():
        knb.random_rollout(mine, theirs, player, steps, next(seed))

    return [r * steps * n for r in timed(rollout, seconds)]


def row(name: str, n: int, rates: list[float], pgx_best: float | None) -> str:
    best, med = max(rates), statistics.median(rates)
    ratio = f"{best / pgx_best:.1f}x" if pgx_best else "-"
    return f"| {name} | {n:,} | {best:.2e} ({med:.2e}) | {ratio} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="65536", help="comma-separated batch sizes (games)")
    p.add_argument("--backends", default="numba", help="comma-separated: numba, torch (both on the CPU)")
    p.add_argument("--obs-dtypes", default="float32,uint8", help="observation dtypes of our api rows")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement")
    p.add_argument("--rollout-steps", type=int, default=16, help="steps per numba random_rollout call (0: no kernel row)")
    p.add_argument("--pgx-python", default=DEFAULT_PGX_PYTHON,
                   help=f"Python of the pgx environment ('none' to skip); made with: {PGX_HELP}")
    p.add_argument("--pgx-steps", type=int, default=16, help="pgx steps per jitted call (a lax.scan)")
    p.add_argument("--pgx-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.pgx_worker is not None:
        pgx_worker(args.pgx_worker, args.seconds, args.pgx_steps)
        return 0
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        if not sizes or min(sizes) < 1:
            raise ValueError
    except ValueError:
        print(f"error: --sizes must be comma-separated positive integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    backends = [b for b in args.backends.split(",") if b]
    if any(b not in ("numba", "torch") for b in backends):
        print(f"error: --backends takes numba and/or torch, got {args.backends!r}", file=sys.stderr)
        return 2
    sys.path.insert(0, ROOT)
    import src  # noqa: F401  (first: OMP_WAIT_POLICY before torch starts its pool, as the CLI does)
    from benchmarks.machine import machine

    print(f"machine: {machine()}")
    print(f"command: python benchmarks/othello_sps.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print("\n| what | N | steps/s best (median) | / pgx |\n|---|---:|---:|---:|", flush=True)
    notes = []
    for n in sizes:
        pgx, note = pgx_rates(args.pgx_python, n, args.seconds, args.pgx_steps)
        notes.append(note)
        pgx_best = max(pgx) if pgx else None
        for backend in backends:
            for dtype in [d for d in args.obs_dtypes.split(",") if d]:
                print(row(f"ours {backend} api, obs {dtype}", n, api_rates(backend, n, args.seconds, dtype), pgx_best), flush=True)
        if "numba" in backends and args.rollout_steps > 0:
            print(row("ours numba kernel (random_rollout)", n, kernel_rates(n, args.seconds, args.rollout_steps), pgx_best), flush=True)
        if pgx:
            print(row("pgx othello (jit step + random action + auto-reset)", n, pgx, pgx_best), flush=True)
    print()
    for note in dict.fromkeys(notes):
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
