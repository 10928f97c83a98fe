"""Replay ring on the agent's device, storing positions as bitboards (compact form).

One transition is 2 + 2 int64 words (position and next position), an int8 action, an int8
reward and a done flag: 35 bytes instead of 2 * 84 float32 planes. Writes and samples are
tensor ops on whole batches; the write pointer and fill level are Python ints (they only
depend on how many transitions were written), so nothing synchronises with the device.
"""
from __future__ import annotations

import torch

FIELDS = {"cur": torch.int64, "mask": torch.int64, "action": torch.int8, "reward": torch.int8,
          "done": torch.bool, "next_cur": torch.int64, "next_mask": torch.int64}


class ReplayBuffer:
    def __init__(self, capacity: int, device: torch.device | str, seed: int | None = None):
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.storage = {k: torch.zeros(self.capacity, dtype=t, device=self.device) for k, t in FIELDS.items()}
        self.ptr = 0
        self.size = 0
        self.generator = torch.Generator(device=self.device)
        if seed is not None:  # else Generator.seed(): fresh entropy, global RNG untouched
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()

    def __len__(self) -> int:
        return self.size

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Append a batch of transitions (each field [N]); the oldest are overwritten when full."""
        n = batch["cur"].shape[0]
        if n >= self.capacity:  # only the newest `capacity` transitions survive
            batch = {k: v[n - self.capacity:] for k, v in batch.items()}
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
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
        return {k: buf[idx] for k, buf in self.storage.items()}

    def state_dict(self) -> dict:
        return {"storage": {k: v[: self.size].clone() if self.size < self.capacity else v.clone()
                            for k, v in self.storage.items()},
                "ptr": self.ptr, "size": self.size, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.ptr, self.size = state["ptr"], state["size"]
        for k, v in state["storage"].items():
            self.storage[k][: v.shape[0]] = v.to(self.device)
        self.generator.set_state(state["generator"])
