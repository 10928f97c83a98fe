"""Training throughput of the real Trainer, and its ratio to a per-step reference trainer.

    python benchmarks/train_sps.py                       # shipped config, CPU or GPU
    python benchmarks/train_sps.py --config configs/dqn_connect4_gpu.yaml --seconds 60 --no-reference

Runs ``Trainer.train`` on the config for ``--seconds`` after a warm-up (compilation, replay
fill to learning_starts) and prints agent-steps/s, gradient updates/s, samples trained per
agent step and the device; then times ``benchmarks/reference_trainer.py`` (one game at a
time, one minibatch update per agent step) on the same config and prints the ratio.
"""
from __future__ import annotations

import argparse
import copy
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from src.training.callbacks import Callback  # noqa: E402
from src.training.config import load_config  # noqa: E402


class Window(Callback):
    """Records (time, step, updates) once the replay has reached learning_starts and warm-up passed."""

    def __init__(self, warmup_seconds: float, sync: bool):
        self.warmup, self.sync = warmup_seconds, sync
        self.t0 = self.start = None

    def _now(self):
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_start(self, trainer):
        self.t0 = time.perf_counter()

    def on_step(self, trainer, batch):
        if self.start is None and len(trainer.learner.replay) >= trainer.cfg["agent"]["params"]["learning_starts"] \
                and time.perf_counter() - self.t0 >= self.warmup:
            self.start = (self._now(), trainer.step, trainer.agent.num_updates)

    def on_train_end(self, trainer, status):
        self.end = (self._now(), trainer.step, trainer.agent.num_updates)


def measure_trainer(cfg: dict, seconds: float, warmup: float) -> dict:
    from src.training.trainer import Trainer

    cfg = copy.deepcopy(cfg)
    cfg["train"]["total_steps"] = 10 ** 12
    cfg["train"]["callbacks"] = [c for c in cfg["train"]["callbacks"] if c["type"] != "checkpoint"]
    cfg["eval"] = None
    trainer = Trainer(cfg, run_dir=None, status_interval=10 ** 12, progress=False)
    window = Window(warmup, trainer.device.type == "cuda")
    trainer.callbacks.append(window)
    timer = threading.Timer(warmup + seconds, trainer.request_stop, args=("benchmark budget",))
    timer.start()
    try:
        trainer.train()
    finally:
        timer.cancel()
    if window.start is None:
        raise SystemExit("the run never passed warm-up: raise --seconds or lower learning_starts")
    (t0, s0, u0), (t1, s1, u1) = window.start, window.end
    dt = t1 - t0
    bs = cfg["agent"]["params"]["batch_size"]
    return {"device": str(trainer.device), "num_envs": trainer.num_envs, "batch_size": bs,
            "steps_per_sec": (s1 - s0) / dt, "updates_per_sec": (u1 - u0) / dt,
            "samples_per_step": (u1 - u0) * bs / max(s1 - s0, 1), "seconds": dt}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "dqn_connect4.yaml"))
    ap.add_argument("--seconds", type=float, default=30.0, help="measured time of the real trainer")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds excluded at the start")
    ap.add_argument("--reference-seconds", type=float, default=20.0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--device", default=None, help="override agent.params.device")
    ap.add_argument("--num_envs", type=int, default=None)
    ap.add_argument("--batch_size", type=int, default=None)
    ap.add_argument("--updates_per_step", type=int, default=None)
    args = ap.parse_args(argv)
    _, cfg = load_config(args.config)
    p = cfg["agent"]["params"]
    if args.device:
        p["device"] = args.device
    if args.num_envs:
        cfg["train"]["num_envs"] = args.num_envs
    if args.batch_size:
        p["batch_size"] = args.batch_size
    if args.updates_per_step:
        p["updates_per_step"] = args.updates_per_step
    print(f"config {args.config}: torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    r = measure_trainer(cfg, args.seconds, args.warmup)
    print(f"trainer   device={r['device']} num_envs={r['num_envs']} batch={r['batch_size']}: "
          f"{r['steps_per_sec']:,.0f} agent-steps/s, {r['updates_per_sec']:,.1f} updates/s, "
          f"{r['samples_per_step']:.2f} samples/agent-step ({r['seconds']:.1f} s)", flush=True)
    if not args.no_reference:
        from benchmarks.reference_trainer import run_reference

        ref = run_reference(cfg, args.reference_seconds, device=r["device"])
        print(f"reference per-step: {ref['steps_per_sec']:,.1f} agent-steps/s, {ref['updates_per_sec']:,.1f} updates/s, "
              f"{ref['samples_per_step']:.0f} samples/agent-step ({ref['seconds']:.1f} s)")
        print(f"speed-up: {r['steps_per_sec'] / ref['steps_per_sec']:,.0f}x agent-steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
