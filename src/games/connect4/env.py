"""BatchedConnect4: N Connect4 games stepped at once on bitboards (``BatchedGame`` over ``Connect4``).

Keeps Connect4's own conveniences (``cur``, ``mask``, ``rows``, ``cols``, ``geometry``,
``ops``) for its tests and benchmarks; the engine itself uses only the ``BatchedGame`` API.
"""
from __future__ import annotations

import torch

from src.games.backends import resolve_backend, resolve_device, resolve_obs_dtype
from src.games.connect4.game import C4State, Connect4
from src.games.env import BatchedGame


class BatchedConnect4(BatchedGame):
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
        device = resolve_device(device)
        game = Connect4(device, resolve_backend(backend, device), seed, compile, resolve_obs_dtype(obs_dtype),
                        rows, cols)
        super().__init__(game, num_envs)
        self.geometry, self.rows, self.cols, self.ops = game.geometry, rows, cols, game.ops

    @property
    def cur(self) -> torch.Tensor:
        return self.state.cur

    @cur.setter
    def cur(self, value: torch.Tensor) -> None:
        self.state = C4State(value, self.state.mask)

    @property
    def mask(self) -> torch.Tensor:
        return self.state.mask

    @mask.setter
    def mask(self, value: torch.Tensor) -> None:
        self.state = C4State(self.state.cur, value)
