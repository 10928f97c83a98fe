"""Where a player seated first against ``perfect`` first lets the win go.

    python benchmarks/perfect_lines.py PLAYER [--games 100] [--seed 0] [--simulations S] [--top 15]

A perfect first player always wins Connect4, so seated first every game that is not won holds
a first move that left a won position for one that is not (``perfect`` never gives a won
position back). This plays ``--games`` games of PLAYER (a checkpoint, ``bundled`` or an
opponent name) seated first against ``perfect``, which breaks its ties from its own stream
(seeded by ``--seed``) as in ``evaluate --perfect-games``, judges each of PLAYER's moves with the
solver, and prints the results, the plies of the first such moves, and the positions they were
played from (the columns from the empty board, 0-based, and the move played), most frequent first.

The games against ``perfect`` are few distinct lines (the agent plays deterministically, and
``perfect``'s ties are the only branching), so a handful of positions can decide most of them.
Needs the solver extra (``pip install -e '.[solver]'``).
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import src  # noqa: E402,F401  (threading settings before torch)


def first_misses(player, games: int, seed: int = 0) -> list[dict]:
    """Per game: ``{"result": "W" | "D" | "L", "line": [columns], "miss": None or
    {"ply", "line", "move"}}``, the first of ``player``'s (``act(cur, mask)``) moves that left a
    won position for one that is not, judged by ``perfect``'s own solver (one opening book, one cache)."""
    import torch

    from src.opponents import make_opponent
    from src.opponents.solver import SOLVER_GEOMETRY as G
    from src.training.accuracy import _play, _wins

    perfect = make_opponent("perfect", G, "cpu", None, seed)
    solver = perfect.solver
    out = [{"result": None, "line": [], "miss": None} for _ in range(games)]
    cur, mask = [0] * games, [0] * games
    for ply in range(G.rows * G.cols):
        live = [i for i in range(games) if out[i]["result"] is None]
        if not live:
            break
        words = (torch.tensor([cur[i] for i in live], dtype=torch.int64),
                 torch.tensor([mask[i] for i in live], dtype=torch.int64))
        moves = (player if ply % 2 == 0 else perfect).act(*words).tolist()
        for i, col in zip(live, moves):
            game = out[i]
            if ply % 2 == 0 and game["miss"] is None:
                scores = solver.scores(cur[i], mask[i])
                if max(scores) > 0 and scores[col] <= 0:
                    game["miss"] = {"ply": ply, "line": list(game["line"]), "move": col}
            new_cur, new_mask = _play(cur[i], mask[i], col, G)
            game["line"].append(col)
            if _wins(cur[i] | (new_mask ^ mask[i]), G):
                game["result"] = "W" if ply % 2 == 0 else "L"
            elif ply == G.rows * G.cols - 1:
                game["result"] = "D"
            cur[i], mask[i] = new_cur, new_mask
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from src.cli.players import load_player

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("player", help="a checkpoint, 'bundled' or an opponent name")
    ap.add_argument("--games", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="seed of perfect's tie-breaking stream")
    ap.add_argument("--simulations", type=int, default=None, help="a search agent's simulations per move")
    ap.add_argument("--top", type=int, default=15, help="positions listed")
    args = ap.parse_args(argv)
    player = load_player(args.player, torch.device("cpu"), simulations=args.simulations)
    games = first_misses(player.opponent, args.games, args.seed)
    results = collections.Counter(g["result"] for g in games)
    misses = [g["miss"] for g in games if g["miss"] is not None]
    print(f"{player.label} seated first against perfect, {args.games} games: "
          f"win {results['W']}  draw {results['D']}  loss {results['L']}")
    # per-move hazard: the player's moves made from won positions, and the share that kept the win
    judged = collections.Counter()
    for g in games:
        last = g["miss"]["ply"] if g["miss"] is not None else len(g["line"]) - 1
        judged.update("0-11" if p < 12 else "12-41" for p in range(0, last + 1, 2))
    missed = collections.Counter("0-11" if m["ply"] < 12 else "12-41" for m in misses)
    for band in ("0-11", "12-41"):
        if judged[band]:
            print(f"plies {band}: {judged[band]} moves from won positions, "
                  f"{1 - missed[band] / judged[band]:.3f} of them kept the win")
    plies = collections.Counter(m["ply"] for m in misses)
    print("first move off the win, by ply: " + ", ".join(f"{p}: {plies[p]}" for p in sorted(plies)))
    spots = collections.Counter((tuple(m["line"]), m["move"]) for m in misses)
    print(f"{len({m for m, _ in spots})} distinct positions; the most frequent:")
    for (line, move), count in spots.most_common(args.top):
        print(f"  {count:4d}  after {''.join(map(str, line)) or '(empty board)'}  played {move}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
