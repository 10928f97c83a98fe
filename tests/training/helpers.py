"""Tiny configs, a trainer factory, a recording callback and a CLI runner for the training tests."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from kernels import connect4_torch as kt
from kernels.geometry import Geometry

REPO = Path(__file__).resolve().parents[2]


def tiny_config(**sections) -> dict:
    """A valid raw config (as YAML would parse it) small enough to train in about a second;
    ``sections`` deep-merge into it, e.g. ``tiny_config(train={"total_steps": 64})``."""
    cfg = {
        "seed": 7,
        "game": {"id": "connect4", "params": {"rows": 6, "cols": 7}},
        "agent": {"id": "dqn", "params": {
            "learning_rate": 1.0e-3, "gamma": 0.9, "epsilon": 1.0, "epsilon_decay": 0.999, "epsilon_min": 0.05,
            "batch_size": 16, "replay_buffer_size": 512, "learning_starts": 32, "updates_per_step": 1,
            "target_update_interval": 10, "hidden_sizes": [32], "device": "cpu"}},
        "train": {"total_steps": 256, "num_envs": 16, "start_policy": "random",
                  "opponent_sampler": {"type": "random"}, "callbacks": []},
    }
    return merge(cfg, sections)


def merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in recursively (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def make_trainer(raw: dict, run_dir=None, **kwargs):
    from src.training.config import validate_config
    from src.training.trainer import Trainer

    kwargs.setdefault("progress", False)
    return Trainer(validate_config(raw), run_dir=run_dir, **kwargs)


class Recorder:
    """A callback that records, after every batch step, whatever ``probe(trainer, batch)`` returns."""

    def __init__(self, probe):
        self.probe, self.rows = probe, []

    def on_train_start(self, trainer):
        pass

    def on_step(self, trainer, batch):
        self.rows.append(self.probe(trainer, batch))

    def on_status(self, trainer, fields):
        pass

    def on_step_end(self, trainer):
        pass

    def on_train_end(self, trainer, status):
        pass


def checkpoint_steps(num_envs: int, interval: int, final_step: int) -> list[int]:
    """The spec's checkpoint steps: the first batch step at or past each multiple of
    ``interval``, plus the final step."""
    steps = [s for s in range(num_envs, final_step + 1, num_envs) if s // interval > (s - num_envs) // interval]
    return sorted(set(steps) | {final_step})


def checkpoint_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    # several of these processes run side by side on few cores: one thread each, no oversubscription
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return env


def spawn_train_cli(*args, cwd: Path = REPO) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "src.cli.train", *map(str, args)], cwd=cwd, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def random_positions(n: int, g: Geometry, plies: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n positions after up to ``plies`` uniformly random moves from the empty board (a game
    that ends stops one move earlier, so no position is finished)."""
    gen = torch.Generator().manual_seed(seed)
    cur = torch.zeros(n, dtype=torch.int64)
    mask = torch.zeros_like(cur)
    going = torch.ones(n, dtype=torch.bool)
    stop_at = torch.randint(0, plies + 1, (n,), generator=gen)
    for ply in range(plies):
        going &= ply < stop_at
        c, m, _, done, _ = kt.play(cur, mask, kt.random_legal_actions(mask, g, gen), going, g)
        going &= ~done
        cur, mask = torch.where(going, c, cur), torch.where(going, m, mask)
    return cur, mask


def without(cfg: dict, dotted: str) -> dict:
    """``cfg`` with the key at the dotted path removed."""
    cfg = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    del node[last]
    return cfg


def assert_identical(a, b, where="state"):
    """Nested dicts/lists/tensors equal: same keys, types, dtypes, shapes, and bit-identical tensors."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    else:
        assert a == b, where


def crash_dqn_update(monkeypatch, at_update: int = 20):
    """Make ``DQNAgent.update`` raise RuntimeError("boom") once ``at_update`` updates are done;
    returns the real method, to put back with ``monkeypatch.setattr(DQNAgent, "update", it)``."""
    from src.agents.dqn import DQNAgent

    update = DQNAgent.update

    def crashing(self, *args):
        if self.num_updates == at_update:
            raise RuntimeError("boom")
        return update(self, *args)

    monkeypatch.setattr(DQNAgent, "update", crashing)
    return update


def status_of(run_dir: Path) -> dict:
    """A run directory's status.json."""
    return json.loads((Path(run_dir) / "status.json").read_text())


def final_state(run_dir: Path) -> dict:
    """The training state a run directory holds at its status's step."""
    from src.runs.rundir import RunDir
    from src.training.state import read_state

    return read_state(RunDir(Path(run_dir)).state_path(status_of(run_dir)["step"]))


def comparable(state: dict) -> dict:
    """The state minus what depends on wall-clock time: ``report`` (loss window, start time)
    and the evaluator's timings."""
    out = {k: v for k, v in state.items() if k != "report"}
    if out["evaluator"] is not None and out["evaluator"]["latest"] is not None:
        latest = out["evaluator"]["latest"]
        out["evaluator"] = dict(out["evaluator"], latest={"step": latest["step"], "results": latest["results"]})
    return out


def stopped_and_resumed_states(cfg: dict, total: int, stop_at: int) -> tuple[dict, dict]:
    """(state of a trainer run to ``total``, state of one stopped at ``stop_at``, its state saved
    through a file and loaded into a fresh trainer that goes on to ``total``), ``cfg`` validated."""
    import io

    from src.training.trainer import Trainer

    reference = Trainer(cfg, progress=False)
    reference.train()
    first = Trainer(cfg, progress=False)
    first.total_steps = stop_at
    first.train()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = Trainer(cfg, progress=False)
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    resumed.train()
    assert resumed.step == reference.step == total
    return reference.state_dict(), resumed.state_dict()
