"""Backends shared by every game: device, backend and observation dtype resolution, seeded streams.

A game's own backend adapters live in its package (Connect4's: ``src.games.connect4.ops``).
"""
from __future__ import annotations

import torch

# Denormal (subnormal) floats are 10-100x slower to multiply on x86 CPUs. Weight decay leaves
# some network weights there as training goes on: by 460k plies of configs/alphazero_connect4.yaml
# 416 of the net's 41,975 weights were, and its forward pass took 2.7x and its training step 3.9x
# the time of the first checkpoint's (benchmarks/RESULTS.md). Flushing them to zero (FTZ and
# DAZ) keeps every step at full speed. The setting is per thread, and threads inherit it when
# they are created: this module is imported (through ``src.games``) before anything starts
# torch's OpenMP pool or numba's thread pool, so their workers inherit it too. A no-op where
# the CPU has no such mode; CUDA is not affected.
torch.set_flush_denormal(True)

BACKENDS = ("torch", "numba")
# observation dtypes of the env API: float32 (the default, what the networks take) or a
# compact one for callers that convert on their device anyway (a quarter of the bytes or less)
OBS_DTYPES = {"float32": torch.float32, "uint8": torch.uint8, "bool": torch.bool}


def resolve_obs_dtype(obs_dtype: str | torch.dtype) -> torch.dtype:
    """``'float32'``, ``'uint8'`` or ``'bool'`` (or that torch dtype) -> the torch dtype."""
    if isinstance(obs_dtype, torch.dtype) and obs_dtype in OBS_DTYPES.values():
        return obs_dtype
    if isinstance(obs_dtype, str) and obs_dtype in OBS_DTYPES:
        return OBS_DTYPES[obs_dtype]
    raise ValueError(f"unknown obs_dtype {obs_dtype!r}; expected one of {', '.join(OBS_DTYPES)}")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_backend(backend: str | None, device: torch.device) -> str:
    """``None`` means numba on the CPU and torch elsewhere."""
    if backend is None:
        return "numba" if device.type == "cpu" else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on the CPU only, not on device {device}")
    return backend


def seeded_generator(device: torch.device | str, seed: int | None) -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed``, or with fresh entropy when None
    (``Generator.seed()``, not ``torch.seed()``: that one would reseed torch's global RNG)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator




def __getattr__(name: str):
    # ``make_ops`` (Connect4's adapters) kept importable from here for existing callers
    if name in ("make_ops", "TorchOps", "NumbaOps"):
        from src.games.connect4 import ops

        return getattr(ops, name)
    raise AttributeError(name)
