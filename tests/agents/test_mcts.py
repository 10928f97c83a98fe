"""BatchedMCTS (docs/mcts.md) on hand-drawn boards, on both backends, and numba == torch."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kernels import connect4_torch as kt
from kernels import mcts_numba as kmn
from kernels import mcts_torch as kmt
from kernels.geometry import Geometry
from src.agents.alphazero import BatchedMCTS, SearchResult
from src.games import make_rules
from src.games.connect4 import C4State
from tests.agents.host_sync import host_syncs, recorded_ops
from tests.games.reference import check_reachable, decode, encode, parse, winner, wins_at
from tests.opponents import helpers as opponent_helpers

G = Geometry()


def connect4(device="cpu"):
    """Connect4's rules (the ``Game`` the search is given), torch backend."""
    return make_rules("connect4", device, "torch", rows=G.rows, cols=G.cols)


class MCTS(BatchedMCTS):
    """The search as these tests call it: positions as Connect4's (cur, mask) and ``net(cur, mask)``."""

    def __init__(self, g, device, backend=None, **kwargs):
        super().__init__(connect4(device), device, backend, **kwargs)

    def search(self, cur, mask, net, simulations, **kwargs):
        return super().search(C4State(cur, mask), lambda s: net(*s), simulations, **kwargs)


BACKENDS = [pytest.param("numba", id="numba"), pytest.param("torch", id="torch-cpu")]

EMPTY = """
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
"""
WIN_IN_ONE = """
. . . . . . .
. . . . . . .
. . . . . . .
o . . . . . .
o . . . . . .
o x x x . . .
"""  # x wins in column 4 (o threatens column 0)
BLOCK = """
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
x . . . . . .
o o o . . . x
"""  # o wins in column 3 unless x plays there
DOUBLE_THREAT = """
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
. . o o . . .
. . x x . . .
"""  # x in column 1 or 4 makes two threats on the bottom row: a win three plies deep
FULL_COLUMNS = """
o . x . . . .
x . o . . . .
o . x . . . .
x . o . . . .
o . x . . . .
x . o . . . .
"""  # columns 0 and 2 are full
TWO_WINS = """
o o x . . x o
o o o . . x o
x o x . . x x
o x o . x o x
o o x . x o o
x o x o x x x
"""  # only columns 3 and 4 are legal, and both win for x
LAST_CELL = """
x . o x o o x
o o x o x x x
x o x x o o o
x x o o o x o
x o x x x o x
o o x o x o o
"""  # one empty cell: the only move fills the board without a four (a draw)


