"""Gymnasium and PettingZoo adapters over the batched engine.

    import gymnasium, src.envs
    env = gymnasium.make("c4engine/Connect4-v0", opponent="heuristic")             # Connect4Env
    envs = gymnasium.make_vec("c4engine/Connect4-v0", num_envs=1024,
                              vectorization_mode="vector_entry_point")            # Connect4VectorEnv
    aec = src.envs.connect4_aec_env()                                            # PettingZoo AEC
    env = gymnasium.make("c4engine/Game-v0", game="connect4", opponent="random")    # GameEnv, any game

Importing this package registers ``c4engine/Connect4-v0`` when gymnasium is installed (extra
``gym``) and never fails for a missing optional library: the name that needs one raises an
ImportError saying what to install.
"""
from __future__ import annotations

import importlib
import importlib.util

ENV_ID = "c4engine/Connect4-v0"
GAME_ENV_ID = "c4engine/Game-v0"
_EXTRA = {"gymnasium": "gym", "pettingzoo": "pettingzoo"}
_WHERE = {"Connect4Env": ("src.envs.connect4_gym", "gymnasium"),
          "Connect4VectorEnv": ("src.envs.connect4_gym", "gymnasium"),
          "GameEnv": ("src.envs.gym_env", "gymnasium"), "GameVectorEnv": ("src.envs.gym_env", "gymnasium"),
          "RawConnect4AEC": ("src.envs.connect4_pettingzoo", "pettingzoo"),
          "RawGameAEC": ("src.envs.pettingzoo_env", "pettingzoo")}


def _missing(library: str) -> ImportError:
    return ImportError(f"{library} is not installed; install it with: pip install -e '.[{_EXTRA[library]}]'")


def _load(name: str):
    module, library = _WHERE[name]
    if importlib.util.find_spec(library) is None:
        raise _missing(library)
    return getattr(importlib.import_module(module), name)


def connect4_aec_env(*args, **kwargs):
    """``connect4_aec_env(rows=6, cols=7, render_mode=None)``: a PettingZoo AEC Connect4 for two
    learning agents (``player_0``, ``player_1``) with the observations of PettingZoo's classic
    ``connect_four``; see ``src.envs.connect4_pettingzoo``. Needs the ``pettingzoo`` extra."""
    if importlib.util.find_spec("pettingzoo") is None:
        raise _missing("pettingzoo")
    from src.envs.connect4_pettingzoo import connect4_aec_env as make

    return make(*args, **kwargs)


def game_aec_env(game: str = "connect4", render_mode: str | None = None, **game_params):
    """A PettingZoo AEC of any registered game (``src.envs.pettingzoo_env.RawGameAEC``); needs
    the ``pettingzoo`` extra."""
    if importlib.util.find_spec("pettingzoo") is None:
        raise _missing("pettingzoo")
    from src.envs.pettingzoo_env import game_aec_env as make

    return make(game, render_mode, **game_params)


def __getattr__(name: str):
    if name in _WHERE:
        return _load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register() -> None:
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point="src.envs.connect4_gym:Connect4Env",
                           vector_entry_point="src.envs.connect4_gym:Connect4VectorEnv")
    if GAME_ENV_ID not in gymnasium.registry:  # any registered game: game="othello", game_params={...}
        gymnasium.register(GAME_ENV_ID, entry_point="src.envs.gym_env:GameEnv",
                           vector_entry_point="src.envs.gym_env:GameVectorEnv")


if importlib.util.find_spec("gymnasium") is not None:
    _register()

__all__ = ["ENV_ID", "GAME_ENV_ID", "Connect4Env", "Connect4VectorEnv", "GameEnv", "GameVectorEnv",
           "connect4_aec_env", "game_aec_env"]
