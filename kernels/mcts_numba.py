"""Batched PUCT tree search steps in numba: one tree per game, parallel loops over games, for the CPU.

The search is defined in ``docs/mcts.md``; ``kernels.mcts_torch`` has the same names, the same
tree arrays and the same arithmetic (float64, same operation order), so both give the same
visit counts. The search names no game: it runs on a game's per-game njit rules
(``src.games.protocol.NumbaRules``: ``play``, ``is_legal``), which read and write a node's ``W``
state words in the tree array ``words`` int64 [n, S+1, W] in place; each game's kernels are
compiled once and cached on disk (see ``token_of``). The per-game steps (``tree_steps``,
``backup_step``) are plain Python compiled by a decorator they are given, so
``kernels.mcts_cuda`` compiles the same code as CUDA device functions.

The network is not called here: ``select_leaves`` descends every tree to a leaf and creates
the leaf's node, the caller evaluates the leaves, ``expand_and_backup`` stores the leaves'
priors and backs their values up. Simulation ``k`` (0-based) always puts its new node, if
any, in slot ``k + 1``; slot 0 is the root.
"""
from __future__ import annotations

import math
import zlib
from types import SimpleNamespace

import numpy as np
from numba import literally, njit, prange, types
from numba.extending import overload


def init_tree(n: int, simulations: int, rules, root_words) -> SimpleNamespace:
    """Preallocated tree arrays of ``n`` games for ``simulations`` simulations, roots at
    ``root_words`` (int64 [n, W]); the root priors are set by ``set_root``.

    words int64 [n, S+1, W] (each node's position); children int32 [n, S+1, A] (-1: no node
    yet); prior float64, visits int32, wsum float64 [n, S+1, A]; solved bool, node_value
    float64, plies int32 [n, S+1] (a solved node: the game ended there, or the solver proved
    its value; its exact value for its player to move, and the plies to the game's end along
    the proof: 0 for a finished game), num_legal int32 [n, S+1] (legal actions, set when the
    node is created; the root's at simulation 0). Per simulation
    scratch: path_node, path_action int64 [n, D] (D = the deepest descent possible), depth
    int64 [n] (edges on the path, 0 when the game is not searched), leaf_node int64 [n],
    needs_net bool [n], leaf_words int64 [W, n] (word by word: each word of the n leaves contiguous).
    """
    s1, a, w = simulations + 1, rules.num_actions, rules.num_words
    d = max(1, min(simulations, rules.max_plies))
    t = SimpleNamespace(
        words=np.zeros((n, s1, w), np.int64),
        children=np.full((n, s1, a), -1, np.int32), prior=np.zeros((n, s1, a), np.float64),
        visits=np.zeros((n, s1, a), np.int32), wsum=np.zeros((n, s1, a), np.float64),
        solved=np.zeros((n, s1), np.bool_), node_value=np.zeros((n, s1), np.float64),
        plies=np.zeros((n, s1), np.int32), num_legal=np.zeros((n, s1), np.int32),
        path_node=np.zeros((n, d), np.int64), path_action=np.zeros((n, d), np.int64),
        depth=np.zeros(n, np.int64), leaf_node=np.zeros(n, np.int64), needs_net=np.zeros(n, np.bool_),
        leaf_words=np.zeros((w, n), np.int64),
        # Gumbel root search (``set_gumbel``); off: PUCT at the root too
        gumbel=SimpleNamespace(on=False, c_visit=0.0, c_scale=0.0), root_logits=np.zeros((n, a), np.float64),
        root_value=np.zeros(n, np.float64), considered=np.zeros((n, max(simulations, 1)), np.int32),
    )
    t.words[:, 0, :] = root_words
    return t


def set_root(tree: SimpleNamespace, prior) -> None:
    """Expand the roots with ``prior`` float64 [n, A] (0 on illegal actions)."""
    tree.prior[:, 0, :] = prior


