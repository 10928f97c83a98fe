"""Kernel launches per batch step of the real Trainer, counted without a GPU or with one; and per
simulation of the search alone (``--search``).

    python benchmarks/launch_count.py --config configs/dqn_connect4.yaml --device cpu --game-backend torch
    python benchmarks/launch_count.py --config configs/alphazero_connect4.yaml --device cpu --game-backend torch \
        --search-backend torch --num_envs 64 --learning-starts 256
    python benchmarks/launch_count.py --config configs/alphazero_connect4_gpu.yaml --device cuda

    NUMBA_ENABLE_CUDASIM=1 python benchmarks/launch_count.py --search torch,numba,cuda

On the CPU it counts the aten ops dispatched per batch step (a ``TorchDispatchMode``; each is
one kernel launch or more on CUDA, so this is what the GPU path would pay in launches). On CUDA
it also counts the kernels the device ran (``torch.profiler``). numba kernels are not torch
ops and are not counted. The counted steps start once the replay has reached ``learning_starts``
(so the updates are in them) and ``--warmup-steps`` batch steps have passed; the figure is the
mean over ``--steps`` batch steps, with the ops that were dispatched most often, and per ply: per
move played in the games (not the searches' simulated moves), so that batch steps of one ply per
game (AlphaZero self-play) and of an agent move plus a reply (against an opponent) compare.

``--search`` counts, per simulation of ``BatchedMCTS.search`` (Connect4, the difference between
two simulation counts, so the per-search cost drops out), the torch ops the search dispatches
outside the network (the network's own ops are counted apart, inside the evaluate callable) and
the kernels ``kernels.mcts_cuda`` launches; the ``cuda`` backend needs a GPU or numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``, where the counts are the same).
"""
from __future__ import annotations

import argparse
import collections
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import src  # noqa: E402,F401  (first, as the CLI does)
import torch  # noqa: E402
import torch._inductor.config  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from src.training.callbacks import Callback  # noqa: E402
from src.training.config import load_config  # noqa: E402


# ops that only make a new view of a tensor (no kernel runs on CUDA); counted apart
VIEW_OPS = {"t", "view", "_unsafe_view", "detach", "unsqueeze", "squeeze", "expand", "slice", "select", "alias",
            "as_strided", "permute", "transpose", "lift_fresh", "reshape", "unbind", "split", "chunk", "narrow",
            "diagonal", "view_as", "_reshape_alias", "unfold"}


# inductor's C++ kernels get a profiler event each (read when a graph compiles: set before any)
torch._inductor.config.cpp.enable_kernel_profile = True

# ops that run no kernel at all: allocations and the profiler's own markers
NO_KERNEL_OPS = {"empty", "empty_strided", "empty_like", "_record_function_enter_new", "_record_function_exit",
                 "resolve_conj", "resolve_neg", "_nested_tensor_from_mask_left_aligned"}
# ops whose profiler event holds the ops that do the work (descended into, like composite ops)
WRAPPER_OPS = {"to", "contiguous", "type_as"}
_COMPOSITE: dict[str, bool] = {}


def _is_composite(name: str) -> bool:
    """Whether aten op ``name`` ("aten::x") is a composite implicit op: it runs no kernel of its own
    but the ops it calls, which the dispatcher (and a ``TorchDispatchMode``) sees instead."""
    if name not in _COMPOSITE:
        try:
            _COMPOSITE[name] = torch._C._dispatch_has_kernel_for_dispatch_key(name, "CompositeImplicitAutograd")
        except RuntimeError:
            _COMPOSITE[name] = False
    return _COMPOSITE[name]


def _is_inductor_kernel(name: str) -> bool:
    """A kernel that torch.compile (inductor) generated, as its profiler event names it (with
    ``torch._inductor.config.cpp.enable_kernel_profile`` on the CPU; triton kernels on CUDA)."""
    return "cpp_fused" in name or name.startswith(("triton_", "graph_"))


def _walk(events, ops: collections.Counter) -> None:
    for e in events:
        name = e.name
        if name.startswith("aten::"):
            op = name[6:]
            if op in WRAPPER_OPS or _is_composite(name):
                _walk(e.cpu_children, ops)
            elif op not in NO_KERNEL_OPS:
                ops[op] += 1  # a kernel op: what it calls inside is its own business
        elif _is_inductor_kernel(name):
            ops["<compiled kernel>"] += 1
        else:  # python frames, autograd nodes, compiled regions: what they dispatch
            _walk(e.cpu_children, ops)


