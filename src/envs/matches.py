"""``Matches``: N games of an agent against one opponent, numpy in and out.

The shared core of ``GameEnv`` (N = 1) and ``GameVectorEnv`` (and so of ``Connect4Env`` and
``Connect4VectorEnv``), for any registered game. It drives
``src.training.versus.Versus`` (the trainer's agent-vs-opponent loop, so the adapters and the
trainer play by the same code) and converts at the boundary: numpy actions in, numpy
observations, rewards and masks out. The exposed position always has the agent to move;
finished games are reset inside ``step`` (Versus's one auto-reset), and the position each
finished game ended in is returned from the agent's side as ``final_obs``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from src.games import make_game
from src.opponents import make_opponent
from src.training.evaluation import FixedSampler
from src.training.versus import Versus

START_POLICIES = ("random", "agent_first", "opponent_first")


def _derive(seed: int | None, salt: int) -> int | None:
    return None if seed is None else (seed * 1_000_003 + salt * 7_919) % (2 ** 62)


class Matches:
    """``num_envs`` games of ``game`` (a registered game id; ``game_params`` its params) of the
    agent against ``opponent`` (a spec such as ``'heuristic'`` or ``'search:4'``, see
    ``src.opponents.parse_opponent_spec``) on ``device`` (None: CUDA when available, else CPU;
    numba runs the CPU games, torch the CUDA ones).

    ``start_policy``: who moves first in each new game; ``'random'`` draws a seat per game.
    ``backend``: None (numba on the CPU, torch elsewhere), ``'numba'`` or ``'torch'``.
    """

    def __init__(self, num_envs: int, opponent: str | Mapping[str, Any] = "random", start_policy: str = "random",
                 device: str | torch.device | None = None, seed: int | None = None, backend: str | None = None,
                 game: str = "connect4", game_params: Mapping[str, Any] | None = None):
        if start_policy not in START_POLICIES:
            raise ValueError(f"start_policy must be one of {', '.join(START_POLICIES)}, got {start_policy!r}")
        self.num_envs, self.opponent_spec, self.start_policy = num_envs, opponent, start_policy
        self.game_id, self.game_params = game, dict(game_params or {})
        self._device, self._backend = device, backend
        self._build(seed)

    def _build(self, seed: int | None) -> None:
        self.game = make_game(self.game_id, self.num_envs, device=self._device, backend=self._backend,
                              seed=_derive(seed, 1), **self.game_params)
        self.rules = self.game.game
        self.device = self.game.device
        opponent = make_opponent(self.opponent_spec, self.rules, self.device, self.game.backend, _derive(seed, 2))
        self.versus = Versus(self.game, FixedSampler(opponent), self.start_policy, seed=_derive(seed, 3))
        self._legal: torch.Tensor | None = None

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Start every game afresh (reseeding every random stream when ``seed`` is given).

        Returns ``(obs float32 [N, *observation_shape], action_mask int8 [N, num_actions])``.
        """
        if seed is not None:
            self._build(seed)
        self.versus.reset()
        return self._observe()

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        self._legal = self.versus.legal_mask()
        return _numpy(self.versus.observe()), _numpy(self._legal).astype(np.int8)

    def step(self, actions) -> dict[str, np.ndarray]:
        """Play the agent's ``actions`` (int [N]; an illegal or out-of-range column loses), let
        each opponent reply, and reset finished games.

        Returns numpy arrays: ``obs`` float32 [N, *observation_shape] and ``action_mask`` int8
        [N, num_actions] (after the reset), ``reward`` float32 [N] (agent's side: +1 win, -1 loss
        or illegal move, 0 draw or ongoing), ``done`` bool [N], ``illegal`` bool [N], and
        ``final_obs`` float32 [D, *observation_shape]: the positions the D games that ended in this
        step ended in, in game order, plane 0 the agent's stones.
        """
        if self._legal is None:
            raise RuntimeError("call reset() before step()")
        a = torch.as_tensor(np.asarray(actions), dtype=torch.int64).reshape(-1).to(self.device)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tuple(np.shape(actions))}")
        num_actions = self.rules.num_actions
        in_range = (a >= 0) & (a < num_actions)
        illegal = ~(in_range & self._legal.gather(1, a.clamp(0, num_actions - 1)[:, None])[:, 0])
        out = self.versus.step(a)
        reward, done = out["reward"] + 0.0, out["done"]  # + 0.0: Versus's -0.0 for 'no result' becomes 0.0
        # The final position is drawn from its side to move's view. That is the opponent when the
        # agent's own (legal) move ended the game, so swap planes 0 and 1 there.
        swap = done & ~illegal & out["agent_ended"]
        ended = torch.nonzero(done)[:, 0]  # planes for these only: a few games in a hundred per step
        if len(ended) == 0:
            final_obs = np.zeros((0, *self.rules.observation_shape), np.float32)
        else:
            fields = self.rules.State._fields
            planes = self.rules.observe(self.rules.State(*(out[f"next_{f}"][ended] for f in fields)))
            swapped = torch.cat((planes[:, 1:2], planes[:, 0:1], planes[:, 2:]), dim=1)
            final_obs = _numpy(torch.where(swap[ended].view(-1, 1, 1, 1), swapped, planes))
        obs, mask = self._observe()
        return {"obs": obs, "action_mask": mask, "reward": _numpy(reward), "done": _numpy(done),
                "illegal": _numpy(illegal), "final_obs": final_obs}


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()