def set_gumbel(tree: SimpleNamespace, root_logits, root_value, considered, c_visit: float, c_scale: float) -> None:
    """Switch the root to Gumbel root search: ``root_logits`` float64 [n, A] (Gumbel noise +
    log prior, -inf on illegal actions), ``root_value`` float64 [n] (the network's root values),
    ``considered`` int32 [n, S] (per game, the visits the root action of each simulation has
    before it: ``kernels.mcts_torch.considered_visits``), ``c_visit`` and ``c_scale`` (sigma)."""
    tree.root_logits[:] = root_logits
    tree.root_value[:] = root_value
    tree.considered[:] = considered
    tree.gumbel = SimpleNamespace(on=True, c_visit=float(c_visit), c_scale=float(c_scale))


# The kernels are module-level and disk-cached (``cache=True``) although they take the game's
# rules: a game is a *literal* integer token (``literally``), and the call into its per-game
# steps (``tree_select``, built by ``tree_steps`` around its rules) is an ``overload`` that looks
# the token up in ``_RULES`` at typing time. Each game thus gets its own
# compiled (and cached) specialisation, and a fresh process loads it instead of compiling.
# (As before, numba checks only this file's timestamp: after changing a game's njit rules, clear
# kernels/__pycache__/mcts_numba.* .)
_RULES: dict[int, object] = {}


def token_of(rules) -> int:
    """The literal token of ``rules`` (registered on first use): a hash of ``rules.key``, the
    same in every process, so the cached kernels of a game are found again."""
    key = rules.key or _default_key(rules)
    token = zlib.crc32(key.encode()) & 0x7FFFFFFF
    known = _RULES.setdefault(token, rules)
    if known is not rules and (known.key or _default_key(known)) != key:
        raise ValueError(f"search-rules keys {known.key!r} and {key!r} collide")
    return token


def _default_key(rules) -> str:
    f = py_function(rules.play)
    return f"{f.__module__}.{f.__qualname__}:{rules.num_actions}:{rules.num_words}:{rules.max_plies}"


def py_function(f):
    """The Python function of a numba dispatcher (``f`` itself if it is one already)."""
    return getattr(f, "py_func", f)


