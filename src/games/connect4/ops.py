"""Connect4's backend adapters: its kernels of ``kernels/`` behind one interface over torch tensors.

``TorchOps`` calls the torch kernels directly (any device). ``NumbaOps`` runs the numba
kernels on the numpy views of CPU tensors (zero-copy both ways). Both hold their own
random stream, so the same seed gives the same results on a backend.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from kernels import connect4_numba as knb
from kernels import connect4_torch as kt
from kernels.geometry import Geometry
from src.games.backends import seeded_generator


class TorchOps:
    name = "torch"

    def __init__(self, g: Geometry, device: torch.device, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32):
        """``compile=True`` hands the fused env step to ``torch.compile`` (one generated kernel
        instead of ~40 launches on a GPU); the first step then compiles (tens of seconds).
        ``obs_dtype``: the dtype of the observations ``step_autoreset`` returns."""
        self.g, self.device = g, device
        self._step = functools.partial(kt.step_autoreset, g=g, dtype=obs_dtype)
        if compile:
            self._step = torch.compile(self._step, dynamic=False)
        self.generator = seeded_generator(device, seed)

    def play(self, cur, mask, actions, active=None):
        return kt.play(cur, mask, actions, active, self.g)

    def legal_mask(self, mask):
        return kt.legal_mask(mask, self.g)

    def to_planes(self, cur, mask, dtype=torch.float32):
        return kt.to_planes(cur, mask, self.g, dtype)

    def random_legal_actions(self, mask):
        return kt.random_legal_actions(mask, self.g, self.generator)

    def step_autoreset(self, cur, mask, actions):
        """Returns ``(cur, mask, obs, reward, done, illegal)`` with finished games reset."""
        return self._step(cur, mask, actions)

    def random_rollout(self, cur, mask, steps):
        return kt.random_rollout(cur, mask, steps, self.g, self.generator)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class NumbaOps:
    name = "numba"

    def __init__(self, g: Geometry, device: torch.device, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32):
        assert device.type == "cpu"  # compile: numba kernels are compiled already
        self.g, self.device, self.obs_dtype = g, device, obs_dtype
        self.seed = int(seed if seed is not None else np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.counter = 0
        self._buffers = None

    def _next_seed(self) -> int:
        # One independent counter-based stream per call: results do not depend on threads.
        self.counter += 1
        return (self.seed * 0x9E3779B97F4A7C15 + self.counter) & 0xFFFFFFFFFFFFFFFF

    def play(self, cur, mask, actions, active=None):
        out = knb.play(cur.numpy(), mask.numpy(), actions.numpy(), None if active is None else active.numpy(), self.g)
        return tuple(torch.from_numpy(x) for x in out)

    def legal_mask(self, mask):
        return torch.from_numpy(knb.legal_mask(mask.numpy(), self.g))

    def to_planes(self, cur, mask, dtype=torch.float32):
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        return torch.from_numpy(knb.to_planes(cur.numpy(), mask.numpy(), self.g, np_dtype))

    def random_legal_actions(self, mask):
        return torch.from_numpy(knb.random_legal_actions(mask.numpy(), self.g, self._next_seed()))

    def step_autoreset(self, cur, mask, actions):
        """Updates ``cur``/``mask`` in place; the returned obs/reward/done/illegal live in
        buffers reused by the next call (zero-copy, as in PufferLib / EnvPool)."""
        n = cur.shape[0]
        if self._buffers is None or self._buffers[0].shape[0] != n:
            self._buffers = (torch.empty((n, 2, self.g.rows, self.g.cols), dtype=self.obs_dtype),
                             torch.empty(n, dtype=torch.float32), torch.empty(n, dtype=torch.bool),
                             torch.empty(n, dtype=torch.bool))
        obs, reward, done, illegal = self._buffers
        knb.step_autoreset(cur.numpy(), mask.numpy(), actions.numpy(), self.g,
                           reward.numpy(), done.numpy(), illegal.numpy(), obs.numpy())
        return cur, mask, obs, reward, done, illegal

    def random_rollout(self, cur, mask, steps):
        cur, mask = cur.clone(), mask.clone()
        finished = knb.random_rollout(cur.numpy(), mask.numpy(), steps, self.g, self._next_seed())
        return cur, mask, torch.from_numpy(finished)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "counter": self.counter}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.counter = int(state["seed"]), int(state["counter"])


def make_ops(g: Geometry, device: torch.device, backend: str, seed: int | None = None, compile: bool = False,
             obs_dtype: torch.dtype = torch.float32):
    return (NumbaOps if backend == "numba" else TorchOps)(g, device, seed, compile, obs_dtype)
