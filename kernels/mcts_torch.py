"""Batched PUCT tree search steps in torch: one tree per game, tensor ops only, any device.

The search is defined in ``docs/mcts.md``; same names, tree arrays and arithmetic (float64,
same operation order) as ``kernels.mcts_numba``, so both give the same visit counts. The game's
rules come in as a ``Game`` (``src.games.protocol``: ``play``, ``legal_mask``, ``max_plies``), the
tree holds its state words. Nothing here synchronises with the host: the descent of simulation
``k`` runs a fixed ``min(k + 1, max_plies)`` steps (a tree holds ``k + 1`` nodes then, so no path is longer),
each game masked once its leaf is found, and the backup of every path is one scatter.

Also here, because both backends share them: ``priors`` (masked softmax of the network's
logits) and ``dirichlet`` (root noise drawn from a ``torch.Generator``).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch


def init_tree(n: int, simulations: int, game, root_words: torch.Tensor) -> SimpleNamespace:
    """Preallocated tree arrays on ``root_words.device`` (int64 [n, W]); see
    ``kernels.mcts_numba.init_tree``. ``game`` is the ``Game`` whose rules the search follows."""
    s1, a, w = simulations + 1, game.num_actions, root_words.shape[1]
    d = max(1, min(simulations, game.max_plies))
    dev = root_words.device

    def z(shape, dtype):
        return torch.zeros(shape, dtype=dtype, device=dev)

    t = SimpleNamespace(
        words=z((n, s1, w), torch.int64),
        children=torch.full((n, s1, a), -1, dtype=torch.int32, device=dev), prior=z((n, s1, a), torch.float64),
        visits=z((n, s1, a), torch.int32), wsum=z((n, s1, a), torch.float64),
        solved=z((n, s1), torch.bool), node_value=z((n, s1), torch.float64),
        plies=z((n, s1), torch.int32), num_legal=z((n, s1), torch.int32),
        path_node=z((n, d), torch.int64), path_action=z((n, d), torch.int64),
        depth=z(n, torch.int64), leaf_node=z(n, torch.int64), needs_net=z(n, torch.bool),
        leaf_words=z((n, w), torch.int64),
        games=torch.arange(n, device=dev),
        # Gumbel root search (``set_gumbel``); off: PUCT at the root too
        gumbel=SimpleNamespace(on=False, c_visit=0.0, c_scale=0.0), root_logits=z((n, a), torch.float64),
        root_value=z(n, torch.float64), considered=z((n, max(simulations, 1)), torch.int32),
    )
    t.words[:, 0, :] = root_words
    return t


def set_gumbel(tree: SimpleNamespace, root_logits: torch.Tensor, root_value: torch.Tensor, considered: torch.Tensor,
               c_visit: float, c_scale: float) -> None:
    """See ``kernels.mcts_numba.set_gumbel``."""
    tree.root_logits.copy_(root_logits)
    tree.root_value.copy_(root_value)
    tree.considered.copy_(considered)
    tree.gumbel = SimpleNamespace(on=True, c_visit=float(c_visit), c_scale=float(c_scale))


def child_values(tree: SimpleNamespace, games: torch.Tensor, node: torch.Tensor):
    """The children of node ``node`` (int64 [n], one per game of ``games``): ``(kids, solved,
    exact)``, int64 [n, A] the child nodes (-1: none yet), bool [n, A] where the child exists
    and is solved, float64 [n, A] minus the child's value (the action's exact value for the
    node's mover where solved; read at child 0 where there is none)."""
    kids = tree.children[games, node].long()
    at = kids.clamp(min=0)
    g1 = games.unsqueeze(1)
    return kids, (kids >= 0) & tree.solved[g1, at], 0.0 - tree.node_value[g1, at]


def root_games(tree: SimpleNamespace):
    """``(games, root)``: int64 [n] each, every game and its root node (0), for ``child_values``
    on any backend's tree (the numba tree's arrays as tensors have no ``games``)."""
    games = getattr(tree, "games", None)
    if games is None:
        games = torch.arange(tree.children.shape[0], device=tree.children.device)
    return games, torch.zeros_like(games)


