"""``python -m src.cli.evaluate PLAYER [--opponents ...] [--games N] [--accuracy N]``: judge a saved agent.

PLAYER is a checkpoint (or, to calibrate the measures, an opponent name such as ``search:4``).
``--opponents``: plays ``--games`` games against each (half with PLAYER first), with PLAYER's
greedy moves, and prints win/draw/loss rates and the score (win + draw / 2).
``--accuracy N``: the share of PLAYER's moves that the perfect solver scores best (``perfect``)
and that keep the position's outcome (``good``) on N random 4-24-ply positions, overall and by
ply band, with 95% intervals (``src.training.accuracy``).
``--perfect-games N``: N games against ``perfect`` from each seat, from the empty board: win /
draw / loss per seat and the mean game length (``evaluation.perfect_games``).
``--benchmark pons [--positions N]``: best-score and outcome-keeping moves on Pascal Pons' six
benchmark sets (the first N positions of each, default all 1000), with 95% intervals
(``src.training.pons``).
Without any of these three measures the default opponents are random, heuristic,
smart_heuristic and search:4; with one, games are played only when ``--opponents`` is given.
PLAYER may be ``bundled``, the agent that comes with the repository (``src/agents/pretrained``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OPPONENTS = ["random", "heuristic", "smart_heuristic", "search:4"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.cli.evaluate", description=__doc__.splitlines()[0],
                                 epilog="Opponent names: random, heuristic, smart_heuristic, search:D, "
                                        "solver:D, perfect (see docs/opponents.md), or a checkpoint path.")
    ap.add_argument("player", metavar="CHECKPOINT",
                    help="a checkpoint written by the trainer (checkpoints/<prefix>_<step>.pt), or an opponent name")
    ap.add_argument("--opponents", nargs="+", default=None,
                    help=f"opponent names or checkpoint paths (default without --accuracy: {' '.join(DEFAULT_OPPONENTS)})")
    ap.add_argument("--games", type=int, default=1000, help="games per opponent (default 1000)")
    ap.add_argument("--accuracy", type=int, default=0, metavar="N",
                    help="solver-judged accuracy on N random positions (needs the solver extra)")
    ap.add_argument("--accuracy-seed", type=int, default=0, metavar="S", help="seed of the position set (default 0)")
    ap.add_argument("--perfect-games", type=int, default=0, metavar="N",
                    help="N games against perfect from each seat: W/D/L per seat and the mean game length")
    ap.add_argument("--benchmark", choices=("pons",), default=None,
                    help="judge the moves on a benchmark of exactly scored positions: pons (Pascal Pons' six sets)")
    ap.add_argument("--positions", type=int, default=None, metavar="N",
                    help="with --benchmark: the first N positions of each set (default 1000, all)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the games and of the opponents' random choices")
    ap.add_argument("--opening-plies", type=int, default=0, metavar="K",
                    help="start every game pair from its own position after K random moves, the player "
                         "first in one game and the opponent in the other (default 0: the empty board)")
    ap.add_argument("--simulations", type=int, default=None, metavar="S",
                    help="a search agent's (AlphaZero) simulations per move (default: the checkpoint's "
                         "act_simulations; 0: the raw policy)")
    ap.add_argument("--solver", choices=("on", "off"), default=None,
                    help="a search agent's MCTS-Solver (proven values in the search, docs/mcts.md) on or off "
                         "(default: the checkpoint's, on unless it was trained with solver: false)")
    ap.add_argument("--search", choices=("puct", "gumbel"), default=None,
                    help="a search agent's root search: puct or gumbel (docs/mcts.md; default: the checkpoint's)")
    args = ap.parse_args(argv)
    if args.games < 1:
        ap.error(f"--games must be positive, got {args.games}")
    if args.accuracy < 0:
        ap.error(f"--accuracy must be a positive number of positions, got {args.accuracy}")
    if not 0 <= args.opening_plies <= 16:
        ap.error(f"--opening-plies must be from 0 to 16, got {args.opening_plies}")
    if args.accuracy_seed < 0:
        ap.error(f"--accuracy-seed must not be negative, got {args.accuracy_seed}")
    if args.perfect_games < 0:
        ap.error(f"--perfect-games must be a positive number of games per seat, got {args.perfect_games}")
    if args.positions is not None and args.benchmark is None:
        ap.error("--positions applies to --benchmark")
    positions = 1000 if args.positions is None else args.positions
    if not 1 <= positions <= 1000:
        ap.error(f"--positions must be from 1 to 1000 (positions per set), got {positions}")
    measures = args.accuracy or args.perfect_games or args.benchmark
    opponent_specs = args.opponents if args.opponents is not None else ([] if measures else DEFAULT_OPPONENTS)

    import torch

    from src.agents import CheckpointError
    from src.games import GAMES
    from src.cli.players import PlayerError, load_player
    from src.opponents import check_opponent_usable
    from src.seeding import child_seed
    from src.training.evaluation import Evaluator, is_checkpoint_spec, play_games, validate_eval_opponents
    from src.config.schema import ConfigError

    try:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device", "CUDA is not available on this machine")
        player = load_player(args.player, device, seed=args.seed, simulations=args.simulations)
        for flag, value in (("--solver", args.solver), ("--search", args.search)):
            if value is not None and getattr(player.agent, "mcts", None) is None:
                raise ConfigError(flag, f"{player.label} does not search")
        if args.solver is not None:
            player.agent.mcts.solver = args.solver == "on"
        if args.search is not None:
            player.agent.mcts.kind = args.search
        game = player.game
        entry = GAMES[game.game_id]
        opponents = validate_eval_opponents(opponent_specs, "--opponents", Path("."),
                                            {"id": game.game_id, "params": game.params}) if opponent_specs else []
        for i, spec in enumerate(opponents):
            if not is_checkpoint_spec(spec):
                from src.opponents import parse_opponent_spec

                if parse_opponent_spec(spec)[0] not in entry.opponents:
                    raise ConfigError("--opponents", f"opponent {spec!r} does not play {game.game_id} "
                                      f"(its opponents: {', '.join(entry.opponents)})")
                check_opponent_usable(spec, game)
        if opponents:
            from src.config.memory import check_fits, game_bytes, tree_bytes

            sims = getattr(player.agent, "act_simulations", 0)  # a search agent's tree per game
            per_game = game_bytes(game) + (tree_bytes(sims, game) if sims else 0)
            # the games are played in two halves, one seat first in each
            check_fits(args.games, (per_game + 1) // 2, "--games", "games", str(device))
        for flag, value, extra in (("--accuracy", args.accuracy, "accuracy"),
                                   ("--perfect-games", args.perfect_games, "accuracy"),
                                   ("--benchmark", args.benchmark, "accuracy"),
                                   ("--opening-plies", args.opening_plies, "openings")):
            if value and extra not in entry.extras:
                raise ConfigError(flag, f"is Connect4's; game '{game.game_id}' has no such measure")
        if measures:
            from src.training.accuracy import check_accuracy_usable

            check_accuracy_usable(**game.params)
    except (CheckpointError, ConfigError, PlayerError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"{player.label}:")
    if args.accuracy:
        from src.runs.show import format_accuracy
        from src.training.accuracy import measure, position_set

        ps = position_set(args.accuracy, args.accuracy_seed, game)  # Connect4 only (checked above)
        acc = measure(player.opponent, ps, device)
        print(f"accuracy on {ps.n} random positions (plies 4-24, seed {ps.seed}), judged by the perfect solver:")
        print("\n".join(format_accuracy(acc)))
    if args.perfect_games:
        from src.runs.show import format_perfect_games
        from src.training.evaluation import perfect_games

        r = perfect_games(player.agent, game, device, args.perfect_games, child_seed(args.seed, "eval.perfect_games", 0))
        print(f"{args.perfect_games} games against perfect from each seat (empty board; perfect breaks ties at random):")
        print("\n".join(format_perfect_games(r)))
    if args.benchmark:
        from src.training.pons import BenchmarkError, format_pons, measure_pons

        try:
            r = measure_pons(player.opponent, positions, device)
        except BenchmarkError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"Pascal Pons' benchmark, the first {positions} positions of each set, judged by the perfect solver:")
        print("\n".join(format_pons(r)))
    if opponents:
        cfg = {"eval": {"interval": 1, "games": args.games, "opponents": opponents, "deterministic": True}}
        evaluator = Evaluator(cfg, game, device, seed=args.seed)
        opening = "" if not args.opening_plies else \
            f", each pair from its own {args.opening_plies}-ply random opening"
        print(f"{args.games} games per opponent (half with {player.kind} first{opening}):")
        for i, spec in enumerate(opponents):
            r = play_games(player.agent, evaluator.make_opponent(spec, i), game, device, args.games,
                           seed=child_seed(args.seed, "eval.games", i), opening_plies=args.opening_plies,
                           seats=True)
            print(f"  {str(spec):<20} score {r['score']:.4f}  win {r['win']:.4f}  draw {r['draw']:.4f}  loss {r['loss']:.4f}"
                  + "".join(f"  {seat} {r[seat]['score']:.4f}" for seat in ("first", "second") if seat in r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
