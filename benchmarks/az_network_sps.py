"""The AlphaZero network's CPU path against a plain NCHW forward: milliseconds per forward
(a search's leaf batch), per forward + backward (a training minibatch) and per self-play
search of 256 games, each in one alternating series.

``PolicyValueNet.forward`` hands its convolutions a channels-last (NHWC) input on the CPU and
applies its activations in place; ``plain`` is the same network's function with out-of-place
activations on contiguous NCHW tensors (``PolicyValueNet.forward`` before that change).

    python benchmarks/az_network_sps.py [--checkpoint bundled] [--simulations 24] [--rounds 5]

Run it alone on the machine: the figures are wall time.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401  (first, as the CLI does)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.machine import machine  # noqa: E402
from src.agents.networks import threat_planes  # noqa: E402


def plain_forward(net, obs):
    """The function of ``PolicyValueNet.forward`` with NCHW tensors and out-of-place ops."""
    if net.features == "threats" and obs.shape[1] == 2:
        obs = threat_planes(obs)
    x = F.relu(net.stem(obs.contiguous()))
    for block in net.tower:
        x = F.relu(x + block.conv2(F.relu(block.conv1(x))))
    logits = net.policy_fc(F.relu(net.policy_conv(x)).flatten(1))
    v = F.relu(net.value_fc1(F.relu(net.value_conv(x)).flatten(1)))
    return logits, torch.tanh(net.value_fc2(v)).squeeze(1)


def _timed(f, n):
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1000.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="bundled")
    ap.add_argument("--simulations", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    from src.agents import load_agent
    agent = load_agent(args.checkpoint)
    game, net = agent.game, agent.online
    gen = torch.Generator().manual_seed(0)
    state = game.init(256)
    for p in range(20):  # random openings of 0..20 plies, as the shipped config's self-play
        active = torch.rand(256, generator=gen) < 1.0 - p / 21.0
        state = game.play(state, game.random_actions(state), active)[0]
    batch = agent.encode(*state).contiguous()
    leaves = batch[:200].contiguous()
    train_net = copy.deepcopy(net).train()
    target = torch.randint(0, game.num_actions, (batch.shape[0],), generator=gen)

    def step(forward):
        logits, value = forward(batch)
        train_net.zero_grad(set_to_none=True)
        (F.cross_entropy(logits, target) + value.pow(2).mean()).backward()

    paths = {"plain": lambda o: plain_forward(net, o), "shipped": net}
    train_paths = {"plain": lambda o: plain_forward(train_net, o), "shipped": train_net}
    rows = {k: {"forward": [], "train": [], "search": []} for k in paths}
    sims = args.simulations
    for r in range(args.rounds + 1):  # round 0 warms up
        for name in (("plain", "shipped") if r % 2 else ("shipped", "plain")):
            fwd, tfwd = paths[name], train_paths[name]
            with torch.no_grad():
                f = _timed(lambda: fwd(leaves), 100)

                def ev(s, fwd=fwd):
                    return fwd(agent.encode(*s))
                g = torch.Generator().manual_seed(r)
                s = _timed(lambda: agent.mcts.search(state, ev, sims, noise=True, generator=g), 5)
            t = _timed(lambda: step(tfwd), 40)
            if r:
                rows[name]["forward"].append(f)
                rows[name]["train"].append(t)
                rows[name]["search"].append(s)
    print(f"machine: {machine()}; {args.rounds} alternating rounds, medians (ms)")
    print(f"| path | forward, 200 leaves | forward + backward, 256 samples | search, 256 games x {sims} simulations |")
    print("|---|---:|---:|---:|")
    for name, v in rows.items():
        print(f"| {name} | {statistics.median(v['forward']):.2f} | {statistics.median(v['train']):.2f} | "
              f"{statistics.median(v['search']):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
