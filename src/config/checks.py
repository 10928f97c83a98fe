"""Field checks shared by several schemas (``Field(check=...)``)."""
from __future__ import annotations

from typing import Any

from src.config.schema import ConfigError


def positive_int_list(value: Any, key: str) -> list[int]:
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{key}[{i}]", f"must be a positive integer, got {v!r}")
    return list(value)


def torch_device(value: Any, key: str) -> Any:
    import torch

    if not (value == "cpu" or value == "cuda" or value.startswith("cuda:")):
        raise ConfigError(key, f"must be null, 'cpu', 'cuda' or 'cuda:N', got {value!r}")
    if value.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(key, f"device {value!r} asked for, but CUDA is not available on this machine (use null or 'cpu')")
    try:
        torch.device(value)
    except RuntimeError:
        raise ConfigError(key, f"is not a valid torch device: {value!r}") from None
    return value
