"""Gymnasium and PettingZoo adapters over the batched engine.

    import gymnasium, src.envs
    env = gymnasium.make("c4engine/Connect4-v0", opponent="heuristic")             # Connect4Env
    envs = gymnasium.make_vec("c4engine/Connect4-v0", num_envs=1024,
                              vectorization_mode="vector_entry_point")            # Connect4VectorEnv
    aec = src.envs.connect4_aec_env()                                            # PettingZoo AEC

Importing this package registers ``c4engine/Connect4-v0`` when gymnasium is installed (extra
``gym``) and never fails for a missing optional library: the name that needs one raises an
ImportError saying what to install.
"""
from __future__ import annotations

import importlib
import importlib.util

ENV_ID = "c4engine/Connect4-v0"
_EXTRA = {"gymnasium": "gym", "pettingzoo": "pettingzoo"}
_WHERE = {"Connect4Env": ("src.envs.gym_env", "gymnasium"), "Connect4VectorEnv": ("src.envs.gym_env", "gymnasium"),
          "RawConnect4AEC": ("src.envs.pettingzoo_env", "pettingzoo")}


def _missing(library: str) -> ImportError:
    return ImportError(f"{library} is not installed; install it with: pip install -e '.[{_EXTRA[library]}]'")


def _load(name: str):
    module, library = _WHERE[name]
    if importlib.util.find_spec(library) is None:
        raise _missing(library)
    return getattr(importlib.import_module(module), name)


def connect4_aec_env(rows: int = 6, cols: int = 7, render_mode: str | None = None):
    """A PettingZoo AEC Connect4 for two learning agents (``player_0``, ``player_1``) with the
    observations of PettingZoo's classic ``connect_four``; see ``src.envs.pettingzoo_env``.
    Needs the ``pettingzoo`` extra."""
    if importlib.util.find_spec("pettingzoo") is None:
        raise _missing("pettingzoo")
    from src.envs.pettingzoo_env import connect4_aec_env as make

    return make(rows, cols, render_mode)


def __getattr__(name: str):
    if name in _WHERE:
        return _load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register() -> None:
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point="src.envs.gym_env:Connect4Env",
                           vector_entry_point="src.envs.gym_env:Connect4VectorEnv")


if importlib.util.find_spec("gymnasium") is not None:
    _register()

__all__ = ["ENV_ID", "Connect4Env", "Connect4VectorEnv", "connect4_aec_env"]
