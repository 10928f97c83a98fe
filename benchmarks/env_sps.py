"""Env steps per second for random legal moves with auto-reset, per backend and batch size.

Two ways per (backend, device, N):

* api    - the public API: ``env.step(env.sample_actions())`` in a loop (obs built every step),
           once per ``--obs-dtypes`` (float32, the default, and the compact uint8/bool);
* kernel - the kernel's fastest path: ``random_rollout`` (action choice fused into the step,
           many steps per call, no observations), the ceiling of the backend.

and, against an opponent (one step = an agent move plus the opponent's reply, two plies):

* versus - the trainer's native path: ``Versus.step`` with a uniformly random opponent and
           random legal agent moves, torch tensors on the device;
* gym    - the same games through ``Connect4VectorEnv`` (``src.envs``), numpy arrays in and
           out: the agent's move is an argmax of random numbers over ``infos["action_mask"]``,
           ``step`` returns obs, rewards, terminations and masks as numpy (``final_obs`` too,
           in steps where a game ended). gym / versus is the cost of the adapter. Needs
           gymnasium (the ``gym`` extra); skipped without it, or with ``--no-gym``.

Every measurement is warmed up first (numba compiles, CUDA initialises) and timed for about
``--seconds`` in ~10 windows; on CUDA the clock is read after ``torch.cuda.synchronize()``.
The table gives the best window and the median: on a machine shared with other jobs the
best window is the backend's speed, the median what it got.

    python benchmarks/env_sps.py                                   # numba + torch-cpu (+ cuda)
    python benchmarks/env_sps.py --backends numba --sizes 65536 --seconds 3
    python benchmarks/env_sps.py --backends torch --device cuda --sizes 65536,1048576,4194304
    python benchmarks/env_sps.py --backends numba --sizes 65536 --api-only --obs-dtypes float32,uint8,bool
    python benchmarks/env_sps.py --backends numba --sizes 65536 --api-only --ab /path/to/base/checkout

``--ab BASE`` alternates api runs of the checkout BASE (float32, its only dtype before
``obs_dtype``) and of this one (every dtype), each in its own subprocess, ``--repeats`` times.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --tree DIR: measure the code of another checkout (see --ab)
_TREE = os.path.abspath(sys.argv[sys.argv.index("--tree") + 1]) if "--tree" in sys.argv else ROOT
sys.path.insert(0, _TREE)

import src  # noqa: E402,F401  (first: OMP_WAIT_POLICY=PASSIVE before torch starts its pool, as the CLI does)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from kernels import connect4_numba as knb  # noqa: E402
from kernels import connect4_torch as kt  # noqa: E402
from kernels.geometry import Geometry  # noqa: E402
from src.games import make_game  # noqa: E402

DEFAULT_SIZES = "1024,4096,16384,65536,262144,1048576"


def sync_for(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed(fn, seconds: float, sync, windows: int = 10) -> list[float]:
    """Calls of ``fn`` per second in each of about ``windows`` windows filling ``seconds``,
    after two warm-up calls. The caller reports the best window (the machine's speed when
    others sharing it pause) and the median (what it got)."""
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
        sync()  # CUDA: the clock is read only after the queued work has finished
        rates.append(per_window / (time.perf_counter() - t0))
    return rates


def api_rates(backend: str, device: torch.device, n: int, seconds: float, rows: int, cols: int,
              obs_dtype: str = "float32") -> list[float]:
    compiled = backend == "torch_compiled"  # the torch backend with its step fused by torch.compile
    extra = {} if obs_dtype == "float32" else {"obs_dtype": obs_dtype}  # a checkout before obs_dtype: float32
    env = make_game("connect4", n, device=device, backend="torch" if compiled else backend, seed=0,
                    rows=rows, cols=cols, compile=compiled, **extra)
    env.reset()

    def step():
        env.step(env.sample_actions())

    return [r * n for r in timed(step, seconds, sync_for(device))]


def versus_rates(backend: str, device: torch.device, n: int, seconds: float, rows: int, cols: int) -> list[float]:
    from src.opponents.samplers import RandomSampler
    from src.training.versus import Versus

    game = make_game("connect4", n, device=device, backend=backend, seed=0, rows=rows, cols=cols)
    versus = Versus(game, RandomSampler(game.game, 1), "random", seed=2)
    versus.reset()

    def step():
        versus.step(game.ops.random_legal_actions(game.mask))

    return [r * n for r in timed(step, seconds, sync_for(device))]


def gym_rates(backend: str, device: torch.device, n: int, seconds: float, rows: int, cols: int) -> list[float]:
    from src.envs.gym_env import Connect4VectorEnv

    envs = Connect4VectorEnv(n, opponent="random", rows=rows, cols=cols, device=str(device), backend=backend)
    _, info = envs.reset(seed=0)
    noise = np.random.default_rng(0).random((8, n, cols), dtype=np.float32)  # reused: no RNG cost in the loop
    state = {"info": info, "k": 0}

    def step():
        state["k"] = (state["k"] + 1) % len(noise)
        actions = np.argmax(noise[state["k"]] * state["info"]["action_mask"], axis=1)
        state["info"] = envs.step(actions)[4]

    return [r * n for r in timed(step, seconds, lambda: None)]  # numpy out: already synchronised


def kernel_rates(backend: str, device: torch.device, n: int, seconds: float, rows: int, cols: int,
                 steps: int) -> list[float]:
    g = Geometry(rows, cols)
    if backend == "numba":
        cur, mask = np.zeros(n, np.int64), np.zeros(n, np.int64)
        seed = iter(range(1, 1 << 62))

        def rollout():
            knb.random_rollout(cur, mask, steps, g, next(seed))  # in place
    else:
        state = [torch.zeros(n, dtype=torch.int64, device=device), torch.zeros(n, dtype=torch.int64, device=device)]
        gen = torch.Generator(device=device)
        gen.manual_seed(0)

        def rollout():
            state[0], state[1], _ = kt.random_rollout(state[0], state[1], steps, g, gen)

    return [r * steps * n for r in timed(rollout, seconds, sync_for(device))]


def ab(args, raw: list[str]) -> int:
    """Alternate subprocess runs (api only) of the base checkout and this one (A B A B ...)."""
    import subprocess

    i = raw.index("--ab")
    rest = [x for x in raw[:i] + raw[i + 2:] if x != "--api-only"]
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/env_sps.py {' '.join(raw)}", flush=True)
    for rep in range(args.repeats):
        for name, tree, dtypes in (("base", args.ab, "float32"), ("new", ROOT, args.obs_dtypes)):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), *rest, "--api-only", "--tree", tree,
                                  "--obs-dtypes", dtypes], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name}: failed\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
                return 1
            for line in out.stdout.splitlines():
                if " api[" in line:
                    print(f"rep {rep} {name:4s} {line}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated batch sizes (games)")
    p.add_argument("--backends", default="numba,torch",
                   help="comma-separated: numba, torch, torch_compiled (torch with torch.compile'd step; compiles first)")
    p.add_argument("--device", default="auto",
                   help="device of the torch backend: cpu, cuda, cuda:1, or auto (cpu, and cuda when available)")
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per measurement")
    p.add_argument("--rows", type=int, default=6)
    p.add_argument("--cols", type=int, default=7)
    p.add_argument("--rollout-steps", type=int, default=0,
                   help="steps per random_rollout call (default: 64 for numba, 16 for torch)")
    p.add_argument("--no-gym", action="store_true", help="skip the versus and gym (Connect4VectorEnv) columns")
    p.add_argument("--torch-cpu-max", type=int, default=262144,
                   help="skip torch-on-cpu above this many games: it is slow (0: no limit)")
    p.add_argument("--obs-dtypes", default="float32,uint8", help="observation dtypes of the api column")
    p.add_argument("--api-only", action="store_true", help="only the api column")
    p.add_argument("--tree", default=None, help="measure the code of this checkout instead (see --ab)")
    p.add_argument("--ab", default=None, metavar="BASE_TREE", help="alternate api runs of BASE_TREE and this checkout")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.ab:
        return ab(args, list(sys.argv[1:] if argv is None else argv))
    dtypes = [d for d in args.obs_dtypes.split(",") if d]

    sizes = [int(s) for s in args.sizes.split(",") if s]
    gym = not args.no_gym
    if gym:
        import importlib.util

        if importlib.util.find_spec("gymnasium") is None:
            print("gymnasium is not installed (pip install -e '.[gym]'): versus and gym columns skipped")
            gym = False
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("numba", "torch", "torch_compiled"):
            p.error(f"unknown backend {b!r}")
    if args.device == "auto":
        torch_devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        torch_devices = [args.device]
    if any(torch.device(d).type == "cuda" for d in torch_devices) and not torch.cuda.is_available():
        p.error("--device cuda asked for, but torch.cuda.is_available() is False")
    runs = [(b, torch.device("cpu")) for b in backends if b == "numba"]
    runs += [(b, torch.device(d)) for b in backends if b.startswith("torch") for d in torch_devices]

    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"board {args.rows}x{args.cols}; random legal moves with auto-reset; ~{args.seconds:g} s per measurement",
          flush=True)
    rows = []
    for backend, device in runs:
        steps = args.rollout_steps or (64 if backend == "numba" else 16)
        for n in sizes:
            label = f"{backend:14s} {str(device):6s} N={n:>8d}"
            if backend.startswith("torch") and device.type == "cpu" and args.torch_cpu_max and n > args.torch_cpu_max:
                print(f"{label}  skipped (torch on the CPU above --torch-cpu-max={args.torch_cpu_max})", flush=True)
                rows.append((backend, str(device), n, [], [], [], []))
                continue
            apis = {d: api_rates(backend, device, n, args.seconds, args.rows, args.cols, d) for d in dtypes}
            api = apis[dtypes[0]]
            for d, a in apis.items():
                print(f"{label}  api[{d}] {max(a):9.3e} (median {np.median(a):9.3e}) load {os.getloadavg()[0]:.2f}",
                      end="" if d == dtypes[-1] else "\n", flush=True)
            if args.api_only:
                print(flush=True)
                continue
            kern = kernel_rates(backend, device, n, args.seconds, args.rows, args.cols, steps)
            print(f"  kernel {max(kern):9.3e} (median {np.median(kern):9.3e}) steps/s, {steps} steps per call",
                  end="", flush=True)
            vs = gy = []
            if gym and backend != "torch_compiled":
                vs = versus_rates(backend, device, n, args.seconds, args.rows, args.cols)
                gy = gym_rates(backend, device, n, args.seconds, args.rows, args.cols)
                print(f"  versus {max(vs):9.3e}  gym {max(gy):9.3e}", end="")
            print(flush=True)
            rows.append((backend, str(device), n, api, kern, vs, gy))
            if device.type == "cuda":
                torch.cuda.empty_cache()

    if args.api_only:
        return 0
    print()
    print("env steps/s: best of ~10 windows (median in brackets)")
    print("versus and gym: agent steps/s against a random opponent (each step two plies); gym/versus of the best windows")
    print("| backend | device | N | api steps/s | kernel steps/s | versus steps/s | gym steps/s | gym/versus |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    fmt = lambda x: "skipped" if not x else f"{max(x):.2e} ({np.median(x):.2e})"  # noqa: E731
    for backend, device, n, api, kern, vs, gy in rows:
        ratio = f"{max(gy) / max(vs):.2f}" if vs and gy else "-"
        print(f"| {backend} | {device} | {n:,} | {fmt(api)} | {fmt(kern)} | {fmt(vs)} | {fmt(gy)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
