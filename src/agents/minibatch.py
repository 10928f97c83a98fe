"""From replay-ring positions to a DQN minibatch: network input, action, return, bootstrap.

Two implementations with the same results, bit for bit:

* ``TorchMinibatch`` - tensor ops on any device (the plain reference, and the CUDA path: no
  host synchronisation): ``ReplayBuffer.gather_nstep``, the game's ``to_planes`` or the agent's
  threat features, ``legal_mask``, then the mirror.
* ``NumbaMinibatch`` - the CPU path: one numba pass (``kernels.minibatch_numba``) into
  preallocated buffers, instead of some forty small torch ops and their temporaries.

Both take the positions and the mirror flags from the caller, who draws them from the
replay's stream, so which one runs does not change any random stream.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import torch

from kernels import minibatch_numba as kmb


class Minibatch(NamedTuple):
    """obs/next_obs float32 [B, C, rows, cols], action int64 [B], reward float32 [B], done bool [B],
    next_legal bool [B, cols], discount float32 [B] (gamma ** moves used) or None for 1-step."""
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    done: torch.Tensor
    next_obs: torch.Tensor
    next_legal: torch.Tensor
    discount: torch.Tensor | None


class TorchMinibatch:
    def __init__(self, replay, game, encode, gamma: float):
        self.replay, self.game, self.encode, self.gamma = replay, game, encode, gamma

    def __call__(self, idx: torch.Tensor, n: int, stride: int, flip: torch.Tensor | None) -> Minibatch:
        """The minibatch of ring positions ``idx`` int64 [B], n-step (``n`` > 1) over games
        ``stride`` places apart, columns reflected where ``flip`` bool [B] (None: none)."""
        if n > 1:
            s = self.replay.gather_nstep(idx, n, stride, self.gamma)
        else:
            s = {k: buf[idx] for k, buf in self.replay.storage.items()}
        obs, action = self.encode(s["cur"], s["mask"]), s["action"].long()
        next_obs, next_legal = self.encode(s["next_cur"], s["next_mask"]), self.game.ops.legal_mask(s["next_mask"])
        if flip is not None:  # Connect4 is symmetric under reflecting the columns
            f4 = flip[:, None, None, None]
            obs, next_obs = torch.where(f4, obs.flip(-1), obs), torch.where(f4, next_obs.flip(-1), next_obs)
            action = torch.where(flip, self.game.cols - 1 - action, action)
            next_legal = torch.where(flip[:, None], next_legal.flip(-1), next_legal)
        return Minibatch(obs, action, s["reward"].float(), s["done"], next_obs, next_legal, s.get("discount"))


class NumbaMinibatch:
    """The CPU path. The returned tensors are views of buffers that the next call overwrites
    (the learner consumes each minibatch in the gradient step before drawing the next)."""

    def __init__(self, replay, game, planes: int, gamma: float):
        self.replay, self.geometry, self.planes, self.gamma = replay, game.geometry, planes, gamma
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

    def __call__(self, idx: torch.Tensor, n: int, stride: int, flip: torch.Tensor | None) -> Minibatch:
        o = self._buffers(idx.shape[0])
        kmb.assemble(self.storage, idx.numpy(), o.no_flip if flip is None else flip.numpy(), n, stride, self.gamma,
                     self.geometry, self.planes, o)
        t = torch.from_numpy
        return Minibatch(t(o.obs), t(o.action), t(o.reward), t(o.done), t(o.next_obs), t(o.next_legal),
                         t(o.discount) if n > 1 else None)


def make_minibatch(replay, game, agent, encode):
    """The fused numba path where the game runs on numba (the CPU), tensor ops elsewhere;
    ``encode(cur, mask)`` is the learner's network input (planes or the agent's threat features)."""
    if game.backend == "numba" and replay.device.type == "cpu":
        return NumbaMinibatch(replay, game, 5 if agent.features == "threats" else 2, agent.gamma)
    return TorchMinibatch(replay, game, encode, agent.gamma)
