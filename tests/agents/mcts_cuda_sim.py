"""The checks of the numba-cuda search that run under numba's CUDA simulator, in a process of
their own (``NUMBA_ENABLE_CUDASIM=1`` must be set before ``numba.cuda`` is first imported, and
it would change every other test's numba): ``tests/agents/test_mcts_cuda.py`` runs

    NUMBA_ENABLE_CUDASIM=1 python -m tests.agents.mcts_cuda_sim

and reads the JSON object it prints: per case, whether the 'cuda' backend's search equals the
numba CPU search's exactly (visits, q, value, network value, priors, and the solver's proofs
at the root) and what the positions covered; and the launch count per simulation.
"""
from __future__ import annotations

import json
import os
import sys

import torch

from src.agents.alphazero import BatchedMCTS
from src.games import GAMES, make_rules
from src.games.protocol import uniform_legal, where_state
from tests.games import toy_game

# name -> (game id, params, games searched, simulations, lowest ply of the positions, noise[, root search])
CASES = {
    "connect4": ("connect4", {}, 5, 12, 0, False),
    "connect4_late": ("connect4", {}, 5, 12, 30, False),
    "connect4_5x4": ("connect4", {"rows": 5, "cols": 4}, 3, 10, 6, False),
    "connect4_noise": ("connect4", {}, 3, 8, 0, True),
    "othello": ("othello", {}, 3, 8, 0, False),
    "othello_late": ("othello", {}, 3, 8, 50, False),
    "tictactoe": ("tictactoe", {}, 3, 10, 0, False),
    # late positions searched long enough for the solver to prove moves and roots
    "connect4_proofs": ("connect4", {}, 4, 40, 28, False),
    "othello_proofs": ("othello", {}, 3, 30, 52, False),
    # Gumbel root search (its noise from the same seeded generator on both backends)
    "connect4_gumbel": ("connect4", {}, 5, 16, 0, True, "gumbel"),
    "othello_gumbel": ("othello", {}, 3, 8, 20, True, "gumbel"),
}


def random_positions(game, n: int, min_ply: int, seed: int):
    """``n`` positions of uniform random play from the start, stopped at a random ply in
    ``[min_ply, max_plies)`` or before the move that would end the game (none is over)."""
    gen = torch.Generator().manual_seed(seed)
    state = game.init(n)
    target = torch.randint(min_ply, game.max_plies, (n,), generator=gen)
    going = torch.ones(n, dtype=torch.bool)
    for ply in range(game.max_plies):
        going &= ply < target
        nxt, _, done, _ = game.play(state, uniform_legal(game.legal_mask(state), gen), going)
        going &= ~done
        state = where_state(going, nxt, state)
    return state


def hashed_net(game):
    """evaluate(state) -> (logits float32 [M, A], value float32 [M]): fixed functions of the words."""
    def evaluate(state):
        h = sum(w * (2 * j + 31) for j, w in enumerate(state)) % 1009
        cols = torch.arange(1, game.num_actions + 1, dtype=torch.float64, device=h.device)
        return torch.sin(h.unsqueeze(1).double() * cols).float(), (0.9 * torch.cos(h.double())).float()
    return evaluate


def ends_in_one(game, state) -> int:
    """How many of the positions have a legal move that ends the game."""
    legal = game.legal_mask(state)
    ending = torch.zeros(legal.shape[0], dtype=torch.bool)
    for a in range(game.num_actions):
        _, _, done, _ = game.play(state, torch.full_like(state[0], a), legal[:, a])
        ending |= done & legal[:, a]
    return int(ending.sum())


def compare(game_id: str, params: dict, n: int, simulations: int, min_ply: int, noise: bool,
            search: str = "puct") -> dict:
    game = make_rules(game_id, "cpu", "torch", **params)
    state = random_positions(game, n, min_ply, seed=n + simulations + min_ply)
    evaluate = hashed_net(game)
    results = []
    for backend in ("numba", "cuda"):
        gen = torch.Generator().manual_seed(5)
        results.append(BatchedMCTS(game, "cpu", backend, search=search).search(state, evaluate, simulations,
                                                                               noise=noise, generator=gen))
    a, b = results
    return {"equal": {name: bool(torch.equal(getattr(a, name), getattr(b, name)))
                      for name in ("visits", "q", "value", "network_value", "prior", "solved", "exact", "plies",
                                   "root_solved") + (("gumbel_action", "improved_policy") if search == "gumbel" else ())},
            "proven": int(a.solved.sum()),
            "movers": sorted(set(game.to_move(state).tolist())), "ends_in_one": ends_in_one(game, state),
            "visited": int(a.visits.sum())}


def main() -> int:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        print("run with NUMBA_ENABLE_CUDASIM=1", file=sys.stderr)
        return 2
    from benchmarks.launch_count import search_launches

    GAMES["tictactoe"] = toy_game.ENTRY  # a game the engine never names: the search is generic
    out = {name: compare(*case) for name, case in CASES.items()}
    out["launches"] = search_launches("cuda")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
