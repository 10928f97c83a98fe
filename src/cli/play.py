"""``python -m src.cli.play [CHECKPOINT] [--first human|agent|random] [--opponent NAME] [--show-values] [--seed S] [--web [--port P]]``

Play one game of Connect4 against a trained agent in the terminal (or watch it play
``--opponent``); without CHECKPOINT, against the agent that comes with the repository
(``bundled``). ``--web`` serves the game as a page on 127.0.0.1 instead (``src.web``). The board is printed after every move, row 0 at the bottom, with the column
numbers 1..cols under it; the first player's stones are X, the second's O. Type a column number
to move; ``q`` (or the end of the input) quits. Input may be piped, one move per line.
"""
from __future__ import annotations

import argparse
import random
import sys
from typing import TextIO

import torch

DESCRIPTION = "Play Connect4 against a trained agent (or watch it play an opponent)."


def format_values(values, legal) -> str:
    return "  ".join(f"{c + 1}: {v:+.3f}" if ok else f"{c + 1}: -" for c, (v, ok) in enumerate(zip(values, legal)))


class Game:
    """One game on the batched engine with a batch of one (the engine's rules through the
    ``Game`` protocol, not a copy)."""

    def __init__(self, rules):
        self.rules = rules.with_seed(0)
        self.num_actions = rules.num_actions
        self.max_plies = rules.max_plies
        self.state = self.rules.init(1)
        self.moves = 0

    def legal(self) -> list[bool]:
        return self.rules.legal_mask(self.state)[0].tolist()

    def legal_mask(self) -> torch.Tensor:
        return self.rules.legal_mask(self.state)

    def play(self, action: int) -> tuple[bool, bool]:
        """Play ``action`` for the side to move; returns (won, drawn)."""
        self.state, reward, done, _ = self.rules.play(self.state, torch.tensor([action]))
        self.moves += 1
        return bool(reward[0] > 0), bool(done[0]) and not bool(reward[0] > 0)

    def planes(self) -> torch.Tensor:
        return self.rules.observe(self.state)

    def text(self) -> str:
        return self.rules.render(self.state, 0)


def ask_human(game: Game, inp: TextIO, out: TextIO) -> int | None:
    """The human's column (0-based), or None to quit. Re-prompts on anything else."""
    cols = game.num_actions
    while True:
        out.write(f"your move (1-{cols}, q to quit): ")
        out.flush()
        try:
            line = inp.readline()
        except KeyboardInterrupt:  # Ctrl-C at the prompt: the same as q
            out.write("\n")
            return None
        if not line:  # end of input
            out.write("\n")
            return None
        text = line.strip()
        if not _isatty(inp):  # piped input: show what was read, so the transcript reads like a session
            out.write(_shorten(text) + "\n")
        if text.lower() in ("q", "quit", "exit"):
            return None
        if not text:
            out.write(f"type a column number from 1 to {cols} (or q to quit)\n")
            continue
        # a long run of digits is no column either (and int() refuses over 4,300 digits)
        if not text.lstrip("+-").isdigit() or len(text) > MAX_INPUT_DIGITS:
            out.write(f"{_shorten(text)!r} is not a column number: type 1 to {cols} (or q to quit)\n")
            continue
        col = int(text)
        if not 1 <= col <= cols:
            out.write(f"column {col} is off the board: type 1 to {cols}\n")
            continue
        if not game.legal()[col - 1]:
            out.write(f"column {col} is full: choose another\n")
            continue
        return col - 1


MAX_INPUT_DIGITS = 20  # any longer number is off every board
_SHOWN_CHARS = 40  # how much of an overlong input line is echoed back


