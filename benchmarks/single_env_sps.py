"""One game at a time: ``Connect4Env`` (``gymnasium.make("c4engine/Connect4-v0")``, random
opponent) against PettingZoo's classic ``connect_four_v3``, random legal moves, ~3 s each.

The figure a per-game Python loop gets from each; the batched ``Connect4VectorEnv`` row of
``env_sps.py`` is the way to use the engine. Needs the ``gym`` and ``pettingzoo`` extras.

    python benchmarks/single_env_sps.py
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402


def rate(fn, seconds: float = 3.0) -> float:
    fn(100)  # warm-up (numba cache load)
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < seconds:
        fn(1000)
        n += 1000
    return n / (time.perf_counter() - t)


def main() -> int:
    import gymnasium as gym
    from pettingzoo.classic import connect_four_v3

    import src.envs  # noqa: F401  (registers c4engine/Connect4-v0)

    rng = np.random.default_rng(0)
    env = gym.make("c4engine/Connect4-v0").unwrapped
    state = {"info": env.reset(seed=0)[1]}

    def ours(k):
        for _ in range(k):
            _, _, terminated, _, info = env.step(int(np.argmax(rng.random(7) * state["info"]["action_mask"])))
            state["info"] = env.reset()[1] if terminated else info

    classic = connect_four_v3.env()
    classic.reset(seed=0)

    def theirs(k):
        for _ in range(k):
            obs, _, terminated, truncated, _ = classic.last()
            if terminated or truncated:
                classic.reset()
                continue
            classic.step(int(np.argmax(rng.random(7) * obs["action_mask"])))

    print(f"machine: {machine()}")
    print(f"Connect4Env, random opponent: {rate(ours):.3g} agent steps/s (two plies each)")
    print(f"pettingzoo.classic.connect_four_v3: {rate(theirs):.3g} plies/s (one move of either agent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
