"""What the rest of the project needs of an agent, as two small protocols.

* ``Agent`` — a trained player: what ``load_agent`` returns and what evaluation, ``play``,
  ``evaluate`` and the pool's opponents use.
* ``Learner`` — an agent being trained: what ``Trainer.train`` calls once per batch step.
  It owns everything its algorithm needs beyond the shared loop (the agent, its replay
  ring, how it turns the game's states into network input, its loss statistics).

The registry (``src.agents.AGENTS``) maps ``agent.id`` to both classes and the params schema.
"""
from __future__ import annotations

from typing import ClassVar, Protocol

import torch


class Agent(Protocol):
    agent_id: ClassVar[str]

    def act(self, obs: torch.Tensor, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """obs float32 [N, *observation_shape] (plane 0 side to move), legal_mask bool [N, A] -> int64 [N]."""
        ...

    def state_dict(self) -> dict:
        """All of the agent's training state (networks, optimizers, schedules, counters, streams)."""
        ...

    def load_state_dict(self, state: dict) -> None: ...

    def checkpoint(self, extra: dict | None = None) -> dict:
        """The model file's contents: everything ``load_agent`` needs, plus ``extra``."""
        ...


class Learner(Protocol):
    """The training side of an agent, driven by ``Trainer.train`` once per batch step:
    ``act`` -> (versus step) -> ``observe`` -> (callbacks) -> ``learn``."""

    agent: Agent

    def act(self, state, legal: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Training-time moves for positions given as the game's ``State`` (``src.games.protocol``),
        legal bool [N, A] -> int64 [N]."""
        ...

    def observe(self, batch: dict[str, torch.Tensor]) -> None:
        """The batch step's transitions (see ``Versus.step``)."""
        ...

    def on_game_end(self, done: torch.Tensor, reward: torch.Tensor) -> None:
        """Games ``done`` (bool [N]) just ended with ``reward`` (float32 [N], the agent's side),
        before they restart (``Versus.step``)."""
        ...

    def learn(self) -> None:
        """This batch step's gradient updates (none until enough data is stored)."""
        ...

    def status_fields(self) -> dict:
        """status.json fields: ``epsilon`` (or None), ``learning_rate``, ``updates``, and ``loss``
        and ``mean_q`` (or the agent's own value statistic) averaged since ``reset_report``."""
        ...

    def reset_report(self) -> None:
        """Start a new window for the averaged status fields."""
        ...

    def distribute(self, dist) -> None:
        """Data-parallel training (``torchrun``), with ``dist`` a ``src.training.distributed.
        Distributed``: ``dist.wrap(module)`` returns ``module`` in DistributedDataParallel; use
        the wrapped module for the forward passes whose loss is back-propagated (gradients are
        then averaged over the ranks) and the raw one for everything else. Every rank must make
        the same number of updates at each batch step: a decision that depends on the rank's
        own data (enough stored to learn?) is agreed with ``dist.agree``. Called once, before
        training, and only with more than one process."""
        ...

    def state_dict(self, include_replay: bool = True) -> dict:
        """The whole learner state; ``include_replay=False`` leaves the replay ring's contents out."""
        ...

    def load_state_dict(self, state: dict) -> None: ...