def tree_steps(jit, rules) -> SimpleNamespace:
    """The per-game steps of the search for the game of ``rules`` (``NumbaRules``), compiled by
    ``jit``: ``numba.njit(inline="always")`` for these CPU kernels, a CUDA device-function
    decorator for ``kernels.mcts_cuda``. The game's ``play`` and ``is_legal`` are compiled by the
    same ``jit`` from their Python functions, so both targets run the same code.

    Returns ``select_one(i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value,
    considered, <tree arrays>)`` (simulation ``k`` of game ``i``: descend to the leaf, create
    it; the root's action by Gumbel root search when ``gumbel``, see ``set_gumbel``; the tree
    arrays of ``init_tree`` in ``select``'s order) and
    ``is_legal`` (the game's, compiled by ``jit``)."""
    play, is_legal = jit(py_function(rules.play)), jit(py_function(rules.is_legal))
    num_actions, num_words = rules.num_actions, rules.num_words

    @jit
    def edge_q(visits, wsum, children, solved, node_value, i, node, a):
        """The value of the visited action ``a`` of node ``node`` for its mover: exact into a
        solved child (``-node_value`` of the child), else W / N. (A child exists once its edge
        is visited, so callers complete the unvisited ones: fpu, Gumbel's mixed value.)"""
        child = children[i, node, a]
        if child >= 0 and solved[i, child]:
            return np.float64(0.0) - node_value[i, child]
        return wsum[i, node, a] / visits[i, node, a]

    @jit
    def best_action(prior, visits, wsum, words, children, solved, node_value, i, node, c_puct, fpu):
        """PUCT argmax over the legal actions of one node, lowest index on ties (-1: none legal).

        Same operations in the same order as ``kernels.mcts_torch.select_leaves``:
        ``q + c_puct * p * sqrt(1 + sum N) / (1 + N)`` in float64, where ``q`` of an action into
        a solved child is its exact value (``-node_value`` of the child), else ``W / N``."""
        nsum = np.int64(0)
        for a in range(num_actions):
            nsum += visits[i, node, a]
        root_term = math.sqrt(np.float64(1 + nsum))  # IEEE sqrt (correctly rounded) on every target
        best = -1
        best_score = -np.inf
        for a in range(num_actions):
            if not is_legal(words, i, node, a):
                continue
            n = visits[i, node, a]
            q = edge_q(visits, wsum, children, solved, node_value, i, node, a) if n > 0 else fpu
            score = q + c_puct * prior[i, node, a] * root_term / np.float64(1 + n)
            if best < 0 or score > best_score:
                best, best_score = a, score
        return best

    @jit
    def gumbel_root_action(i, k, root_logits, root_value, considered, c_visit, c_scale, words, children, prior,
                           visits, wsum, solved, node_value):
        """Gumbel root search (``docs/mcts.md``): the root action of simulation ``k`` is, among the
        legal actions with exactly ``considered[i, k]`` visits (sequential halving's schedule),
        the argmax of ``root_logits`` (Gumbel noise + log prior) + sigma(completed Q), lowest
        index on ties (-1: none). Completed Q: a visited action's Q, else the mixed value
        ``(v + sum N * sum_visited(p q) / sum_visited(p)) / (1 + sum N)``; rescaled to [0, 1] by
        its min and max over the legal actions; sigma = (c_visit + max N) * c_scale * that."""
        nsum = np.int64(0)
        maxn = np.int64(0)
        psum = np.float64(0.0)
        pq = np.float64(0.0)
        for a in range(num_actions):
            n = visits[i, 0, a]
            nsum += n
            if n > maxn:
                maxn = n
            if n > 0:
                psum += prior[i, 0, a]
                pq += prior[i, 0, a] * edge_q(visits, wsum, children, solved, node_value, i, 0, a)
        mixed = np.float64(root_value[i])
        if nsum > 0 and psum > 0:
            mixed = (mixed + np.float64(nsum) * (pq / psum)) / np.float64(1 + nsum)
        lo = np.inf
        hi = -np.inf
        for a in range(num_actions):
            if is_legal(words, i, 0, a):
                q = edge_q(visits, wsum, children, solved, node_value, i, 0, a) if visits[i, 0, a] > 0 else mixed
                lo = min(lo, q)
                hi = max(hi, q)
        span = max(hi - lo, np.float64(1e-8))
        scale = (np.float64(c_visit) + np.float64(maxn)) * np.float64(c_scale)
        want = considered[i, k]
        best = -1
        best_score = -np.inf
        for a in range(num_actions):
            if visits[i, 0, a] != want or not is_legal(words, i, 0, a):
                continue
            q = edge_q(visits, wsum, children, solved, node_value, i, 0, a) if visits[i, 0, a] > 0 else mixed
            score = root_logits[i, a] + scale * ((q - lo) / span)
            if best < 0 or score > best_score:
                best, best_score = a, score
        return best

    @jit
    def count_legal(words, i, node):
        n = np.int32(0)
        for a in range(num_actions):
            if is_legal(words, i, node, a):
                n += 1
        return n

    @jit
    def select_one(i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words, children,
                   prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth, leaf_node,
                   needs_net, leaf_words):
        new = k + 1
        depth[i] = 0
        leaf_node[i] = -1
        needs_net[i] = False
        for j in range(num_words):
            leaf_words[j, i] = words[i, 0, j]
        if k == 0:
            num_legal[i, 0] = count_legal(words, i, 0)
        if num_legal[i, 0] == 0:
            return  # a root with no legal move is not searched
        node = np.int64(0)
        d = 0
        while True:
            a = -1
            if gumbel and d == 0:
                a = gumbel_root_action(i, k, root_logits, root_value, considered, c_visit, c_scale, words, children,
                                       prior, visits, wsum, solved, node_value)
            if a < 0:
                a = best_action(prior, visits, wsum, words, children, solved, node_value, i, node, c_puct, fpu)
            path_node[i, d] = node
            path_action[i, d] = a
            d += 1
            child = np.int64(children[i, node, a])
            if child < 0:  # the leaf is a new node: create it; the network expands it later
                r, done = play(words, i, node, new, np.int64(a))
                solved[i, new] = done
                # a finished position's value for its side to move is -reward (of the move into it)
                node_value[i, new] = np.float64(0.0) - np.float64(r) if done else 0.0
                plies[i, new] = 0
                num_legal[i, new] = 0 if done else count_legal(words, i, new)
                children[i, node, a] = new
                leaf_node[i] = new
                needs_net[i] = not done
                break
            if solved[i, child]:  # finished, or proven: its exact value is backed up
                leaf_node[i] = child
                break
            node = child
        depth[i] = d
        for j in range(num_words):
            leaf_words[j, i] = words[i, leaf_node[i], j]

    return SimpleNamespace(select_one=select_one, is_legal=is_legal)


