"""Othello 8x8 as a ``Game`` (``src.games.protocol``): the bitboard state and its rules.

The state is three int64 words per game (``kernels.othello_geometry``): ``mine`` the discs of
the side to move, ``theirs`` the other side's, ``player`` who moves (0 = black, first).
Actions 0-63 are the cells in row-major order (``8 * row + column``, row 0 = rank 1, column 0 =
file a, as OpenSpiel numbers them), 64 is the pass, legal only when no cell is. A placement
that is not a legal move, the pass while a cell is legal, or an action outside 0..64 is
illegal: reward -1 and the game ends, as for Connect4. The game ends when neither side can
move; reward for the mover of the last disc: +1 with more discs, -1 with fewer, 0 equal.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from kernels import othello_numba as knb
from kernels.othello_geometry import BLACK_START, NUM_ACTIONS, PASS, WHITE_START, symmetry_actions, symmetry_cells
from src.games.othello.ops import make_ops
from src.games.protocol import NumbaRules, Symmetry, shown_input

FEATURES = ("planes",)
FILES = "abcdefgh"
# every placement adds a disc (60 at most) and no two passes follow each other (that ends the game)
MAX_PLIES = 120
_SYMMETRY_NAMES = ("identity", "rot90", "rot180", "rot270", "mirror", "mirror+rot90", "mirror+rot180", "mirror+rot270")


class OthelloState(NamedTuple):
    """mine: discs of the side to move, theirs: the other side's, player: 0 black / 1 white to move; int64 [N] each."""
    mine: torch.Tensor
    theirs: torch.Tensor
    player: torch.Tensor


