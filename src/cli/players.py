"""What the ``evaluate`` and ``play`` commands accept as a player: a checkpoint or an opponent name.

A ``Player`` exposes both interfaces the library uses: ``agent`` (``act(obs, legal_mask,
deterministic=True)`` over observation planes, as ``load_agent`` returns) and ``opponent``
(``act(cur, mask, active=None)`` over bitboards, as ``make_opponent`` returns).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kernels.geometry import Geometry


class PlayerError(ValueError):
    """Neither a usable checkpoint nor a known opponent name."""


class OpponentAsAgent:
    """An opponent (bitboards in) behind the agent interface (observation planes in)."""

    def __init__(self, opponent, geometry: Geometry):
        self.opponent, self.geometry = opponent, geometry
        g = geometry
        bits = [[1 << (c * g.height + r) for c in range(g.cols)] for r in range(g.rows)]
        self._bits = torch.tensor(bits, dtype=torch.int64)  # [rows, cols]: each cell's bit
        if getattr(opponent, "solver", None) is not None:  # solver opponents can show their scores
            self.action_values = self._solver_values

    def _solver_values(self, obs: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
        """float32 [N, cols]: the solver's score of each column (positive: a win, larger sooner)."""
        cur, mask = self._bitboards(obs)
        return torch.tensor([self.opponent.solver.scores(c, m) for c, m in zip(cur.tolist(), mask.tolist())],
                            dtype=torch.float32)

    def _bitboards(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bits = self._bits.to(obs.device)
        cur = ((obs[:, 0] > 0.5).long() * bits).sum(dim=(1, 2))
        other = ((obs[:, 1] > 0.5).long() * bits).sum(dim=(1, 2))
        return cur, cur | other

    def act(self, obs: torch.Tensor, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        cur, mask = self._bitboards(obs)
        return self.opponent.act(cur, mask)


@dataclass
class Player:
    label: str  # for headers: the checkpoint path and step, or the opponent spec
    kind: str  # short: 'agent' or the opponent spec
    agent: Any  # act(obs, legal_mask, deterministic=True)
    opponent: Any  # act(cur, mask, active=None)
    geometry: Geometry
    checkpoint: dict | None = None


def load_player(spec: str, device: torch.device, seed: int = 0, geometry: Geometry | None = None,
                simulations: int | None = None) -> Player:
    """A checkpoint path (``*.pt`` or an existing file), ``bundled`` (the agent that comes with the
    repository) or an opponent name (``search:4``, ``perfect``).
    ``simulations`` overrides a search agent's simulations per move (``load_agent``); it is an
    error for an agent without search or an opponent name.

    Raises CheckpointError for an unusable checkpoint, PlayerError for an unknown name, ValueError
    or SolverUnavailable (RuntimeError) for a solver opponent that cannot play here.
    """
    from src.games.backends import make_ops, resolve_backend
    from src.training.evaluation import AgentOpponent, is_checkpoint_spec

    if is_checkpoint_spec(spec) or Path(spec).is_file():
        from src.agents import agent_from_checkpoint, read_checkpoint

        ckpt = read_checkpoint(spec)
        game = ckpt.get("game", {"params": {"rows": 6, "cols": 7}})["params"]
        g = Geometry(game["rows"], game["cols"])
        if geometry is not None and geometry != g:
            raise PlayerError(f"{spec} plays {g.rows}x{g.cols} boards, not {geometry.rows}x{geometry.cols}")
        agent = agent_from_checkpoint(ckpt, device, simulations)
        name = "the bundled agent" if spec == "bundled" else spec
        label = f"{name} (step {ckpt.get('step', '?')}" + (")" if simulations is None else f", {simulations} simulations)")
        ops = make_ops(g, device, resolve_backend(None, device), seed)
        return Player(label, "agent", agent, AgentOpponent(agent, ops), g, ckpt)
    from src.opponents import check_opponent_usable, make_opponent, parse_opponent_spec

    if simulations is not None:
        raise PlayerError(f"--simulations applies to a search agent's checkpoint, not to the opponent {spec!r}")
    try:
        parse_opponent_spec(spec)
    except ValueError as e:
        raise PlayerError(f"{spec!r} is neither a checkpoint file nor an opponent name ({e})") from None
    g = geometry if geometry is not None else Geometry()
    check_opponent_usable(spec, g)
    opponent = make_opponent(spec, g, device, None, seed)
    return Player(f"opponent {opponent.spec}", opponent.spec, OpponentAsAgent(opponent, g), opponent, g)