class ProfiledLaunches:
    """Counts the kernel launches of what runs inside, from a ``torch.profiler`` trace of the CPU
    side: every aten op that runs a kernel (composite ops are counted by the ops they call, as a
    ``TorchDispatchMode`` sees them; allocations and views are apart), plus every kernel that
    ``torch.compile`` generated (inductor's C++ kernels on the CPU, profiled by enabling
    ``cpp.enable_kernel_profile``; its extern calls, such as the matmuls, are aten ops). Unlike a
    ``TorchDispatchMode``, it leaves compiled code compiled, so a compiled batch step is counted as
    it runs. ``ops``: the counts by op name (``<compiled kernel>`` for generated kernels); on CUDA
    ``cuda_kernels``: the kernels the device ran, from the same trace."""

    def __init__(self, ops: collections.Counter | None = None):
        self.ops = ops if ops is not None else collections.Counter()
        self.cuda_kernels = 0
        self._prof = None

    def __enter__(self):
        acts = [torch.profiler.ProfilerActivity.CPU]
        self._cuda = torch.cuda.is_available()
        if self._cuda:
            torch.cuda.synchronize()
            acts.append(torch.profiler.ProfilerActivity.CUDA)
        self._prof = torch.profiler.profile(activities=acts)
        self._prof.__enter__()
        return self

    def __exit__(self, *exc):
        if self._cuda:
            torch.cuda.synchronize()
        self._prof.__exit__(*exc)
        events = self._prof.events()
        _walk([e for e in events if e.cpu_parent is None and e.device_type == torch.autograd.DeviceType.CPU], self.ops)
        if self._cuda:
            self.cuda_kernels += sum(1 for e in events if e.device_type == torch.autograd.DeviceType.CUDA)
        return False

    def launches(self) -> int:
        """Kernel launches counted: ops that are not views, plus generated kernels."""
        return sum(v for k, v in self.ops.items() if k not in VIEW_OPS)


class _CountOps(TorchDispatchMode):
    def __init__(self, counts: collections.Counter):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func._schema.name.split("::")[-1]] += 1
        return func(*args, **(kwargs or {}))


class _SplitCount(TorchDispatchMode):
    """Counts the aten ops dispatched, into ``net`` while ``in_net`` (inside the network) else ``search``."""

    def __init__(self):
        super().__init__()
        self.in_net = False
        self.net = self.search = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.in_net:
            self.net += 1
        else:
            self.search += 1
        return func(*args, **(kwargs or {}))


def search_launches(backend: str, n: int = 3, simulations: tuple[int, int] = (8, 16), device: str = "cpu") -> dict:
    """Per simulation of a Connect4 ``BatchedMCTS.search`` of ``n`` random positions on ``backend``:
    ``ops`` (torch ops dispatched by the search, the network's excluded), ``launches`` (kernels
    launched by ``kernels.mcts_cuda``), ``net_ops`` (the network's own ops): the differences
    between the two ``simulations`` counts, divided by their difference (the torch search's ops
    grow with the simulation count: simulation ``k`` descends ``min(k + 1, max_plies)`` levels)."""
    from src.agents.alphazero import BatchedMCTS
    from src.games import make_rules

    game = make_rules("connect4", device, "torch")
    state = game.init(n)
    mcts = BatchedMCTS(game, device, backend)
    counts = []
    for sims in (simulations[0], *simulations):  # the first search warms up (compiles), uncounted
        mode = _SplitCount()

        def evaluate(s):
            mode.in_net = True
            h = (s[0] * 31 + s[1] * 7) % 1009
            logits = torch.sin(h.unsqueeze(1).double() * torch.arange(1, game.num_actions + 1, device=h.device))
            out = logits.float(), torch.cos(h.double()).float()
            mode.in_net = False
            return out

        launched = _kernels_launched()
        with mode:
            mcts.search(state, evaluate, sims)
        counts.append((mode.search, _kernels_launched() - launched, mode.net))
    (s0, l0, n0), (s1, l1, n1) = counts[1:]
    per = simulations[1] - simulations[0]
    return {"backend": backend, "ops": (s1 - s0) / per, "launches": (l1 - l0) / per, "net_ops": (n1 - n0) / per}


