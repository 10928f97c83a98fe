"""The CPU stand-in for CUDA's sync debug mode: record the aten ops a piece of torch code calls
and name the ones that would make the host wait for the device."""
from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# ops that wait for the device on CUDA: reading a value on the host, or a data-dependent shape
HOST_SYNC_OPS = {"_local_scalar_dense", "item", "is_nonzero", "equal", "nonzero", "masked_select", "unique",
                 "_unique", "_unique2", "unique_consecutive", "unique_dim", "repeat_interleave"}


class _Record(TorchDispatchMode):
    def __init__(self, seen: set):
        super().__init__()
        self.seen = seen

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        bool_index = name.startswith("index") and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for a in args if isinstance(a, (list, tuple)) for i in a)
        self.seen.add(name + (" (bool index)" if bool_index else ""))
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def recorded_ops():
    """``with recorded_ops() as seen:``: ``seen`` collects the names of the aten ops called
    inside (an ``index`` with a bool mask is named ``'<op> (bool index)'``)."""
    seen: set = set()
    with _Record(seen):
        yield seen


def host_syncs(seen: set) -> set:
    """The recorded ops that synchronise with the host on CUDA."""
    return {n for n in seen if n in HOST_SYNC_OPS or n.endswith("(bool index)")}
