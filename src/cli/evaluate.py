"""``python -m src.cli.evaluate CHECKPOINT [--opponents ...] [--games N]``: score a saved agent.

Plays ``--games`` games against each opponent (half with the agent first), greedy unless
``--explore``, and prints win/draw/loss rates and the score (win + draw / 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.cli.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="a checkpoint written by the trainer (checkpoints/<prefix>_<step>.pt)")
    ap.add_argument("--opponents", nargs="+", default=["random", "heuristic", "smart_heuristic", "search:4"],
                    help="opponent names (random, heuristic, smart_heuristic, search:D) or checkpoint paths")
    ap.add_argument("--games", type=int, default=1000, help="games per opponent (default 1000)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.games < 1:
        ap.error(f"--games must be positive, got {args.games}")

    import torch

    from src.agents import CheckpointError, read_checkpoint, agent_from_checkpoint
    from src.training.evaluation import Evaluator, play_games, validate_eval_opponents
    from src.training.schema import ConfigError

    try:
        ckpt = read_checkpoint(args.checkpoint)
        opponents = validate_eval_opponents(args.opponents, "--opponents", Path("."))
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device", "CUDA is not available on this machine")
    except (CheckpointError, ConfigError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    agent = agent_from_checkpoint(ckpt, device)
    game = ckpt.get("game", {"params": {"rows": 6, "cols": 7}})["params"]
    from kernels.geometry import Geometry

    geometry = Geometry(game["rows"], game["cols"])
    cfg = {"eval": {"interval": 1, "games": args.games, "opponents": opponents, "deterministic": True}}
    evaluator = Evaluator(cfg, geometry, device, seed=args.seed)
    print(f"{args.checkpoint} (step {ckpt.get('step', '?')}), {args.games} games per opponent:")
    for i, spec in enumerate(opponents):
        r = play_games(agent, evaluator.make_opponent(spec, i), geometry, device, args.games, seed=args.seed + 31 * (i + 1))
        print(f"  {str(spec):<20} score {r['score']:.4f}  win {r['win']:.4f}  draw {r['draw']:.4f}  loss {r['loss']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