def _kernels_launched() -> int:
    """Kernels ``kernels.mcts_cuda`` launched so far (0 when that backend never ran)."""
    kmc = sys.modules.get("kernels.mcts_cuda")
    return kmc.launches if kmc is not None else 0


class Counter(Callback):
    """Counts from one ``on_step_end`` to the next, for ``steps`` batch steps once ready
    (``ProfiledLaunches``: compiled code runs compiled while it is counted)."""

    def __init__(self, steps: int, warmup_steps: int, cuda: bool):
        self.steps, self.warmup_steps, self.cuda = steps, warmup_steps, cuda
        self.ops: collections.Counter = collections.Counter()
        self.kernels = 0
        self.counted = self.seen_ready = self.plies = 0
        self.mode = None
        self.batch = None  # the counted step's transitions: its plies are summed after the count

    def on_step(self, trainer, batch) -> None:
        self.batch = batch

    def _ready(self, trainer) -> bool:
        return len(trainer.learner.replay) >= trainer.cfg["agent"]["params"]["learning_starts"]

    def on_step_end(self, trainer) -> None:
        if self.mode is not None:  # one counted batch step ends here
            self.mode.__exit__(None, None, None)
            self.counted += 1
            self.kernels = self.mode.cuda_kernels
            self.plies += plies_played(trainer, self.batch)
            if self.counted >= self.steps:
                self.mode = None
                trainer.request_stop("launch count done")
                return
        if not self._ready(trainer):
            self.mode = None
            return
        self.seen_ready += 1
        if self.seen_ready <= self.warmup_steps:
            return
        self.mode = self.mode or ProfiledLaunches(self.ops)
        self.mode.__enter__()


def plies_played(trainer, batch: dict) -> int:
    """The moves played in the games in the batch step of ``batch``: one per game in self-play;
    against an opponent the agent's, the replies (where the agent's move did not end the game)
    and the opponent's first moves in the new games it starts (``versus.agent_first`` False)."""
    from src.training.versus import Versus

    plies = trainer.num_envs
    if isinstance(trainer.versus, Versus):
        plies += int((~batch["agent_ended"]).sum() + (batch["done"] & ~trainer.versus.agent_first).sum())
    return plies


def count(cfg: dict, steps: int, warmup_steps: int) -> dict:
    from src.training.trainer import Trainer

    cfg = copy.deepcopy(cfg)
    cfg["train"]["total_steps"] = 10 ** 12
    cfg["train"]["callbacks"] = [c for c in cfg["train"]["callbacks"] if c["type"] != "checkpoint"]
    cfg["eval"] = None
    trainer = Trainer(cfg, run_dir=None, status_interval=10 ** 12, progress=False)
    counter = Counter(steps, warmup_steps, trainer.device.type == "cuda")
    trainer.callbacks.append(counter)
    trainer.train()
    n = max(counter.counted, 1)
    params = cfg["agent"]["params"]
    return {"agent": cfg["agent"]["id"], "device": str(trainer.device), "num_envs": trainer.num_envs,
            "steps": counter.counted, "ops_per_step": sum(counter.ops.values()) / n,
            "compute_ops_per_step": sum(v for k, v in counter.ops.items() if k not in VIEW_OPS) / n,
            "compiled_kernels_per_step": counter.ops["<compiled kernel>"] / n,
            "kernels_per_step": counter.kernels / n if counter.cuda else None,
            "plies_per_step": counter.plies / n,
            "simulations": params.get("simulations"), "top": counter.ops.most_common(), "per": n}


