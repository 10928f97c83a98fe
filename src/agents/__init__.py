"""Agents: a registry and ``load_agent`` for checkpoints.

Every agent class in ``AGENTS`` has ``state_dict()`` / ``load_state_dict()`` covering all of its
training state (networks, target networks, optimizers with their learning rates, exploration
schedule, update counters and random streams): the trainer saves it in each checkpoint's
training state, and a resumed run continues exactly only if nothing is left out
(``tests/training/test_resume.py`` checks every registered agent)."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from src.agents.dqn import CHECKPOINT_FORMAT, DQNAgent

AGENTS = {"dqn": DQNAgent}


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not one of ours."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at ``path`` (tensors on the CPU); CheckpointError when unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint of this project (expected format {CHECKPOINT_FORMAT})")
    return ckpt


def agent_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu"):
    cls = AGENTS[ckpt["agent_id"]]
    params = dict(ckpt["params"])
    agent = cls(params, tuple(ckpt["observation_shape"]), ckpt["num_actions"], device=device, seed=0)
    agent.load_state_dict(_to_device(ckpt["state"], torch.device(device)))
    return agent


def load_agent(path: str | Path, device: str | torch.device = "cpu"):
    """Load any checkpoint written by the trainer; returns an agent with
    ``act(obs, legal_mask, deterministic=True) -> int64 [N]`` for observations from ``make_game``."""
    return agent_from_checkpoint(read_checkpoint(path), device)


def _to_device(state, device):
    if isinstance(state, dict):
        return {k: (v if k == "generator" else _to_device(v, device)) for k, v in state.items()}
    if isinstance(state, torch.Tensor):
        return state.to(device)
    return state


__all__ = ["AGENTS", "DQNAgent", "load_agent", "read_checkpoint", "agent_from_checkpoint", "CheckpointError"]
