"""Othello's backend adapters: its kernels behind one interface over torch tensors.

``TorchOps`` calls ``kernels.othello_torch`` (any device); ``NumbaOps`` runs
``kernels.othello_numba`` on the numpy views of CPU tensors (zero-copy both ways). Each holds
its own random stream: the same seed gives the same results on a backend.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from kernels import othello_numba as knb
from kernels import othello_torch as kt
from src.games.backends import seeded_generator

_U64 = 0xFFFFFFFFFFFFFFFF


class TorchOps:
    name = "torch"

    def __init__(self, device: torch.device, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32):
        """``compile=True`` hands the fused env step to ``torch.compile``; same results."""
        self.device = device
        self._step = functools.partial(kt.step_autoreset, dtype=obs_dtype)
        if compile:
            self._step = torch.compile(self._step, dynamic=False)
        self.generator = seeded_generator(device, seed)

    def play(self, mine, theirs, player, actions, active=None):
        return kt.play(mine, theirs, player, actions, active)

    def legal_mask(self, mine, theirs):
        return kt.legal_mask(mine, theirs)

    def flip_counts(self, mine, theirs):
        return kt.flip_counts(mine, theirs)

    def to_planes(self, mine, theirs, dtype=torch.float32):
        return kt.to_planes(mine, theirs, dtype)

    def random_legal_actions(self, mine, theirs):
        return kt.random_legal_actions(mine, theirs, self.generator)

    def step_autoreset(self, mine, theirs, player, actions):
        """Returns ``(mine, theirs, player, obs, reward, done, illegal)`` with finished games reset."""
        return self._step(mine, theirs, player, actions)

    def random_rollout(self, mine, theirs, player, steps):
        return kt.random_rollout(mine, theirs, player, steps, self.generator)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def _np(x: torch.Tensor) -> np.ndarray:
    return x.contiguous().numpy()


class NumbaOps:
    name = "numba"

    def __init__(self, device: torch.device, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32):
        assert device.type == "cpu"  # compile: the numba kernels are compiled already
        self.device, self.obs_dtype = device, obs_dtype
        self.seed = int(seed if seed is not None else np.random.SeedSequence().entropy) & _U64
        self.counter = 0
        self._buffers = None

    def _next_seed(self) -> int:
        # one independent counter-based stream per call: results do not depend on threads
        self.counter += 1
        return (self.seed * 0x9E3779B97F4A7C15 + self.counter) & _U64

    def play(self, mine, theirs, player, actions, active=None):
        out = knb.play(_np(mine), _np(theirs), _np(player), _np(actions), None if active is None else _np(active))
        return tuple(torch.from_numpy(x) for x in out)

    def legal_mask(self, mine, theirs):
        return torch.from_numpy(knb.legal_mask(_np(mine), _np(theirs)))

    def flip_counts(self, mine, theirs):
        return torch.from_numpy(knb.flip_counts(_np(mine), _np(theirs)))

    def to_planes(self, mine, theirs, dtype=torch.float32):
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        return torch.from_numpy(knb.to_planes(_np(mine), _np(theirs), np_dtype))

    def random_legal_actions(self, mine, theirs):
        return torch.from_numpy(knb.random_legal_actions(_np(mine), _np(theirs), self._next_seed()))

    def step_autoreset(self, mine, theirs, player, actions):
        """Updates the state tensors in place; the returned obs/reward/done/illegal live in
        buffers reused by the next call (zero-copy, as for Connect4)."""
        n = mine.shape[0]
        if self._buffers is None or self._buffers[0].shape[0] != n:
            self._buffers = (torch.empty((n, 2, 8, 8), dtype=self.obs_dtype), torch.empty(n, dtype=torch.float32),
                             torch.empty(n, dtype=torch.bool), torch.empty(n, dtype=torch.bool))
        obs, reward, done, illegal = self._buffers
        knb.step_autoreset(mine.numpy(), theirs.numpy(), player.numpy(), actions.numpy(),
                           reward.numpy(), done.numpy(), illegal.numpy(), obs.numpy())
        return mine, theirs, player, obs, reward, done, illegal

    def random_rollout(self, mine, theirs, player, steps):
        mine, theirs, player = mine.clone(), theirs.clone(), player.clone()
        finished = knb.random_rollout(mine.numpy(), theirs.numpy(), player.numpy(), steps, self._next_seed())
        return mine, theirs, player, torch.from_numpy(finished)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "counter": self.counter}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.counter = int(state["seed"]), int(state["counter"])


def make_ops(device: torch.device, backend: str, seed: int | None = None, compile: bool = False,
             obs_dtype: torch.dtype = torch.float32):
    return (NumbaOps if backend == "numba" else TorchOps)(device, seed, compile, obs_dtype)
