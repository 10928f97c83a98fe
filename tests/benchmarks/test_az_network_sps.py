"""benchmarks/az_network_sps.py runs and compares like with like: its ``plain`` path computes
the shipped network's function (no speed is asserted)."""
import torch

from benchmarks import az_network_sps as bench
from src.agents import load_agent


def test_plain_path_is_the_networks_function():
    agent = load_agent("bundled")
    state = agent.game.init(32)
    for _ in range(6):
        state = agent.game.play(state, agent.game.random_actions(state))[0]
    obs = agent.encode(*state)
    with torch.no_grad():
        for got, want in zip(bench.plain_forward(agent.online, obs), agent.online(obs)):
            assert torch.allclose(got, want, atol=1e-5)


def test_it_prints_one_row_per_path(capsys):
    assert bench.main(["--rounds", "1", "--simulations", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| plain") or line.startswith("| shipped")]
    assert len(rows) == 2