def backup_step(jit, expand):
    """The per-game backup of the search, compiled by ``jit`` around ``expand(i, leaf, net_out,
    words, prior)``, which stores the priors of game ``i``'s new leaf node ``leaf`` into
    ``prior[i, leaf, :]`` from ``net_out[i]`` (here the priors themselves, ``copy_prior``; on
    CUDA the network's logits, softmaxed over the leaf's legal actions).

    Returns ``backup_one(i, solver, net_out, net_value, words, children, prior, visits, wsum,
    solved, node_value, plies, num_legal, path_node, path_action, depth, leaf_node,
    needs_net)``: expand game ``i``'s leaf if it needed the network (``net_value`` float [n]: its
    value) and back the leaf's value up its path (negamax: the edge into a child of value v gets
    N += 1, W += -v, in float64). With ``solver`` (MCTS-Solver, ``docs/mcts.md``), while the
    child of an edge is solved its parent is tried for a proof (``prove``), and a parent proven
    passes its exact value on instead of ``-v``."""

    @jit
    def prove(i, s, children, solved, node_value, plies, num_legal):
        """Prove node ``s`` of game ``i`` from its solved children, if they suffice: won (+1) when
        one of its moves leads to a child lost for the child's mover, else, once every legal
        move's child is solved, the best of their values for ``s``'s mover (0: drawn, -1: lost).
        ``plies`` along the proof: 1 + the fewest of a winning child's, else 1 + the most among
        the best children's (a lost side holds out longest). True when ``s`` is solved now."""
        win_plies = np.int32(-1)
        best = np.float64(-2.0)
        best_plies = np.int32(0)
        count = 0
        for a in range(children.shape[2]):
            c = children[i, s, a]
            if c < 0 or not solved[i, c]:
                continue
            count += 1
            ev = np.float64(0.0) - node_value[i, c]
            p = plies[i, c]
            if ev == 1.0:
                if win_plies < 0 or p < win_plies:
                    win_plies = p
            elif ev > best or (ev == best and p > best_plies):
                best, best_plies = ev, p
        if win_plies >= 0:
            solved[i, s] = True
            node_value[i, s] = 1.0
            plies[i, s] = win_plies + 1
            return True
        if count > 0 and count == num_legal[i, s]:
            solved[i, s] = True
            node_value[i, s] = best
            plies[i, s] = best_plies + 1
            return True
        return False

    @jit
    def backup_one(i, solver, net_out, net_value, words, children, prior, visits, wsum, solved, node_value, plies,
                   num_legal, path_node, path_action, depth, leaf_node, needs_net):
        if depth[i] == 0:
            return
        leaf = leaf_node[i]
        if needs_net[i]:
            expand(i, leaf, net_out, words, prior)
            v = np.float64(net_value[i])
        else:
            v = node_value[i, leaf]
        proven = solver and solved[i, leaf]  # the child of the edge being backed up is solved
        for d in range(depth[i] - 1, -1, -1):
            s = path_node[i, d]
            a = path_action[i, d]
            visits[i, s, a] += 1
            wsum[i, s, a] += -v
            if proven and prove(i, s, children, solved, node_value, plies, num_legal):
                v = node_value[i, s]
            else:
                proven = False
                v = -v

    return backup_one


@njit(inline="always", cache=True)
def copy_prior(i, leaf, leaf_prior, words, prior):
    """The CPU search's ``expand``: ``leaf_prior`` float64 [n, A] holds the priors already."""
    for a in range(leaf_prior.shape[1]):
        prior[i, leaf, a] = leaf_prior[i, a]


_backup_one = backup_step(njit(inline="always"), copy_prior)
_STEPS: dict[int, SimpleNamespace] = {}


