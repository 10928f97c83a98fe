"""BatchedConnect4: N Connect4 games stepped at once on bitboards.

Owns the state (``cur``, ``mask``: int64 [N], see ``kernels.geometry``) and picks the
backend: numba on the CPU, torch elsewhere (or as asked). Every method returns torch
tensors on the env's device.
"""
from __future__ import annotations

import torch

from kernels.geometry import Geometry
from src.games.backends import make_ops, resolve_backend, resolve_device, resolve_obs_dtype


class BatchedConnect4:
    """``num_envs`` games of Connect4 on a ``rows`` x ``cols`` board.

    Rewards are for the player who just moved: +1 win, -1 illegal move (full column or
    out of range; the game ends), 0 otherwise. Finished games are reset inside ``step``
    (auto-reset), so the obs returned for a done game is the new game's first position.
    ``compile=True`` (torch backend) fuses the step with ``torch.compile``; same results.
    ``obs_dtype`` (``'float32'``, ``'uint8'`` or ``'bool'``) is the dtype of the observations
    ``reset``/``observe``/``step`` return: the same 0/1 planes, float32 by default; a compact one
    for callers that convert on their device anyway (the numba step writes 4x fewer bytes).
    """

    game_id = "connect4"

    def __init__(self, num_envs: int, device: str | torch.device | None = None, backend: str | None = None,
                 seed: int | None = None, rows: int = 6, cols: int = 7, compile: bool = False,
                 obs_dtype: str | torch.dtype = "float32"):
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.geometry = Geometry(rows, cols)
        self.rows, self.cols = rows, cols
        self.num_envs = num_envs
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)
        self.obs_dtype = resolve_obs_dtype(obs_dtype)
        self.ops = make_ops(self.geometry, self.device, self.backend, seed, compile, self.obs_dtype)
        self.num_actions = cols
        self.observation_shape = (2, rows, cols)
        self.cur = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.mask = torch.zeros_like(self.cur)

    def reset(self) -> torch.Tensor:
        """Empty every board; returns obs [N, 2, rows, cols] (``obs_dtype``, float32 by default)."""
        self.cur.zero_()
        self.mask.zero_()
        return self.observe()

    def observe(self) -> torch.Tensor:
        """obs [N, 2, rows, cols] of ``obs_dtype``: plane 0 = side to move, plane 1 = the other side;
        row 0 is the bottom."""
        return self.ops.to_planes(self.cur, self.mask, self.obs_dtype)

    def legal_actions(self) -> torch.Tensor:
        """bool [N, cols]: columns that are not full."""
        return self.ops.legal_mask(self.mask)

    def sample_actions(self) -> torch.Tensor:
        """int64 [N]: a uniformly random legal column per game, from the env's seeded stream."""
        return self.ops.random_legal_actions(self.mask)

    def step(self, actions: torch.Tensor):
        """Play ``actions`` (int64 [N]) for the side to move in every game.

        Returns ``(obs, reward, done, info)``: obs [N, 2, rows, cols] of ``obs_dtype`` (after auto-reset),
        reward float32 [N] for the player who just moved, done bool [N], and
        ``info = {"illegal": bool [N]}``.
        """
        actions = torch.as_tensor(actions, dtype=torch.int64, device=self.device)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tuple(actions.shape)}")
        self.cur, self.mask, obs, reward, done, illegal = self.ops.step_autoreset(self.cur, self.mask, actions)
        return obs, reward, done, {"illegal": illegal}

    def state_dict(self) -> dict:
        return {"cur": self.cur.clone(), "mask": self.mask.clone(), "rng": self.ops.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.cur = state["cur"].to(self.device).clone()
        self.mask = state["mask"].to(self.device).clone()
        self.ops.load_state_dict(state["rng"])
