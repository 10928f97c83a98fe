"""Batched DQN: masked epsilon-greedy acting and Double-DQN updates on whole batches.

Exploration state (epsilon) is a 0-d tensor on the agent's device so decaying it and acting
with it never synchronises with the host; read it with ``float(agent.epsilon)``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from src.agents.common import checkpoint_dict, clip_foreach, gradient_step, restore_generator
from src.agents.networks import QNetwork
from src.config.checks import positive_int_list, torch_device
from src.config.schema import Field, Schema
from src.games import rules_for
from src.games.backends import seeded_generator

CHECKPOINT_FORMAT = "c4engine.dqn/1"

DQN_PARAMS = Schema({
    "learning_rate": Field("float", 1e-3, "Adam learning rate (reported as 'learning_rate')", gt=0),
    "gamma": Field("float", 0.99, "discount factor", min=0, max=1),
    "epsilon": Field("float", 1.0, "initial exploration rate of epsilon-greedy acting", min=0, max=1),
    "epsilon_decay": Field("float", 0.9999, "multiplier applied to epsilon per step (or episode) by the epsilon_decay callback", gt=0, max=1),
    "epsilon_min": Field("float", 0.05, "floor of epsilon", min=0, max=1),
    "batch_size": Field("int", 256, "minibatch size of a gradient update", min=1),
    "replay_buffer_size": Field("int", 100_000, "replay ring capacity, in transitions", min=1),
    "learning_starts": Field("int", 1000, "transitions collected before the first update", min=0),
    "updates_per_step": Field("int", 1, "gradient updates per batch step (one agent move in every game)", min=1),
    "target_update_interval": Field("int", 500, "gradient updates between target-network syncs", min=1),
    "hidden_sizes": Field("list", [256, 256], "widths of the hidden fully connected layers", check=positive_int_list),
    "features": Field("str", "planes", "network input: the 2 stone planes, or 'threats' (adds playable cells and "
                      "each side's four-completing cells)", choices=("planes", "threats")),
    "conv_channels": Field("list", [], "channels of 3x3 conv layers before the dense layers (empty: MLP)", check=positive_int_list),
    "n_step": Field("int", 1, "n-step returns: follow each sampled game n agent moves before bootstrapping", min=1, max=64),
    "mirror_augment": Field("bool", True, "augment each minibatch sample with one of the game's board symmetries, drawn "
                            "uniformly (Connect4: the left-right mirror on half of them)"),
    "double_dqn": Field("bool", True, "Double-DQN targets (online argmax, target value)"),
    "huber_delta": Field("float", 1.0, "Huber loss threshold", gt=0),
    "max_grad_norm": Field("float", 10.0, "gradient-norm clip (null: none)", gt=0, nullable=True),
    "compile": Field("bool", False, "hand the batch step's tensor work to torch.compile (inductor): the agent's "
                     "acting (encoding, forward pass, epsilon-greedy choice), the update's minibatch, forward passes, "
                     "targets and loss, and their backward pass, the games' rules on the torch backend and the "
                     "move against the opponent; Adam runs fused and the gradient clip as foreach ops. Far fewer "
                     "kernel launches per batch step on a GPU (benchmarks/RESULTS.md); the first batch steps "
                     "compile (about a minute on 2 CPU cores); results differ from eager in the last bits, and "
                     "the random draws of acting are taken in another order"),
    "tf32": Field("bool", True, "on CUDA, let float32 matmuls and convolutions use TF32 tensor cores"),
    "device": Field("str", None, "null: CUDA when available, else CPU", nullable=True, check=torch_device),
    "num_actions": Field("int", None, "inferred from the game when omitted", nullable=True, min=1),
    "action_space": Field("any", None, "inferred from the game when omitted (a count or {n: count})", nullable=True),
    "observation_shape": Field("list", None, "inferred from the game when omitted", nullable=True, check=positive_int_list),
})


def masked_argmax(values: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """int64 [N]: the best legal column (values float [N, A], legal bool [N, A])."""
    return values.masked_fill(~legal, float("-inf")).argmax(dim=1)


def random_legal(legal: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal column per row of ``legal`` (bool [N, A])."""
    return random_legal_from(legal, torch.rand(legal.shape, device=legal.device, generator=generator))


