"""Opponent samplers: who replies to the agent in each game of the batch.

``OpponentSampler`` is what ``Versus`` and the trainer need of one; subclasses override what
they use and inherit no-op defaults for the rest.
"""
from __future__ import annotations

from typing import Protocol

import torch

from src.seeding import child_seed


class OpponentSampler(Protocol):
    """The replies to the agent in every game of a batch, and the bookkeeping around them."""

    kind: str = "fixed"  # the config's sampler type

    def on_new_games(self, new: torch.Tensor) -> None:
        """``new`` bool [N]: games about to start (a pool draws their opponents here)."""

    def act(self, *words: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """int64 [N]: the replies of the ``active`` games (other entries are ignored), for the
        positions given as the game's state words (``act(*state, active=...)``)."""
        raise NotImplementedError

    def on_game_end(self, done: torch.Tensor, reward: torch.Tensor) -> None:
        """``done`` bool [N] games just ended with ``reward`` float32 [N] from the agent's side."""

    def status(self) -> dict:
        """Extra status.json fields (``opponent_mix``, ...)."""
        return {}

    def distribute(self, sum_ints) -> None:
        """Data-parallel training: ``sum_ints(list[int]) -> list[int]`` sums counters over the
        ranks (a collective: call it at the same point on every rank). A sampler whose
        decisions must agree across ranks (the pool's snapshots) takes them from such sums."""

    def consistency(self, digest) -> dict:
        """What must be equal on every rank at the end of a data-parallel run (``digest(module)``
        hashes a network), for status.json's ``rank_digests``."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``."""


class RandomSampler(OpponentSampler):
    """Every game faces a uniformly random legal-move player (the spec's ``random`` type)."""

    kind = "random"

    def __init__(self, game, seed: int | None):
        """``game``: the ``Game`` played; the sampler plays by a copy of it with its own stream."""
        self.game = game.with_seed(child_seed(seed, "random.ops"))

    def on_new_games(self, new: torch.Tensor) -> None:
        pass

    def act(self, *words: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.game.random_actions(self.game.State(*words))

    def status(self) -> dict:
        return {"opponent_mix": {"random": 1.0}}

    def state_dict(self) -> dict:
        return {"ops": self.game.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.game.load_state_dict(state["ops"])
