"""BatchedOthello: ``num_envs`` Othello games stepped at once (the public env API, as Connect4's).

Owns the batch's ``state`` (``OthelloState``) and the rules object ``game`` (device, backend,
seeded stream). Every method returns torch tensors on the env's device; finished games are
reset inside ``step`` (auto-reset), so the obs returned for a done game is the new game's first
position.
"""
from __future__ import annotations

import torch

from src.games.backends import resolve_backend, resolve_device, resolve_obs_dtype
from src.games.othello.game import Othello, OthelloState


class BatchedOthello:
    game_id = "othello"

    def __init__(self, num_envs: int, device: str | torch.device | None = None, backend: str | None = None,
                 seed: int | None = None, compile: bool = False, obs_dtype: str | torch.dtype = "float32"):
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        device = resolve_device(device)
        self.game = Othello(device, resolve_backend(backend, device), seed, compile, resolve_obs_dtype(obs_dtype))
        self.num_envs = num_envs
        self.device, self.backend, self.obs_dtype = self.game.device, self.game.backend, self.game.obs_dtype
        self.num_actions = self.game.num_actions
        self.observation_shape = self.game.observation_shape
        self.state = self.game.init(num_envs)

    def reset(self) -> torch.Tensor:
        """Every game at the start position; returns obs [N, 2, 8, 8] (``obs_dtype``)."""
        self.state = self.game.init(self.num_envs)
        return self.observe()

    def observe(self) -> torch.Tensor:
        """obs [N, 2, 8, 8]: plane 0 = the side to move's discs, plane 1 = the other's."""
        return self.game.observe(self.state, self.obs_dtype)

    def legal_actions(self) -> torch.Tensor:
        """bool [N, 65]: the legal cells, and the pass where no cell is legal."""
        return self.game.legal_mask(self.state)

    def sample_actions(self) -> torch.Tensor:
        """int64 [N]: a uniformly random legal action per game, from the env's seeded stream."""
        return self.game.random_actions(self.state)

    def step(self, actions: torch.Tensor):
        """Play ``actions`` (int64 [N]) for the side to move in every game.

        Returns ``(obs, reward, done, info)``: obs [N, 2, 8, 8] (after auto-reset), reward
        float32 [N] for the player who just moved, done bool [N], ``info = {"illegal": bool [N]}``.
        """
        actions = torch.as_tensor(actions, dtype=torch.int64, device=self.device)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tuple(actions.shape)}")
        self.state, obs, reward, done, illegal = self.game.env_step(self.state, actions)
        return obs, reward, done, {"illegal": illegal}

    def render(self, i: int = 0) -> str:
        return self.game.render(self.state, i)

    def state_dict(self) -> dict:
        return {**{k: w.clone() for k, w in zip(self.state._fields, self.state)}, "rng": self.game.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.state = OthelloState(*(state[k].to(self.device, torch.int64).clone().contiguous() for k in OthelloState._fields))
        self.game.load_state_dict(state["rng"])
