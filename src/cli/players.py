"""What the ``evaluate`` and ``play`` commands accept as a player: a checkpoint or an opponent name.

A ``Player`` exposes both interfaces the library uses: ``agent`` (``act(obs, legal_mask,
deterministic=True)`` over observation planes, as ``load_agent`` returns) and ``opponent``
(``act(*state, active=None)`` over the game's state words, as ``make_opponent`` returns), and
the ``game`` (the ``Game`` protocol's rules) it plays.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch



class PlayerError(ValueError):
    """Neither a usable checkpoint nor a known opponent name."""


class OpponentAsAgent:
    """An opponent (state words in) behind the agent interface (observation planes in)."""

    def __init__(self, opponent, game):
        """``game``: the ``Game`` played (a Connect4 ``Geometry`` is taken for its board)."""
        from src.games import as_game

        self.opponent, self.game = opponent, as_game(game, getattr(opponent, "device", "cpu"))
        if getattr(opponent, "solver", None) is not None:  # solver opponents can show their scores
            self.action_values = self._solver_values

    def _solver_values(self, obs: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
        """float32 [N, A]: the solver's score of each action (positive: a win, larger sooner)."""
        state = self.game.from_observation(obs)
        return torch.tensor([self.opponent.solver.scores(*(int(w) for w in words)) for words in zip(*state)],
                            dtype=torch.float32)

    def act(self, obs: torch.Tensor, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        return self.opponent.act(*self.game.from_observation(obs))


@dataclass
class Player:
    label: str  # for headers: the checkpoint path and step, or the opponent spec
    kind: str  # short: 'agent' or the opponent spec
    agent: Any  # act(obs, legal_mask, deterministic=True)
    opponent: Any  # act(*state, active=None)
    game: Any  # the Game (rules) it plays
    checkpoint: dict | None = None


def load_player(spec: str, device: torch.device, seed: int = 0, game=None,
                simulations: int | None = None) -> Player:
    """A checkpoint path (``*.pt`` or an existing file), ``bundled`` (the agent that comes with the
    repository) or an opponent name (``search:4``, ``perfect``).
    ``simulations`` overrides a search agent's simulations per move (``load_agent``); it is an
    error for an agent without search or an opponent name.

    ``game``: the game the player must play (the other player's), None: the checkpoint's, or
    for an opponent name the default game.

    Raises CheckpointError for an unusable checkpoint, PlayerError for an unknown name or a
    checkpoint of another game, ValueError or SolverUnavailable (RuntimeError) for a solver
    opponent that cannot play here.
    """
    from src.games import DEFAULT_GAME, make_rules, rules_for
    from src.games.backends import resolve_backend
    from src.training.evaluation import AgentOpponent, is_checkpoint_spec

    if is_checkpoint_spec(spec) or Path(spec).is_file():
        from src.agents import agent_from_checkpoint, read_checkpoint

        ckpt = read_checkpoint(spec)
        mine = rules_for(ckpt.get("game"), ckpt["observation_shape"], device, resolve_backend(None, device))
        if game is not None and (mine.game_id, mine.params) != (game.game_id, game.params):
            raise PlayerError(f"{spec} plays {_describe(mine)}, not {_describe(game)}")
        agent = agent_from_checkpoint(ckpt, device, simulations)
        name = "the bundled agent" if spec == "bundled" else spec
        label = f"{name} (step {ckpt.get('step', '?')}" + (")" if simulations is None else f", {simulations} simulations)")
        mine = mine.with_seed(seed)
        return Player(label, "agent", agent, AgentOpponent(agent, mine), mine, ckpt)
    from src.opponents import check_opponent_usable, make_opponent, parse_opponent_spec

    if simulations is not None:
        raise PlayerError(f"--simulations applies to a search agent's checkpoint, not to the opponent {spec!r}")
    try:
        parse_opponent_spec(spec)
    except ValueError as e:
        raise PlayerError(f"{spec!r} is neither a checkpoint file nor an opponent name ({e})") from None
    g = game if game is not None else make_rules(DEFAULT_GAME, device, resolve_backend(None, device))
    check_opponent_usable(spec, g)
    opponent = make_opponent(spec, g, device, None, seed)
    return Player(f"opponent {opponent.spec}", opponent.spec, OpponentAsAgent(opponent, g), opponent, g)


def _describe(game) -> str:
    """``6x7 boards`` (Connect4) or ``othello``: a game and its params, for messages."""
    from src.games import describe_game

    return describe_game(game.game_id, game.params)
