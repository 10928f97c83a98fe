"""Trainer callbacks.

Hook points, called by ``Trainer.train`` in this order:

* ``on_train_start(trainer)`` - once, after the first reset, before the first batch step;
* ``on_step(trainer, batch)`` - after every batch step (``trainer.step`` has already advanced by
  ``trainer.steps_per_batch`` agent transitions: ``num_envs`` times the world size; ``batch`` holds the step's transitions, ``batch["done"]``
  marks the games that ended);
* ``on_status(trainer, fields)`` - whenever status.json is written, may add fields;
* ``on_step_end(trainer)`` - at the end of every batch step, after learning, evaluation and
  status: every component is at the same batch-step boundary, so a checkpoint taken here holds
  a state the loop can resume from exactly;
* ``on_train_end(trainer, status)`` - once, with the final status (completed or stopped).

A callback with counters of its own returns them from ``state_dict()`` (saved in every
checkpoint's training state) and takes them back in ``load_state_dict()`` on resume.

Interval callbacks fire when ``trainer.step`` crosses a multiple of their interval; a batch
step that crosses several multiples fires once (lr_decay applies each crossed decay).
"""
from __future__ import annotations

import math

import torch


class Callback:
    def on_train_start(self, trainer) -> None: ...

    def on_step(self, trainer, batch: dict) -> None: ...

    def on_status(self, trainer, fields: dict) -> None: ...

    def on_step_end(self, trainer) -> None: ...

    def on_train_end(self, trainer, status: str) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


def crossed(prev_step: int, step: int, interval: int) -> int:
    """How many multiples of ``interval`` lie in (prev_step, step]."""
    return step // interval - prev_step // interval


class CheckpointCallback(Callback):
    """Saves ``checkpoints/<prefix>_<step>.pt`` (the model, for ``load_agent``) and
    ``state/state_<step>.pt`` (the whole training state, for ``--resume``) each time ``step``
    crosses a multiple of ``interval``, and a final pair at the end (completed or stopped)
    unless that step is saved. Saves at the end of the batch step (``on_step_end``), so the
    model includes that step's updates. Only the newest ``keep_last`` state files are kept."""

    def __init__(self, interval: int = 2000, prefix: str = "model", keep_last: int = 2):
        self.interval, self.prefix, self.keep_last = interval, prefix, keep_last
        self.last_saved: int | None = None

    def on_step_end(self, trainer) -> None:
        if crossed(trainer.step - trainer.steps_per_batch, trainer.step, self.interval):
            self.save(trainer)

    def on_train_end(self, trainer, status) -> None:
        if self.last_saved != trainer.step:
            self.save(trainer)

    def save(self, trainer) -> None:
        self.last_saved = trainer.step  # first: the saved state must hold it
        trainer.save_checkpoint(self.prefix, keep_last=self.keep_last)

    def state_dict(self) -> dict:
        return {"last_saved": self.last_saved}

    def load_state_dict(self, state: dict) -> None:
        self.last_saved = state["last_saved"]


class EpsilonDecayCallback(Callback):
    """epsilon <- max(epsilon_min, epsilon * epsilon_decay) per agent step (``every: step``) or
    per finished game (``every: episode``). A batch step of N games is N agent steps, so the
    decay is applied N times (decay ** N); computed on the device, no synchronisation.
    Only for agents registered with ``epsilon=True`` (the config refuses it otherwise)."""

    def __init__(self, every: str = "step"):
        self.every = every

    def on_step(self, trainer, batch) -> None:
        agent = trainer.agent
        if self.every == "step":
            agent.epsilon.mul_(agent.epsilon_decay ** trainer.steps_per_batch)
        else:  # decay ** n_done as exp(n_done * log(decay)), without leaving the device
            # with several ranks: this rank's finished games times the world size (an
            # estimate of all ranks' count that needs no collective per batch step)
            n_done = batch["done"].sum().to(agent.epsilon.dtype) * trainer.world_size
            agent.epsilon.mul_(torch.exp(n_done * math.log(agent.epsilon_decay)))
        agent.epsilon.clamp_(min=agent.epsilon_min)


class LRDecayCallback(Callback):
    """Every ``interval_steps`` agent steps multiply the learning rate of
    ``getattr(agent, optimizer_attr)`` by ``decay_factor``, not below ``min_lr``; reports the
    current rate in status.json under ``metric_key``. ``optimizer_attr`` is one of the agent's
    registered ``optimizer_attrs`` (checked with the config)."""

    def __init__(self, interval_steps: int = 5000, decay_factor: float = 0.5, min_lr: float = 0.0,
                 optimizer_attr: str = "optimizer", metric_key: str = "learning_rate"):
        self.interval_steps, self.decay_factor, self.min_lr = interval_steps, decay_factor, min_lr
        self.optimizer_attr, self.metric_key = optimizer_attr, metric_key

    def _optimizer(self, trainer):
        return getattr(trainer.agent, self.optimizer_attr)

    def on_step(self, trainer, batch) -> None:
        k = crossed(trainer.step - trainer.steps_per_batch, trainer.step, self.interval_steps)
        if k:
            for group in self._optimizer(trainer).param_groups:
                group["lr"] = max(self.min_lr, group["lr"] * self.decay_factor ** k)

    def on_status(self, trainer, fields) -> None:
        fields[self.metric_key] = self._optimizer(trainer).param_groups[0]["lr"]


class OpeningScheduleCallback(Callback):
    """From ``from_step`` on, new self-play games open with k ~ uniform{0..``plies``} random
    moves (the learner's ``random_opening_plies``; the games already running keep theirs, except
    that with 0 every move from then on is searched). A
    pure function of ``trainer.step``, so a resumed run applies it again from its step."""

    def __init__(self, from_step: int = 0, plies: int = 0):
        self.from_step, self.plies = from_step, plies

    def _apply(self, trainer) -> None:
        if trainer.step >= self.from_step:
            trainer.learner.params["random_opening_plies"] = self.plies

    def on_train_start(self, trainer) -> None:
        self._apply(trainer)

    def on_step(self, trainer, batch) -> None:
        self._apply(trainer)

    def on_status(self, trainer, fields) -> None:
        fields["random_opening_plies"] = trainer.learner.params["random_opening_plies"]


def build_callbacks(configs: list[dict]) -> list[Callback]:
    """Callbacks from the validated ``train.callbacks`` list; a checkpoint callback is always
    present (a ``checkpoint`` entry overrides its interval and prefix)."""
    out: list[Callback] = []
    has_checkpoint = False
    for cb in configs:
        if cb["type"] == "checkpoint":
            # the checkpoint callback cannot be switched off, only configured
            has_checkpoint = True
            out.append(CheckpointCallback(**cb["params"]))
        elif not cb["enabled"]:
            continue
        elif cb["type"] == "epsilon_decay":
            out.append(EpsilonDecayCallback(**cb["params"]))
        elif cb["type"] == "lr_decay":
            out.append(LRDecayCallback(**cb["params"]))
        elif cb["type"] == "opening_schedule":
            out.append(OpeningScheduleCallback(**cb["params"]))
    if not has_checkpoint:
        out.insert(0, CheckpointCallback())
    return out
