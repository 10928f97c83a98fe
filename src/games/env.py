"""BatchedGame: ``num_envs`` games of any registered game stepped at once (the public env API).

Owns the batch's ``state`` (the game's ``State``, see ``src.games.protocol``) and the game's
rules object (``game``: device, backend, seeded stream). Every method returns torch tensors on
the env's device. Finished games are reset inside ``step`` (auto-reset), so the obs returned
for a done game is the new game's first position.
"""
from __future__ import annotations

import torch

from src.games.protocol import Game, clone_state


class BatchedGame:
    def __init__(self, game: Game, num_envs: int):
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.game = game
        self.game_id = game.game_id
        self.num_envs = num_envs
        self.device, self.backend = game.device, game.backend
        self.num_actions = game.num_actions
        self.observation_shape = tuple(game.observation_shape)
        self.state = game.init(num_envs)

    def reset(self) -> torch.Tensor:
        """Every game back at its start; returns obs [N, *observation_shape] (the env's obs dtype)."""
        for w, z in zip(self.state, self.game.init(self.num_envs)):
            w.copy_(z)
        return self.observe()

    def observe(self) -> torch.Tensor:
        """obs [N, *observation_shape]: plane 0 = the side to move's pieces, plane 1 = the other's."""
        return self.game.observe(self.state, self.obs_dtype)

    @property
    def obs_dtype(self) -> torch.dtype:
        return self.game.obs_dtype

    def legal_actions(self) -> torch.Tensor:
        """bool [N, num_actions]: the legal actions of the side to move."""
        return self.game.legal_mask(self.state)

    def sample_actions(self) -> torch.Tensor:
        """int64 [N]: a uniformly random legal action per game, from the env's seeded stream."""
        return self.game.random_actions(self.state)

    def step(self, actions: torch.Tensor):
        """Play ``actions`` (int64 [N]) for the side to move in every game.

        Returns ``(obs, reward, done, info)``: obs [N, *observation_shape] (after auto-reset),
        reward float32 [N] for the player who just moved, done bool [N] and
        ``info = {"illegal": bool [N]}``.
        """
        actions = torch.as_tensor(actions, dtype=torch.int64, device=self.device)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tuple(actions.shape)}")
        self.state, obs, reward, done, illegal = self.game.env_step(self.state, actions)
        return obs, reward, done, {"illegal": illegal}

    def state_dict(self) -> dict:
        """The positions (one entry per state field) and the random stream."""
        return {**{k: w.clone() for k, w in zip(self.state._fields, self.state)}, "rng": self.game.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.state = clone_state(self.game.State(*(state[k].to(self.device) for k in self.game.State._fields)))
        self.game.load_state_dict(state["rng"])
