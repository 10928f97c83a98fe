"""Batched PUCT tree search steps in numba-cuda: one CUDA thread per game, one launch per phase.

The search is defined in ``docs/mcts.md``. Per simulation, ``select_leaves`` is one kernel (every
game descends its tree by PUCT to a leaf and creates the leaf's node, playing the move) and
``expand_and_backup`` is one kernel (every game whose leaf needed the network turns the
network's raw logits into the leaf's priors, a softmax over the leaf's legal actions, and backs
the leaf's value up its path); the network evaluates all ``n`` leaves in between, on the game
``State`` whose words the select kernel writes (``init_tree``'s ``leaf_state``), so the search
adds no torch op of its own per simulation.

The per-game code is ``kernels.mcts_numba``'s (``tree_steps``, ``backup_step``), compiled here
as CUDA device functions, the game's ``NumbaRules`` ``play`` and ``is_legal`` likewise: the same
Python functions, so the same float64 arithmetic and tie-breaking (the PTX of the select kernel
has no fused multiply-add) and the same visit counts as the numba CPU search. The priors are
this file's softmax, not torch's: they may differ from the CPU search's in the last bit.

The kernels work in place on torch CUDA tensors (zero copy, through ``__cuda_array_interface__``
without its stream synchronisation) on torch's current stream, and never synchronise with the
host, so a whole search could be captured in a CUDA graph. Under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1`` set before ``numba.cuda`` is first imported) the same kernels run on
CPU tensors (their numpy views), one Python thread per game: slow, for tests only.
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import torch
from numba import boolean, config, cuda, float32, float64, int64, typeof

from kernels import mcts_numba as kmn
from kernels import mcts_torch as kmt

SIMULATED = bool(config.ENABLE_CUDASIM)  # numba's CUDA simulator: CPU tensors, Python threads


def _round_like_the_cpu() -> None:
    """Have NVVM compile without contracting multiplies and adds into fused multiply-adds
    (``-fma=0``) unless a kernel asks for fastmath: numba-cuda leaves NVVM's default (contract)
    otherwise, and the search's float64 (PUCT scores, Gumbel's sigma) must round as the numba
    CPU kernels' do, so that both grow the same trees. Applies to numba-cuda kernels compiled in
    this process; a numba-cuda without this hook is left as it is (the PTX test then says so)."""
    try:
        from numba.cuda.cudadrv import nvvm
    except ImportError:  # pragma: no cover - a numba-cuda laid out otherwise
        return
    compile_ir = getattr(nvvm, "compile_ir", None)
    if compile_ir is None or getattr(compile_ir, "no_contraction", False):
        return

    def without_contraction(llvmir, **options):
        if not options.get("fastmath"):
            options.setdefault("fma", False)
        return compile_ir(llvmir, **options)

    without_contraction.no_contraction = True
    nvvm.compile_ir = without_contraction


if not SIMULATED:
    _round_like_the_cpu()
# threads (games) per block; the simulator runs each thread of a block as a Python thread
THREADS = 8 if SIMULATED else 128
launches = 0  # kernels launched by this module since import (the launch-count test reads it)


def device_function(f):
    """The Python function ``f`` (or a numba dispatcher's) as a CUDA device function, inlined
    into its caller at numba's IR level (needs no GPU to compile: ``compile_ptx`` works without one)."""
    return cuda.jit(device=True, inline="always")(kmn.py_function(f))


def softmax_step(rules):
    """``expand(i, leaf, logits, words, prior)`` for ``kernels.mcts_numba.backup_step``:
    ``prior[i, leaf, :]`` (float64) = the softmax of ``logits[i]`` (float [n, A]) in float64 over
    the legal actions of node ``leaf`` (0 elsewhere, and everywhere when none is legal), as
    ``kernels.mcts_torch.priors``: max, exp of the differences, their sum, a division each."""
    is_legal, num_actions = device_function(rules.is_legal), rules.num_actions

    @device_function
    def expand(i, leaf, logits, words, prior):
        top = -np.inf
        for a in range(num_actions):  # the masked logits first (-inf on illegal actions)
            x = np.float64(logits[i, a]) if is_legal(words, i, leaf, a) else -np.inf
            prior[i, leaf, a] = x
            top = max(top, x)
        total = np.float64(0.0)
        for a in range(num_actions):
            e = math.exp(prior[i, leaf, a] - top) if top > -np.inf else np.float64(0.0)
            prior[i, leaf, a] = e
            total += e
        for a in range(num_actions):
            if total > 0:
                prior[i, leaf, a] = prior[i, leaf, a] / total

    return expand


@functools.cache
def kernels_for(rules) -> SimpleNamespace:
    """The two kernels of the game of ``rules`` (``NumbaRules``), compiled on first launch per
    argument types: ``select(k, c_puct, fpu, <tree arrays>)`` and ``backup(logits, value,
    <tree arrays>)``, one thread per game (``THREADS`` per block); see ``select_leaves`` and
    ``expand_and_backup`` for their arguments."""
    select_one = kmn.tree_steps(device_function, rules).select_one
    backup_one = kmn.backup_step(device_function, softmax_step(rules))

    @cuda.jit
    def select(k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words, children, prior,
               visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth, leaf_node, needs_net,
               leaf_words):
        i = cuda.grid(1)
        if i < words.shape[0]:
            select_one(i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
                       children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action,
                       depth, leaf_node, needs_net, leaf_words)

    @cuda.jit
    def backup(solver, logits, value, words, children, prior, visits, wsum, solved, node_value, plies, num_legal,
               path_node, path_action, depth, leaf_node, needs_net):
        i = cuda.grid(1)
        if i < depth.shape[0]:
            backup_one(i, solver, logits, value, words, children, prior, visits, wsum, solved, node_value, plies,
                       num_legal, path_node, path_action, depth, leaf_node, needs_net)

    return SimpleNamespace(select=select, backup=backup)


def kernel_array(x: torch.Tensor):
    """Tensor ``x`` as a kernel argument, zero copy: a numba device array on its memory, without
    the stream synchronisation numba does by default when it takes ``__cuda_array_interface__``;
    under the simulator its numpy view (a CPU tensor; a contiguous copy if it is strided, which
    the simulator needs: only network outputs can be, and the kernels only read those)."""
    return np.ascontiguousarray(x.numpy()) if SIMULATED else cuda.as_cuda_array(x, sync=False)


def _launch(kernel, n: int, *args) -> None:
    """``kernel`` on ``n`` threads, on torch's current CUDA stream (no host synchronisation)."""
    global launches
    if n == 0:
        return  # an empty grid is not a valid launch
    stream = 0 if SIMULATED else cuda.external_stream(torch.cuda.current_stream().cuda_stream)
    kernel[(n + THREADS - 1) // THREADS, THREADS, stream](*args)
    launches += 1


# the tree arrays the kernels take after their leading arguments, in order: Gumbel root
# search's (``set_gumbel``) first in the select kernel, then the tree's
_GUMBEL = ("root_logits", "root_value", "considered")
_TREE = ("words", "children", "prior", "visits", "wsum", "solved", "node_value", "plies", "num_legal", "path_node",
         "path_action", "depth", "leaf_node", "needs_net", "leaf_words")
_BACKUP = ("words", "children", "prior", "visits", "wsum", "solved", "node_value", "plies", "num_legal", "path_node",
           "path_action", "depth", "leaf_node", "needs_net")


def _tree_tensors(n: int, simulations: int, rules, root_words: torch.Tensor) -> SimpleNamespace:
    """``kernels.mcts_torch.init_tree``'s tensors, but ``leaf_words`` int64 [W, n] word by word
    (as ``kernels.mcts_numba.init_tree``'s); the root's ``num_legal`` is the select kernel's to
    set (at simulation 0)."""
    t = kmt.init_tree(n, simulations, rules, root_words)
    t.leaf_words = torch.zeros((rules.num_words, n), dtype=torch.int64, device=root_words.device)
    return t


def init_tree(n: int, simulations: int, rules, root_words: torch.Tensor, state_cls: type) -> SimpleNamespace:
    """Preallocated tree tensors on ``root_words.device`` (int64 [n, W]) for the game of
    ``rules`` (``NumbaRules``), those of ``kernels.mcts_torch.init_tree`` except that
    ``leaf_words`` is int64 [W, n], word by word, so that ``leaf_state``, the ``state_cls`` of its
    rows (views made once), is the leaves' positions after every ``select_leaves`` with
    no op to gather them. ``kernel`` holds the arrays as the kernels take them (``kernel_array``)."""
    t = _tree_tensors(n, simulations, rules, root_words)
    t.leaf_state = state_cls(*t.leaf_words.unbind(0))
    t.kernel = SimpleNamespace(**{name: kernel_array(getattr(t, name)) for name in _GUMBEL + _TREE})
    return t


def set_root(tree: SimpleNamespace, prior: torch.Tensor) -> None:
    """Expand the roots with ``prior`` float64 [n, A] (0 on illegal actions)."""
    tree.prior[:, 0, :] = prior


def set_gumbel(tree: SimpleNamespace, root_logits: torch.Tensor, root_value: torch.Tensor, considered: torch.Tensor,
               c_visit: float, c_scale: float) -> None:
    """Gumbel root search (``kernels.mcts_numba.set_gumbel``), written in place into the tensors
    the kernels hold."""
    kmt.set_gumbel(tree, root_logits, root_value, considered, c_visit, c_scale)


def select_leaves(tree: SimpleNamespace, k: int, rules, c_puct: float, fpu: float) -> None:
    """Simulation ``k``, one launch: every game descends by PUCT to its leaf and creates the
    leaf's node in slot ``k + 1`` when it is new; ``tree.leaf_state`` then holds the leaves."""
    a, g = tree.kernel, tree.gumbel
    _launch(kernels_for(rules).select, a.words.shape[0], np.int64(k), np.float64(c_puct), np.float64(fpu), bool(g.on),
            np.float64(g.c_visit), np.float64(g.c_scale), *(getattr(a, name) for name in _GUMBEL + _TREE))


def expand_and_backup(tree: SimpleNamespace, k: int, rules, logits: torch.Tensor, value: torch.Tensor,
                      solver: bool = True) -> None:
    """Simulation ``k``, one launch: expand the new non-terminal leaves with the softmax of
    ``logits`` (float32 or float64 [n, A], the network's raw outputs on ``tree.leaf_state``)
    over their legal actions and back up ``value`` (float32 or float64 [n]) there, or the
    solved leaves' exact values, along each game's path (negamax), proving nodes on the way when
    ``solver`` (MCTS-Solver)."""
    a = tree.kernel
    _launch(kernels_for(rules).backup, a.depth.shape[0], bool(solver), kernel_array(logits), kernel_array(value),
            *(getattr(a, name) for name in _BACKUP))


def ptx(rules, cc: tuple[int, int] = (9, 0)) -> dict[str, str]:
    """``{'select': ..., 'backup': ...}``: the PTX of the two kernels of the game of ``rules`` for
    compute capability ``cc``, for the argument types a search passes them (float32 network
    outputs). Needs numba-cuda and the NVVM wheel, no GPU and no driver: CI compiles with it."""
    t = _tree_tensors(2, 1, rules, torch.zeros((2, rules.num_words), dtype=torch.int64))
    types_of = {name: typeof(getattr(t, name).numpy()) for name in _GUMBEL + _TREE}
    select_sig = (int64, float64, float64, boolean, float64, float64) + tuple(types_of[name] for name in _GUMBEL + _TREE)
    backup_sig = (boolean, float32[:, ::1], float32[::1]) + tuple(types_of[name] for name in _BACKUP)
    kernels = kernels_for(rules)
    return {name: cuda.compile_ptx(getattr(kernels, name).py_func, sig, cc=cc)[0]
            for name, sig in (("select", select_sig), ("backup", backup_sig))}
