"""Batched opponents: ``make_opponent('search:4', geometry, device, backend, seed).act(cur, mask[, active])``.

Definitions and the spec syntax: ``docs/opponents.md``.
"""
from src.opponents.base import Opponent
from src.opponents.heuristics import HeuristicOpponent, RandomOpponent, SearchOpponent, SmartHeuristicOpponent
from src.opponents.solver import DepthSolverOpponent, SolverOpponent, SolverUnavailable
from src.opponents.spec import (DEFAULT_SEARCH_DEPTH, OPPONENT_NAMES, OPPONENTS, SOLVER_OPPONENTS,
                                check_opponent_usable, format_opponent_spec, make_opponent, parse_opponent_spec)

__all__ = ["Opponent", "RandomOpponent", "HeuristicOpponent", "SmartHeuristicOpponent", "SearchOpponent",
           "SolverOpponent", "DepthSolverOpponent", "SolverUnavailable", "SOLVER_OPPONENTS", "check_opponent_usable",
           "OPPONENTS", "OPPONENT_NAMES", "DEFAULT_SEARCH_DEPTH", "make_opponent", "parse_opponent_spec",
           "format_opponent_spec"]
