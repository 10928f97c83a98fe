"""``python -m src.cli.play CHECKPOINT [--first human|agent|random] [--opponent NAME] [--show-values] [--seed S]``

Play one game of Connect4 against a trained agent in the terminal (or watch it play
``--opponent``). The board is printed after every move, row 0 at the bottom, with the column
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
        line = inp.readline()
        if not line:  # end of input
            out.write("\n")
            return None
        text = line.strip()
        if not _isatty(inp):  # piped input: show what was read, so the transcript reads like a session
            out.write(text + "\n")
        if text.lower() in ("q", "quit", "exit"):
            return None
        if not text:
            out.write(f"type a column number from 1 to {cols} (or q to quit)\n")
            continue
        if not text.lstrip("+-").isdigit():
            out.write(f"{text!r} is not a column number: type 1 to {cols} (or q to quit)\n")
            continue
        col = int(text)
        if not 1 <= col <= cols:
            out.write(f"column {col} is off the board: type 1 to {cols}\n")
            continue
        if not game.legal()[col - 1]:
            out.write(f"column {col} is full: choose another\n")
            continue
        return col - 1


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None, inp: TextIO | None = None, out: TextIO | None = None) -> int:
    inp = inp if inp is not None else sys.stdin
    out = out if out is not None else sys.stdout
    ap = argparse.ArgumentParser(prog="python -m src.cli.play", description=DESCRIPTION)
    ap.add_argument("checkpoint", metavar="CHECKPOINT",
                    help="the agent: a checkpoint written by the trainer, or an opponent name (e.g. perfect)")
    ap.add_argument("--first", choices=("human", "agent", "random"), default="human",
                    help="who moves first: you (or --opponent), the agent, or a coin toss (default human)")
    ap.add_argument("--opponent", metavar="NAME", default=None,
                    help="an opponent name (heuristic, search:4, perfect, ...) or another checkpoint plays instead of you")
    ap.add_argument("--show-values", action="store_true", help="print the agent's value of each column before its move")
    ap.add_argument("--seed", type=int, default=0, help="seed of the coin toss and the players' random choices")
    ap.add_argument("--simulations", type=int, default=None, metavar="S",
                    help="the agent's search simulations per move, if it searches (AlphaZero; default: the "
                         "checkpoint's act_simulations; 0: the raw policy)")
    args = ap.parse_args(argv)

    from src.agents import CheckpointError
    from src.cli.players import PlayerError, load_player

    device = torch.device("cpu")
    try:
        agent = load_player(args.checkpoint, device, seed=args.seed, simulations=args.simulations)
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


if __name__ == "__main__":
    sys.exit(main())
