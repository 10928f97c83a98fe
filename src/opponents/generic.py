"""The opponent every game has: a uniformly random legal move, from the game's own rules
(``Game.random_actions``) with its own seeded stream."""
from __future__ import annotations

import torch

from src.opponents.stream import _stream_seed


class GameRandomOpponent:
    """``random`` for any ``Game``: ``act(*state, active=None) -> int64 [N]``."""

    name = "random"
    spec = "random"
    on_host = False

    def __init__(self, game, seed: int | None = None):
        self.game = game.with_seed(_stream_seed(seed))
        self.device, self.backend = game.device, game.backend

    @property
    def params(self) -> dict:
        return {}

    def act(self, *words: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.game.random_actions(self.game.State(*words))

    def state_dict(self) -> dict:
        return {"backend": self.backend, "game": self.game.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.game.load_state_dict(state["game"])