def random_legal_from(legal: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``random_legal`` from its uniform draw ``u`` (float [N, A]): the legal column with the largest ``u``."""
    return torch.where(legal, u + 1.0, u - 1.0).argmax(dim=1)


def check_dqn_params(params: dict, key: str) -> None:
    """Checks across DQN_PARAMS fields (ConfigError naming the key)."""
    from src.config.schema import ConfigError

    if params["epsilon_min"] > params["epsilon"]:
        raise ConfigError(f"{key}.epsilon_min", f"({params['epsilon_min']}) must not exceed epsilon ({params['epsilon']})")
    if params["batch_size"] > params["replay_buffer_size"]:
        raise ConfigError(f"{key}.batch_size", f"({params['batch_size']}) must not exceed replay_buffer_size "
                          f"({params['replay_buffer_size']})")


class DQNAgent:
    """DQN over observation planes float32 [N, 2, rows, cols] with ``num_actions`` columns.

    ``params`` is the validated ``agent.params`` mapping (see ``DQN_PARAMS``).
    """

    agent_id = "dqn"
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def __init__(self, params: dict, observation_shape: tuple[int, int, int], num_actions: int,
                 device: torch.device | str = "cpu", seed: int | None = None, game=None):
        """``game``: the ``Game`` (``src.games.protocol``) it plays, for encoding states; None: the
        default game of ``observation_shape`` on ``device`` (torch backend)."""
        self.params = dict(params)
        self.observation_shape = tuple(observation_shape)
        self.num_actions = num_actions
        self.device = torch.device(device)
        self.gamma = params["gamma"]
        self.epsilon = torch.tensor(float(params["epsilon"]), device=self.device)
        self.epsilon_decay = params["epsilon_decay"]
        self.epsilon_min = params["epsilon_min"]
        self.generator = seeded_generator(self.device, seed)
        self.online = QNetwork(self.observation_shape, num_actions, params["hidden_sizes"],
                               params["conv_channels"], params.get("features", "planes")).to(self.device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.compiled = bool(params.get("compile"))
        # compiled: Adam's step is one fused kernel over every parameter (CPU and CUDA)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=params["learning_rate"],
                                          fused=True if self.compiled else None)
        # the module the loss is computed through: ``online`` itself, or it wrapped in
        # DistributedDataParallel by ``distribute`` (acting and targets use ``online``)
        self.trained = self.online
        self.num_updates = 0
        self.features = params.get("features", "planes")
        self.game = game if game is not None else rules_for(None, self.observation_shape, self.device, "torch")
        self._loss = torch.compile(self.loss, dynamic=False) if self.compiled else self.loss
        self._act = torch.compile(self._act_from, dynamic=False) if self.compiled else None
        self._clip = torch.compile(clip_foreach, dynamic=False) if self.compiled else None

    def encode(self, *words: torch.Tensor) -> torch.Tensor:
        """The network input of positions given as the game's state words (``encode(*state)``,
        int64 [N] each, side to move): float32 [N, C, H, W] (``Game.encode`` of ``features``)."""
        return self.game.encode(self.game.State(*words), self.features)

    # -- acting ---------------------------------------------------------------------------
    @torch.no_grad()
    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """float32 [N, num_actions]."""
        return self.online(obs.to(self.device, torch.float32))

    @torch.no_grad()
    def greedy_moves(self, net, state) -> torch.Tensor:
        """int64 [N]: the best legal action by ``net``'s Q-values (``online`` or a frozen copy of
        it, as the pool's snapshots are), for positions given as the game's ``State``."""
        q = net(self.encode(*state))
        return q.masked_fill(~self.game.legal_mask(state), float("-inf")).argmax(dim=1)

    def act_on_state(self, state, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """``act`` on positions given as the game's ``State``, the encoding included: compiled
        with ``compile: true`` (one uniform draw [N, A + 1] per call then: the explore coin and
        the random legal move from it), else ``act(encode(*state), ...)``."""
        if self._act is None:
            return self.act(self.encode(*state), legal_mask, deterministic)
        u = None
        if not deterministic:
            u = torch.rand((legal_mask.shape[0], self.num_actions + 1), device=self.device, generator=self.generator)
        return self._act(tuple(state), legal_mask.to(self.device), self.epsilon, u)

    @torch.no_grad()
    def _act_from(self, words, legal_mask, epsilon, u):
        """What ``act_on_state`` compiles: the greedy legal move, or (``u`` given) the
        epsilon-greedy one: explore where ``u[:, 0] < epsilon``, then the legal column with the
        largest ``u[:, 1:]``."""
        greedy = masked_argmax(self.online(self.encode(*words)), legal_mask)
        if u is None:
            return greedy
        return torch.where(u[:, 0] < epsilon, random_legal_from(legal_mask, u[:, 1:]), greedy)

    def action_values(self, obs: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
        """float32 [N, num_actions]: the agent's value of each column (its Q-values), as ``play
        --show-values`` prints them."""
        return self.q_values(obs)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """int64 [N]: greedy over legal columns, or epsilon-greedy when not ``deterministic``."""
        legal_mask = legal_mask.to(self.device)
        greedy = masked_argmax(self.q_values(obs), legal_mask)
        if deterministic:
            return greedy
        explore = torch.rand(greedy.shape, device=self.device, generator=self.generator) < self.epsilon
        return torch.where(explore, random_legal(legal_mask, self.generator), greedy)

    # -- learning -------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def td_targets(self, rewards, dones, next_obs, next_legal, discounts=None) -> torch.Tensor:
        """float32 [B]: r + gamma * (1 - done) * Q_target(s', argmax over legal a' of Q(s', a')).

        ``discounts`` (float32 [B]) replaces gamma per sample (n-step returns: gamma ** n)."""
        with torch.no_grad():
            q_next_target = self.target(next_obs)
            chooser = self.online(next_obs) if self.params["double_dqn"] else q_next_target
            best = masked_argmax(chooser, next_legal)
            q_next = q_next_target.gather(1, best.unsqueeze(1)).squeeze(1)
            gamma = self.gamma if discounts is None else discounts
            return rewards + gamma * (~dones).to(rewards.dtype) * q_next

    def update(self, obs, actions, rewards, dones, next_obs, next_legal, discounts=None) -> torch.Tensor:
        """One gradient step on a minibatch; returns the loss (0-d tensor, not synchronised).

        obs/next_obs float32 [B, 2, rows, cols], actions int64 [B], rewards float32 [B],
        dones bool [B], next_legal bool [B, A], discounts float32 [B] or None (gamma).
        """
        return self.step_on(self._loss(obs, actions, rewards, dones, next_obs, next_legal, discounts))

    def step_on(self, loss_and_q) -> torch.Tensor:
        """The gradient step of ``update`` on ``(loss, mean Q)`` as ``loss`` returns them (the
        learner's compiled minibatch-and-loss hands them here); returns the loss, detached."""
        loss, self.last_q_mean = loss_and_q
        gradient_step(self, loss, clip=self._clip)
        if self.num_updates % self.params["target_update_interval"] == 0:
            self.sync_target()
        return loss.detach()

    def loss(self, obs, actions, rewards, dones, next_obs, next_legal, discounts=None):
        """(Huber loss of Q(obs, action) against the TD targets, mean Q (detached)): the part of
        ``update`` that ``compile: true`` hands to torch.compile."""
        targets = self.td_targets(rewards, dones, next_obs, next_legal, discounts)
        q = self.trained(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        return F.huber_loss(q, targets, delta=self.params["huber_delta"]), q.detach().mean()

    def distribute(self, wrap) -> None:
        """Average gradients over the ranks (``wrap``: DistributedDataParallel, which also
        broadcasts rank 0's weights); the target network restarts from the shared weights."""
        self.trained = wrap(self.online)
        self.sync_target()

    def sync_target(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epsilon": float(self.epsilon),
            "num_updates": self.num_updates,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
            for group in self.optimizer.param_groups:  # this agent's choice, not the saved one's
                group["fused"] = True if self.compiled else None
                group["foreach"] = None
        self.epsilon.fill_(state.get("epsilon", float(self.epsilon)))
        self.num_updates = state.get("num_updates", 0)
        restore_generator(self.generator, state)

    def checkpoint(self, extra: dict | None = None) -> dict:
        """Everything ``load_agent`` needs, plus ``extra`` (step, episode, game...)."""
        return checkpoint_dict(self, extra)
