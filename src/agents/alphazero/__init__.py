"""The AlphaZero agent: for now its batched tree search (``docs/mcts.md``)."""
from src.agents.alphazero.mcts import BatchedMCTS, Evaluate, SearchResult

__all__ = ["BatchedMCTS", "Evaluate", "SearchResult"]