def count_config(config: str, device: str | None = None, num_envs: int | None = None,
                 search_backend: str | None = None, game_backend: str | None = None,
                 learning_starts: int | None = None, compile: bool | None = None, batch_size: int | None = None,
                 steps: int = 3, warmup_steps: int = 2) -> dict:
    """``count`` for the config file ``config`` with these overrides (None: the config's own):
    the agent's device, games, search backend, ``learning_starts``, ``compile`` (DQN: true) and
    ``batch_size`` (the replay ring then holds at least the minibatch and four batch steps of
    games when ``num_envs`` is given); ``game_backend`` ('torch' or 'numba') for the trainer's games."""
    import functools

    from src.training import trainer as trainer_module

    _, cfg = load_config(config)
    params = cfg["agent"]["params"]
    if device is not None:
        params["device"] = device
    if search_backend is not None:
        params["search_backend"] = search_backend
    if num_envs is not None:
        cfg["train"]["num_envs"] = num_envs
    if learning_starts is not None:
        params["learning_starts"] = learning_starts
    if compile is not None:
        params["compile"] = compile
    if batch_size is not None:
        params["batch_size"] = batch_size
        params["replay_buffer_size"] = max(params["replay_buffer_size"] if num_envs is None else 0,
                                           batch_size, 4 * (num_envs or 0))
    make_game = trainer_module.make_game
    if game_backend is not None:
        trainer_module.make_game = functools.partial(make_game, backend=game_backend)
    try:
        return {**count(cfg, steps, warmup_steps), "params": params}
    finally:
        trainer_module.make_game = make_game


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "dqn_connect4.yaml"))
    ap.add_argument("--device", default=None, help="override agent.params.device (cpu, cuda)")
    ap.add_argument("--num_envs", type=int, default=None)
    ap.add_argument("--search-backend", default=None, help="AlphaZero: override agent.params.search_backend")
    ap.add_argument("--game-backend", default=None, choices=["torch", "numba"],
                    help="the games' backend (default: numba on the CPU); torch on the CPU counts what CUDA would launch")
    ap.add_argument("--learning-starts", type=int, default=None, help="override agent.params.learning_starts")
    ap.add_argument("--compile", choices=["true", "false"], default=None,
                    help="DQN: override agent.params.compile (true: the compiled batch step)")
    ap.add_argument("--batch-size", type=int, default=None, help="override agent.params.batch_size")
    ap.add_argument("--top", type=int, default=8, help="how many of the most dispatched ops to list")
    ap.add_argument("--steps", type=int, default=3, help="batch steps counted")
    ap.add_argument("--warmup-steps", type=int, default=2, help="batch steps skipped once learning has started")
    ap.add_argument("--search", default=None, help="count per simulation of the search alone, for these "
                    "comma-separated search backends (torch, numba, cuda), instead of a Trainer batch step")
    args = ap.parse_args(argv)
    if args.search:
        for backend in args.search.split(","):
            r = search_launches(backend, device=args.device or "cpu")
            print(f"search {backend}: {r['ops'] + r['launches']:,.1f} launches per simulation besides the network "
                  f"({r['ops']:,.1f} torch ops + {r['launches']:,.1f} mcts_cuda kernels); network {r['net_ops']:,.1f} ops")
        return 0
    r = count_config(args.config, device=args.device, num_envs=args.num_envs, search_backend=args.search_backend,
                     game_backend=args.game_backend, learning_starts=args.learning_starts,
                     compile=None if args.compile is None else args.compile == "true",
                     batch_size=args.batch_size, steps=args.steps, warmup_steps=args.warmup_steps)
    params = r["params"]
    sims = f", {r['simulations']} simulations per search" if r["simulations"] else ""
    compiled = ", compiled" if params.get("compile") else ""
    line = (f"launches {r['agent']} device={r['device']} num_envs={r['num_envs']}{sims}{compiled}: "
            f"{r['compute_ops_per_step']:,.0f} kernel launches per batch step "
            f"({r['compute_ops_per_step'] - r['compiled_kernels_per_step']:,.0f} torch ops that are not views + "
            f"{r['compiled_kernels_per_step']:,.0f} compiled kernels; {r['ops_per_step']:,.0f} with the views)")
    if r["kernels_per_step"] is not None:
        line += f", {r['kernels_per_step']:,.0f} CUDA kernels per batch step"
    print(line + f" (mean of {r['steps']} batch steps)")
    print(f"  per ply ({r['plies_per_step']:,.1f} plies per batch step): {r['compute_ops_per_step'] / r['plies_per_step']:,.2f} "
          f"kernel launches")
    print("  most dispatched: " + ", ".join(f"{k} {v / r['per']:,.1f}" for k, v in r["top"][:args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
