"""Bare DQN gradient updates/s, eager against ``compile: true`` (torch.compile of the loss).

    python benchmarks/update_sps.py                       # shipped config's network and batch
    python benchmarks/update_sps.py --rounds 5 --seconds 3

Both agents get the same ready-made minibatch (random 0/1 planes) again and again, as the
bare-update ceiling of ``train_sps.py``; they are timed in alternating windows (eager,
compiled, eager, ...) so that other load on the machine hits both alike. Compilation (the
first calls) is timed separately and excluded.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import src  # noqa: E402,F401  (first: OMP_WAIT_POLICY=PASSIVE before torch starts its pool, as the CLI does)
import torch  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from src.agents.dqn import DQNAgent  # noqa: E402
from src.training.config import load_config  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "dqn_connect4.yaml"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=3.0, help="per window")
    args = ap.parse_args(argv)
    _, cfg = load_config(args.config)
    p = {**cfg["agent"]["params"], "device": "cpu"}
    rows, cols = cfg["game"]["params"]["rows"], cfg["game"]["params"]["cols"]
    shape = (5 if p["features"] == "threats" else 2, rows, cols)
    b = p["batch_size"]
    g = torch.Generator().manual_seed(0)
    batch = ((torch.rand(b, *shape, generator=g) < 0.3).float(), torch.randint(0, cols, (b,), generator=g),
             torch.randint(-1, 2, (b,), generator=g).float(), torch.rand(b, generator=g) < 0.1,
             (torch.rand(b, *shape, generator=g) < 0.3).float(), torch.rand(b, cols, generator=g) < 0.9)
    print(machine(), flush=True)
    print(f"command: python benchmarks/update_sps.py {' '.join(sys.argv[1:] if argv is None else argv)}", flush=True)
    agents = {}
    for name, compile_ in (("eager", False), ("compile", True)):
        agents[name] = DQNAgent({**p, "compile": compile_}, (2, rows, cols), cols, "cpu", seed=0)
        t = time.perf_counter()
        for _ in range(3):
            agents[name].update(*batch)
        print(f"{name}: first 3 updates {time.perf_counter() - t:.1f} s (compilation included)", flush=True)
    for r in range(args.rounds):
        for name, agent in agents.items():
            load = os.getloadavg()[0]
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                agent.update(*batch)
                n += 1
            print(f"round {r} {name:7s} {n / (time.perf_counter() - t0):7.1f} updates/s "
                  f"(batch {b}, hidden {p['hidden_sizes']}; load {load:.2f} -> {os.getloadavg()[0]:.2f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
