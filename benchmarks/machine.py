"""One line describing the machine a benchmark ran on (CPU, cores, versions, threads, GPU, load)."""
from __future__ import annotations

import os
import platform


def machine() -> str:
    import numba
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"torch {torch.__version__}", f"numba {numba.__version__}",
             f"numba threads {numba.get_num_threads()}", f"torch threads {torch.get_num_threads()}"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name()}")
    if hasattr(os, "getloadavg"):
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    return "; ".join(parts)
