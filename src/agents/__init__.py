"""Agents: the registry (``agent.id`` -> agent class, learner class, params schema) and ``load_agent``.

What the project needs of an agent is in ``src.agents.protocol``: ``Agent`` (acting, state,
checkpoint) and ``Learner`` (what the trainer drives). Every agent class in ``AGENTS`` has ``state_dict()`` / ``load_state_dict()`` covering all of its
training state (networks, target networks, optimizers with their learning rates, exploration
schedule, update counters and random streams): the trainer saves it in each checkpoint's
training state, and a resumed run continues exactly only if nothing is left out
(``tests/training/test_resume.py`` checks every registered agent)."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from dataclasses import dataclass
from typing import Callable

from src.agents.alphazero.agent import AZ_PARAMS, AlphaZeroAgent, check_az_params
from src.agents.alphazero.learner import AlphaZeroLearner
from src.agents.dqn import CHECKPOINT_FORMAT, DQN_PARAMS, DQNAgent, check_dqn_params
from src.agents.dqn_learner import DQNLearner
from src.config.schema import Schema


@dataclass(frozen=True)
class AgentEntry:
    """One registered agent family."""

    agent_cls: type  # the Agent: what load_agent builds from a checkpoint
    learner_cls: type  # the Learner the trainer drives (builds its own agent)
    params: Schema  # agent.params
    optimizer_attrs: tuple[str, ...] = ("optimizer",)  # what lr_decay's optimizer_attr may name
    epsilon: bool = False  # has epsilon / epsilon_decay / epsilon_min (the epsilon_decay callback applies)
    check: Callable[[dict, str], None] | None = None  # checks across params (ConfigError), after the schema
    self_play: bool = False  # its learner makes the `self_play` opponent sampler


AGENTS: dict[str, AgentEntry] = {
    "dqn": AgentEntry(DQNAgent, DQNLearner, DQN_PARAMS, optimizer_attrs=("optimizer",), epsilon=True,
                      check=check_dqn_params),
    "alphazero": AgentEntry(AlphaZeroAgent, AlphaZeroLearner, AZ_PARAMS, optimizer_attrs=("optimizer",),
                            check=check_az_params, self_play=True),
}


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not one of ours."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at ``path`` (tensors on the CPU), or of the agent named ``bundled``
    (``src.agents.pretrained``); CheckpointError when unusable."""
    from src.agents.pretrained import resolve_name

    path = resolve_name(path) or Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (PermissionError, IsADirectoryError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, ImportError, IndexError, KeyError, TypeError):
        # torch's own messages here ("[Errno 22] Invalid argument", "Memo value not found at
        # index 101") say nothing a user can act on
        raise CheckpointError(f"not a checkpoint (truncated or not a torch file): {path}") from None
    formats = {entry.agent_cls.CHECKPOINT_FORMAT: aid for aid, entry in AGENTS.items()}
    if not isinstance(ckpt, dict) or formats.get(ckpt.get("format")) != ckpt.get("agent_id"):
        raise CheckpointError(f"{path} is not a checkpoint of this project (expected one of the formats "
                              f"{', '.join(formats)})")
    return ckpt


def agent_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu", simulations: int | None = None):
    """The agent of a checkpoint dict; ``simulations`` overrides a search agent's simulations per
    move (0: its raw policy) and is refused for an agent without search."""
    cls = AGENTS[ckpt["agent_id"]].agent_cls
    params = dict(ckpt["params"])
    extra = {}
    if simulations is not None:
        if not AGENTS[ckpt["agent_id"]].self_play:
            raise CheckpointError(f"simulations: a {ckpt['agent_id']} agent does not search")
        if isinstance(simulations, bool) or not isinstance(simulations, int) or simulations < 0:
            raise CheckpointError(f"simulations must be a non-negative integer, got {simulations!r}")
        extra["simulations"] = simulations
    from src.games import rules_for

    # the game the agent plays: the one the checkpoint records (older ones: the default game of its shape)
    game = rules_for(ckpt.get("game"), tuple(ckpt["observation_shape"]), torch.device(device), "torch")
    agent = cls(params, tuple(ckpt["observation_shape"]), ckpt["num_actions"], device=device, seed=0, game=game,
                **extra)
    agent.load_state_dict(_to_device(ckpt["state"], torch.device(device)))
    return agent


def load_agent(path: str | Path, device: str | torch.device = "cpu", simulations: int | None = None):
    """Load any checkpoint written by the trainer (or ``"bundled"``, the agent that comes with
    the repository); returns an agent with
    ``act(obs, legal_mask, deterministic=True) -> int64 [N]`` for observations from ``make_game``.
    For an AlphaZero checkpoint ``simulations`` overrides the search's simulations per move
    (default: the checkpoint's ``act_simulations``; 0 plays the raw policy)."""
    return agent_from_checkpoint(read_checkpoint(path), device, simulations)


def _to_device(state, device):
    if isinstance(state, dict):
        return {k: (v if k == "generator" else _to_device(v, device)) for k, v in state.items()}
    if isinstance(state, torch.Tensor):
        return state.to(device)
    return state


__all__ = ["AGENTS", "AgentEntry", "DQNAgent", "DQNLearner", "load_agent", "read_checkpoint", "agent_from_checkpoint", "CheckpointError"]
