"""A per-step reference trainer: what a one-game-at-a-time pipeline does, for comparison.

One game at a time on a plain 2-D board, the DQN acting on single observations, a random
opponent, a numpy replay buffer, and one minibatch update (the config's batch size, the same
network and the same Double-DQN loss) per agent step. ``benchmarks/train_sps.py`` times it
beside the real Trainer; it is not used by the product.
"""
from __future__ import annotations

import random
import time

import numpy as np
import torch

from src.agents.dqn import DQNAgent


class PlainConnect4:
    """One game on a rows x cols list-of-lists board; player 1 or 2 to move."""

    def __init__(self, rows: int = 6, cols: int = 7):
        self.rows, self.cols = rows, cols
        self.reset()

    def reset(self):
        self.board = [[0] * self.cols for _ in range(self.rows)]
        self.heights = [0] * self.cols
        self.to_move = 1
        self.moves = 0

    def legal(self) -> list[bool]:
        return [h < self.rows for h in self.heights]

    def obs(self) -> np.ndarray:
        b = np.array(self.board)
        return np.stack([(b == self.to_move), (b == 3 - self.to_move)]).astype(np.float32)

    def _wins(self, r: int, c: int) -> bool:
        p = self.board[r][c]
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            n = 1
            for s in (1, -1):
                rr, cc = r + s * dr, c + s * dc
                while 0 <= rr < self.rows and 0 <= cc < self.cols and self.board[rr][cc] == p:
                    n += 1
                    rr, cc = rr + s * dr, cc + s * dc
            if n >= 4:
                return True
        return False

    def play(self, c: int) -> tuple[float, bool]:
        """Reward for the mover (+1 win, -1 illegal) and done."""
        if not (0 <= c < self.cols) or self.heights[c] >= self.rows:
            return -1.0, True
        r = self.heights[c]
        self.board[r][c] = self.to_move
        self.heights[c] += 1
        self.moves += 1
        if self._wins(r, c):
            return 1.0, True
        self.to_move = 3 - self.to_move
        return 0.0, self.moves == self.rows * self.cols


def run_reference(cfg: dict, seconds: float, device: str = "cpu", warmup_steps: int | None = None) -> dict:
    """Train per step for ``seconds`` (after filling the replay to learning_starts); returns rates."""
    p = dict(cfg["agent"]["params"])
    rows, cols = cfg["game"]["params"]["rows"], cfg["game"]["params"]["cols"]
    rng = random.Random(0)
    torch.manual_seed(0)
    agent = DQNAgent(p, (2, rows, cols), cols, device, seed=0)
    cap = p["replay_buffer_size"]
    buf = {"obs": np.zeros((cap, 2, rows, cols), np.float32), "next": np.zeros((cap, 2, rows, cols), np.float32),
           "a": np.zeros(cap, np.int64), "r": np.zeros(cap, np.float32), "d": np.zeros(cap, bool),
           "legal": np.zeros((cap, cols), bool)}
    size = ptr = 0
    env = PlainConnect4(rows, cols)
    start_needed = max(p["learning_starts"], p["batch_size"]) if warmup_steps is None else warmup_steps
    steps = updates = 0
    t_start = None

    def opponent_move():
        return rng.choice([c for c, ok in enumerate(env.legal()) if ok])

    if rng.random() < 0.5:
        env.play(opponent_move())
    while True:
        if t_start is None and size >= start_needed:
            t_start, steps, updates = time.perf_counter(), 0, 0
        if t_start is not None and time.perf_counter() - t_start >= seconds:
            break
        obs, legal = env.obs(), env.legal()
        a = int(agent.act(torch.from_numpy(obs)[None], torch.tensor([legal]), deterministic=False)[0])
        r, done = env.play(a)
        if not done:
            r2, done = env.play(opponent_move())
            r = -r2
        buf["obs"][ptr], buf["a"][ptr], buf["r"][ptr], buf["d"][ptr] = obs, a, r, done
        buf["next"][ptr], buf["legal"][ptr] = env.obs(), env.legal()
        ptr, size = (ptr + 1) % cap, min(size + 1, cap)
        if done:
            env.reset()
            if rng.random() < 0.5:
                env.play(opponent_move())
        steps += 1
        if size >= max(p["learning_starts"], 1):
            idx = np.random.randint(0, size, p["batch_size"])
            agent.update(torch.from_numpy(buf["obs"][idx]), torch.from_numpy(buf["a"][idx]),
                         torch.from_numpy(buf["r"][idx]), torch.from_numpy(buf["d"][idx]),
                         torch.from_numpy(buf["next"][idx]), torch.from_numpy(buf["legal"][idx]))
            updates += 1
    elapsed = time.perf_counter() - t_start
    return {"steps_per_sec": steps / elapsed, "updates_per_sec": updates / elapsed,
            "samples_per_step": updates * p["batch_size"] / max(steps, 1), "steps": steps, "seconds": elapsed}