class _CellMap:
    """A board symmetry on planes [..., 8, 8]: cell ``k`` moves to ``cells[k]``."""

    def __init__(self, cells):
        inverse = [0] * 64
        for k, j in enumerate(cells):
            inverse[int(j)] = k
        self._inverse = torch.tensor(inverse, dtype=torch.int64)
        self._on: dict[str, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        idx = self._on.get(str(x.device))
        if idx is None:
            idx = self._on[str(x.device)] = self._inverse.to(x.device)
        return x.flatten(-2).index_select(-1, idx).unflatten(-1, (8, 8))


def _popcount(x: torch.Tensor) -> torch.Tensor:
    from kernels.othello_torch import popcount

    return popcount(x)


class Othello:
    """Othello 8x8 (the ``Game`` protocol); see the module docstring."""

    game_id = "othello"
    State = OthelloState
    features = FEATURES
    num_actions = NUM_ACTIONS
    observation_shape = (2, 8, 8)
    max_plies = MAX_PLIES

    def __init__(self, device: torch.device, backend: str, seed: int | None = None, compile: bool = False,
                 obs_dtype: torch.dtype = torch.float32):
        self.device, self.backend, self.obs_dtype = device, backend, obs_dtype
        self._compile = compile
        self.ops = make_ops(device, backend, seed, compile, obs_dtype)
        self.params = {}
        cells, actions = symmetry_cells(), symmetry_actions()
        self.symmetries = tuple(Symmetry(name, _CellMap(cells[t]) if t else (lambda x: x), tuple(int(a) for a in actions[t]))
                                for t, name in enumerate(_SYMMETRY_NAMES))

    # -- the Game protocol ------------------------------------------------------------------
    def init(self, n: int) -> OthelloState:
        i64 = dict(dtype=torch.int64, device=self.device)
        return OthelloState(torch.full((n,), BLACK_START, **i64), torch.full((n,), WHITE_START, **i64),
                            torch.zeros(n, **i64))

    def play(self, state: OthelloState, actions: torch.Tensor, active: torch.Tensor | None = None):
        mine, theirs, player, reward, done, illegal = self.ops.play(*state, actions, active)
        return OthelloState(mine, theirs, player), reward, done, illegal

    def step(self, state: OthelloState, actions: torch.Tensor):
        nxt, reward, done, _ = self.play(state, actions)
        return self.reset_where(nxt, done), reward, done

    def reset_where(self, state: OthelloState, done: torch.Tensor) -> OthelloState:
        start = self.init(1)
        return OthelloState(*(torch.where(done, s, w) for w, s in zip(state, start)))

    def legal_mask(self, state: OthelloState) -> torch.Tensor:
        """bool [N, 65]: the legal cells, and the pass where no cell is legal."""
        return self.ops.legal_mask(state.mine, state.theirs)

    def flip_counts(self, state: OthelloState) -> torch.Tensor:
        """int8 [N, 65]: discs each legal action turns over (0 for a legal pass), -1 where illegal."""
        return self.ops.flip_counts(state.mine, state.theirs)

    def observe(self, state: OthelloState, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """obs [N, 2, 8, 8]: plane 0 = the side to move's discs, plane 1 = the other's; [r, c] = cell 8r + c."""
        return self.ops.to_planes(state.mine, state.theirs, dtype)

    def from_observation(self, obs: torch.Tensor) -> OthelloState:
        """``observe``'s inverse. The planes do not say who is to move: ``player`` is guessed from
        the disc count's parity (exact in games without a pass so far; the rules do not use it)."""
        bits = torch.tensor([1 << k for k in range(63)] + [-(1 << 63)], dtype=torch.int64, device=obs.device)
        flat = (obs.reshape(obs.shape[0], 2, 64) != 0).long()
        mine, theirs = (flat * bits).sum(-1).unbind(1)
        return OthelloState(mine, theirs, (_popcount(mine) + _popcount(theirs)) & 1)

    def encode(self, state: OthelloState, features: str = "planes") -> torch.Tensor:
        return self.observe(state)

    def feature_planes(self, features: str = "planes") -> int:
        return 2

    def to_move(self, state: OthelloState) -> torch.Tensor:
        return state.player

    def ply(self, state: OthelloState) -> torch.Tensor:
        """int64 [N]: discs placed since the start (passes are not counted)."""
        return _popcount(state.mine) + _popcount(state.theirs) - 4

    def fused_minibatch(self, replay, features: str, gamma: float):
        return None  # the generic torch minibatch

    def random_actions(self, state: OthelloState) -> torch.Tensor:
        """int64 [N]: a uniformly random legal action (the pass where no cell is legal)."""
        return self.ops.random_legal_actions(state.mine, state.theirs)

    def env_step(self, state: OthelloState, actions: torch.Tensor):
        mine, theirs, player, obs, reward, done, illegal = self.ops.step_autoreset(*state, actions)
        return OthelloState(mine, theirs, player), obs, reward, done, illegal

    def numba_rules(self) -> NumbaRules:
        return NumbaRules(num_actions=NUM_ACTIONS, num_words=3, max_plies=MAX_PLIES,
                          play=knb.rules_play, is_legal=knb.rules_is_legal)

    def render(self, state: OthelloState, i: int = 0) -> str:
        """X = black (first player), O = white; ranks 1-8 top to bottom, files a-h, as OpenSpiel
        prints; then who is to move and their legal moves (``action_name`` s)."""
        mine, theirs, player = (int(w[i]) for w in state)
        black, white = (mine, theirs) if player == 0 else (theirs, mine)
        lines = ["  " + " ".join(FILES)]
        for r in range(8):
            cells = ["X" if black >> (8 * r + c) & 1 else "O" if white >> (8 * r + c) & 1 else "." for c in range(8)]
            lines.append(f"{r + 1} " + " ".join(cells))
        lines.append(f"{'XO'[player]} to move, legal: {' '.join(self._legal_names(state, i))}")
        return "\n".join(lines)

    def _legal_names(self, state: OthelloState, i: int) -> list[str]:
        legal = self.legal_mask(OthelloState(*(w[i:i + 1] for w in state)))[0]
        return [self.action_name(a) for a in legal.nonzero().flatten().tolist()]

    def parse_action(self, text: str) -> int | None:
        """``'d3'`` -> 19 (file, then rank), ``'pass'`` -> 64, an action number ``'0'``..``'64'``
        -> itself; None for anything else."""
        text = text.strip().lower()
        if text == "pass":
            return PASS
        if len(text) == 2 and text[0] in FILES and text[1] in "12345678":
            return 8 * (int(text[1]) - 1) + FILES.index(text[0])
        if text.isdigit() and len(text) <= 2 and int(text) <= PASS:
            return int(text)
        return None

    def action_name(self, action: int) -> str:
        return "pass" if action == PASS else f"{FILES[action % 8]}{action // 8 + 1}"

    move_help = "a cell a1-h8 or 0-64, pass"

    def read_move(self, text: str, legal) -> int | str:
        """A cell (``d3``: file, then rank, OpenSpiel's labels), an action number 0-64 or
        ``pass`` -> its action, or what is wrong (not a move, not legal here, a pass with a move)."""
        hint = "type a cell a1-h8 (file, then rank), an action number 0-64, or pass"
        if not text:
            return f"{hint} (or q to quit)"
        a = self.parse_action(text)
        if a is None:
            return f"{shown_input(text)!r} is not a move: {hint}"
        if legal[a]:
            return a
        names = " ".join(self.action_name(b) for b, ok in enumerate(legal) if ok)
        if a == PASS:
            return f"you cannot pass while you have a move: choose one of {names}"
        if legal[PASS]:
            return f"{self.action_name(a)} is not a legal move: you have none, type pass"
        return f"{self.action_name(a)} is not a legal move: choose one of {names}"

    def with_seed(self, seed: int | None) -> "Othello":
        return Othello(self.device, self.backend, seed, self._compile, self.obs_dtype)

    def state_dict(self) -> dict:
        return self.ops.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.ops.load_state_dict(state)
