"""Batched MCTS throughput: simulations/s (games x simulations / s) and moves/s (searches/s x
games) of ``BatchedMCTS.search`` per backend, batch size N and simulations per move.

Two networks: ``trivial`` (uniform logits, value 0: the search alone) and ``small`` (a small
conv policy/value net: two 3x3 conv layers of 32 channels, a linear policy head and a
64-unit value head, on the two stone planes, about 0.1 M parameters). Positions come from
uniform random play stopped at a random ply (none is over). Each measurement is warmed up
first (numba compiles, CUDA initialises) and timed for about ``--seconds`` (at least one
search); on CUDA the clock is read after ``torch.cuda.synchronize()``.

    python benchmarks/mcts_sps.py                                   # numba + torch-cpu (+ torch-cuda, cuda)
    python benchmarks/mcts_sps.py --backends torch,cuda --device cuda --sizes 1024,4096 --simulations 16,64
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/mcts_sps.py --backends cuda --sizes 4 --simulations 4 --nets trivial

Backend ``cuda`` (the numba-cuda kernels) runs on a GPU; without one, under numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), it runs on the CPU, one Python thread per game, and its
rows are marked "CPU-simulated: not a speed figure" (a check that the backend runs, nothing more).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401  (before torch: sets OMP_WAIT_POLICY=PASSIVE, see src/__init__.py)
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from benchmarks.opponents_sps import positions, sync_for  # noqa: E402
from kernels import connect4_torch as kt  # noqa: E402
from kernels.geometry import Geometry  # noqa: E402
from src.agents.alphazero import BatchedMCTS  # noqa: E402


class SmallNet(nn.Module):
    """obs [M, 2, rows, cols] -> (logits [M, cols], value [M] in (-1, 1))."""

    def __init__(self, g: Geometry, channels: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Flatten())
        width = channels * g.rows * g.cols
        self.policy = nn.Linear(width, g.cols)
        self.value = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, 1), nn.Tanh())

    def forward(self, obs):
        x = self.body(obs)
        return self.policy(x), self.value(x).squeeze(1)


def make_evaluate(kind: str, g: Geometry, device: torch.device):
    if kind == "trivial":
        def evaluate(cur, mask):
            return (torch.zeros((cur.shape[0], g.cols), device=cur.device),
                    torch.zeros(cur.shape[0], device=cur.device))
        return evaluate
    torch.manual_seed(0)
    net = SmallNet(g).to(device).eval()

    def evaluate(cur, mask):
        return net(kt.to_planes(cur, mask, g))
    return evaluate


def rate(backend: str, device: torch.device, n: int, sims: int, net: str, g: Geometry, seconds: float):
    """(simulations/s, moves/s) of one configuration."""
    from src.games import as_game

    cur, mask = positions(n, g, 0, device)
    rules = as_game(g, device, "torch")  # Connect4's rules (the Game the search is given)
    state = rules.State(cur, mask)
    mcts = BatchedMCTS(rules, device, backend)
    plain = make_evaluate(net, g, device)
    evaluate = lambda s: plain(*s)  # noqa: E731  the search hands over the game's State
    sync = sync_for(device)
    mcts.search(state, evaluate, sims)  # warm-up
    sync()
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < seconds:
        mcts.search(state, evaluate, sims)
        sync()
        calls += 1
    elapsed = time.perf_counter() - t0
    return calls * n * sims / elapsed, calls * n / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="numba,torch,cuda", help="comma-separated: numba, torch, cuda")
    p.add_argument("--device", default="auto",
                   help="device of the torch backend: cpu, cuda, or auto (cpu, and cuda when available)")
    p.add_argument("--sizes", default="64,256,1024", help="batch sizes N (games searched at once)")
    p.add_argument("--simulations", default="16,64", help="simulations per search")
    p.add_argument("--nets", default="trivial,small", help="comma-separated: trivial, small")
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per measurement (at least one search)")
    args = p.parse_args(argv)

    g = Geometry()
    torch.set_grad_enabled(False)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    sims_list = [int(s) for s in args.simulations.split(",") if s]
    nets = [s.strip() for s in args.nets.split(",") if s.strip()]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    runs = [("numba", torch.device("cpu"))] if "numba" in args.backends else []
    runs += [("torch", torch.device(d)) for d in devices] if "torch" in args.backends else []
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if "cuda" in args.backends and (torch.cuda.is_available() or simulated):
        runs.append(("cuda", torch.device("cpu" if simulated else "cuda")))

    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"board {g.rows}x{g.cols}; BatchedMCTS.search on random mid-game positions; "
          f"~{args.seconds:g} s per measurement", flush=True)
    rows = []
    for net in nets:
        for backend, device in runs:
            for sims in sims_list:
                for n in sizes:
                    sps, mps = rate(backend, device, n, sims, net, g, args.seconds)
                    where = str(device) + (" (CPU-simulated: not a speed figure)" if backend == "cuda" and simulated
                                           else "")
                    print(f"{net:8s} {backend:5s} {where:6s} S={sims:<4d} N={n:>6d}  {sps:10.3e} sims/s  "
                          f"{mps:10.3e} moves/s", flush=True)
                    rows.append((net, backend, where, sims, n, sps, mps))
    print()
    print("| network | backend | device | simulations | N | simulations/s | moves/s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for net, backend, device, sims, n, sps, mps in rows:
        print(f"| {net} | {backend} | {device} | {sims} | {n:,} | {sps:.3e} | {mps:.3e} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
