"""Time of one gradient all-reduce of the DQN network, the only per-update traffic of
data-parallel training (DDP puts the whole 0.36 MB network in one bucket).

    torchrun --standalone --nproc_per_node=2 benchmarks/allreduce_cost.py            # gloo, CPU
    torchrun --standalone --nproc_per_node=8 benchmarks/allreduce_cost.py --cuda     # NCCL, one GPU each

Prints, on rank 0, microseconds per all-reduce of ``--params`` float32 values (default: the
89,351 parameters of the [256, 256] MLP of the shipped configs) and the ring's bus bandwidth
(2 (K-1)/K bytes per byte reduced).
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torch.distributed as dist


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=int, default=89_351)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--cuda", action="store_true")
    a = ap.parse_args()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if a.cuda else torch.device("cpu")
    if a.cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if a.cuda else "gloo")
    k = dist.get_world_size()
    t = torch.ones(a.params, device=device)
    sync = torch.cuda.synchronize if a.cuda else (lambda: None)
    for _ in range(10):
        dist.all_reduce(t)
    sync()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        dist.all_reduce(t)
    sync()
    dt = (time.perf_counter() - t0) / a.iters
    if dist.get_rank() == 0:
        nbytes = 4 * a.params
        bus = 2 * (k - 1) / k * nbytes / dt
        print(f"{k} ranks, {dist.get_backend()}, {nbytes:,} bytes: {dt * 1e6:,.0f} us per all-reduce, "
              f"bus bandwidth {bus / 1e9:.2f} GB/s; load average {os.getloadavg()[0]:.1f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
