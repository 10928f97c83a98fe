"""Opponent moves per second: ``Opponent.act`` on a batch of mid-game positions, per backend.

Positions come from uniform random play stopped at a random ply (none is over), the same
batch for every opponent. Each measurement is warmed up first (numba compiles, CUDA
initialises) and timed for about ``--seconds``; on CUDA the clock is read after
``torch.cuda.synchronize()``. ``search`` expands cols**depth lines per game, so it runs
at its own (smaller) batch sizes.

    python benchmarks/opponents_sps.py                              # numba + torch-cpu (+ cuda)
    python benchmarks/opponents_sps.py --backends torch --device cuda --sizes 65536,1048576 --search-sizes 65536
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402
from kernels import connect4_torch as kt  # noqa: E402
from kernels.geometry import Geometry  # noqa: E402
from src.opponents import make_opponent  # noqa: E402


def sync_for(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed(fn, seconds: float, sync) -> tuple[int, float]:
    """Call ``fn`` for about ``seconds`` after two warm-up calls; returns (calls, elapsed s),
    reading the clock (and synchronising) about ten times, not every call."""
    fn()
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    check_every = max(1, int(seconds / 10 / max(time.perf_counter() - t0, 1e-9)))
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(check_every):
            fn()
        calls += check_every
        sync()
    return calls, time.perf_counter() - t0


def positions(n: int, g: Geometry, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """n positions of uniform random play, each stopped at a random ply before any game ends."""
    gen = torch.Generator().manual_seed(seed)
    cur = torch.zeros(n, dtype=torch.int64)
    mask = torch.zeros_like(cur)
    target = torch.randint(0, g.rows * g.cols, (n,), generator=gen)
    going = torch.ones(n, dtype=torch.bool)
    for ply in range(g.rows * g.cols):
        going &= ply < target
        c, m, _, done, _ = kt.play(cur, mask, kt.random_legal_actions(mask, g, gen), going, g)
        going &= ~done
        cur, mask = torch.where(going, c, cur), torch.where(going, m, mask)
    return cur.to(device), mask.to(device)


def rate(spec: str, backend: str, device: torch.device, n: int, g: Geometry, seconds: float) -> float:
    cur, mask = positions(n, g, 0, device)
    opp = make_opponent(spec, g, device, backend, seed=0)
    calls, elapsed = timed(lambda: opp.act(cur, mask), seconds, sync_for(device))
    return calls * n / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--specs", default="random,heuristic,smart_heuristic,search:4", help="comma-separated opponent specs")
    p.add_argument("--sizes", default="4096,65536", help="batch sizes (games) for all but search")
    p.add_argument("--search-sizes", default="1024,4096", help="batch sizes (games) for search specs")
    p.add_argument("--backends", default="numba,torch", help="comma-separated: numba, torch")
    p.add_argument("--device", default="auto",
                   help="device of the torch backend: cpu, cuda, or auto (cpu, and cuda when available)")
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per measurement")
    p.add_argument("--rows", type=int, default=6)
    p.add_argument("--cols", type=int, default=7)
    args = p.parse_args(argv)

    g = Geometry(args.rows, args.cols)
    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    search_sizes = [int(s) for s in args.search_sizes.split(",") if s]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    runs = [("numba", torch.device("cpu"))] if "numba" in args.backends else []
    runs += [("torch", torch.device(d)) for d in devices] if "torch" in args.backends else []

    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"board {g.rows}x{g.cols}; Opponent.act on random mid-game positions; ~{args.seconds:g} s per measurement",
          flush=True)
    rows = []
    for spec in specs:
        for backend, device in runs:
            for n in (search_sizes if spec.startswith("search") else sizes):
                r = rate(spec, backend, device, n, g, args.seconds)
                print(f"{spec:16s} {backend:5s} {str(device):6s} N={n:>8d}  {r:10.3e} moves/s", flush=True)
                rows.append((spec, backend, str(device), n, r))
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    print()
    print("| opponent | backend | device | N | moves/s |")
    print("|---|---|---|---:|---:|")
    for spec, backend, device, n, r in rows:
        print(f"| {spec} | {backend} | {device} | {n:,} | {r:.3e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
