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


def gradient_step(agent, loss: torch.Tensor, clip=None) -> None:
    """One optimizer step of ``agent`` on ``loss``: zero the gradients, backpropagate, clip the
    gradient norm of ``agent.online`` at ``params["max_grad_norm"]`` (None: no clip) with ``clip``
    (``clip_grad_norm_`` when None; a compiled one, e.g.), step, and count the update."""
    agent.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if agent.params["max_grad_norm"] is not None:
        (clip or torch.nn.utils.clip_grad_norm_)(list(agent.online.parameters()), agent.params["max_grad_norm"])
    agent.optimizer.step()
    agent.num_updates += 1


def checkpoint_dict(agent, extra: dict | None = None) -> dict:
    """A model file's contents: everything ``load_agent`` needs to rebuild ``agent``, plus ``extra``
    (step, episode, game...)."""
    return {"format": agent.CHECKPOINT_FORMAT, "agent_id": agent.agent_id, "params": agent.params,
            "observation_shape": list(agent.observation_shape), "num_actions": agent.num_actions,
            "state": agent.state_dict(), **(extra or {})}


def clip_foreach(parameters: list, max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` with the foreach ops (one op over all gradients), for torch.compile."""
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, foreach=True)
