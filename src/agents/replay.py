"""Replay ring on the agent's device, storing positions as the game's state words (compact form).

One transition is the position's and the next position's state words (int64 each, one column
per field of the game's ``State``, the next ones prefixed ``next_``), an int8 action, an int8
reward and a done flag (Connect4: 35 bytes instead of 2 * 84 float32 planes). Writes and samples are
tensor ops on whole batches; the write pointer and fill level are Python ints (they only
depend on how many transitions were written), so nothing synchronises with the device.
"""
from __future__ import annotations

import torch

from src.games.backends import seeded_generator

TRANSITION_FIELDS = {"action": torch.int8, "reward": torch.int8, "done": torch.bool}


def ring_fields(state_fields) -> dict[str, torch.dtype]:
    """The ring's columns for a game whose ``State`` has ``state_fields``: the position's words,
    action, reward, done and the next position's words (``next_`` + field)."""
    return {**{f: torch.int64 for f in state_fields}, **TRANSITION_FIELDS,
            **{f"next_{f}": torch.int64 for f in state_fields}}


class ReplayBuffer:
    def __init__(self, capacity: int, device: torch.device | str, seed: int | None = None,
                 state_fields: tuple[str, ...] | None = None):
        """``state_fields``: the game's ``State._fields``; None: taken from the first batch added
        (its keys ``k`` that have a ``next_k``)."""
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.storage = {}
        if state_fields is not None:
            self._allocate(state_fields)
        self.ptr = 0
        self.size = 0
        self.generator = seeded_generator(self.device, seed)

    def _allocate(self, state_fields) -> None:
        self.state_fields = tuple(state_fields)
        self.fields = ring_fields(self.state_fields)
        self.storage = {k: torch.zeros(self.capacity, dtype=t, device=self.device) for k, t in self.fields.items()}

    def __len__(self) -> int:
        return self.size

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Append a batch of transitions (each field of ``self.fields`` [N], any dtype: stored in the
        compact one; other keys are ignored); the oldest are overwritten when full."""
        if not self.storage:
            self._allocate([k for k in batch if f"next_{k}" in batch])
        n = batch["action"].shape[0]
        if n >= self.capacity:  # only the newest `capacity` transitions survive
            batch = {k: batch[k][n - self.capacity:] for k in self.fields}
            n = self.capacity
        end = self.ptr + n
        if end <= self.capacity:
            for k, buf in self.storage.items():
                buf[self.ptr:end] = batch[k]
        else:
            first = self.capacity - self.ptr
            for k, buf in self.storage.items():
                buf[self.ptr:] = batch[k][:first]
                buf[:n - first] = batch[k][first:]
        self.ptr = end % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions drawn uniformly with replacement from what is stored."""
        idx = self.sample_indices(batch_size, 1, 1)
        return {k: buf[idx] for k, buf in self.storage.items()}

    def sample_indices(self, batch_size: int, n: int, stride: int) -> torch.Tensor:
        """int64 [batch_size]: ring positions drawn uniformly (with replacement) from the stored
        transitions that have ``n - 1`` successors ``stride`` places on (all of them for n = 1).
        One draw from the sampling stream, the same for ``sample`` and ``sample_nstep``."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        if n == 1:
            return torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
        span = (n - 1) * stride
        if self.size <= span:
            raise RuntimeError(f"need more than {span} stored transitions for {n}-step samples")
        oldest = (self.ptr - self.size) % self.capacity
        j = torch.randint(0, self.size - span, (batch_size,), device=self.device, generator=self.generator)
        return (oldest + j) % self.capacity

    def sample_nstep(self, batch_size: int, n: int, stride: int, gamma: float) -> dict[str, torch.Tensor]:
        """``batch_size`` n-step transitions, for a buffer filled ``stride`` games at a time
        (``sample_indices`` then ``gather_nstep``)."""
        return self.gather_nstep(self.sample_indices(batch_size, n, stride), n, stride, gamma)

    def gather_nstep(self, idx: torch.Tensor, n: int, stride: int, gamma: float) -> dict[str, torch.Tensor]:
        """The n-step transitions starting at ring positions ``idx`` (int64 [B]).

        The trainer writes one transition of each of its ``stride`` games per batch step, in
        game order, so a game's next transition sits ``stride`` places later in the ring. A
        sample follows its game until ``n`` moves or the game's end. Returns the first position
        and action, the discounted reward sum ``reward`` (float32), ``done`` (the game ended
        within those moves), the last next position's words (``next_`` + field), and ``discount`` = gamma **
        moves used. This is the plain reference of ``kernels.minibatch_numba``.
        """
        batch_size = idx.shape[0]
        st = self.storage
        nxt_keys = [f"next_{f}" for f in self.state_fields]
        out = {**{f: st[f][idx] for f in self.state_fields}, "action": st["action"][idx]}
        reward = torch.zeros(batch_size, dtype=torch.float32, device=self.device)
        discount = torch.ones(batch_size, dtype=torch.float32, device=self.device)
        alive = torch.ones(batch_size, dtype=torch.bool, device=self.device)
        done = torch.zeros_like(alive)
        nxt = {k: st[k][idx] for k in nxt_keys}
        for k in range(n):
            i = (idx + k * stride) % self.capacity
            reward += torch.where(alive, discount * st["reward"][i].float(), 0.0)
            nxt = {key: torch.where(alive, st[key][i], w) for key, w in nxt.items()}
            discount = torch.where(alive, discount * gamma, discount)
            done |= alive & st["done"][i]
            alive &= ~st["done"][i]
        out.update(reward=reward, done=done, discount=discount, **nxt)
        return out

    def state_dict(self) -> dict:
        """The stored transitions (copied to the CPU: a large ring on a GPU is not duplicated
        there), write pointer, fill level and sampling stream."""
        return {"storage": {k: (v[: self.size] if self.size < self.capacity else v).to("cpu", copy=True)
                            for k, v in self.storage.items()},
                "ptr": self.ptr, "size": self.size, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.ptr, self.size = state["ptr"], state["size"]
        if not self.storage:
            self._allocate([k for k in state["storage"] if f"next_{k}" in state["storage"]])
        for k, v in state["storage"].items():
            self.storage[k][: v.shape[0]] = v.to(self.device)
        self.generator.set_state(state["generator"])
