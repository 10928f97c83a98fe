"""Connect4's PettingZoo AEC: ``RawGameAEC`` on Connect4 with the observations of PettingZoo's
classic ``connect_four_v3`` (``int8 [rows, cols, 2]``, row 0 the TOP row; the engine's planes
have row 0 at the bottom). An illegal move (a full column or one out of range) loses: -1 to the
mover, +1 to the other agent (classic ``connect_four_v3`` gives the other agent 0 there)."""
from __future__ import annotations

from pettingzoo.utils import wrappers

from src.envs.pettingzoo_env import RawGameAEC


class RawConnect4AEC(RawGameAEC):
    metadata = {**RawGameAEC.metadata, "name": "c4engine_connect4_v0"}
    flip_rows = True

    def __init__(self, rows: int = 6, cols: int = 7, render_mode: str | None = None):
        super().__init__("connect4", render_mode, rows=rows, cols=cols)


def connect4_aec_env(rows: int = 6, cols: int = 7, render_mode: str | None = None):
    """The AEC environment, wrapped as PettingZoo's classic environments are (order enforcing)."""
    return wrappers.OrderEnforcingWrapper(RawConnect4AEC(rows, cols, render_mode))