def tree_select(token, i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
                children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth,
                leaf_node, needs_net, leaf_words):
    raise NotImplementedError  # numba only (see the overload): the game's ``select_one``


@overload(tree_select, inline="always")
def _ov_select(token, i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
               children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth,
               leaf_node, needs_net, leaf_words):
    if not isinstance(token, types.IntegerLiteral):
        return None
    key = token.literal_value
    if key not in _STEPS:
        _STEPS[key] = tree_steps(njit(inline="always"), _RULES[key])
    select_one = _STEPS[key].select_one

    def impl(token, i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
             children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth,
             leaf_node, needs_net, leaf_words):
        select_one(i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
                   children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth,
                   leaf_node, needs_net, leaf_words)
    return impl


@njit(parallel=True, cache=True)
def select(token, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words, children,
           prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action, depth, leaf_node,
           needs_net, leaf_words):
    literally(token)
    for i in prange(words.shape[0]):
        tree_select(token, i, k, c_puct, fpu, gumbel, c_visit, c_scale, root_logits, root_value, considered, words,
                    children, prior, visits, wsum, solved, node_value, plies, num_legal, path_node, path_action,
                    depth, leaf_node, needs_net, leaf_words)


@njit(parallel=True, cache=True)
def backup(solver, leaf_prior, leaf_value, words, children, prior, visits, wsum, solved, node_value, plies,
           num_legal, path_node, path_action, depth, leaf_node, needs_net):
    for i in prange(depth.shape[0]):
        _backup_one(i, solver, leaf_prior, leaf_value, words, children, prior, visits, wsum, solved, node_value,
                    plies, num_legal, path_node, path_action, depth, leaf_node, needs_net)


_ENTRY: dict = {}


def _run(kernel, token: int, *args) -> None:
    """``kernel(token, *args)`` with ``token`` as the literal it was compiled for. Calling the
    dispatcher with a plain int would type the call again every time (a plain int matches no
    compiled signature, and ``literally`` then redirects), so after the first call (which
    compiles or loads the specialisation) its compiled entry point is called directly."""
    entry = _ENTRY.get((kernel, token))
    if entry is not None:
        entry(token, *args)
        return
    kernel(token, *args)
    mine = [cres for sig, cres in kernel.overloads.items()
            if isinstance(sig[0], types.IntegerLiteral) and sig[0].literal_value == token]
    if len(mine) == 1:  # the tree arrays are always C-contiguous: one specialisation per game
        _ENTRY[(kernel, token)] = mine[0].entry_point


def select_leaves(tree: SimpleNamespace, k: int, rules, c_puct: float, fpu: float):
    """Simulation ``k``: descend every tree by PUCT to its leaf, creating the leaf's node in slot
    ``k + 1`` when it is new. Returns ``(leaf_words, needs_net)``: int64 [n, W] positions and
    bool [n], true where the leaf is new and not solved (the network must evaluate it)."""
    t = tree
    g = t.gumbel
    _run(select, token_of(rules), np.int64(k), np.float64(c_puct), np.float64(fpu), bool(g.on), np.float64(g.c_visit),
         np.float64(g.c_scale), t.root_logits, t.root_value, t.considered, t.words, t.children, t.prior, t.visits,
         t.wsum, t.solved, t.node_value, t.plies, t.num_legal, t.path_node, t.path_action, t.depth, t.leaf_node,
         t.needs_net, t.leaf_words)
    return t.leaf_words.T, t.needs_net


def expand_and_backup(tree: SimpleNamespace, k: int, rules, leaf_prior, leaf_value, solver: bool = True) -> None:
    """Simulation ``k``: expand the leaves that needed the network with ``leaf_prior`` float64
    [n, A] and back up ``leaf_value`` (float [n], used where ``needs_net``) or the solved
    leaves' exact values along each game's path (negamax), proving nodes on the way when
    ``solver``."""
    t = tree
    backup(bool(solver), np.ascontiguousarray(leaf_prior, np.float64), np.ascontiguousarray(leaf_value, np.float64),
           t.words, t.children, t.prior, t.visits, t.wsum, t.solved, t.node_value, t.plies, t.num_legal,
           t.path_node, t.path_action, t.depth, t.leaf_node, t.needs_net)
