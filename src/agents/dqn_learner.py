"""The DQN learner: a ``DQNAgent`` with its replay ring and minibatch pipeline (``Learner`` protocol).

Per batch step: the transitions go into the ring (bitboards, compact); each of
``updates_per_step`` updates samples a minibatch (n-step when ``n_step > 1``), encodes the
positions as network input (``Game.encode``: planes, or Connect4's threat features), applies a
random board symmetry per sample (Connect4: mirrors a random half), and takes one Double-DQN
gradient step. Everything before the gradient step is ``src.agents.minibatch``: one
numba pass on the CPU, tensor ops on other devices, the same results and random draws either
way. Loss and mean Q stay on the device until status is written.
"""
from __future__ import annotations

import torch

from src.agents.dqn import DQNAgent
from src.agents.minibatch import TorchMinibatch, make_minibatch
from src.agents.replay import ReplayBuffer
from src.games.protocol import draw_symmetries, symmetries_from_uniform


class DQNLearner:
    def __init__(self, params: dict, game, device: torch.device, agent_seed: int | None, replay_seed: int | None):
        """``game``: the batched env (``src.games.env.BatchedGame``); its ``game`` gives the rules."""
        self.params = params
        self.env, self.game = game, game.game
        self.device = device
        self.agent = DQNAgent(params, game.observation_shape, game.num_actions, device, seed=agent_seed,
                              game=self.game)
        self.replay = ReplayBuffer(params["replay_buffer_size"], device, seed=replay_seed,
                                   state_fields=self.game.State._fields)
        # network input from the game's state words (``encode(*state)``): planes or the game's own features
        self.encode = self.agent.encode
        self.mirror, self.n_step = params["mirror_augment"], params["n_step"]
        self.minibatch = make_minibatch(self.replay, self.game, self.agent, self.encode)  # fused where the game has one
        # ``compile: true`` with the tensor-op minibatch: the minibatch and the loss as one compiled
        # graph (its backward is compiled too); with the numba one, the agent compiles the loss alone
        self._compiled_loss = None
        if self.agent.compiled and isinstance(self.minibatch, TorchMinibatch):
            self._compiled_loss = torch.compile(self._minibatch_loss, dynamic=False)
        self.num_envs = game.num_envs
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        self.q_sum = torch.zeros((), dtype=torch.float32, device=device)
        self.loss_count = 0

    # -- the Learner protocol ---------------------------------------------------------------
    def act(self, state, legal, deterministic: bool) -> torch.Tensor:
        return self.agent.act_on_state(state, legal, deterministic)

    def observe(self, batch: dict) -> None:
        self.replay.add(batch)

    def on_game_end(self, done, reward) -> None:
        pass  # the transitions carry their own rewards

    def learn(self) -> None:
        p = self.params
        if len(self.replay) < max(p["learning_starts"], 1):
            return
        for _ in range(p["updates_per_step"]):
            self._update(p["batch_size"])

    def status_fields(self) -> dict:
        n = self.loss_count
        return {"epsilon": round(float(self.agent.epsilon), 6), "updates": self.agent.num_updates,
                "learning_rate": self.agent.learning_rate,
                "loss": round(float(self.loss_sum) / n, 6) if n else None,
                "mean_q": round(float(self.q_sum) / n, 6) if n else None}

    def reset_report(self) -> None:
        self.loss_sum.zero_()
        self.q_sum.zero_()
        self.loss_count = 0

    def distribute(self, dist) -> None:
        # every rank's ring grows by num_envs per batch step: they start learning together
        self.agent.distribute(dist.wrap)

    def state_dict(self, include_replay: bool = True) -> dict:
        return {"agent": self.agent.state_dict(),
                "replay": self.replay.state_dict() if include_replay else None,
                "replay_generator": self.replay.generator.get_state(),
                "report": {"loss_sum": self.loss_sum.clone(), "q_sum": self.q_sum.clone(),
                           "loss_count": self.loss_count}}

    def load_state_dict(self, state: dict) -> None:
        self.agent.load_state_dict(state["agent"])
        if state["replay"] is not None:
            self.replay.load_state_dict(state["replay"])
        else:  # left out of the checkpoint: the ring refills, its sampling stream continues
            self.replay.generator.set_state(state["replay_generator"].cpu())
        r = state["report"]
        self.loss_sum.copy_(r["loss_sum"])
        self.q_sum.copy_(r["q_sum"])
        self.loss_count = r["loss_count"]

    # -- one gradient update ----------------------------------------------------------------
    def _update(self, batch_size: int) -> None:
        n = self.n_step if self.n_step > 1 and len(self.replay) > (self.n_step - 1) * self.num_envs else 1
        idx = self.replay.sample_indices(batch_size, n, self.num_envs)
        # a random board symmetry per sample (Connect4: the mirror on a random half), so each
        # sample teaches its images too (positions, action and next legal moves transformed)
        if self._compiled_loss is not None:
            u = torch.rand((batch_size,), device=self.device, generator=self.replay.generator) if self.mirror else None
            loss = self.agent.step_on(self._compiled_loss(idx, n, u))
        else:
            sym = None
            if self.mirror:
                sym = draw_symmetries(batch_size, len(self.game.symmetries), self.device, self.replay.generator)
            b = self.minibatch(idx, n, self.num_envs, sym)
            loss = self.agent.update(b.obs, b.action, b.reward, b.done, b.next_obs, b.next_legal, b.discount)
        self.loss_sum += loss
        self.q_sum += self.agent.last_q_mean
        self.loss_count += 1

    def _minibatch_loss(self, idx, n: int, u):
        """What ``compile: true`` compiles: the minibatch of ring positions ``idx`` (the symmetries
        from the uniform draw ``u``, as ``draw_symmetries`` makes them; None: none) and its loss."""
        sym = None if u is None else symmetries_from_uniform(u, len(self.game.symmetries))
        b = self.minibatch(idx, n, self.num_envs, sym)
        return self.agent.loss(b.obs, b.action, b.reward, b.done, b.next_obs, b.next_legal, b.discount)
