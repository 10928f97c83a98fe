"""The AlphaZero agent: a policy/value network that acts through batched PUCT search (docs/mcts.md).

``act(obs, legal_mask, deterministic=True)`` searches every position of the batch with
``act_simulations`` simulations (the checkpoint's, or ``load_agent(path, simulations=...)``)
and plays the most visited column; ``simulations=0`` plays the raw policy (its argmax).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from src.agents.alphazero.mcts import BatchedMCTS, SearchResult
from src.agents.alphazero.network import PolicyValueNet
from src.agents.common import checkpoint_dict, gradient_step, restore_generator
from src.config.checks import positive_int_list, torch_device
from src.config.schema import ConfigError, Field, Schema
from src.games import rules_for
from src.games.backends import seeded_generator

CHECKPOINT_FORMAT = "c4engine.alphazero/1"

def _below_one(why: str):
    """A Field check: the value must be < 1, the error saying ``why`` (what 1 would do)."""
    def check(value: float, key: str) -> float:
        if value >= 1:
            raise ConfigError(key, f"must be < 1 ({why}), got {value}")
        return value
    return check


AZ_PARAMS = Schema({
    "learning_rate": Field("float", 1e-3, "Adam learning rate (reported as 'learning_rate')", gt=0),
    "weight_decay": Field("float", 1e-4, "L2 penalty on the weights (Adam's weight_decay)", min=0),
    "batch_size": Field("int", 256, "positions per gradient update", min=1),
    "replay_buffer_size": Field("int", 200_000, "replay ring capacity, in positions", min=1),
    "learning_starts": Field("int", 2_000, "positions stored before the first update", min=0),
    "updates_per_step": Field("int", 1, "gradient updates per batch step", min=1),
    "channels": Field("int", 32, "channels of the residual conv tower", min=1),
    "blocks": Field("int", 2, "residual blocks (two 3x3 convs each)", min=0),
    "value_hidden": Field("int", 64, "hidden units of the value head", min=1),
    "value_planes": Field("int", 1, "planes of the value head's 1x1 convolution, which the hidden layer reads "
                          "(AlphaZero's: 1)", min=1),
    "features": Field("str", "planes", "network input: the 2 stone planes, or 'threats' (adds playable cells and "
                      "each side's four-completing cells)", choices=("planes", "threats")),
    "simulations": Field("int", 32, "search simulations per move in self-play", min=1),
    "act_simulations": Field("int", None, "simulations per move when acting (evaluation, play, load_agent); "
                             "null: simulations; 0: the raw policy", nullable=True, min=0),
    "c_puct": Field("float", 1.25, "PUCT exploration constant", gt=0),
    "dirichlet_alpha": Field("float", 1.0, "Dirichlet noise concentration at the self-play root", gt=0),
    "noise_eps": Field("float", 0.25, "weight of the root noise in self-play (0: none)", min=0, max=1),
    "temperature": Field("float", 1.0, "sampling temperature of the first temperature_moves plies of a game", gt=0),
    "temperature_moves": Field("int", 8, "plies from the start of a game whose moves are sampled from the "
                               "visit counts; later ones take the most visited", min=0),
    "deviation_rate": Field("float", 0.0, "self-play: each searched move before ply deviation_plies is replaced, "
                            "with this probability, by a uniformly random legal move (the position is still "
                            "searched and trained on), so games reach the positions one or two moves off the "
                            "agent's own lines, as an opponent's deviations do; 0: none", min=0, max=1),
    "deviation_plies": Field("int", 0, "plies from the start of a game in which deviation_rate applies", min=0),
    "random_opening_plies": Field("int", 0, "self-play games open with k uniformly random moves, k drawn per game "
                                  "uniformly from 0..random_opening_plies; those moves are neither searched nor "
                                  "trained on (0: every move is searched)", min=0),
    "value_target_q_weight": Field("float", 0.0, "value target = (1 - w) x the game's outcome + w x the root "
                                   "search's value (both from the mover's side); 0: the outcome alone", min=0, max=1),
    "value_length_penalty": Field("float", 0.0, "the game's outcome in the value target shrinks with the plies "
                                  "left to the end: outcome x (1 - w x plies_left / max_plies) (a proven root's "
                                  "search value likewise, by its proof's length), so that sooner wins and later "
                                  "losses score higher, as exact scores do; 0: the outcome alone", min=0,
                                  check=_below_one("at 1 a win at the last possible ply would score as a draw")),
    "position_averaging": Field("str", "off", "replay targets of duplicate positions: 'off'; 'average' (each sampled "
                                "position's policy, outcome and search value are the means over its copies in the "
                                "replay); 'merge' (averaged, and the copies count once: positions are drawn uniformly "
                                "over the distinct ones)", choices=("off", "average", "merge")),
    "reply_loss_weight": Field("float", 0.0, "weight of an auxiliary head's loss: the network also predicts the "
                               "opponent's reply (cross-entropy against the search's policy at the next ply of the "
                               "game, self-play only); 0: no such head", min=0),
    "weight_average": Field("float", 0.0, "the searches (self-play, evaluation, play) evaluate an exponential moving "
                            "average of the trained weights, updated after every gradient step: avg <- d x avg + "
                            "(1 - d) x weights, d = min(weight_average, (1 + n) / (10 + n)) at update n; the "
                            "checkpoint keeps both; 0: the trained weights themselves", min=0,
                            check=_below_one("at 1 the average would never move")),
    "value_loss_weight": Field("float", 1.0, "weight of the value loss against the policy loss", min=0),
    "mirror_augment": Field("bool", True, "augment each minibatch sample with one of the game's board symmetries, drawn "
                            "uniformly (Connect4: the left-right mirror on half of them)"),
    "max_grad_norm": Field("float", 5.0, "gradient-norm clip (null: none)", gt=0, nullable=True),
    "search_backend": Field("str", None, "tree-search kernels: null (numba on the CPU; on CUDA the numba-cuda "
                            "kernels, or torch without numba-cuda), 'numba', 'cuda' or 'torch' (the portable "
                            "torch-op reference)", nullable=True, choices=("numba", "cuda", "torch")),
    "search": Field("str", "puct", "root search: 'puct' (AlphaZero: Dirichlet root noise in self-play, visit-count "
                    "targets) or 'gumbel' (Gumbel root search: Gumbel-top-k sampling, sequential halving, completed-Q "
                    "policy targets; sound at 4 to 16 simulations; docs/mcts.md)", choices=("puct", "gumbel")),
    "gumbel_considered": Field("int", 16, "gumbel: root actions sampled (Gumbel-top-k) and halved down", min=1),
    "gumbel_c_visit": Field("float", 50.0, "gumbel: sigma(q) = (c_visit + max N) * c_scale * q, q rescaled to [0, 1]",
                            min=0),
    "gumbel_c_scale": Field("float", 0.1, "gumbel: see gumbel_c_visit", gt=0),
    "gumbel_sample_moves": Field("int", None, "gumbel, self-play: plies from the start of a game whose searches draw "
                                 "Gumbel noise, so that their moves are samples; later plies search without noise "
                                 "and play the move the agent plays when acting (null: noise at every ply)",
                                 nullable=True, min=0),
    "solver": Field("bool", True, "MCTS-Solver in the search: proven wins, losses and draws replace estimates in "
                    "the tree; the root plays a proven win by its fastest line and never a proven loss when another "
                    "move exists (docs/mcts.md)"),
    "tf32": Field("bool", True, "on CUDA, let float32 matmuls and convolutions use TF32 tensor cores"),
    "device": Field("str", None, "null: CUDA when available, else CPU", nullable=True, check=torch_device),
    "num_actions": Field("int", None, "inferred from the game when omitted", nullable=True, min=1),
    "action_space": Field("any", None, "inferred from the game when omitted (a count or {n: count})", nullable=True),
    "observation_shape": Field("list", None, "inferred from the game when omitted", nullable=True,
                               check=positive_int_list),
})


def check_az_params(params: dict, key: str) -> None:
    if params["batch_size"] > params["replay_buffer_size"]:
        raise ConfigError(f"{key}.batch_size", f"({params['batch_size']}) must not exceed replay_buffer_size "
                          f"({params['replay_buffer_size']})")
    if params["search_backend"] == "numba" and params["device"] not in (None, "cpu"):
        raise ConfigError(f"{key}.search_backend", "numba search runs on the CPU only; use 'cuda' or 'torch' on CUDA")


class AlphaZeroAgent:
    agent_id = "alphazero"
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def __init__(self, params: dict, observation_shape: tuple[int, int, int], num_actions: int,
                 device: torch.device | str = "cpu", seed: int | None = None, simulations: int | None = None,
                 game=None):
        """``game``: the ``Game`` (``src.games.protocol``) it searches; None: the default game of
        ``observation_shape`` on ``device`` (torch backend)."""
        self.params = dict(params)
        self.observation_shape = tuple(observation_shape)
        self.num_actions = num_actions
        self.device = torch.device(device)
        self.game = game if game is not None else rules_for(None, self.observation_shape, self.device, "torch")
        self.features = params.get("features", "planes")
        self.generator = seeded_generator(self.device, seed)
        self.online = PolicyValueNet(self.observation_shape, num_actions, params["channels"], params["blocks"],
                                     self.features, params["value_hidden"],
                                     reply_head=params.get("reply_loss_weight", 0.0) > 0,
                                     value_planes=params.get("value_planes", 1)).to(self.device)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=params["learning_rate"],
                                          weight_decay=params["weight_decay"])
        # the network the searches and the raw policy evaluate: ``online``, or with
        # ``weight_average`` a frozen copy that follows it as a moving average (``_average``)
        self.weight_average = params.get("weight_average", 0.0)
        self.acting = (copy.deepcopy(self.online).requires_grad_(False) if self.weight_average > 0
                       else self.online)
        # the module the loss is computed through: ``online``, or it in DistributedDataParallel
        # (``distribute``); the searches evaluate with ``acting``
        self.trained = self.online
        self.mcts = BatchedMCTS(self.game, self.device, params["search_backend"], c_puct=params["c_puct"],
                                dirichlet_alpha=params["dirichlet_alpha"], noise_eps=params["noise_eps"],
                                solver=params.get("solver", True), search=params.get("search", "puct"),
                                gumbel_considered=params.get("gumbel_considered", 16),
                                gumbel_c_visit=params.get("gumbel_c_visit", 50.0),
                                gumbel_c_scale=params.get("gumbel_c_scale", 0.1))
        default = params["act_simulations"] if params["act_simulations"] is not None else params["simulations"]
        self.act_simulations = default if simulations is None else int(simulations)
        self.num_updates = 0
        self.epsilon = None  # no epsilon-greedy exploration: status.json reports null

    # -- the network on game states -------------------------------------------------------
    def encode(self, *words: torch.Tensor) -> torch.Tensor:
        """Network input of positions given as the game's state words (``encode(*state)``, int64
        [N] each): float32 [N, C, H, W] (``Game.encode`` of ``features``)."""
        return self.game.encode(self.game.State(*words), self.features)

    @torch.no_grad()
    def evaluate(self, state) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits float32 [N, A], value float32 [N]) of the positions (the game's ``State``), for the search."""
        return self.acting(self.encode(*(w.to(self.device) for w in state)))

    def search(self, state, simulations: int, noise: bool = False) -> SearchResult:
        return self.mcts.search(state, self.evaluate, simulations, noise=noise, generator=self.generator)

    @torch.no_grad()
    def greedy_moves(self, net, state) -> torch.Tensor:
        """int64 [N]: the argmax over legal actions of ``net``'s policy (``acting``, or a frozen
        copy of it, as the pool's snapshots are): the raw policy, no search."""
        logits, _ = net(self.encode(*state))
        return logits.masked_fill(~self.game.legal_mask(state), float("-inf")).argmax(dim=1)

    # -- acting -----------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: torch.Tensor, legal_mask: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """int64 [N]: the most visited action after ``act_simulations`` simulations (the raw
        policy's argmax with 0); not ``deterministic``: root noise on, and an action drawn from the
        visit counts at ``temperature``."""
        return self.act_state(self.game.from_observation(obs.to(self.device)), deterministic)

    @torch.no_grad()
    def act_state(self, state, deterministic: bool = True) -> torch.Tensor:
        if self.act_simulations == 0:
            return self.greedy_moves(self.acting, state)
        result = self.search(state, self.act_simulations, noise=not deterministic)
        return self.mcts.act(result, 0.0 if deterministic else self.params["temperature"], self.generator)

    @torch.no_grad()
    def action_values(self, obs: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
        """float32 [N, cols]: the search's Q of each column (the policy's probabilities without search)."""
        state = self.game.from_observation(obs.to(self.device))
        if self.act_simulations == 0:
            logits, _ = self.evaluate(state)
            return F.softmax(logits.masked_fill(~legal_mask.to(self.device), float("-inf")), dim=1)
        return self.search(state, self.act_simulations).q

    # -- learning ---------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def update(self, obs: torch.Tensor, legal: torch.Tensor, policy: torch.Tensor, value: torch.Tensor,
               reply: torch.Tensor | None = None, reply_ok: torch.Tensor | None = None):
        """One gradient step: cross-entropy of the policy against the search's visit distribution
        ``policy`` (float32 [B, cols]) over legal columns, plus ``value_loss_weight`` x the squared
        error of the value against the game's outcome ``value`` (float32 [B], mover's side), plus,
        with ``reply_loss_weight``, that weight x the reply head's cross-entropy against ``reply``
        (float32 [B, cols], the opponent's search policy at the next ply) over the samples
        ``reply_ok`` (bool [B]: the game went on). Returns (loss, policy loss, value loss) as 0-d
        tensors, not synchronised."""
        w_reply = self.params.get("reply_loss_weight", 0.0)
        if w_reply > 0 and reply is not None:
            logits, v, reply_logits = self.trained(obs, reply=True)
        else:
            (logits, v), reply_logits = self.trained(obs), None
        logp = F.log_softmax(logits.masked_fill(~legal, -1e9), dim=1)
        policy_loss = -(policy * logp).sum(dim=1).mean()
        value_loss = F.mse_loss(v, value)
        loss = policy_loss + self.params["value_loss_weight"] * value_loss
        if reply_logits is not None:
            ce = -(reply * F.log_softmax(reply_logits, dim=1)).sum(dim=1)
            ok = reply_ok.to(ce.dtype)
            loss = loss + w_reply * (ce * ok).sum() / ok.sum().clamp(min=1)
        gradient_step(self, loss)
        if self.acting is not self.online:
            self._average()
        return loss.detach(), policy_loss.detach(), value_loss.detach()

    @torch.no_grad()
    def _average(self) -> None:
        """``acting`` <- d x ``acting`` + (1 - d) x ``online``, after update ``num_updates``; d ramps
        up to ``weight_average`` (TensorFlow's ExponentialMovingAverage with num_updates), so the
        first updates are not averaged with the initial weights for long."""
        n = self.num_updates - 1
        d = min(self.weight_average, (1 + n) / (10 + n))
        for avg, w in zip(self.acting.parameters(), self.online.parameters()):
            avg.lerp_(w, 1.0 - d)

    def distribute(self, wrap) -> None:
        """Average gradients over the ranks (``wrap``: DistributedDataParallel)."""
        self.trained = wrap(self.online)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"online": self.online.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "num_updates": self.num_updates, "generator": self.generator.get_state()}
        if self.acting is not self.online:
            state["averaged"] = self.acting.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        if self.acting is not self.online:  # a checkpoint from before the key: the trained weights
            self.acting.load_state_dict(state.get("averaged", state["online"]))
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = state.get("num_updates", 0)
        restore_generator(self.generator, state)

    def checkpoint(self, extra: dict | None = None) -> dict:
        return checkpoint_dict(self, extra)
