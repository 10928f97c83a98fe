"""Small pieces every agent class shares."""
from __future__ import annotations

import torch


def restore_generator(generator: torch.Generator, state: dict) -> None:
    """Set ``generator`` from ``state["generator"]`` when there is one that fits: a CUDA
    generator's state does not fit a CPU one (a checkpoint loaded on another device), and then
    the agent keeps its own stream."""
    if "generator" in state:
        try:
            generator.set_state(state["generator"].cpu())
        except (RuntimeError, TypeError):
            pass


def checkpoint_dict(agent, extra: dict | None = None) -> dict:
    """A model file's contents: everything ``load_agent`` needs to rebuild ``agent``, plus ``extra``
    (step, episode, game...)."""
    return {"format": agent.CHECKPOINT_FORMAT, "agent_id": agent.agent_id, "params": agent.params,
            "observation_shape": list(agent.observation_shape), "num_actions": agent.num_actions,
            "state": agent.state_dict(), **(extra or {})}
