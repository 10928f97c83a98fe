"""How many games (or search nodes) fit in this machine's memory, for range errors before a run.

The sizes here are lower bounds: what each game needs at the least (its bitboards, legal mask
and observation planes; with a tree search, the tree arrays of ``kernels/mcts_*.py``). A value
whose lower bound already exceeds the available memory cannot fit, so refusing it up front
turns a MemoryError mid-run into a one-line range error; a value just below the bound may still
fail later (the networks, the replay ring and the allocator's overhead are not counted).
"""
from __future__ import annotations

from src.config.schema import ConfigError


def available_bytes(device: str | None = None) -> int:
    """Free memory of ``device`` ('cpu' / None: the host's available RAM; 'cuda[:N]': that GPU's)."""
    if device is not None and str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def game_bytes(rules) -> int:
    """Bytes one game of ``rules`` (a ``Game``) needs at the least: its state words (int64), the
    legal mask (bool [A]) and the float32 observation planes the agent is fed."""
    cells = 1
    for d in rules.observation_shape:
        cells *= d
    return 8 * len(rules.State._fields) + rules.num_actions + 4 * cells


def tree_bytes(simulations: int, rules) -> int:
    """Bytes of one game's search tree with ``simulations`` simulations (``init_tree``: per node
    the state words, value (8 B each) and terminal (1 B); per child index (4 B), prior (8 B),
    visits (4 B) and value sum (8 B))."""
    return (simulations + 1) * (8 * len(rules.State._fields) + 9 + 24 * rules.num_actions)


def check_fits(count: int, bytes_each: int, key: str, what: str, device: str | None = None,
               extra: int = 0) -> None:
    """ConfigError naming ``key`` when ``count`` items (plus ``extra`` the user does not count,
    e.g. a tree's root node) of ``bytes_each`` bytes cannot fit in ``device``'s free memory; the
    message gives the largest count that might."""
    free = available_bytes(device)
    if (count + extra) * bytes_each > free:
        largest = max(free // bytes_each - extra, 0)
        raise ConfigError(key, f"{count} {what} cannot fit in memory: each needs at least {bytes_each} bytes and "
                          f"{'this GPU' if device and str(device).startswith('cuda') else 'this machine'} has "
                          f"{free / 2 ** 30:.1f} GiB available; the largest value that fits is at most {largest}")
