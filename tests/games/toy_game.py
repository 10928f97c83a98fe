"""Tic-tac-toe as a second ``Game`` (``src.games.protocol``), written only against the protocol:
the tests register it and drive the whole engine (training, search, evaluation, config
checks) on it, so nothing above ``src/games/`` can quietly assume Connect4.

State ``(mine, theirs)``: 9-bit words, bit ``3 * row + col``. 9 actions (the cells), 8
symmetries (the dihedral group). Torch ops on both backends; the numba search gets njit rules.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from numba import njit

from src.config.schema import Schema
from src.games.env import BatchedGame
from src.games.protocol import GameEntry, NumbaRules, Symmetry, uniform_legal

LINES = [0b111, 0b111000, 0b111000000, 0b1001001, 0b10010010, 0b100100100, 0b100010001, 0b1010100]
FULL = 0b111111111


class TState(NamedTuple):
    mine: torch.Tensor
    theirs: torch.Tensor


def _cells(perm_of_rc) -> tuple[int, ...]:
    return tuple(3 * r2 + c2 for r2, c2 in (perm_of_rc(a // 3, a % 3) for a in range(9)))


# (transform of [..., 3, 3], the cell each cell goes to): the identity first
_SYMS = [
    ("identity", lambda x: x, lambda r, c: (r, c)),
    ("rot90", lambda x: torch.rot90(x, 1, (-2, -1)), lambda r, c: (2 - c, r)),
    ("rot180", lambda x: torch.rot90(x, 2, (-2, -1)), lambda r, c: (2 - r, 2 - c)),
    ("rot270", lambda x: torch.rot90(x, 3, (-2, -1)), lambda r, c: (c, 2 - r)),
    ("flip_cols", lambda x: x.flip(-1), lambda r, c: (r, 2 - c)),
    ("flip_rows", lambda x: x.flip(-2), lambda r, c: (2 - r, c)),
    ("transpose", lambda x: x.transpose(-2, -1), lambda r, c: (c, r)),
    ("anti_transpose", lambda x: torch.rot90(x, 2, (-2, -1)).transpose(-2, -1), lambda r, c: (2 - c, 2 - r)),
]


@njit(inline="always")
def _won(p):
    for line in (0b111, 0b111000, 0b111000000, 0b1001001, 0b10010010, 0b100100100, 0b100010001, 0b1010100):
        if p & line == line:
            return True
    return False


@njit(inline="always")
def _play(words, i, src, dst, a):
    mine = words[i, src, 0] | (np.int64(1) << a)
    theirs = words[i, src, 1]
    words[i, dst, 0] = theirs
    words[i, dst, 1] = mine
    if _won(mine):
        return np.float32(1.0), True
    return np.float32(0.0), (mine | theirs) == 0b111111111


@njit(inline="always")
def _is_legal(words, i, s, a):
    return ((words[i, s, 0] | words[i, s, 1]) >> a) & 1 == 0


class TicTacToe:
    game_id = "tictactoe"
    State = TState
    features = ("planes",)
    num_actions = 9
    observation_shape = (2, 3, 3)
    max_plies = 9
    params: dict = {}

    def __init__(self, device, backend, seed=None, compile=False, obs_dtype=torch.float32):
        self.device, self.backend, self.obs_dtype, self.seed = device, backend, obs_dtype, seed
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(0 if seed is None else seed)
        self.symmetries = tuple(Symmetry(n, t, _cells(p)) for n, t, p in _SYMS)
        self._bits = (1 << torch.arange(9, device=device)).view(3, 3)
        self._lines = torch.tensor(LINES, device=device)

    def init(self, n):
        z = torch.zeros(n, dtype=torch.int64, device=self.device)
        return TState(z, z.clone())

    def legal_mask(self, state):
        return (((state.mine | state.theirs).unsqueeze(1) >> torch.arange(9, device=self.device)) & 1) == 0

    def play(self, state, actions, active=None):
        active = torch.ones_like(actions, dtype=torch.bool) if active is None else active
        legal = (actions >= 0) & (actions < 9) & self.legal_mask(state).gather(1, actions.clamp(0, 8)[:, None])[:, 0]
        ok = legal & active
        mine = state.mine | torch.where(ok, 1 << actions.clamp(0, 8), 0)
        won = ok & ((mine.unsqueeze(1) & self._lines) == self._lines).any(dim=1)
        illegal = active & ~legal
        done = won | illegal | (ok & ((mine | state.theirs) == FULL))
        reward = won.float() - illegal.float()
        nxt = TState(torch.where(ok, state.theirs, state.mine), torch.where(ok, mine, state.theirs))
        return nxt, reward, done, illegal

    def reset_where(self, state, done):
        return TState(torch.where(done, 0, state.mine), torch.where(done, 0, state.theirs))

    def step(self, state, actions):
        nxt, reward, done, _ = self.play(state, actions)
        return self.reset_where(nxt, done), reward, done

    def observe(self, state, dtype=torch.float32):
        words = torch.stack(tuple(state), dim=1)
        return ((words[:, :, None, None] & self._bits) != 0).to(dtype)

    def from_observation(self, obs):
        own = ((obs[:, 0] != 0).long() * self._bits).sum(dim=(1, 2))
        return TState(own, ((obs[:, 1] != 0).long() * self._bits).sum(dim=(1, 2)))

    def encode(self, state, features="planes"):
        return self.observe(state)

    def feature_planes(self, features="planes"):
        return 2

    def ply(self, state):
        return self.legal_mask(state).logical_not().sum(dim=1)

    def to_move(self, state):
        return self.ply(state) & 1

    def random_actions(self, state):
        return uniform_legal(self.legal_mask(state), self.generator)

    def env_step(self, state, actions):
        state, reward, done = self.step(state, actions)
        illegal = done & (reward < 0)
        return state, self.observe(state, self.obs_dtype), reward, done, illegal

    def numba_rules(self):
        return NumbaRules(9, 2, 9, _play, _is_legal)

    def fused_minibatch(self, replay, features, gamma):
        return None

    def render(self, state, i=0):
        x, o = (int(state.mine[i]), int(state.theirs[i])) if int(self.ply(state)[i]) % 2 == 0 else \
            (int(state.theirs[i]), int(state.mine[i]))
        return "\n".join(" ".join("X" if x >> (3 * r + c) & 1 else "O" if o >> (3 * r + c) & 1 else "."
                                  for c in range(3)) for r in range(3))

    def parse_action(self, text):
        return int(text) - 1 if text.strip().isdigit() and 1 <= int(text) <= 9 else None

    def action_name(self, action):
        return str(action + 1)

    move_help = "1-9"

    def read_move(self, text, legal):
        a = self.parse_action(text)
        if a is None:
            return f"{text!r} is not a cell: type 1 to 9"
        return a if legal[a] else f"cell {a + 1} is taken: choose another"

    def with_seed(self, seed):
        return TicTacToe(self.device, self.backend, seed, False, self.obs_dtype)

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])


ENTRY = GameEntry("tictactoe", lambda device, backend, seed=None, compile=False, obs_dtype=None, **params:
                  TicTacToe(device, backend, seed, compile, obs_dtype or torch.float32), Schema({}), BatchedGame)
