"""From replay-ring positions to a DQN minibatch: network input, action, return, bootstrap.

Two implementations with the same results, bit for bit:

* ``TorchMinibatch`` - tensor ops on any device and any game (the plain reference, and the CUDA
  path: no host synchronisation): ``ReplayBuffer.gather_nstep``, the learner's encoding
  (``Game.encode``), ``legal_mask``, then the game's symmetries (``apply_symmetries``).
* a game's fused path, where it has one (``Game.fused_minibatch``; Connect4's on numba: one
  numba pass into preallocated buffers, instead of some forty small torch ops).

Both take the positions and the symmetry of each sample from the caller, who draws them from
the replay's stream, so which one runs does not change any random stream.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from src.games.protocol import apply_symmetries


class Minibatch(NamedTuple):
    """obs/next_obs float32 [B, C, H, W], action int64 [B], reward float32 [B], done bool [B],
    next_legal bool [B, A], discount float32 [B] (gamma ** moves used) or None for 1-step."""
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    done: torch.Tensor
    next_obs: torch.Tensor
    next_legal: torch.Tensor
    discount: torch.Tensor | None


class TorchMinibatch:
    def __init__(self, replay, game, encode, gamma: float):
        self.replay, self.game, self.encode, self.gamma = replay, game, encode, gamma

    def __call__(self, idx: torch.Tensor, n: int, stride: int, sym: torch.Tensor | None) -> Minibatch:
        """The minibatch of ring positions ``idx`` int64 [B], n-step (``n`` > 1) over games
        ``stride`` places apart, sample ``b`` under the game's symmetry ``sym[b]`` (int64 [B]; None: none)."""
        if n > 1:
            s = self.replay.gather_nstep(idx, n, stride, self.gamma)
        else:
            s = {k: buf[idx] for k, buf in self.replay.storage.items()}
        fields = self.game.State._fields
        state = [s[f] for f in fields]
        nxt = self.game.State(*(s[f"next_{f}"] for f in fields))
        obs, action = self.encode(*state), s["action"].long()
        next_obs, next_legal = self.encode(*nxt), self.game.legal_mask(nxt)
        if sym is not None:  # the game's symmetries (Connect4: the mirror)
            (obs, next_obs), (action,), (next_legal,) = apply_symmetries(
                self.game, sym, obs=[obs, next_obs], actions=[action], per_action=[next_legal])
        return Minibatch(obs, action, s["reward"].float(), s["done"], next_obs, next_legal, s.get("discount"))


def make_minibatch(replay, game, agent, encode):
    """The game's fused path where it has one for this replay's device, tensor ops elsewhere;
    ``game`` is the ``Game``, ``encode(*state)`` the learner's network input (``Game.encode``)."""
    fused = game.fused_minibatch(replay, agent.features, agent.gamma)
    return fused if fused is not None else TorchMinibatch(replay, game, encode, agent.gamma)
