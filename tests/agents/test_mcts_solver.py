"""MCTS-Solver in the batched search (docs/mcts.md): proofs on every backend, checked against the
separately written one-game reference (tests/agents/reference_mcts.py) and against the exact
solver (bitbully), and what the root plays and learns from them."""
from __future__ import annotations

import pytest
import torch

from src.agents.alphazero import BatchedMCTS
from src.games import make_rules
from src.games.connect4 import C4State
from tests.agents.mcts_cuda_sim import hashed_net as words_net
from tests.agents.mcts_cuda_sim import random_positions as game_positions
from tests.agents.reference_mcts import reference_search, reference_solver_act
from tests.agents.test_mcts import G, hashed_net, positions, uniform_net
from tests.opponents import helpers as opponent_helpers

BACKENDS = ["numba", "torch"]
ROWS, COLS = G.rows, G.cols


def connect4():
    return make_rules("connect4", "cpu", "torch")


def late_positions(n: int, min_stones: int, seed: int):
    """``n`` positions of random play (none over) with at least ``min_stones`` stones."""
    cur, mask = opponent_helpers.random_positions(8 * n, G, seed)
    stones = torch.tensor([bin(int(m)).count("1") for m in mask])
    keep = (stones >= min_stones).nonzero().squeeze(1)[:n]
    assert keep.numel() == n
    return cur[keep], mask[keep]


def searched(backend, cur, mask, net, simulations, solver=True, **kwargs):
    mcts = BatchedMCTS(connect4(), "cpu", backend, solver=solver)
    return mcts, mcts.search(C4State(cur, mask), lambda s: net(*s), simulations, **kwargs)


def reference_net(net):
    """``net`` (batched, tensors) as the reference's ``evaluate(cur, mask) -> (logits, value)``."""
    def evaluate(cur, mask):
        logits, value = net(torch.tensor([cur]), torch.tensor([mask]))
        return [float(x) for x in logits[0]], float(value[0])
    return evaluate


@pytest.mark.parametrize("backend", BACKENDS)
def test_agrees_with_the_one_game_reference_solver(backend):
    """Visits, proofs, proof lengths and root values equal the reference's, game by game."""
    cur, mask = late_positions(16, 18, seed=11)
    sims = 120
    _, r = searched(backend, cur, mask, hashed_net, sims)
    proofs = 0
    for i in range(cur.shape[0]):
        ref = reference_search(int(cur[i]), int(mask[i]), reference_net(hashed_net), sims, solver=True)
        assert r.visits[i].tolist() == ref["visits"], i
        assert r.solved[i].tolist() == [p is not None for p in ref["proven"]], i
        assert r.exact[i].tolist() == [0.0 if p is None else p for p in ref["proven"]], i
        assert r.plies[i].tolist() == ref["plies"], i
        assert bool(r.root_solved[i]) == (ref["root_proven"] is not None), i
        assert float(r.value[i]) == pytest.approx(ref["value"], abs=1e-6), i
        legal = [a for a in range(COLS) if r.legal[i, a]]
        assert int(BatchedMCTS.act(r)[i]) == reference_solver_act(ref, legal), i
        proofs += sum(p is not None for p in ref["proven"])
    assert proofs >= 20  # the positions exercise the solver, not only the plain search


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_the_solver_it_is_the_plain_search(backend):
    cur, mask = late_positions(8, 18, seed=12)
    _, r = searched(backend, cur, mask, hashed_net, 60, solver=False)
    for i in range(cur.shape[0]):
        ref = reference_search(int(cur[i]), int(mask[i]), reference_net(hashed_net), 60)
        assert r.visits[i].tolist() == ref["visits"], i
    assert r.solved is None and BatchedMCTS.policy_target(r).sum(dim=1).tolist() == pytest.approx([1.0] * 8)


def test_numba_and_torch_prove_the_same_on_othello():
    game = make_rules("othello", "cpu", "torch")
    state = game_positions(game, 12, 48, seed=4)
    out = [BatchedMCTS(game, "cpu", b).search(state, words_net(game), 80) for b in BACKENDS]
    for name in ("visits", "q", "value", "solved", "exact", "plies", "root_solved"):
        assert torch.equal(getattr(out[0], name), getattr(out[1], name)), name
    assert int(out[0].solved.sum()) >= 10


