"""Connect4's fused DQN minibatch on the CPU: ``kernels.minibatch_numba`` (gather, n-step,
planes or threat features, next legal mask and the mirror in one numba pass) into preallocated
buffers; equal bit for bit to ``src.agents.minibatch.TorchMinibatch`` on Connect4."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from kernels import minibatch_numba as kmb
from src.agents.minibatch import Minibatch


class NumbaMinibatch:
    """The CPU path. The returned tensors are views of buffers that the next call overwrites
    (the learner consumes each minibatch in the gradient step before drawing the next)."""

    def __init__(self, replay, geometry, planes: int, gamma: float):
        self.replay, self.geometry, self.planes, self.gamma = replay, geometry, planes, gamma
        self.storage = {k: v.numpy() for k, v in replay.storage.items()}  # zero-copy views of the ring
        self.out = None

    def _buffers(self, b: int) -> SimpleNamespace:
        if self.out is None or self.out.action.shape[0] != b:
            g = self.geometry
            # allocated by torch, so the network gets input aligned as torch's own tensors are
            e = lambda *shape, dtype=torch.float32: torch.empty(shape, dtype=dtype).numpy()  # noqa: E731
            self.out = SimpleNamespace(
                obs=e(b, self.planes, g.rows, g.cols), next_obs=e(b, self.planes, g.rows, g.cols),
                action=e(b, dtype=torch.int64), reward=e(b), done=e(b, dtype=torch.bool),
                next_legal=e(b, g.cols, dtype=torch.bool), discount=e(b), no_flip=np.zeros(b, np.bool_))
        return self.out

    def __call__(self, idx: torch.Tensor, n: int, stride: int, sym: torch.Tensor | None) -> Minibatch:
        """As ``src.agents.minibatch.TorchMinibatch``; ``sym`` 1 (the mirror) reflects the columns."""
        o = self._buffers(idx.shape[0])
        kmb.assemble(self.storage, idx.numpy(), o.no_flip if sym is None else (sym == 1).numpy(), n, stride, self.gamma,
                     self.geometry, self.planes, o)
        t = torch.from_numpy
        return Minibatch(t(o.obs), t(o.action), t(o.reward), t(o.done), t(o.next_obs), t(o.next_legal),
                         t(o.discount) if n > 1 else None)