def root_q(tree: SimpleNamespace) -> torch.Tensor:
    """float64 [n, A]: the root's value of each action for its mover: exact into a solved child,
    else W / N, 0 when unvisited (as ``kernels.mcts_numba``'s ``edge_q``)."""
    _, exact, value = child_values(tree, *root_games(tree))
    n = tree.visits[:, 0]
    w = tree.wsum[:, 0]
    plain = torch.where(n > 0, w / n.clamp(min=1).to(torch.float64), 0.0)
    return torch.where(exact, value, plain)


def completed_sigma(visits: torch.Tensor, q: torch.Tensor, prior: torch.Tensor, root_value: torch.Tensor,
                    legal: torch.Tensor, c_visit: float, c_scale: float) -> torch.Tensor:
    """float64 [n, A]: sigma(completed Q) of Gumbel root search (``docs/mcts.md``) from the
    root's ``visits`` [n, A], ``q`` (``root_q``), ``prior`` (the network's, float64), the
    network's ``root_value`` [n] and the ``legal`` actions: completed Q is a visited action's Q,
    else the mixed value; it is rescaled to [0, 1] over the legal actions and scaled by
    ``(c_visit + max N) * c_scale``; 0 on illegal actions. As the kernels' ``gumbel_root_action``."""
    visited = visits > 0
    nsum = visits.sum(dim=1, dtype=torch.int64)
    psum = torch.where(visited, prior, 0.0).sum(dim=1)
    pq = torch.where(visited, prior * q, 0.0).sum(dim=1)
    mixed = torch.where((nsum > 0) & (psum > 0),
                        (root_value + nsum.to(torch.float64) * (pq / psum.clamp(min=1e-300))) / (1 + nsum).to(
                            torch.float64), root_value)
    completed = torch.where(visited, q, mixed.unsqueeze(1))
    lo = torch.where(legal, completed, math.inf).amin(dim=1, keepdim=True)
    hi = torch.where(legal, completed, -math.inf).amax(dim=1, keepdim=True)
    span = (hi - lo).clamp(min=1e-8)
    scale = (c_visit + visits.amax(dim=1, keepdim=True).to(torch.float64)) * c_scale
    return torch.where(legal, scale * ((completed - lo) / span), 0.0)


