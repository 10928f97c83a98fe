"""One browser game against an agent: the moves, the rules (the batched engine's own, with a
batch of one), the agent's replies and what the page is shown. No HTTP here (``server.py``).

Every change goes through ``human_move``, ``undo`` or the constructor, and each checks its
request completely before touching anything, so a refused request (``MoveError``) leaves the
game as it was. A request names the ply it was made at (stones on the board): a stale or
repeated request names an old ply and is refused, so it can never move twice.
"""
from __future__ import annotations

import torch

from kernels.geometry import Geometry

WEB_ROWS, WEB_COLS = 6, 7


class MoveError(ValueError):
    """A request the game refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def geometry_of(game, what: str) -> Geometry:
    """The Connect4 board of ``game`` (a ``Game``); ValueError for another game."""
    if game.game_id != "connect4":
        raise ValueError(f"--web shows Connect4 boards only; {what} plays {game.game_id} "
                         "(play it in the terminal: python -m src.cli.play without --web)")
    return Geometry(game.params["rows"], game.params["cols"])


def check_web_geometry(g: Geometry, what: str) -> None:
    """ValueError unless the board is 6x7, the only board the page draws."""
    if (g.rows, g.cols) != (WEB_ROWS, WEB_COLS):
        raise ValueError(f"--web shows {WEB_ROWS}x{WEB_COLS} boards only; {what} plays {g.rows}x{g.cols} boards "
                         "(play it in the terminal: python -m src.cli.play without --web)")


def analyse(agent, ops, cur: torch.Tensor, mask: torch.Tensor) -> tuple[int, list | None, list | None]:
    """The agent's move in the position (int64 [1] bitboards) and, where it has them, its value of
    each column and its search's visit counts (None otherwise). A searching agent (AlphaZero)
    searches once: its move is the most visited column of that same search, as ``act`` plays."""
    legal = ops.legal_mask(mask)
    search = getattr(agent, "search", None)
    if search is not None and getattr(agent, "act_simulations", 0) > 0:
        from src.games.connect4 import C4State

        result = search(C4State(cur, mask), agent.act_simulations)
        move = int(agent.mcts.act(result, 0.0)[0])
        return move, result.q[0].tolist(), result.visits[0].tolist()
    obs = ops.to_planes(cur, mask)
    move = int(agent.act(obs, legal, deterministic=True)[0])
    values_fn = getattr(agent, "action_values", None)
    values = values_fn(obs, legal)[0].tolist() if values_fn is not None else None
    return move, values, None


class WebGame:
    """A game between a person and ``agent`` (``act(obs, legal_mask, deterministic=True)``, as
    ``load_agent`` returns). ``human_first``: the person plays the first stones (X, red)."""

    def __init__(self, agent, geometry: Geometry, human_first: bool):
        from src.games.backends import make_ops

        check_web_geometry(geometry, "this agent")
        self.agent, self.g, self.human_first = agent, geometry, human_first
        self.ops = make_ops(geometry, torch.device("cpu"), "torch", 0)
        self.moves: list[int] = []
        self.analysis: dict | None = None  # the agent's values / visits before its last move
        self._replay()
        if not human_first:
            self._agent_reply()

    # -- the position -----------------------------------------------------------------------
    def _replay(self) -> None:
        """Set the position from ``moves`` (from the empty board, with the engine's rules)."""
        cur = torch.zeros(1, dtype=torch.int64)
        mask = torch.zeros(1, dtype=torch.int64)
        self.result = None  # None while in play, else "first", "second" or "draw"
        for i, col in enumerate(self.moves):
            cur, mask, reward, done, _ = self.ops.play(cur, mask, torch.tensor([col]))
            if bool(reward[0] > 0):
                self.result = "first" if i % 2 == 0 else "second"
            elif bool(done[0]):
                self.result = "draw"
        self.cur, self.mask = cur, mask

    @property
    def ply(self) -> int:
        return len(self.moves)

    def humans_turn(self) -> bool:
        return self.result is None and (self.ply % 2 == 0) == self.human_first

    def legal(self) -> list[bool]:
        return self.ops.legal_mask(self.mask)[0].tolist()

    def board(self) -> list[list[int]]:
        """rows x cols, the top row first: 0 empty, 1 the first player's stone, 2 the second's."""
        g, cur, mask = self.g, int(self.cur[0]), int(self.mask[0])
        first = cur if self.ply % 2 == 0 else cur ^ mask
        return [[0 if not mask & g.bit(r, c) else (1 if first & g.bit(r, c) else 2) for c in range(g.cols)]
                for r in range(g.rows - 1, -1, -1)]

    # -- changes ----------------------------------------------------------------------------
    def _check_ply(self, ply) -> None:
        if isinstance(ply, bool) or not isinstance(ply, int):
            raise MoveError(f"'ply' must be an integer (the number of stones on the board), got {ply!r}")
        if ply != self.ply:
            raise MoveError(f"stale request: it was made at ply {ply}, the game is at ply {self.ply}", 409)

    def human_move(self, column, ply) -> None:
        """Play the person's ``column`` (0-based) if ``ply`` is the current ply and it is legal, then the agent's reply."""
        self._check_ply(ply)
        if isinstance(column, bool) or not isinstance(column, int):
            raise MoveError(f"'column' must be an integer from 0 to {self.g.cols - 1}, got {column!r}")
        if not 0 <= column < self.g.cols:
            raise MoveError(f"column index {column} is off the board (0 to {self.g.cols - 1})", 422)
        if self.result is not None:
            raise MoveError("the game is over: start a new game or take back a move", 422)
        if not self.humans_turn():
            raise MoveError("it is the agent's turn", 422)
        if not self.legal()[column]:
            raise MoveError(f"column {column + 1} (index {column}) is full: choose another", 422)
        self.moves.append(column)
        self._replay()
        if self.result is None:
            self._agent_reply()

    def _agent_reply(self) -> None:
        move, values, visits = analyse(self.agent, self.ops, self.cur, self.mask)
        if not self.legal()[move]:  # a broken agent must not corrupt the game
            raise RuntimeError(f"the agent chose column {move + 1}, which is full")
        self.analysis = {"ply": self.ply, "values": values, "visits": visits}
        self.moves.append(move)
        self._replay()

    def undo(self, ply) -> None:
        """Take back the person's last move and the agent's reply to it (if any)."""
        self._check_ply(ply)
        human_parity = 0 if self.human_first else 1
        last = max((i for i in range(self.ply) if i % 2 == human_parity), default=None)
        if last is None:
            raise MoveError("no move of yours to take back", 422)
        self.moves = self.moves[:last]
        self.analysis = None
        self._replay()

    # -- what the page gets -----------------------------------------------------------------
    def state(self) -> dict:
        human = 1 if self.human_first else 2
        winner = {"first": 1, "second": 2}.get(self.result)
        outcome = None if self.result is None else ("draw" if winner is None else
                                                    ("human" if winner == human else "agent"))
        return {"rows": self.g.rows, "cols": self.g.cols, "board": self.board(), "moves": list(self.moves),
                "ply": self.ply, "human": human, "to_move": None if self.result else
                ("human" if self.humans_turn() else "agent"), "result": outcome, "legal": self.legal(),
                "analysis": self.analysis}
