"""Opponent samplers: who replies to the agent in each game of the batch.

A sampler provides ``on_new_games(new: bool [N])`` (games about to start: a pool draws their
opponents here) and ``act(cur, mask, active) -> int64 [N]`` (the replies of the ``active``
games; other entries are ignored by the caller).
"""
from __future__ import annotations

import torch

from kernels.geometry import Geometry
from src.games.backends import make_ops


class RandomSampler:
    """Every game faces a uniformly random legal-move player (the spec's ``random`` type)."""

    kind = "random"

    def __init__(self, geometry: Geometry, device: torch.device, backend: str, seed: int | None):
        self.ops = make_ops(geometry, device, backend, None if seed is None else seed + 7919)

    def on_new_games(self, new: torch.Tensor) -> None:
        pass

    def act(self, cur: torch.Tensor, mask: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.ops.random_legal_actions(mask)

    def status(self) -> dict:
        return {"opponent_mix": {"random": 1.0}}

    def state_dict(self) -> dict:
        return {"ops": self.ops.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.ops.load_state_dict(state["ops"])
