"""The numba-cuda search kernels (``kernels/mcts_cuda.py``) without a GPU: under numba's CUDA
simulator (in a subprocess, ``tests/agents/mcts_cuda_sim.py``) they give exactly the numba CPU
search's results and launch at most 4 kernels or torch ops per simulation besides the network;
and every game's kernels compile to PTX for a real GPU (sm_90)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.mcts_cuda_sim import CASES

ROOT = Path(__file__).resolve().parents[2]
HAS_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
HAS_NVVM = HAS_NUMBA_CUDA and importlib.util.find_spec("nvidia.cuda_nvcc") is not None
needs_numba_cuda = pytest.mark.skipif(not HAS_NUMBA_CUDA, reason="needs the 'cuda' extra (numba-cuda): "
                                      "pip install -e '.[cuda]' (scripts/setup.sh installs it)")
needs_nvvm = pytest.mark.skipif(not HAS_NVVM, reason="needs the 'cuda' extra (numba-cuda and the NVVM compiler "
                                "wheel nvidia-cuda-nvcc-cu12): pip install -e '.[cuda]' (scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def simulated() -> dict:
    """The JSON object ``tests.agents.mcts_cuda_sim`` prints, run once under the simulator."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "tests.agents.mcts_cuda_sim"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@needs_numba_cuda
@pytest.mark.parametrize("case", list(CASES))
def test_simulated_kernels_give_the_numba_search_exactly(simulated, case):
    r = simulated[case]
    assert all(r["equal"].values()), r["equal"]
    assert r["visited"] > 0


@needs_numba_cuda
def test_simulated_cases_cover_both_seats_and_the_end_of_each_game(simulated):
    """Per game (Connect4, Othello): positions with either side to move, and positions one move
    from the end (the search meets terminal leaves)."""
    for game_id in ("connect4", "othello"):
        cases = [simulated[name] for name, case in CASES.items() if case[0] == game_id]
        assert set().union(*(r["movers"] for r in cases)) == {0, 1}, game_id
        assert any(r["ends_in_one"] > 0 for r in cases), game_id
        assert any(r["proven"] > 0 for r in cases), game_id  # the solver's proofs are compared too


@needs_numba_cuda
def test_at_most_four_launches_per_simulation_besides_the_network(simulated):
    r = simulated["launches"]
    assert r["launches"] == 2  # one select, one backup
    # the simulator's only torch ops: .numpy() (aten::detach) of the network's two outputs; on
    # CUDA, __cuda_array_interface__ dispatches none
    assert r["ops"] + r["launches"] <= 4, r
    assert r["net_ops"] > 0  # the network's own ops were counted apart


@needs_nvvm
def test_every_games_kernels_compile_to_ptx():
    from kernels import mcts_cuda as kmc
    from src.games import GAMES, make_rules

    if kmc.SIMULATED:
        pytest.skip("NUMBA_ENABLE_CUDASIM is set in this process: no real CUDA compiler")
    for game_id in GAMES:
        rules = make_rules(game_id, "cpu", "torch").numba_rules()
        ptx = kmc.ptx(rules, cc=(9, 0))
        for name in ("select", "backup"):
            assert ".target sm_90" in ptx[name] and ".entry" in ptx[name], (game_id, name)
        # the descent's float64 arithmetic is not contracted into fused multiply-adds (the CPU
        # search has none), so the PUCT scores, and the visit counts, are the CPU search's
        assert "fma.rn.f64" not in ptx["select"], game_id


@pytest.mark.cuda
@needs_nvvm
def test_cuda_kernels_on_a_gpu_never_synchronise_and_match_numba():
    import torch

    from src.agents.alphazero import BatchedMCTS
    from src.games import make_rules
    from tests.agents.mcts_cuda_sim import hashed_net, random_positions

    for game_id in ("connect4", "othello"):
        game = make_rules(game_id, "cpu", "torch")
        state = random_positions(game, 33, 0, seed=1)
        expected = BatchedMCTS(game, "cpu", "numba").search(state, hashed_net(game), 24)
        gpu_game = make_rules(game_id, "cuda", "torch")
        mcts = BatchedMCTS(gpu_game, "cuda")
        assert mcts.backend == "cuda"
        gstate = type(state)(*(w.cuda() for w in state))
        mcts.search(gstate, hashed_net(gpu_game), 2)  # warm-up: compiles, CUDA init
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            r = mcts.search(gstate, hashed_net(gpu_game), 24)
        finally:
            torch.cuda.set_sync_debug_mode(0)
        # the network (on the GPU) and the leaves' softmax (the kernel's) may be a last bit off the
        # CPU's, which can flip only a near-tie: none is expected in these positions
        assert torch.equal(r.visits.cpu(), expected.visits), game_id


def test_backend_choice(monkeypatch):
    import torch

    from src.agents.alphazero.mcts import resolve_search_backend

    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    cuda = torch.device("cuda")
    assert resolve_search_backend(None, cuda) == ("cuda" if HAS_NUMBA_CUDA else "torch")
    assert resolve_search_backend("torch", cuda) == "torch"
    assert resolve_search_backend(None, torch.device("cpu")) == "numba"
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_search_backend("cuda", torch.device("cpu"))
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert resolve_search_backend("cuda", torch.device("cpu")) == "cuda"
