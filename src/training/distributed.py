"""Data-parallel training with ``torchrun``: the process group and the few collectives the loop needs.

``torchrun --nproc_per_node=K -m src.cli.train ...`` starts K copies of the CLI with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT`` in their environment;
``Distributed.from_env()`` reads them (no variables, or a world size of 1: one process, and
every method below is a no-op). Each rank steps its own games and replay ring; only

* the gradients (``DistributedDataParallel``: NCCL on CUDA, gloo on the CPU), and
* small host-side control messages (``agree``: stop / status-due flags at each batch-step
  boundary; ``sum_ints``: counters at status writes; ``broadcast`` / ``gather`` of small objects)

cross processes. Control messages go through a gloo group on CPU tensors even when gradients
use NCCL, so agreeing on a stop never waits for the GPU's queue. Every collective has the
process group's timeout (``C4ENGINE_DIST_TIMEOUT_S``, default 600 s): a rank that stops
answering ends the others with an error instead of a hang; a rank that dies closes its
sockets and its peers' collectives fail at once (and torchrun terminates them anyway).
"""
from __future__ import annotations

import os
import socket
from datetime import timedelta

import torch

DEFAULT_TIMEOUT_S = 600.0


def env_world_size() -> int:
    """The world size torchrun set for this process (1 without torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


class Distributed:
    """This process's place in the run: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.backend: str | None = None
        self._control = None  # the process group of the control messages (None: the default one)
        self.peers: list[dict] = []  # every rank's pid and host, gathered at start
        self.wrapped: list[torch.nn.Module] = []  # the modules whose gradients are averaged

    @classmethod
    def from_env(cls) -> "Distributed":
        env = os.environ
        world = env_world_size()
        if world <= 1:
            return cls()
        return cls(int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0")))

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- setup / teardown -------------------------------------------------------------------
    def device(self, requested: str | None) -> torch.device:
        """The device this rank trains on: ``requested`` (null: CUDA when available, else CPU),
        and on CUDA the GPU ``cuda:LOCAL_RANK`` under torchrun (one GPU per process)."""
        dev = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dev.type == "cuda" and self.active:
            dev = torch.device("cuda", self.local_rank)
        return dev

    def init(self, device: torch.device, timeout_s: float | None = None) -> None:
        """Join the process group (NCCL for CUDA, else gloo); a no-op for one process."""
        if not self.active:
            return
        import torch.distributed as dist

        if timeout_s is None:
            timeout_s = float(os.environ.get("C4ENGINE_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S))
        timeout = timedelta(seconds=timeout_s)
        if device.type == "cuda":
            torch.cuda.set_device(device)
            self.backend = "nccl"
        else:
            self.backend = "gloo"
        if not dist.is_initialized():
            dist.init_process_group(self.backend, timeout=timeout)
        self._control = dist.new_group(backend="gloo", timeout=timeout) if self.backend != "gloo" else None
        self.peers = self.gather({"rank": self.rank, "pid": os.getpid(), "host": socket.gethostname()})

    def close(self, ok: bool = True) -> None:
        """Leave the process group: after a barrier when the run ended normally (so no rank
        tears its sockets down while another still talks to it), at once after a failure."""
        if not self.active:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            if ok:
                dist.barrier(group=self._control)
            dist.destroy_process_group()

    # -- collectives (every rank calls them at the same point of the loop) -----------------
    def agree(self, flags: list[bool]) -> list[bool]:
        """Each flag true on any rank -> true on every rank (all-reduce MAX on the host)."""
        if not self.active:
            return list(flags)
        import torch.distributed as dist

        t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return [bool(v) for v in t.tolist()]

    def sum_ints(self, values: list[int]) -> list[int]:
        """Each integer summed over the ranks."""
        if not self.active:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.int64)
        dist.all_reduce(t, group=self._control)
        return t.tolist()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank (a small picklable object)."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self._control)
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self._control)
        return out

    # -- gradients ----------------------------------------------------------------------------
    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in DistributedDataParallel (gradients averaged over the ranks at backward;
        rank 0's parameters broadcast now, so every rank starts from the same network)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        dev = next(module.parameters()).device
        self.wrapped.append(module)
        return DDP(module, device_ids=[dev] if dev.type == "cuda" else None)

    def gone_peers(self, wait_s: float = 2.0) -> list[dict]:
        """The ranks on this host whose process no longer exists, after a failed collective.

        A killed peer's sockets close while its process is still exiting, so a collective can
        fail a moment before the process is gone: look for up to ``wait_s`` seconds."""
        import time

        import psutil

        def alive(pid: int) -> bool:
            try:
                return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
            except psutil.NoSuchProcess:
                return False

        host = socket.gethostname()
        peers = [p for p in self.peers if p["rank"] != self.rank and p["host"] == host]
        deadline = time.monotonic() + wait_s
        while True:
            gone = [p for p in peers if not alive(p["pid"])]
            if gone or not peers or time.monotonic() >= deadline:
                return gone
            time.sleep(0.05)


def weights_digest(*modules: torch.nn.Module) -> str:
    """sha256 of the modules' parameters and buffers (bytes, in state_dict order): equal on two
    ranks exactly when their networks are bit-identical."""
    import hashlib

    h = hashlib.sha256()
    for name, t in ((n, t) for m in modules for n, t in m.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