def _shorten(text: str) -> str:
    """``text``, or its first characters and its length when it is too long to echo."""
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}... ({len(text)} characters)"


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None, inp: TextIO | None = None, out: TextIO | None = None) -> int:
    inp = inp if inp is not None else sys.stdin
    out = out if out is not None else sys.stdout
    ap = argparse.ArgumentParser(prog="python -m src.cli.play", description=DESCRIPTION)
    ap.add_argument("checkpoint", metavar="CHECKPOINT", nargs="?", default="bundled",
                    help="the agent: a checkpoint written by the trainer, an opponent name (e.g. perfect), or "
                         "bundled, the agent that comes with the repository (the default)")
    ap.add_argument("--first", choices=("human", "agent", "random"), default="human",
                    help="who moves first: you (or --opponent), the agent, or a coin toss (default human)")
    ap.add_argument("--opponent", metavar="NAME", default=None,
                    help="an opponent name (heuristic, search:4, perfect, ...) or another checkpoint plays instead of you")
    ap.add_argument("--show-values", action="store_true", help="print the agent's value of each column before its move")
    ap.add_argument("--seed", type=int, default=0, help="seed of the coin toss and the players' random choices")
    ap.add_argument("--simulations", type=int, default=None, metavar="S",
                    help="the agent's search simulations per move, if it searches (AlphaZero; default: the "
                         "checkpoint's act_simulations; 0: the raw policy)")
    add_web_arguments(ap)
    args = ap.parse_args(argv)
    if args.web:
        return play_web(args)
    if args.port is not None:
        print("error: --port applies to --web", file=sys.stderr)
        return 2

    from src.agents import CheckpointError
    from src.cli.players import PlayerError, load_player

    device = torch.device("cpu")
    try:
        agent = load_player(args.checkpoint, device, seed=args.seed, simulations=args.simulations)
        if args.simulations is not None:  # a search of one game: its tree must fit
            from src.config.memory import check_fits, tree_bytes

            check_fits(args.simulations, tree_bytes(0, agent.game), "--simulations", "simulations",
                       "cpu", extra=1)
        other = None
        if args.opponent is not None:
            other = load_player(args.opponent, device, seed=args.seed + 1, game=agent.game)
    except (CheckpointError, PlayerError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    values_fn = getattr(agent.agent, "action_values", None)
    if args.show_values and values_fn is None:
        print(f"error: --show-values: {agent.kind} reports no values", file=sys.stderr)
        return 2

    game = Game(agent.game)
    agent_first = {"agent": True, "human": False}.get(args.first)
    if agent_first is None:
        agent_first = random.Random(args.seed).random() < 0.5
    other_name = "you" if other is None else other.kind
    agent_name = "agent" if other is None or other.kind != agent.kind else f"agent ({agent.kind})"
    x_name, o_name = (agent_name, other_name) if agent_first else (other_name, agent_name)
    out.write(f"{agent.label} vs {'you' if other is None else other.label}\n")
    out.write(f"X = {x_name} (moves first), O = {o_name}\n\n{game.text()}\n")

    for turn in range(game.max_plies):
        agents_turn = (turn % 2 == 0) == agent_first
        mover = "X" if turn % 2 == 0 else "O"
        if agents_turn:
            obs, legal = game.planes(), game.legal_mask()
            if args.show_values:
                out.write(f"agent values: {format_values(values_fn(obs, legal)[0].tolist(), legal[0].tolist())}\n")
            col = int(agent.agent.act(obs, legal, deterministic=True)[0])
            name = agent_name
        elif other is None:
            col = ask_human(game, inp, out)
            if col is None:
                out.write("quit: game abandoned\n")
                return 0
            name = "you"
        else:
            obs, legal = game.planes(), game.legal_mask()
            col = int(other.agent.act(obs, legal, deterministic=True)[0])
            name = other_name
        won, full = game.play(col)
        out.write(f"\n{name} ({mover}) plays {game.rules.action_name(col)}\n{game.text()}\n")
        if won:
            winner = "you win" if name == "you" else f"{name} wins"
            out.write(f"\nresult: {mover} wins ({winner}) in {game.moves} moves\n")
            return 0
        if full:
            out.write(f"\nresult: draw ({game.moves} moves, the board is full)\n")
            return 0
    return 0


def add_web_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--web", action="store_true",
                    help="play in the browser: serve the game on http://127.0.0.1:PORT/ until Ctrl-C")
    ap.add_argument("--port", type=int, default=None, metavar="P",
                    help="with --web: the port (default 8000; 0 picks a free one)")


def play_web(args) -> int:
    """``--web``: the agent of ``args.checkpoint`` behind the page of ``src.web`` (6x7 boards only)."""
    from src.agents import CheckpointError
    from src.cli.players import PlayerError, load_player
    from src.web.game import check_web_geometry, geometry_of
    from src.web.server import serve

    port = 8000 if args.port is None else args.port
    if args.opponent is not None:
        print("error: --opponent does not apply to --web (you play in the browser)", file=sys.stderr)
        return 2
    if not 0 <= port <= 65535:
        print(f"error: --port must be from 0 to 65535, got {port}", file=sys.stderr)
        return 2
    try:
        agent = load_player(args.checkpoint, torch.device("cpu"), seed=args.seed, simulations=args.simulations)
        check_web_geometry(geometry_of(agent.game, args.checkpoint), args.checkpoint)
    except (CheckpointError, PlayerError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    first = args.first if args.first != "random" else random.Random(args.seed).choice(("human", "agent"))
    return serve(agent, port, first, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
