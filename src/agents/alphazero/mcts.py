"""Batched PUCT search over many games at once (``docs/mcts.md``), on numba, numba-cuda or torch kernels.

    mcts = BatchedMCTS(game, "cpu")                        # numba on the CPU, numba-cuda on CUDA
    result = mcts.search(state, evaluate, simulations=64, noise=True, generator=gen)
    actions = mcts.act(result, temperature=1.0, generator=gen)
    target = mcts.policy_target(result)

Backends: ``'numba'`` (``kernels.mcts_numba``, the CPU), ``'cuda'`` (``kernels.mcts_cuda``: the
same per-game code as CUDA kernels, one launch per phase; the default on CUDA devices when
numba-cuda is installed; on CPU tensors under numba's CUDA simulator) and ``'torch'``
(``kernels.mcts_torch``, tensor ops on any device: the portable reference). ``game`` is a
``Game`` (``src.games.protocol``): its rules go into the kernels (``numba_rules`` on numba and
cuda, ``play``/``legal_mask`` on torch) and the trees store its state words.
``evaluate(state) -> (logits float32 [M, A], value float32 [M])`` is the network on a batch of
positions (the game's ``State``), values for the side to move. It is
called once with the roots, then once per simulation with the leaves: on the torch and cuda
backends every game's leaf (outputs for terminal or unsearched games' leaves are ignored: the batch
size never depends on the data, so nothing synchronises), on the numba backend only the
leaves that need it (no call when none does).

Where ``docs/mcts.md`` is silent, this implementation chooses (a reference must do the same
to agree to the last visit):

* Arithmetic in float64: priors are ``softmax(float64(logits))`` over the legal columns
  (``kernels.mcts_torch.priors``, by torch, for the numba and torch backends; the cuda backend
  computes the leaves' softmax in its backup kernel, the same formula, possibly a last bit
  apart), network values are cast to float64 and ``W`` sums in float64; the score is evaluated as
  ``q + ((c_puct * P) * sqrt(float(1 + sum N))) / float(1 + N)``, left to right, as Python
  floats would.
* A finished position's value for its side to move is ``-reward`` of the move into it (a move
  that wins and fills the board counts as a win: value -1 for the player to move).
* The root is searched whenever it has a legal move, even if the player who just moved has
  four in a row already (callers search only running games); the network is called on every
  root, a full one included, so ``network_value`` is always the network's.
* Dirichlet noise: Gamma(alpha) draws from the given ``torch.Generator`` (Marsaglia-Tsang,
  ``kernels.mcts_torch.dirichlet``), normalised over the legal columns; the same generator
  state gives the same noise on both backends.
* ``act`` with temperature: inverse-CDF sampling of ``(N / max N) ** (1 / T)`` from one uniform
  per game; a game without visits acts on its root priors instead.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Callable

import torch

from kernels import mcts_numba as kmn
from kernels import mcts_torch as kmt
from src.games.backends import resolve_backend, resolve_device
from src.games.protocol import Game, State, stack_words, unstack_words

Evaluate = Callable[[State], "tuple[torch.Tensor, torch.Tensor]"]


@dataclass
class SearchResult:
    """Per game, at the root: ``visits`` int64 [N, A] (summing to ``simulations`` where the root
    has a legal move, else 0), ``q`` float32 [N, A] (W / N, 0 where unvisited), ``value``
    float32 [N] (sum W / simulations, 0 when no simulation ran), ``network_value`` float32 [N]
    (the network's value of the root) and ``prior`` float32 [N, A] (the root priors searched
    with, noise included); ``legal`` bool [N, A] (the root's legal actions).

    Gumbel root search only (None otherwise): ``gumbel_action`` int64 [N] (the action sequential
    halving chose) and ``improved_policy`` float32 [N, A] (softmax of log prior + sigma(completed
    Q) over the legal actions: the training target).

    The solver's proofs at the root (MCTS-Solver; all False / 0 when the search ran without it):
    ``solved`` bool [N, A] (the action's outcome is proven), ``exact`` float32 [N, A] (that
    outcome for the root's mover: 1 won, 0 drawn, -1 lost; 0 where not proven), ``plies`` int32
    [N, A] (plies from the root to the game's end along the proof, the action included; 0 where
    not proven), ``root_solved`` bool [N] (the root itself is proven; ``value`` is then its
    exact value)."""
    visits: torch.Tensor
    q: torch.Tensor
    value: torch.Tensor
    network_value: torch.Tensor
    prior: torch.Tensor
    simulations: int
    legal: torch.Tensor | None = None
    gumbel_action: torch.Tensor | None = None
    improved_policy: torch.Tensor | None = None
    solved: torch.Tensor | None = None
    exact: torch.Tensor | None = None
    plies: torch.Tensor | None = None
    root_solved: torch.Tensor | None = None


def _kernel_float(x: torch.Tensor) -> torch.Tensor:
    """``x`` as the CUDA kernels read it: float32 and float64 as they are (no op), other float
    dtypes (half, bfloat16) cast to float32 (exactly, so float64 sees the same value)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)


def resolve_search_backend(backend: str | None, device: torch.device) -> str:
    """``None`` means ``'numba'`` on the CPU, ``'cuda'`` (the numba-cuda kernels) on CUDA devices
    when numba-cuda is installed, else ``'torch'``. ``'cuda'`` needs a CUDA device, or the CPU
    under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    if backend == "cuda" or (backend is None and device.type == "cuda" and _has_numba_cuda()):
        simulated = device.type == "cpu" and os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
        if device.type != "cuda" and not simulated:
            raise ValueError(f"search backend 'cuda' needs a CUDA device (or NUMBA_ENABLE_CUDASIM=1 on the CPU), "
                             f"not {device}")
        return "cuda"
    return resolve_backend(backend, device)


def _has_numba_cuda() -> bool:
    return importlib.util.find_spec("numba_cuda") is not None


class BatchedMCTS:
    """PUCT search of ``N`` games at once, each game its own tree; see ``docs/mcts.md``."""

    def __init__(self, game: Game, device: str | torch.device | None, backend: str | None = None,
                 c_puct: float = 1.25, fpu: float = 0.0, dirichlet_alpha: float = 1.0, noise_eps: float = 0.25,
                 solver: bool = True, search: str = "puct", gumbel_considered: int = 16, gumbel_c_visit: float = 50.0,
                 gumbel_c_scale: float = 0.1):
        """``solver``: MCTS-Solver (``docs/mcts.md``): proven values replace estimates in the
        tree, and ``act`` plays a proven win by its fastest line and never a proven loss when
        another move exists. ``search``: ``'puct'`` (AlphaZero's root noise and visit counts) or
        ``'gumbel'`` (Gumbel root search: Gumbel-top-k sampling of ``gumbel_considered`` root
        actions, sequential halving, completed-Q targets with sigma's ``gumbel_c_visit`` and
        ``gumbel_c_scale``; PUCT below the root)."""
        if search not in ("puct", "gumbel"):
            raise ValueError(f"search must be 'puct' or 'gumbel', got {search!r}")
        if gumbel_considered < 1:
            raise ValueError(f"gumbel_considered must be positive, got {gumbel_considered}")
        self.game = game
        self.solver = bool(solver)
        self.kind = search
        self.gumbel_considered = int(gumbel_considered)
        self.gumbel_c_visit, self.gumbel_c_scale = float(gumbel_c_visit), float(gumbel_c_scale)
        self._tables: dict = {}  # (simulations, device) -> the halving table
        self.device = resolve_device(device)
        self.backend = resolve_search_backend(backend, self.device)
        if dirichlet_alpha <= 0:
            raise ValueError(f"dirichlet_alpha must be positive, got {dirichlet_alpha}")
        if not 0.0 <= noise_eps <= 1.0:
            raise ValueError(f"noise_eps must be in [0, 1], got {noise_eps}")
        self.c_puct, self.fpu = float(c_puct), float(fpu)
        self.dirichlet_alpha, self.noise_eps = float(dirichlet_alpha), float(noise_eps)

    def _evaluate(self, evaluate: Evaluate, state: State):
        logits, value = evaluate(state)
        return kmt.priors(logits, self.game.legal_mask(state)), value.to(torch.float64)

    @torch.no_grad()
    def search(self, state: State, evaluate: Evaluate, simulations: int,
               noise: bool | torch.Tensor = False, generator: torch.Generator | None = None) -> SearchResult:
        """Search the positions ``state`` (the game's ``State``, int64 [N] words) with
        ``simulations`` simulations each.

        ``noise=True`` mixes Dirichlet noise into the root priors (PUCT) or draws the Gumbel
        noise of the root's actions (Gumbel), from ``generator`` (a ``torch.Generator`` on the
        search's device, or torch's default stream when None); without noise Gumbel search is
        deterministic (noise 0). Gumbel search also takes a bool [N] ``noise``: noise in the
        games where it is True, none in the others."""
        if simulations < 0:
            raise ValueError(f"simulations must be >= 0, got {simulations}")
        if any(w.dim() != 1 or w.shape != state[0].shape for w in state):
            raise ValueError(f"the state's words must be int64 [N] of one shape, got {[tuple(w.shape) for w in state]}")
        game = self.game
        state = type(state)(*(w.to(self.device, torch.int64).contiguous() for w in state))
        root_prior, root_value = self._evaluate(evaluate, state)
        legal = game.legal_mask(state)
        gumbel = None
        if self.kind == "gumbel":
            gumbel = self._gumbel_root(root_prior, root_value, legal, simulations, noise, generator)
        elif isinstance(noise, torch.Tensor):
            raise ValueError("a per-game noise mask needs search='gumbel'")
        elif noise:
            noise_p = kmt.dirichlet(legal, self.dirichlet_alpha, generator)
            root_prior = (1.0 - self.noise_eps) * root_prior + self.noise_eps * noise_p

        grow = {"numba": self._grow_numba, "torch": self._grow_torch, "cuda": self._grow_cuda}[self.backend]
        tree = grow(state, evaluate, simulations, root_prior, gumbel)
        visits, wsum = tree.visits[:, 0].to(torch.int64), tree.wsum[:, 0]
        q = torch.where(visits > 0, wsum / visits.clamp(min=1), 0.0)
        value = wsum.sum(dim=1) / max(simulations, 1)
        proofs = root_proofs(tree) if self.solver else {}
        if proofs:
            value = torch.where(proofs["root_solved"], tree.node_value[:, 0], value)
        extra = {}
        if gumbel is not None:
            extra = self._gumbel_outcome(tree, gumbel, root_prior, root_value, legal)
        return SearchResult(visits=visits, q=q.to(torch.float32), value=value.to(torch.float32),
                            network_value=root_value.to(torch.float32), prior=root_prior.to(torch.float32),
                            simulations=simulations, legal=legal, **extra, **proofs)

    def _gumbel_root(self, root_prior, root_value, legal, simulations: int, noise: bool | torch.Tensor, generator):
        """Gumbel root search's inputs to the kernels: ``(root_logits, root_value, considered)``
        (``kernels.mcts_numba.set_gumbel``): Gumbel(0, 1) noise (0 without ``noise``) + log
        prior, -inf on illegal actions; per game the schedule of ``min(gumbel_considered,
        legal actions)`` considered actions."""
        n, a = legal.shape
        per_game = isinstance(noise, torch.Tensor)
        if per_game or noise:
            u = torch.rand((n, a), dtype=torch.float64, device=legal.device, generator=generator)
            g = -torch.log(-torch.log(u.clamp(min=1e-300)))
            if per_game:  # noise only in the games where the mask is True
                g = torch.where(noise.to(legal.device).view(n, 1), g, 0.0)
        else:
            g = torch.zeros((n, a), dtype=torch.float64, device=legal.device)
        logits = torch.where(legal & (root_prior > 0), g + torch.log(root_prior.clamp(min=1e-300)), -math.inf)
        m = legal.sum(dim=1).clamp(max=self.gumbel_considered)
        return logits, root_value.to(torch.float64), self._halving_table(simulations, legal.device)[m]

    def _halving_table(self, simulations: int, device) -> torch.Tensor:
        """int32 [gumbel_considered + 1, max(simulations, 1)]: row m is the schedule of m considered
        actions (``kernels.mcts_torch.considered_visits``), built once per budget and device:
        every self-play ply searches with the same budget."""
        key = (simulations, str(device))
        table = self._tables.get(key)
        if table is None:
            rows = [kmt.considered_visits(m, max(simulations, 1)) for m in range(self.gumbel_considered + 1)]
            table = torch.tensor(rows, dtype=torch.int32, device=device)
            self._tables[key] = table
        return table

    def _gumbel_outcome(self, tree, gumbel, root_prior, root_value, legal) -> dict:
        """After a Gumbel search: the action sequential halving chose (among the most visited
        legal actions, the argmax of the root logits + sigma(completed Q); by the logits alone
        when nothing was visited) and the improved policy (softmax of log prior + sigma)."""
        logits = gumbel[0]
        visits = tree.visits[:, 0].to(torch.int64)
        sigma = kmt.completed_sigma(visits, kmt.root_q(tree), root_prior, root_value, legal, self.gumbel_c_visit,
                                    self.gumbel_c_scale)
        top = legal & (visits == visits.amax(dim=1, keepdim=True))
        action = torch.where(top, logits + sigma, -math.inf).argmax(dim=1)
        improved = torch.softmax(torch.where(legal & (root_prior > 0), torch.log(root_prior.clamp(min=1e-300)) + sigma,
                                             -math.inf), dim=1)
        improved = torch.nan_to_num(improved, nan=0.0)  # a root without legal actions
        return {"gumbel_action": action, "improved_policy": improved.to(torch.float32)}

    def _grow_numba(self, state: State, evaluate: Evaluate, simulations: int, root_prior: torch.Tensor, gumbel):
        """The numba CPU kernels (numpy views, the game's njit rules); the network sees only the
        leaves that need it. Returns the tree (``kernels.mcts_numba.init_tree``'s arrays as tensors)."""
        game, rules = self.game, self.game.numba_rules()
        n = state[0].shape[0]
        tree = kmn.init_tree(n, simulations, rules, stack_words(state).numpy())
        kmn.set_root(tree, root_prior.numpy())
        if gumbel is not None:
            kmn.set_gumbel(tree, *(x.numpy() for x in gumbel), self.gumbel_c_visit, self.gumbel_c_scale)
        for k in range(simulations):
            leaf_words, needs_net = (torch.from_numpy(x) for x in kmn.select_leaves(tree, k, rules, self.c_puct,
                                                                                    self.fpu))
            leaf_prior = torch.zeros((n, game.num_actions), dtype=torch.float64)
            leaf_value = torch.zeros(n, dtype=torch.float64)
            idx = needs_net.nonzero().squeeze(1)
            if idx.numel():
                leaves = unstack_words(game.State, leaf_words[idx])
                leaf_prior[idx], leaf_value[idx] = self._evaluate(evaluate, leaves)
            kmn.expand_and_backup(tree, k, rules, leaf_prior.numpy(), leaf_value.numpy(), self.solver)
        return _as_tensors(tree)

    def _grow_torch(self, state: State, evaluate: Evaluate, simulations: int, root_prior: torch.Tensor, gumbel):
        """The torch-op kernels (any device); the network sees every game's leaf."""
        game = self.game
        tree = kmt.init_tree(state[0].shape[0], simulations, game, stack_words(state))
        kmt.set_root(tree, root_prior)
        if gumbel is not None:
            kmt.set_gumbel(tree, *gumbel, self.gumbel_c_visit, self.gumbel_c_scale)
        for k in range(simulations):
            leaf_words, _ = kmt.select_leaves(tree, k, game, self.c_puct, self.fpu)
            leaf_prior, leaf_value = self._evaluate(evaluate, game.State(*leaf_words.unbind(1)))
            kmt.expand_and_backup(tree, k, game, leaf_prior, leaf_value, self.solver)
        return tree

    def _grow_cuda(self, state: State, evaluate: Evaluate, simulations: int, root_prior: torch.Tensor, gumbel):
        """The numba-cuda kernels (``kernels.mcts_cuda``): per simulation one select launch, the
        network on every game's leaf (``tree.leaf_state``, written in place by the launch), one
        backup launch that softmaxes the raw logits itself: no other op."""
        from kernels import mcts_cuda as kmc  # imports numba.cuda: only for this backend

        game, rules = self.game, self.game.numba_rules()
        tree = kmc.init_tree(state[0].shape[0], simulations, rules, stack_words(state), game.State)
        kmc.set_root(tree, root_prior)
        if gumbel is not None:
            kmc.set_gumbel(tree, *gumbel, self.gumbel_c_visit, self.gumbel_c_scale)
        for k in range(simulations):
            kmc.select_leaves(tree, k, rules, self.c_puct, self.fpu)
            logits, value = evaluate(tree.leaf_state)
            kmc.expand_and_backup(tree, k, rules, _kernel_float(logits), _kernel_float(value), self.solver)
        return tree

    @staticmethod
    def act(result: SearchResult, temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """int64 [N]: per game the most visited column (lowest index on ties) when ``temperature``
        is 0, else a column drawn with probability proportional to ``visits ** (1 / temperature)``.
        A game without visits (no simulation ran) uses its root priors instead; one with no
        legal column gets 0.

        With the solver's proofs (``result.solved``): a game with a proven win plays the one with
        the fewest plies to the end (lowest index on ties); otherwise moves proven lost are left
        out while another legal move remains (its visits, else its priors, else the first such
        move); a game whose every move is proven lost plays the one that loses latest."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        visits = result.visits.to(torch.float64)
        prior = result.prior.to(torch.float64)
        if result.solved is not None and result.legal is not None:
            lost = result.solved & (result.exact < 0)
            safe = result.legal & ~lost
            has_safe = safe.any(dim=1, keepdim=True)
            keep = torch.where(has_safe, safe, result.legal)
            visits, prior = visits * keep, prior * keep
            # no visit and no prior on any move kept (a move still unsearched): the first one kept
            prior = torch.where((visits.sum(1, keepdim=True) + prior.sum(1, keepdim=True)) > 0, prior,
                                keep.to(torch.float64))
        weights = torch.where(visits.sum(dim=1, keepdim=True) > 0, visits, prior)
        best = weights.argmax(dim=1)  # first maximum: lowest index on ties
        if result.gumbel_action is not None:  # Gumbel: the search's choice (its noise is the sampling)
            chosen = result.gumbel_action
            if result.solved is not None and result.legal is not None:
                ok = keep.gather(1, chosen.unsqueeze(1)).squeeze(1)
                chosen = torch.where(ok, chosen, best)
        elif temperature == 0:
            chosen = best
        else:
            # scaled by the row maximum first, so that large 1 / temperature does not overflow
            w = (weights / weights.amax(dim=1, keepdim=True).clamp(min=1e-300)) ** (1.0 / temperature)
            cum = w.cumsum(dim=1)
            r = torch.rand((w.shape[0], 1), dtype=torch.float64, device=w.device, generator=generator) * cum[:, -1:]
            drawn = (cum <= r).sum(dim=1).clamp(max=w.shape[1] - 1)  # the first column whose cumsum passes r
            chosen = torch.where(cum[:, -1] > 0, drawn, best)
        if result.solved is None or result.legal is None:
            return chosen
        big = torch.iinfo(torch.int32).max
        won = result.solved & (result.exact > 0)
        fastest = torch.where(won, result.plies, big).argmin(dim=1)
        all_lost = result.legal.any(dim=1) & ~has_safe.squeeze(1)
        latest = torch.where(result.legal, result.plies, -1).argmax(dim=1)
        return torch.where(won.any(dim=1), fastest, torch.where(all_lost, latest, chosen))

    @staticmethod
    def policy_target(result: SearchResult) -> torch.Tensor:
        """float32 [N, A]: the root's visit distribution ``visits / simulations`` (the training
        target). With the solver's proofs, the distribution over the moves ``act`` would choose
        from: a proven win's winning moves only; otherwise the moves not proven lost (all moves,
        when every one is proven lost), each renormalised to sum to 1."""
        visits = result.visits.to(torch.float32)
        if result.improved_policy is not None:  # Gumbel: the improved policy in place of the visits
            visits = result.improved_policy
        if result.solved is not None and result.legal is not None:
            won = result.solved & (result.exact > 0)
            lost = result.solved & (result.exact < 0)
            keep = torch.where(won.any(dim=1, keepdim=True), won, result.legal & ~lost)
            kept = visits * keep
            visits = torch.where(kept.sum(dim=1, keepdim=True) > 0, kept, visits)
            total = visits.sum(dim=1, keepdim=True)
            return torch.where(total > 0, visits / total.clamp(min=1e-30), 0.0)
        if result.improved_policy is not None:
            return visits
        return visits / max(result.simulations, 1)


def _as_tensors(tree):
    """The numba tree's arrays (numpy) as tensors sharing their memory."""
    from types import SimpleNamespace

    return SimpleNamespace(**{k: torch.from_numpy(v) for k, v in vars(tree).items() if hasattr(v, "dtype")})


def root_proofs(tree) -> dict:
    """The solver's proofs at the roots of ``tree`` (any backend's arrays as tensors): the
    ``SearchResult`` fields ``solved``, ``exact``, ``plies`` [N, A] and ``root_solved`` [N]."""
    kids, solved, value = kmt.child_values(tree, *kmt.root_games(tree))
    exact = torch.where(solved, value, 0.0).to(torch.float32)
    plies = torch.where(solved, tree.plies.gather(1, kids.clamp(min=0)) + 1, 0).to(torch.int32)
    return {"solved": solved, "exact": exact, "plies": plies, "root_solved": tree.solved[:, 0].clone()}