# --- against the exact solver -----------------------------------------------------------------

@pytest.fixture(scope="module")
def exact():
    pytest.importorskip("bitbully", reason="the solver extra (bitbully) is not installed")
    from src.opponents.solver import Solver
    return Solver()


def distance(score: int, stones: int) -> int | None:
    """Plies to the end of the game under perfect play after the move of solver ``score``,
    the move included, from a position of ``stones`` stones (Pascal Pons' scores: an immediate
    win scores (43 - stones) // 2, one less per move of the winner's later)."""
    if score > 0:
        return 2 * ((43 - stones) // 2 - score + 1) - 1
    if score < 0:
        return 2 * ((42 - stones) // 2 + score + 1)
    return 42 - stones  # a draw fills the board


def sign(x) -> float:
    return float((x > 0) - (x < 0))


def test_distance_reads_the_scores_of_known_positions(exact):
    cases = [("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o . . . . . .
        o . . . . . .
        o x x x . . .
        """, 4, 1), ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        o . . . . . .
        o . . . . . .
        o x x x . . .
        """, 1, 2), ("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . o o . . .
        . . x x . . .
        """, 1, 3)]
    for picture, column, plies in cases:
        cur, mask = (int(w[0]) for w in positions(picture))
        assert distance(exact.scores(cur, mask)[column], bin(mask).count("1")) == plies


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_proof_at_the_root_agrees_with_the_exact_solver(backend, exact):
    """Each root move the search proves has the solver's outcome, and a proof line no shorter
    than perfect play's (the proof's line is one the winner can force, so a win cannot come
    faster, nor a loss later than a perfect loser holds out), of the right parity; a proven root
    has the solver's value."""
    cur, mask = late_positions(40, 20, seed=13)
    _, r = searched(backend, cur, mask, hashed_net, 160)
    checked = 0
    for i in range(cur.shape[0]):
        c, m = int(cur[i]), int(mask[i])
        scores, stones = exact.scores(c, m), bin(m).count("1")
        for a in range(COLS):
            if not r.solved[i, a]:
                continue
            checked += 1
            assert float(r.exact[i, a]) == sign(scores[a]), (i, a)
            plies, best = int(r.plies[i, a]), distance(scores[a], stones)
            assert plies >= best and plies % 2 == best % 2, (i, a, plies, best)
            if scores[a] == 0:
                assert plies == best  # a drawn line always fills the board
        if r.root_solved[i]:
            assert float(r.value[i]) == sign(max(s for a, s in enumerate(scores) if r.legal[i, a]))
    assert checked >= 60


@pytest.mark.parametrize("backend,plies,simulations", [
    ("numba", 1, 100), ("torch", 1, 100), ("numba", 3, 1200), ("torch", 3, 1200),
    ("numba", 5, 8000),  # the torch reference descends level by level: too slow for 8000 simulations
])
def test_proves_forced_wins_and_plays_them(backend, plies, simulations, exact):
    """Positions where the side to move forces a win in ``plies`` plies (and no faster): with
    a uniform network (no knowledge: the search alone) the search proves the root won and plays
    a winning move, by the fastest line once it is short (up to three plies; longer ones no
    slower than perfect play)."""
    cur, mask = opponent_helpers.random_positions(3000, G, seed=20 + plies)
    pick = []
    for i in range(cur.shape[0]):
        c, m = int(cur[i]), int(mask[i])
        if bin(m).count("1") < 10:
            continue
        scores, stones = exact.scores(c, m), bin(m).count("1")
        fastest = min((distance(s, stones) for s in scores if s > 0 and s < 100), default=None)
        if fastest == plies:
            pick.append(i)
        if len(pick) == 8:
            break
    assert len(pick) == 8
    idx = torch.tensor(pick)
    _, r = searched(backend, cur[idx], mask[idx], uniform_net, simulations)
    moves = BatchedMCTS.act(r)
    for j, i in enumerate(pick):
        scores = exact.scores(int(cur[i]), int(mask[i]))
        a = int(moves[j])
        assert bool(r.root_solved[j]) and float(r.value[j]) == 1.0, j
        assert scores[a] > 0 and r.solved[j, a] and float(r.exact[j, a]) == 1.0, j
        if plies <= 3:
            assert int(r.plies[j, a]) == plies, j
        else:
            assert int(r.plies[j, a]) >= plies and int(r.plies[j, a]) % 2 == 1, j


def adversarial_net(exact):
    """A network that prefers the moves the exact solver says lose (and calls every position won)."""
    def net(cur, mask):
        logits = torch.zeros((cur.shape[0], COLS))
        for i in range(cur.shape[0]):
            scores = exact.scores(int(cur[i]), int(mask[i]))
            logits[i] = torch.tensor([4.0 if 0 > s else 0.0 for s in scores])
        return logits, torch.ones(cur.shape[0])
    return net


@pytest.mark.parametrize("backend", BACKENDS)
def test_never_plays_a_proven_loss_when_another_move_exists(backend, exact):
    cur, mask = late_positions(120, 16, seed=14)
    net = adversarial_net(exact)
    plain = BatchedMCTS.act(searched(backend, cur, mask, net, 48, solver=False)[1])
    mcts, r = searched(backend, cur, mask, net, 48)
    target = mcts.policy_target(r)
    lost = r.solved & (r.exact < 0)
    rescued = 0
    for temperature in (0.0, 1.0):
        moves = BatchedMCTS.act(r, temperature, torch.Generator().manual_seed(3))
        for i in range(cur.shape[0]):
            a = int(moves[i])
            assert r.legal[i, a]
            if lost[i, a]:
                assert (lost[i] | ~r.legal[i]).all(), i  # every legal move is proven lost
    for i in range(cur.shape[0]):
        scores = exact.scores(int(cur[i]), int(mask[i]))
        assert all(scores[a] < 0 for a in range(COLS) if lost[i, a]), i  # what it proves lost is lost
        # the training target: a distribution over the legal moves, none on a proven loss if avoidable
        assert float(target[i].sum()) == pytest.approx(1.0) and (target[i][~r.legal[i]] == 0).all()
        if not (lost[i] | ~r.legal[i]).all():
            assert (target[i][lost[i]] == 0).all(), i
        p = int(plain[i])
        rescued += bool(lost[i, p] and scores[p] < 0 and not (lost[i] | ~r.legal[i]).all())
    assert rescued >= 3  # without the solver, the same search walks into some of those losses


def test_a_lost_root_holds_out_longest_and_a_won_one_wins_fastest():
    """Hand-built proofs at the root: ``act`` and ``policy_target`` read them as documented."""
    from src.agents.alphazero import SearchResult

    legal = torch.tensor([[True, True, True, False], [True, True, True, True], [True, True, False, False]])
    r = SearchResult(
        visits=torch.tensor([[5, 3, 2, 0], [1, 6, 2, 1], [4, 6, 0, 0]]), q=torch.zeros(3, 4), value=torch.zeros(3),
        network_value=torch.zeros(3), prior=torch.full((3, 4), 0.25), simulations=10, legal=legal,
        solved=torch.tensor([[True, True, True, False], [True, True, True, False], [False, True, False, False]]),
        exact=torch.tensor([[-1.0, -1.0, -1.0, 0.0], [1.0, 1.0, -1.0, 0.0], [0.0, -1.0, 0.0, 0.0]]),
        plies=torch.tensor([[2, 6, 4, 0], [5, 3, 2, 0], [0, 2, 0, 0]], dtype=torch.int32),
        root_solved=torch.tensor([True, True, False]))
    assert BatchedMCTS.act(r).tolist() == [1, 1, 0]  # latest loss; fastest win; the loss avoided
    t = BatchedMCTS.policy_target(r)
    assert t[0].tolist() == pytest.approx([0.5, 0.3, 0.2, 0.0])  # all lost: the visits
    assert t[1].tolist() == pytest.approx([1 / 7, 6 / 7, 0.0, 0.0])  # the winning moves
    assert t[2].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])  # not the proven loss
