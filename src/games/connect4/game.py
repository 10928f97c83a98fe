"""Connect4 as a ``Game`` (``src.games.protocol``): the bitboard state ``(cur, mask)`` and its rules.

The state is two int64 words per game (``kernels.geometry``): ``cur`` the stones of the side
to move, ``mask`` all stones. Actions are the columns ``0..cols-1``; an action into a full
column (or out of range) is illegal. The rules run on Connect4's backend adapters
(``src.games.connect4.ops``: torch kernels on any device, numba ones on the CPU).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from kernels import connect4_numba as knb
from kernels import connect4_torch as kt
from kernels.geometry import Geometry
from src.games.connect4.ops import make_ops
from src.games.protocol import NumbaRules, Symmetry, shown_input

FEATURES = ("planes", "threats")


MAX_INPUT_DIGITS = 20  # any longer number is off every board


class C4State(NamedTuple):
    """cur: stones of the side to move, mask: all stones; int64 [N] each."""
    cur: torch.Tensor
    mask: torch.Tensor


def _popcount(x: torch.Tensor) -> torch.Tensor:
    """int64 [N]: set bits of non-negative int64 words (SWAR: tensor ops only, any device)."""
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56 & 0xFF


def _mirror(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


class Connect4:
    """Connect4 on a ``rows`` x ``cols`` board (the ``Game`` protocol); see the module docstring."""

    game_id = "connect4"
    State = C4State
    features = FEATURES

    def __init__(self, device: torch.device, backend: str, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32, rows: int = 6, cols: int = 7):
        self.geometry = Geometry(rows, cols)
        self.rows, self.cols = rows, cols
        self.device, self.backend, self.obs_dtype = device, backend, obs_dtype
        self._compile = compile
        self.ops = make_ops(self.geometry, device, backend, seed, compile, obs_dtype)
        self.params = {"rows": rows, "cols": cols}
        self.num_actions = cols
        self.observation_shape = (2, rows, cols)
        self.max_plies = rows * cols
        self.symmetries = (Symmetry("identity", lambda x: x, tuple(range(cols))),
                           Symmetry("mirror", _mirror, tuple(range(cols - 1, -1, -1))))

    # -- the Game protocol ------------------------------------------------------------------
    def init(self, n: int) -> C4State:
        z = torch.zeros(n, dtype=torch.int64, device=self.device)
        return C4State(z, torch.zeros_like(z))

    def play(self, state: C4State, actions: torch.Tensor, active: torch.Tensor | None = None):
        cur, mask, reward, done, illegal = self.ops.play(state.cur, state.mask, actions, active)
        return C4State(cur, mask), reward, done, illegal

    def step(self, state: C4State, actions: torch.Tensor):
        nxt, reward, done, _ = self.play(state, actions)
        return self.reset_where(nxt, done), reward, done

    def reset_where(self, state: C4State, done: torch.Tensor) -> C4State:
        zero = torch.zeros_like(state.cur)
        return C4State(torch.where(done, zero, state.cur), torch.where(done, zero, state.mask))

    def legal_mask(self, state: C4State) -> torch.Tensor:
        return self.ops.legal_mask(state.mask)

    def observe(self, state: C4State, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.ops.to_planes(state.cur, state.mask, dtype)

    def from_observation(self, obs: torch.Tensor) -> C4State:
        g = self.geometry
        bits = torch.tensor([[1 << (c * g.height + r) for c in range(g.cols)] for r in range(g.rows)],
                            dtype=torch.int64, device=obs.device)
        own = ((obs[:, 0] != 0).long() * bits).sum(dim=(1, 2))
        other = ((obs[:, 1] != 0).long() * bits).sum(dim=(1, 2))
        return C4State(own, own | other)

    def encode(self, state: C4State, features: str = "planes") -> torch.Tensor:
        if features == "threats":
            return kt.feature_planes(state.cur, state.mask, self.geometry)
        return self.observe(state)

    def feature_planes(self, features: str = "planes") -> int:
        return 5 if features == "threats" else 2

    def ply(self, state: C4State) -> torch.Tensor:
        return _popcount(state.mask)

    def to_move(self, state: C4State) -> torch.Tensor:
        return _popcount(state.mask) & 1

    def random_actions(self, state: C4State) -> torch.Tensor:
        return self.ops.random_legal_actions(state.mask)

    def env_step(self, state: C4State, actions: torch.Tensor):
        cur, mask, obs, reward, done, illegal = self.ops.step_autoreset(state.cur, state.mask, actions)
        return C4State(cur, mask), obs, reward, done, illegal

    def numba_rules(self) -> NumbaRules:
        play, is_legal = knb.search_rules(self.geometry)
        return NumbaRules(num_actions=self.cols, num_words=2, max_plies=self.max_plies, play=play, is_legal=is_legal,
                          key=f"connect4:{self.rows}x{self.cols}")

    def fused_minibatch(self, replay, features: str, gamma: float):
        """The numba minibatch (``src.games.connect4.minibatch``) on the numba backend with a CPU
        ring, else None (the generic torch path)."""
        if self.backend != "numba" or replay.device.type != "cpu":
            return None
        from src.games.connect4.minibatch import NumbaMinibatch

        return NumbaMinibatch(replay, self.geometry, self.feature_planes(features), gamma)

    def random_openings(self, n: int, plies: int, seed: int) -> C4State:
        """``n`` live positions (CPU) after ``plies`` random moves (``src.games.connect4.openings``)."""
        from src.games.connect4.openings import random_openings

        return C4State(*random_openings(n, plies, self.geometry, seed))

    def render(self, state: C4State, i: int = 0) -> str:
        """X = first player, O = second player, row 0 at the bottom, column numbers 1..cols below."""
        rows, cols, h = self.rows, self.cols, self.rows + 1
        cur, mask = int(state.cur[i]), int(state.mask[i])
        first = cur if bin(mask).count("1") % 2 == 0 else cur ^ mask
        lines = []
        for r in range(rows - 1, -1, -1):
            cells = []
            for c in range(cols):
                bit = 1 << (c * h + r)
                cells.append("." if not mask & bit else ("X" if first & bit else "O"))
            lines.append(" " + " ".join(f"{x:>{len(str(c + 1))}}" for c, x in zip(range(cols), cells)))
        lines.append(" " + " ".join(str(c + 1) for c in range(cols)))
        return "\n".join(lines)

    def parse_action(self, text: str) -> int | None:
        text = text.strip()
        if not text.isdigit() or not 1 <= int(text) <= self.cols:
            return None
        return int(text) - 1

    def action_name(self, action: int) -> str:
        return str(action + 1)

    @property
    def move_help(self) -> str:
        return f"1-{self.cols}"

    def read_move(self, text: str, legal) -> int | str:
        """A column number 1..cols -> its action, or what is wrong (not a number, off the board, full)."""
        cols = self.cols
        if not text:
            return f"type a column number from 1 to {cols} (or q to quit)"
        # a long run of digits is no column either (and int() refuses over 4,300 digits)
        if not text.lstrip("+-").isdigit() or len(text) > MAX_INPUT_DIGITS:
            return f"{shown_input(text)!r} is not a column number: type 1 to {cols} (or q to quit)"
        col = int(text)
        if not 1 <= col <= cols:
            return f"column {col} is off the board: type 1 to {cols}"
        if not legal[col - 1]:
            return f"column {col} is full: choose another"
        return col - 1

    def with_seed(self, seed: int | None) -> "Connect4":
        return Connect4(self.device, self.backend, seed, self._compile, self.obs_dtype, self.rows, self.cols)

    def state_dict(self) -> dict:
        return self.ops.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.ops.load_state_dict(state)