def considered_visits(m: int, simulations: int) -> list[int]:
    """Sequential halving's schedule for ``m`` considered root actions and ``simulations``
    simulations: entry ``k`` is the visit count the root action of simulation ``k`` has before
    it. Rounds of ceil(log2 m) halvings: each round gives each remaining action
    ``max(1, simulations // (rounds * remaining))`` more visits, then keeps half (at least 2);
    the last round goes on until the budget is spent. ``m <= 1``: 0, 1, 2, ..."""
    if m <= 1:
        return list(range(simulations))
    rounds = math.ceil(math.log2(m))
    out: list[int] = []
    have, remaining = 0, m
    while len(out) < simulations:
        for _ in range(max(1, simulations // (rounds * remaining))):
            out.extend([have] * remaining)
            have += 1
        remaining = max(2, remaining // 2)
    return out[:simulations]


def set_root(tree: SimpleNamespace, prior: torch.Tensor) -> None:
    """Expand the roots with ``prior`` float64 [n, A] (0 on illegal actions)."""
    tree.prior[:, 0, :] = prior


def select_leaves(tree: SimpleNamespace, k: int, game, c_puct: float, fpu: float):
    """See ``kernels.mcts_numba.select_leaves``: returns ``(leaf_words, needs_net)``; the moves
    are ``game.play``, legality ``game.legal_mask`` (on the ``game.State`` of the tree's words)."""
    t = tree
    games = t.games
    state_of = lambda w: game.State(*w.unbind(1))  # noqa: E731  int64 [n, W] -> the game's State
    node = torch.zeros_like(t.depth)
    if k == 0:
        t.num_legal[:, 0] = game.legal_mask(state_of(t.words[:, 0])).sum(dim=1, dtype=torch.int32)
    going = t.num_legal[:, 0] > 0  # a root with no legal move is not searched
    depth = torch.zeros_like(t.depth)
    for d in range(min(k + 1, game.max_plies)):
        legal = game.legal_mask(state_of(t.words[games, node]))
        p, n, w = t.prior[games, node], t.visits[games, node], t.wsum[games, node]
        kids, exact, value = child_values(t, games, node)
        nf = n.to(torch.float64)
        q = torch.where(exact, value, torch.where(n > 0, w / nf, fpu))
        root_term = torch.sqrt((1 + n.sum(dim=1, dtype=torch.int64)).to(torch.float64)).unsqueeze(1)
        score = q + c_puct * p * root_term / (1 + nf)
        a = torch.where(legal, score, -math.inf).argmax(dim=1)  # first maximum: lowest index on ties
        if d == 0 and t.gumbel.on:  # Gumbel root search: the schedule's action at the root
            sigma = completed_sigma(t.visits[:, 0], root_q(t), t.prior[:, 0], t.root_value, legal, t.gumbel.c_visit,
                                    t.gumbel.c_scale)
            want = legal & (t.visits[:, 0] == t.considered[:, k].unsqueeze(1))
            ga = torch.where(want, t.root_logits + sigma, -math.inf).argmax(dim=1)
            a = torch.where(want.any(dim=1), ga, a)
        t.path_node[:, d] = node  # games already stopped write past their path's end: ignored
        t.path_action[:, d] = a
        c = kids.gather(1, a.unsqueeze(1)).squeeze(1)
        stop = (c < 0) | t.solved[games, c.clamp(min=0)]
        depth += going.long()
        going = going & ~stop
        node = torch.where(going, c, node)
    # the leaf is a new node (created here in slot k + 1) or an existing terminal one
    searched = depth > 0
    last = (depth - 1).clamp(min=0).unsqueeze(1)
    parent = t.path_node.gather(1, last).squeeze(1)
    action = t.path_action.gather(1, last).squeeze(1)
    child = torch.where(searched, t.children[games, parent, action].long(), -1)
    new_leaf = searched & (child < 0)
    new = k + 1
    nxt, reward, done, _ = game.play(state_of(t.words[games, parent]), action, None)
    t.words[:, new, :] = torch.stack(tuple(nxt), dim=1)
    t.solved[:, new] = new_leaf & done
    # a finished position's value for its side to move is -reward (of the move into it)
    t.node_value[:, new] = torch.where(done, 0.0 - reward.to(torch.float64), 0.0)
    t.num_legal[:, new] = torch.where(done, 0, game.legal_mask(nxt).sum(dim=1, dtype=torch.int32))
    old = t.children[games, parent, action]
    t.children[games, parent, action] = torch.where(new_leaf, new, old.long()).to(torch.int32)
    leaf = torch.where(new_leaf, new, torch.where(searched, child, -1))
    t.depth.copy_(depth)
    t.leaf_node.copy_(leaf)
    t.needs_net.copy_(new_leaf & ~done)
    at = leaf.clamp(min=0)
    t.leaf_words.copy_(t.words[games, at])
    return t.leaf_words, t.needs_net


def expand_and_backup(tree: SimpleNamespace, k: int, game, leaf_prior: torch.Tensor,
                      leaf_value: torch.Tensor, solver: bool = True) -> None:
    """See ``kernels.mcts_numba.expand_and_backup``."""
    t = tree
    games = t.games
    new = k + 1
    t.prior[:, new, :] = leaf_prior.to(torch.float64)  # read only where slot k + 1 is an expanded node
    at = t.leaf_node.clamp(min=0)
    v = torch.where(t.needs_net, leaf_value.to(torch.float64), t.node_value[games, at])
    if solver:
        _backup_proving(t, v, min(k + 1, game.max_plies))
        return
    # edge d of a path of L edges leads to a child of value v * (-1) ** (L - 1 - d), so it gets
    # W += v * (-1) ** (L - d); edges past the path's end get 0. A path never repeats a node, so
    # no live index occurs twice and the sums do not depend on the order of the atomic adds.
    steps = torch.arange(t.path_node.shape[1], device=v.device)
    live = steps < t.depth.unsqueeze(1)
    sign = 1.0 - 2.0 * ((t.depth.unsqueeze(1) - steps) % 2).to(torch.float64)
    s1, a = t.prior.shape[1], t.prior.shape[2]
    flat = (games.unsqueeze(1) * s1 + t.path_node) * a + t.path_action
    flat = flat.view(-1)
    t.wsum.view(-1).scatter_add_(0, flat, torch.where(live, v.unsqueeze(1) * sign, 0.0).view(-1))
    t.visits.view(-1).scatter_add_(0, flat, live.to(torch.int32).view(-1))


def _backup_proving(t: SimpleNamespace, v: torch.Tensor, levels: int) -> None:
    """The backup with MCTS-Solver (``kernels.mcts_numba.backup_step``): edge by edge from the
    leaf up, the deepest path having at most ``levels`` edges; while an edge's child is solved,
    its parent is tried for a proof, and a parent proven passes its exact value up."""
    games = t.games
    g1 = games.unsqueeze(1)
    big = torch.iinfo(torch.int32).max
    up = v  # the value of the current edge's child for its mover
    proven = t.solved[games, t.leaf_node.clamp(min=0)] & (t.depth > 0)
    for d in range(levels - 1, -1, -1):
        live = d < t.depth
        s, a = t.path_node[:, d], t.path_action[:, d]
        t.visits[games, s, a] += live.to(torch.int32)
        t.wsum[games, s, a] += torch.where(live, -up, 0.0)
        # levels below a game's path (d >= its depth) are not its own: its flag waits for its leaf's edge
        trying = proven & live
        kids, done, ev = child_values(t, games, s)
        pl = t.plies[g1, kids.clamp(min=0)]
        wins = done & (ev == 1.0)
        win_plies = torch.where(wins, pl, big).amin(dim=1)
        rest = done & ~wins
        best = torch.where(rest, ev, -2.0).amax(dim=1)
        best_plies = torch.where(rest & (ev == best.unsqueeze(1)), pl, 0).amax(dim=1)
        count = done.sum(dim=1, dtype=torch.int32)
        won = wins.any(dim=1)
        settled = won | ((count > 0) & (count == t.num_legal[games, s]))
        newly = trying & settled
        value = torch.where(won, 1.0, best)
        plies = torch.where(won, win_plies, best_plies) + 1
        t.solved[games, s] = t.solved[games, s] | newly
        t.node_value[games, s] = torch.where(newly, value, t.node_value[games, s])
        t.plies[games, s] = torch.where(newly, plies, t.plies[games, s]).to(torch.int32)
        up = torch.where(live, torch.where(newly, value, -up), up)
        proven = torch.where(live, newly, proven)


def priors(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """float64 [M, A]: softmax of ``logits`` (float [M, A]) over the ``legal`` columns (bool
    [M, A]) only, 0 elsewhere (and everywhere in a row with no legal column). Computed in
    float64 by torch for both backends, so they expand nodes with identical priors."""
    p = torch.softmax(logits.to(torch.float64).masked_fill(~legal, -math.inf), dim=1)
    return torch.nan_to_num(p, nan=0.0)


def _standard_gamma(alpha: float, shape: tuple[int, ...], device, generator, tries: int = 16) -> torch.Tensor:
    """float64 Gamma(alpha, 1) samples drawn from ``generator`` (``torch._standard_gamma`` takes
    none). Marsaglia-Tsang (https://doi.org/10.1145/358407.358414) with ``tries`` candidates per
    sample, the first accepted one kept (each is accepted with probability >= 0.95, so all
    rejected is < 1e-20); alpha < 1 by the boost Gamma(alpha) = Gamma(alpha + 1) * U ** (1 / alpha)."""
    a = alpha + 1.0 if alpha < 1.0 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    f64 = dict(dtype=torch.float64, device=device, generator=generator)
    x = torch.randn(shape + (tries,), **f64)
    u = torch.rand(shape + (tries,), **f64)
    v = (1.0 + c * x) ** 3
    vpos = v.clamp(min=1e-300)
    ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * vpos + d * torch.log(vpos))
    first = ok.to(torch.int8).argmax(dim=-1, keepdim=True)  # 0 when none accepted (never, in practice)
    sample = d * vpos.gather(-1, first).squeeze(-1)
    if alpha < 1.0:
        sample = sample * torch.rand(shape, **f64) ** (1.0 / alpha)
    return sample


def dirichlet(legal: torch.Tensor, alpha: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """float64 [N, A]: a Dirichlet(alpha) draw over each row's ``legal`` columns (bool [N, A]), 0 elsewhere."""
    gam = _standard_gamma(alpha, tuple(legal.shape), legal.device, generator) * legal
    return torch.nan_to_num(gam / gam.sum(dim=1, keepdim=True), nan=0.0)
