"""Training throughput of the real Trainer, and its ratio to a per-step reference trainer.

    python benchmarks/train_sps.py                       # shipped config, CPU or GPU
    python benchmarks/train_sps.py --config configs/dqn_connect4_gpu.yaml --seconds 60 --no-reference
    python benchmarks/train_sps.py --nproc 1 2            # data-parallel scaling (torchrun), CPU or GPUs
    python benchmarks/train_sps.py --ab ../base --repeats 3 --no-reference   # side by side with another checkout

Runs ``Trainer.train`` on the config for ``--seconds`` after a warm-up (compilation, replay
fill to learning_starts) and prints agent-steps/s, gradient updates/s, samples trained per
agent step and the device; on the CPU also the learner's breakdown (its share of the loop,
the gradient step's share of it, ms per update in ``DQNAgent.update`` and in the rest) and the
bare-update ceiling (the same agent's ``update`` fed one ready-made minibatch for
``--ceiling-seconds``); then times ``benchmarks/reference_trainer.py`` (one game at a
time, one minibatch update per agent step) on the same config and prints the ratio.

``--nproc K1 K2 ...`` measures data-parallel training instead: for each K it launches
``torchrun --standalone --nproc_per_node=K`` on this script (one GPU per process on CUDA; on
the CPU each process gets cores/K threads), and prints agent-steps/s and samples/s summed over
the ranks, and the scaling efficiency against the first K (steps/s per process relative to it).

``--ab DIR`` measures the checkout DIR (e.g. ``git worktree add ../base <commit>``) and this
one alternately, each run in its own subprocess with this script (``--tree``), ``--repeats``
times, printing the load average with each row, so that other load hits both sides alike.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --tree DIR: measure the code of another checkout (e.g. the commit before a change) with this
# script, so both sides are measured the same way (see --ab)
_TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv else ROOT
sys.path.insert(0, str(_TREE))

import src  # noqa: E402,F401  (first: OMP_WAIT_POLICY=PASSIVE before torch starts its pool, as the CLI does)
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


class Breakdown:
    """Wall time of the learner section (``observe`` + ``learn``) and of the gradient steps in
    it (``agent.update``), counted once ``window`` has started; keeps the last minibatch for
    the bare-update ceiling. Wraps the instance's methods, so it measures any checkout."""

    def __init__(self, trainer, window):
        self.window, self.learner_s, self.update_s, self.last = window, 0.0, 0.0, None
        learner, agent = trainer.learner, trainer.agent
        for obj, name, field in ((learner, "observe", "learner_s"), (learner, "learn", "learner_s"),
                                 (agent, "update", "update_s")):
            setattr(obj, name, self._timed(getattr(obj, name), field, name == "update"))

    def _timed(self, fn, field, keep):
        def call(*args):
            t = time.perf_counter()
            out = fn(*args)
            if self.window.start is not None:
                setattr(self, field, getattr(self, field) + time.perf_counter() - t)
            if keep and self.last is None:
                self.last = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
            return out
        return call


def bare_update_rate(agent, args, seconds: float) -> float:
    """Gradient updates/s of ``agent.update`` fed the same ready-made minibatch again and again."""
    update = type(agent).update
    for _ in range(3):
        update(agent, *args)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        update(agent, *args)
        n += 1
    return n / (time.perf_counter() - t0)


def measure_trainer(cfg: dict, seconds: float, warmup: float, dist=None, ceiling_seconds: float = 0.0) -> dict:
    from src.training.trainer import Trainer

    cfg = copy.deepcopy(cfg)
    cfg["train"]["total_steps"] = 10 ** 12
    cfg["train"]["callbacks"] = [c for c in cfg["train"]["callbacks"] if c["type"] != "checkpoint"]
    cfg["eval"] = None
    trainer = Trainer(cfg, run_dir=None, status_interval=10 ** 12, progress=False, dist=dist)
    window = Window(warmup, trainer.device.type == "cuda")
    trainer.callbacks.append(window)
    breakdown = Breakdown(trainer, window) if ceiling_seconds and trainer.device.type == "cpu" else None
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
    world = trainer.world_size  # steps count every rank's games; each rank trains its own minibatches
    r = {"device": str(trainer.device), "num_envs": trainer.num_envs, "batch_size": bs, "world_size": world,
         "steps_per_sec": (s1 - s0) / dt, "updates_per_sec": (u1 - u0) / dt,
         "samples_per_sec": (u1 - u0) * bs * world / dt,
         "samples_per_step": (u1 - u0) * bs * world / max(s1 - s0, 1), "seconds": dt}
    if breakdown is not None:
        r.update(learner_fraction=breakdown.learner_s / dt, update_fraction_of_learner=breakdown.update_s / breakdown.learner_s,
                 update_ms=1e3 * breakdown.update_s / max(u1 - u0, 1),
                 rest_ms=1e3 * (breakdown.learner_s - breakdown.update_s) / max(u1 - u0, 1),
                 bare_updates_per_sec=bare_update_rate(trainer.agent, breakdown.last, ceiling_seconds))
    return r


def describe(r: dict) -> str:
    out = (f"device={r['device']} num_envs={r['num_envs']} batch={r['batch_size']}: "
           f"{r['steps_per_sec']:,.0f} agent-steps/s, {r['updates_per_sec']:,.1f} updates/s, "
           f"{r['samples_per_step']:.2f} samples/agent-step ({r['seconds']:.1f} s)")
    if "update_ms" in r:
        out += (f"; learner {100 * r['learner_fraction']:.0f}% of the loop, gradient step "
                f"{100 * r['update_fraction_of_learner']:.0f}% of the learner ({r['update_ms']:.2f} ms/update, "
                f"rest {r['rest_ms']:.2f} ms/update); bare update {r['bare_updates_per_sec']:,.1f} updates/s")
    return out