def positions(*pictures: str, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    words = []
    for p in pictures:
        board = parse(p)
        check_reachable(board)
        assert winner(board) == 0
        words.append(encode(board))
    cur, mask = zip(*words)
    return (torch.tensor(cur, dtype=torch.int64, device=device), torch.tensor(mask, dtype=torch.int64, device=device))


def uniform_net(cur, mask):
    """Uniform prior, value 0 everywhere: the search alone must find the tactics."""
    return torch.zeros((cur.shape[0], G.cols), device=cur.device), torch.zeros(cur.shape[0], device=cur.device)


def hashed_net(cur, mask):
    """A deterministic non-uniform network: logits in [-2, 2) and a value in [-1, 1) from a
    fixed hash of the position (tensor ops only, any device, no host sync)."""
    h = cur * 0x2545F4914F6CDD1D + mask * 0x9E3779B97 + 0x632BE59BD9B4E019
    h = h ^ (h >> 29)
    h = h * 0x1B873593
    h = h ^ (h >> 31)
    shifts = torch.arange(G.cols, device=cur.device) * 7
    logits = ((h.unsqueeze(1) >> shifts) & 127).to(torch.float32) / 32.0 - 2.0
    value = ((h >> 50) & 255).to(torch.float32) / 128.0 - 1.0
    return logits, value


def random_positions(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n positions of random play stopped at random plies (no game over, some boards nearly full)."""
    return opponent_helpers.random_positions(n, G, seed)


def search(backend, pictures, simulations, net=uniform_net, **kwargs):
    cur, mask = positions(*pictures)
    return MCTS(G, "cpu", backend).search(cur, mask, net, simulations, **kwargs)


def one_game_search(board, net, simulations, c_puct=1.25, fpu=0.0):
    """A plain one-game PUCT, read off docs/mcts.md with Python floats and
    numpy boards (1 = side to move), sharing only the priors' softmax with the kernels.
    Returns the root's (N, W) as lists."""
    def evaluate(b):
        cur, mask = (torch.tensor([w], dtype=torch.int64) for w in encode(b))
        logits, value = net(cur, mask)
        return kmt.priors(logits, torch.from_numpy(b[-1] == 0)[None])[0].tolist(), float(value[0])

    def new_node(b, prior):
        return {"board": b, "P": prior, "N": [0] * G.cols, "W": [0.0] * G.cols, "kids": {}}

    root = new_node(board, evaluate(board)[0])
    for _ in range(simulations if (board[-1] == 0).any() else 0):
        node, path = root, []
        while True:
            total = sum(node["N"])
            best, best_score = None, None
            for a in np.flatnonzero(node["board"][-1] == 0):
                n = node["N"][a]
                q = node["W"][a] / n if n > 0 else fpu
                score = q + c_puct * node["P"][a] * math.sqrt(1 + total) / (1 + n)
                if best is None or score > best_score:
                    best, best_score = int(a), score
            path.append((node, best))
            kid = node["kids"].get(best)
            if kid is None:
                b = node["board"].copy()
                r = int((b[:, best] != 0).sum())
                b[r, best] = 1
                terminal = -1.0 if wins_at(b, r, best) else 0.0 if (b != 0).all() else None
                b = np.where(b == 0, 0, 3 - b).astype(np.int8)  # the other side moves next
                if terminal is None:
                    prior, v = evaluate(b)
                    node["kids"][best] = new_node(b, prior)
                else:
                    v = node["kids"][best] = terminal
                break
            if isinstance(kid, float):  # a terminal child: its exact value again
                v = kid
                break
            node = kid
        for node, a in reversed(path):
            node["N"][a] += 1
            node["W"][a] += -v
            v = -v
    return root["N"], root["W"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_agrees_with_a_one_game_search_read_off_the_doc(backend):
    cur, mask = random_positions(6, seed=8)
    boards = [decode(int(c), int(m), G.rows, G.cols) for c, m in zip(cur, mask)]
    cases = [(b, hashed_net, 40) for b in boards] + [(parse(DOUBLE_THREAT), uniform_net, 100),
                                                      (parse(BLOCK), hashed_net, 60)]
    for board, net, sims in cases:
        c, m = (torch.tensor([w], dtype=torch.int64) for w in encode(board))
        r = MCTS(G, "cpu", backend, solver=False).search(c, m, net, sims)  # the plain PUCT search
        n, w = one_game_search(board, net, sims)
        assert r.visits[0].tolist() == n
        assert r.q[0].tolist() == [float(np.float32(wi / ni)) if ni else 0.0 for wi, ni in zip(w, n)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_plays_the_immediate_win(backend):
    r = search(backend, [WIN_IN_ONE], 64)
    assert BatchedMCTS.act(r).tolist() == [4]
    assert r.q[0, 4] == 1.0  # every visit of a winning move backs up exactly +1


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocks_the_immediate_loss(backend):
    r = search(backend, [BLOCK], 200)
    assert BatchedMCTS.act(r).tolist() == [3]
    others = [c for c in range(G.cols) if c != 3]
    assert (r.q[0, others] < r.q[0, 3]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_finds_the_double_threat_three_plies_deep(backend):
    r = search(backend, [DOUBLE_THREAT], 200)
    assert BatchedMCTS.act(r).item() in (1, 4)
    assert r.q[0, BatchedMCTS.act(r).item()] > 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_columns_never_get_visits(backend):
    r = search(backend, [FULL_COLUMNS], 100, net=hashed_net)
    assert r.visits[0, 0] == 0 and r.visits[0, 2] == 0
    assert r.q[0, 0] == 0 and r.q[0, 2] == 0
    assert r.visits.sum() == 100


@pytest.mark.parametrize("backend", BACKENDS)
def test_visits_add_up_to_simulations(backend):
    cur, mask = random_positions(40, seed=1)
    for sims in (1, 7, 33):
        r = MCTS(G, "cpu", backend).search(cur, mask, hashed_net, sims)
        assert (r.visits.sum(dim=1) == sims).all()
        assert (r.visits[~kt.legal_mask(mask, G)] == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_move_terminal_uses_exact_values_not_the_network(backend):
    calls = []

    def net(cur, mask):
        calls.append(cur.shape[0])
        return hashed_net(cur, mask)

    r = search(backend, [TWO_WINS, LAST_CELL], 30, net=net)
    assert r.visits.sum(dim=1).tolist() == [30, 30]
    assert r.visits[0, [3, 4]].sum() == 30 and r.visits[1, 1] == 30
    assert r.visits[0, 3] == 30 and r.q[0, 3] == 1.0  # Q = 1 beats the unvisited column 4's fpu 0
    assert r.q[1, 1] == 0.0
    assert r.value.tolist() == [1.0, 0.0]
    assert r.network_value.tolist() == hashed_net(*positions(TWO_WINS, LAST_CELL))[1].tolist()
    # the numba backend asks the network about the roots only; torch also sends the (ignored) leaves
    assert calls == ([2] if backend == "numba" else [2] * 31)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backup_negates_the_value_at_each_ply(backend):
    # a constant value v for the side to move at every leaf: depth-1 leaves give the root -v
    r = search(backend, [EMPTY], 7, net=lambda c, m: (uniform_net(c, m)[0], torch.full((c.shape[0],), 0.5)))
    assert r.visits.tolist() == [[1] * 7]  # fpu 0 > -0.5: each column once, in index order
    assert r.q.tolist() == [[-0.5] * 7]
    assert r.value.tolist() == [-0.5]
    assert r.network_value.tolist() == [0.5]


def test_a_root_with_no_legal_move_is_not_searched():
    full = """
    x o x o x o x
    x o x o x o x
    o x o x o x o
    x o x o x o x
    x o x o x o x
    o x o x o x o
    """
    board = parse(full)
    assert winner(board) == 0 and (board != 0).all()
    cur, mask = (torch.tensor([w], dtype=torch.int64) for w in encode(board))
    for backend in ("numba", "torch"):
        r = MCTS(G, "cpu", backend).search(cur, mask, uniform_net, 10)
        assert r.visits.tolist() == [[0] * 7] and r.value.tolist() == [0.0]


def test_numba_and_torch_give_identical_results():
    cur, mask = random_positions(64, seed=2)
    for sims in (1, 16, 50):
        a = MCTS(G, "cpu", "numba").search(cur, mask, hashed_net, sims)
        b = MCTS(G, "cpu", "torch").search(cur, mask, hashed_net, sims)
        assert torch.equal(a.visits, b.visits)
        assert torch.equal(a.q, b.q)
        assert torch.equal(a.value, b.value)
        assert torch.equal(a.prior, b.prior)


def grow_tree(kernels, cur, mask, simulations):
    """Run the search kernels directly (no compaction of the network's batch) -> the tree as tensors."""
    numpy = kernels is kmn
    conv = (lambda x: x.numpy()) if numpy else (lambda x: x)
    back = torch.from_numpy if numpy else (lambda x: x)
    rules = connect4().numba_rules() if numpy else connect4()
    tree = kernels.init_tree(cur.shape[0], simulations, rules, conv(torch.stack((cur, mask), dim=1)))
    logits, _ = hashed_net(cur, mask)
    kernels.set_root(tree, conv(kmt.priors(logits, kt.legal_mask(mask, G))))
    for k in range(simulations):
        leaf_words, _ = (back(x) for x in kernels.select_leaves(tree, k, rules, 1.25, 0.0))
        leaf_cur, leaf_mask = leaf_words[:, 0], leaf_words[:, 1]
        logits, value = hashed_net(leaf_cur, leaf_mask)
        kernels.expand_and_backup(tree, k, rules, conv(kmt.priors(logits, kt.legal_mask(leaf_mask, G))),
                                  conv(value.to(torch.float64)))
    out = {name: back(getattr(tree, name)) for name in
           ("words", "children", "prior", "visits", "wsum", "solved", "node_value", "plies")}
    out["node_cur"], out["node_mask"] = out["words"][..., 0], out["words"][..., 1]
    return out


def test_numba_and_torch_kernels_grow_identical_trees():
    cur, mask = random_positions(24, seed=6)
    a, b = grow_tree(kmn, cur, mask, 30), grow_tree(kmt, cur, mask, 30)
    for name in ("children", "visits", "wsum"):
        assert torch.equal(a[name], b[name]), name
    # slots a simulation did not fill (its leaf was an existing solved node) hold anything
    used = torch.zeros_like(a["solved"])
    used[:, 0] = True
    games = torch.arange(24).unsqueeze(1).expand(-1, a["children"].shape[1] * G.cols)
    kids = a["children"].reshape(24, -1).long()
    used[games[kids >= 0], kids[kids >= 0]] = True
    for name in ("node_cur", "node_mask", "solved", "node_value", "plies"):
        assert torch.equal(a[name][used], b[name][used]), name
    expanded = used & ~a["solved"]
    assert torch.equal(a["prior"][expanded], b["prior"][expanded])
    assert (a["visits"][:, 0].sum(dim=1) == 30).all()


def test_numba_and_torch_agree_with_noise_from_the_same_seed():
    cur, mask = random_positions(16, seed=3)
    out = []
    for backend in ("numba", "torch"):
        gen = torch.Generator().manual_seed(7)
        out.append(MCTS(G, "cpu", backend).search(cur, mask, hashed_net, 20, noise=True, generator=gen))
    assert torch.equal(out[0].visits, out[1].visits) and torch.equal(out[0].prior, out[1].prior)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_gives_each_game_its_own_search(backend):
    cur, mask = random_positions(12, seed=4)
    mcts = MCTS(G, "cpu", backend)
    together = mcts.search(cur, mask, hashed_net, 40)
    for i in range(12):
        alone = mcts.search(cur[i:i + 1], mask[i:i + 1], hashed_net, 40)
        assert torch.equal(alone.visits[0], together.visits[i])
        assert torch.equal(alone.q[0], together.q[i])


@pytest.mark.parametrize("backend", BACKENDS)
def test_noise_only_when_asked(backend):
    cur, mask = positions(EMPTY, FULL_COLUMNS)
    mcts = MCTS(G, "cpu", backend)
    plain = mcts.search(cur, mask, hashed_net, 10)
    expected = kmt.priors(hashed_net(cur, mask)[0], kt.legal_mask(mask, G)).to(torch.float32)
    assert torch.equal(plain.prior, expected)
    noisy = mcts.search(cur, mask, hashed_net, 10, noise=True, generator=torch.Generator().manual_seed(1))
    again = mcts.search(cur, mask, hashed_net, 10, noise=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(noisy.prior, again.prior) and torch.equal(noisy.visits, again.visits)
    assert not torch.equal(noisy.prior, plain.prior)
    assert noisy.prior[1, [0, 2]].tolist() == [0.0, 0.0]  # no noise on full columns
    assert torch.allclose(noisy.prior.sum(dim=1), torch.ones(2))
    assert (noisy.visits.sum(dim=1) == 10).all()


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_dirichlet_noise_has_the_dirichlet_mean_and_variance(alpha):
    legal = torch.ones((20000, 4), dtype=torch.bool)
    legal[:, 3] = False
    x = kmt.dirichlet(legal, alpha, torch.Generator().manual_seed(0))
    assert (x[:, 3] == 0).all() and torch.allclose(x.sum(dim=1), torch.ones(20000, dtype=torch.float64))
    k, a0 = 3, 3 * alpha  # Dirichlet(alpha, alpha, alpha): mean 1/3, var (1/3)(2/3)/(a0 + 1)
    assert abs(x[:, :3].mean().item() - 1 / k) < 0.01
    var = (1 / k) * (1 - 1 / k) / (a0 + 1)
    assert abs(x[:, 0].var().item() - var) < 0.1 * var


def test_act_and_policy_target():
    visits = torch.tensor([[0, 5, 5, 0], [1, 2, 3, 4], [0, 0, 0, 0]])
    prior = torch.tensor([[0.25] * 4, [0.25] * 4, [0.1, 0.2, 0.6, 0.1]])
    r = SearchResult(
        visits=visits, q=torch.zeros(3, 4), value=torch.zeros(3), network_value=torch.zeros(3), prior=prior,
        simulations=10)
    assert BatchedMCTS.act(r, 0.0).tolist() == [1, 3, 2]  # ties: lowest index; no visits: the prior
    target = BatchedMCTS.policy_target(r)
    assert torch.allclose(target[:2], visits[:2].float() / 10)
    # temperature 1: proportional to visits; tiny temperature: the most visited
    many = SearchResult(visits=visits[1:2].repeat(20000, 1), q=None, value=None, network_value=None,
                   prior=prior[1:2].repeat(20000, 1), simulations=10)
    drawn = BatchedMCTS.act(many, 1.0, torch.Generator().manual_seed(0))
    freq = torch.bincount(drawn, minlength=4).double() / 20000
    assert torch.allclose(freq, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64), atol=0.015)
    assert (BatchedMCTS.act(many, 0.01, torch.Generator().manual_seed(0)) == 3).all()
    never = SearchResult(visits=torch.tensor([[0, 3, 0, 7]]).repeat(5000, 1), q=None, value=None, network_value=None,
                         prior=torch.full((5000, 4), 0.25), simulations=10)
    assert set(BatchedMCTS.act(never, 2.0, torch.Generator().manual_seed(1)).tolist()) == {1, 3}


@pytest.mark.parametrize("solver", [False, True])
def test_torch_search_calls_no_op_that_synchronises_on_cuda(solver):
    """The CPU stand-in for CUDA's sync debug mode: record every aten op of a torch search
    (with noise and sampling, with and without the solver's backup) and look for the ones that
    make the host wait for the device."""
    cur, mask = random_positions(16, seed=9)
    mcts = MCTS(G, "cpu", "torch", solver=solver)
    gen = torch.Generator().manual_seed(0)
    with recorded_ops() as seen:
        r = mcts.search(cur, mask, hashed_net, 12, noise=True, generator=gen)
        BatchedMCTS.act(r, 1.0, gen)
        BatchedMCTS.act(r, 0.0)
        BatchedMCTS.policy_target(r)
    assert "argmax" in seen and ("index_put_" if solver else "scatter_add_") in seen  # the recording works
    assert not host_syncs(seen)


@pytest.mark.cuda
def test_torch_search_on_cuda_never_synchronises_and_matches_numba():
    cur, mask = random_positions(32, seed=5)
    expected = MCTS(G, "cpu", "numba").search(cur, mask, hashed_net, 24)
    mcts = MCTS(G, "cuda", "torch")
    gcur, gmask = cur.cuda(), mask.cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    mcts.search(gcur, gmask, hashed_net, 3, noise=True, generator=gen)  # warm-up: lazy constants, CUDA init
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        r = mcts.search(gcur, gmask, hashed_net, 24)
        mcts.search(gcur, gmask, hashed_net, 24, noise=True, generator=gen)
        actions = BatchedMCTS.act(r, 1.0, gen)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.equal(r.visits.cpu(), expected.visits)
    assert actions.shape == (32,)
