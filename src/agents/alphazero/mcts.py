"""Batched PUCT search over many games at once (``docs/mcts.md``), on the numba or torch kernels.

    mcts = BatchedMCTS(Geometry(), "cpu")                  # numba on the CPU, torch on CUDA
    result = mcts.search(cur, mask, evaluate, simulations=64, noise=True, generator=gen)
    actions = mcts.act(result, temperature=1.0, generator=gen)
    target = mcts.policy_target(result)

``evaluate(cur, mask) -> (logits float32 [M, cols], value float32 [M])`` is the network on a
batch of positions (int64 bitboards, ``kernels.geometry``), values for the side to move. It is
called once with the roots, then once per simulation with the leaves: on the torch backend
every game's leaf (outputs for terminal or unsearched games' leaves are ignored: the batch
size never depends on the data, so nothing synchronises), on the numba backend only the
leaves that need it (no call when none does).

Where ``docs/mcts.md`` is silent, this implementation chooses (a reference must do the same
to agree to the last visit):

* Arithmetic in float64: priors are ``softmax(float64(logits))`` over the legal columns
  (``kernels.mcts_torch.priors``, by torch for both backends), network values are cast to
  float64 and ``W`` sums in float64; the score is evaluated as
  ``q + ((c_puct * P) * sqrt(float(1 + sum N))) / float(1 + N)``, left to right, as Python
  floats would.
* A move that wins and fills the board counts as a win (value -1 for the player to move).
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

from dataclasses import dataclass
from typing import Callable

import torch

from kernels import connect4_torch as kt
from kernels import mcts_numba as kmn
from kernels import mcts_torch as kmt
from kernels.geometry import Geometry
from src.games.backends import resolve_backend, resolve_device

Evaluate = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


@dataclass
class SearchResult:
    """Per game, at the root: ``visits`` int64 [N, A] (summing to ``simulations`` where the root
    has a legal move, else 0), ``q`` float32 [N, A] (W / N, 0 where unvisited), ``value``
    float32 [N] (sum W / simulations, 0 when no simulation ran), ``network_value`` float32 [N]
    (the network's value of the root) and ``prior`` float32 [N, A] (the root priors searched
    with, noise included)."""
    visits: torch.Tensor
    q: torch.Tensor
    value: torch.Tensor
    network_value: torch.Tensor
    prior: torch.Tensor
    simulations: int


class BatchedMCTS:
    """PUCT search of ``N`` games at once, each game its own tree; see ``docs/mcts.md``."""

    def __init__(self, geometry: Geometry, device: str | torch.device | None, backend: str | None = None,
                 c_puct: float = 1.25, fpu: float = 0.0, dirichlet_alpha: float = 1.0, noise_eps: float = 0.25):
        self.g = geometry
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)
        if dirichlet_alpha <= 0:
            raise ValueError(f"dirichlet_alpha must be positive, got {dirichlet_alpha}")
        if not 0.0 <= noise_eps <= 1.0:
            raise ValueError(f"noise_eps must be in [0, 1], got {noise_eps}")
        self.c_puct, self.fpu = float(c_puct), float(fpu)
        self.dirichlet_alpha, self.noise_eps = float(dirichlet_alpha), float(noise_eps)

    def _evaluate(self, evaluate: Evaluate, cur: torch.Tensor, mask: torch.Tensor):
        logits, value = evaluate(cur, mask)
        return kmt.priors(logits, kt.legal_mask(mask, self.g)), value.to(torch.float64)

    @torch.no_grad()
    def search(self, cur: torch.Tensor, mask: torch.Tensor, evaluate: Evaluate, simulations: int,
               noise: bool = False, generator: torch.Generator | None = None) -> SearchResult:
        """Search the positions ``cur``/``mask`` (int64 [N]) with ``simulations`` simulations each.

        ``noise=True`` mixes Dirichlet noise into the root priors, drawn from ``generator`` (a
        ``torch.Generator`` on the search's device, or torch's default stream when None)."""
        if simulations < 0:
            raise ValueError(f"simulations must be >= 0, got {simulations}")
        if cur.dim() != 1 or cur.shape != mask.shape:
            raise ValueError(f"cur and mask must be int64 [N] of one shape, "
                             f"got {tuple(cur.shape)} and {tuple(mask.shape)}")
        g, numba = self.g, self.backend == "numba"
        cur = cur.to(self.device, torch.int64).contiguous()
        mask = mask.to(self.device, torch.int64).contiguous()
        n = cur.shape[0]

        root_prior, root_value = self._evaluate(evaluate, cur, mask)
        if noise:
            noise_p = kmt.dirichlet(kt.legal_mask(mask, g), self.dirichlet_alpha, generator)
            root_prior = (1.0 - self.noise_eps) * root_prior + self.noise_eps * noise_p

        k_mod = kmn if numba else kmt
        as_k = (lambda x: x.numpy()) if numba else (lambda x: x)  # numba kernels take numpy views
        tree = k_mod.init_tree(n, simulations, g, as_k(cur), as_k(mask))
        k_mod.set_root(tree, as_k(root_prior))
        for k in range(simulations):
            leaf_cur, leaf_mask, needs_net = k_mod.select_leaves(tree, k, g, self.c_puct, self.fpu)
            if numba:  # evaluate only the leaves that need the network
                leaf_cur, leaf_mask, needs_net = (torch.from_numpy(x) for x in (leaf_cur, leaf_mask, needs_net))
                leaf_prior = torch.zeros((n, g.cols), dtype=torch.float64)
                leaf_value = torch.zeros(n, dtype=torch.float64)
                idx = needs_net.nonzero().squeeze(1)
                if idx.numel():
                    leaf_prior[idx], leaf_value[idx] = self._evaluate(evaluate, leaf_cur[idx], leaf_mask[idx])
            else:
                leaf_prior, leaf_value = self._evaluate(evaluate, leaf_cur, leaf_mask)
            k_mod.expand_and_backup(tree, k, g, as_k(leaf_prior), as_k(leaf_value))

        as_t = torch.from_numpy if numba else (lambda x: x)
        visits = as_t(tree.visits[:, 0]).to(torch.int64)
        wsum = as_t(tree.wsum[:, 0])
        q = torch.where(visits > 0, wsum / visits.clamp(min=1), 0.0)
        value = wsum.sum(dim=1) / max(simulations, 1)
        return SearchResult(visits=visits, q=q.to(torch.float32), value=value.to(torch.float32),
                            network_value=root_value.to(torch.float32), prior=root_prior.to(torch.float32),
                            simulations=simulations)

    @staticmethod
    def act(result: SearchResult, temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """int64 [N]: per game the most visited column (lowest index on ties) when ``temperature``
        is 0, else a column drawn with probability proportional to ``visits ** (1 / temperature)``.
        A game without visits (no simulation ran) uses its root priors instead; one with no
        legal column gets 0."""
        visits = result.visits.to(torch.float64)
        weights = torch.where(visits.sum(dim=1, keepdim=True) > 0, visits, result.prior.to(torch.float64))
        best = weights.argmax(dim=1)  # first maximum: lowest index on ties
        if temperature == 0:
            return best
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        # scaled by the row maximum first, so that large 1 / temperature does not overflow
        w = (weights / weights.amax(dim=1, keepdim=True).clamp(min=1e-300)) ** (1.0 / temperature)
        cum = w.cumsum(dim=1)
        r = torch.rand((w.shape[0], 1), dtype=torch.float64, device=w.device, generator=generator) * cum[:, -1:]
        drawn = (cum <= r).sum(dim=1).clamp(max=w.shape[1] - 1)  # the first column whose cumsum passes r
        return torch.where(cum[:, -1] > 0, drawn, best)

    @staticmethod
    def policy_target(result: SearchResult) -> torch.Tensor:
        """float32 [N, A]: the root's visit distribution ``visits / simulations`` (the training target)."""
        return result.visits.to(torch.float32) / max(result.simulations, 1)