def ab(args, raw: list[str]) -> int:
    """Alternate subprocess runs of this script on the base checkout and this one (A B A B ...)."""
    from benchmarks.machine import machine

    i = raw.index("--ab")
    rest = raw[:i] + raw[i + 2:]
    print(machine(), flush=True)
    print(f"command: python benchmarks/train_sps.py {' '.join(raw)}", flush=True)
    for rep in range(args.repeats):
        for name, tree in (("base", args.ab), ("new", str(ROOT))):
            load = os.getloadavg()
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *rest, "--tree", tree, "--json"],
                                 capture_output=True, text=True)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if out.returncode != 0 or line is None:
                print(f"{name}: failed\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
                return 1
            r = json.loads(line[len("RESULT "):])
            print(f"rep {rep} {name:4s} load {load[0]:.2f}/{load[1]:.2f} -> {os.getloadavg()[0]:.2f}: {describe(r)}",
                  flush=True)
    return 0


def worker(cfg: dict, args) -> int:
    """One rank under torchrun: measure, and rank 0 prints the result as one JSON line."""
    from src.training.distributed import Distributed

    dist = Distributed.from_env()
    dist.init(dist.device(cfg["agent"]["params"]["device"]))
    r = measure_trainer(cfg, args.seconds, args.warmup, dist)
    dist.close()
    if dist.is_main:
        print("RESULT " + json.dumps(r), flush=True)
    return 0


def scaling(args, argv: list[str]) -> int:
    """Launch torchrun for each process count and print the table."""
    from benchmarks.machine import machine

    cores = os.cpu_count() or 1
    gpus = torch.cuda.device_count()
    print(machine(), flush=True)
    base = None
    rows = []
    for k in args.nproc:
        if gpus and k > gpus:
            print(f"nproc {k}: skipped, only {gpus} GPU(s)")
            continue
        threads = str(max(1, cores // k)) if not gpus else "1"
        env = dict(os.environ, OMP_NUM_THREADS=threads, NUMBA_NUM_THREADS=threads,
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={k}",
               str(Path(__file__).resolve()), "--worker", *argv]
        load0 = os.getloadavg()[0]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode != 0 or line is None:
            print(f"nproc {k}: failed (exit {out.returncode})\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
            return 1
        r = json.loads(line[len("RESULT "):])
        base = base or (k, r["steps_per_sec"])
        eff = (r["steps_per_sec"] / k) / (base[1] / base[0])
        rows.append((k, r, eff))
        print(f"nproc {k} ({threads} thread(s) each, load {load0:.1f} -> {os.getloadavg()[0]:.1f}) "
              f"device={r['device']} num_envs={r['num_envs']}/rank batch={r['batch_size']}/rank: "
              f"{r['steps_per_sec']:,.0f} agent-steps/s, {r['samples_per_sec']:,.0f} samples/s, "
              f"{r['updates_per_sec']:,.1f} updates/s per rank, efficiency {eff:.2f} ({r['seconds']:.1f} s)",
              flush=True)
    return 0


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
    ap.add_argument("--learning_starts", type=int, default=None, help="override agent.params.learning_starts")
    ap.add_argument("--nproc", type=int, nargs="+", default=None,
                    help="data-parallel scaling: measure with each of these process counts (torchrun)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one rank, under torchrun
    ap.add_argument("--ceiling-seconds", type=float, default=5.0,
                    help="CPU: after the run, time the bare agent.update on the last minibatch for this long (0: skip)")
    ap.add_argument("--tree", default=None, help="measure the code of this checkout instead (see --ab)")
    ap.add_argument("--ab", default=None, metavar="BASE_TREE",
                    help="alternate runs on BASE_TREE and this checkout, --repeats times each (implies --no-reference)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the result as one RESULT json line")
    raw = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    if args.nproc:
        i = raw.index("--nproc")
        j = i + 1
        while j < len(raw) and not raw[j].startswith("--"):
            j += 1
        return scaling(args, raw[:i] + raw[j:])
    if args.ab:
        return ab(args, raw)
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
    if args.learning_starts is not None:
        p["learning_starts"] = args.learning_starts
    if args.worker:
        return worker(cfg, args)
    if not args.json:
        print(f"config {args.config}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
    r = measure_trainer(cfg, args.seconds, args.warmup, ceiling_seconds=args.ceiling_seconds)
    if args.json:
        print("RESULT " + json.dumps(r), flush=True)
        return 0
    print(f"trainer   {describe(r)}; load average {os.getloadavg()[0]:.2f}", flush=True)
    if not args.no_reference:
        from benchmarks.reference_trainer import run_reference

        ref = run_reference(cfg, args.reference_seconds, device=r["device"])
        print(f"reference per-step: {ref['steps_per_sec']:,.1f} agent-steps/s, {ref['updates_per_sec']:,.1f} updates/s, "
              f"{ref['samples_per_step']:.0f} samples/agent-step ({ref['seconds']:.1f} s)")
        print(f"speed-up: {r['steps_per_sec'] / ref['steps_per_sec']:,.0f}x agent-steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
