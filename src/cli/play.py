"""``python -m src.cli.play [CHECKPOINT] [--game ID] [--first human|agent|random] [--opponent NAME] [--show-values] [--seed S] [--web [--port P]]``

Play one game against a trained agent in the terminal (or watch it play ``--opponent``);
without CHECKPOINT, against the agent that comes with the repository (``bundled``, Connect4).
The game is the checkpoint's; for an opponent name (``greedy``, ``search:2``) it is ``--game``
(default connect4). ``--web`` serves the game as a page on 127.0.0.1 instead (``src.web``).
The board is printed after every move, the first player's pieces X, the second's O, with the
move labels: Connect4's column numbers 1..cols under it (row 0 at the bottom); Othello's files
a-h and ranks 1-8 (OpenSpiel's labels: ``d3`` is file d, rank 3, action 19) and the legal moves.
Type a move (Connect4: a column number; Othello: a cell such as ``d3``, an action number 0-64,
or ``pass`` when it is the only legal move); a bad one gets a line naming the problem and a new
prompt; ``q`` (or the end of the input) quits. Input may be piped, one move per line.
"""
from __future__ import annotations

import argparse
import random
import sys
from typing import TextIO

import torch

from src.games.protocol import shown_input

DESCRIPTION = "Play Connect4 or Othello against a trained agent (or watch it play an opponent)."


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

    def to_move(self) -> int:
        """0 when the first player (X) is to move, 1 the second (O)."""
        return int(self.rules.to_move(self.state)[0])

    def play(self, action: int) -> tuple[bool, float]:
        """Play ``action`` for the side to move; returns (the game ended, the mover's reward)."""
        self.state, reward, done, _ = self.rules.play(self.state, torch.tensor([action]))
        self.moves += 1
        return bool(done[0]), float(reward[0])

    def planes(self) -> torch.Tensor:
        return self.rules.observe(self.state)

    def text(self) -> str:
        return self.rules.render(self.state, 0)


def ask_human(game: Game, inp: TextIO, out: TextIO) -> int | None:
    """The human's legal action, or None to quit. Re-prompts, with the game's message naming
    the problem (``Game.read_move``), on anything else."""
    while True:
        out.write(f"your move ({game.rules.move_help}, q to quit): ")
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
            out.write(shown_input(text) + "\n")
        if text.lower() in ("q", "quit", "exit"):
            return None
        move = game.rules.read_move(text, game.legal())
        if isinstance(move, str):
            out.write(move + "\n")
            continue
        return move


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
    ap.add_argument("--game", metavar="ID", default=None,
                    help="the game when CHECKPOINT is an opponent name (connect4, othello; default connect4); "
                         "with a checkpoint, it must be the checkpoint's game")
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
        agent = load_player(args.checkpoint, device, seed=args.seed, game=rules_named(args.game, device),
                            simulations=args.simulations)
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

    for _ in range(game.max_plies):
        seat = game.to_move()  # not the ply's parity: a game may pass
        agents_turn = (seat == 0) == agent_first
        mover, other_mark = ("X", "O") if seat == 0 else ("O", "X")
        if agents_turn:
            obs, legal = game.planes(), game.legal_mask()
            if args.show_values:
                out.write(f"agent values: {format_values(values_fn(obs, legal)[0].tolist(), legal[0].tolist())}\n")
            action = int(agent.agent.act(obs, legal, deterministic=True)[0])
            name, other_side = agent_name, other_name
        elif other is None:
            action = ask_human(game, inp, out)
            if action is None:
                out.write("quit: game abandoned\n")
                return 0
            name, other_side = "you", agent_name
        else:
            obs, legal = game.planes(), game.legal_mask()
            action = int(other.agent.act(obs, legal, deterministic=True)[0])
            name, other_side = other_name, agent_name
        done, reward = game.play(action)
        out.write(f"\n{name} ({mover}) plays {game.rules.action_name(action)}\n{game.text()}\n")
        if done:
            out.write(f"\nresult: {result_line(reward, mover, name, other_mark, other_side, game.moves)}\n")
            return 0
    return 0


def rules_named(game_id: str | None, device: torch.device):
    """The rules of ``--game`` on ``device`` (None: none asked for); ValueError naming the
    registered games for an unknown one."""
    if game_id is None:
        return None
    from src.games import make_rules
    from src.games.backends import resolve_backend

    return make_rules(game_id, device, resolve_backend(None, device))


def result_line(reward: float, mover: str, name: str, other_mark: str, other_name: str, moves: int) -> str:
    """The end of the game after ``name`` (playing ``mover``) made its last move, with ``reward``."""
    if reward == 0:
        return f"draw ({moves} moves)"
    mark, who = (mover, name) if reward > 0 else (other_mark, other_name)
    return f"{mark} wins ({'you win' if who == 'you' else f'{who} wins'}) in {moves} moves"


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
