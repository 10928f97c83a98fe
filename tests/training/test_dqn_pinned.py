"""DQN training is pinned: the trainer's final weights and optimizer state equal those of a plain,
separately written loop over the same components (this file), for the same config and seed.

The loop below spells out what one batch step of DQN training is, with the seeds written as
literal formulas, so a refactor of the trainer (agent registry, learner protocol, seeding
helper) that changed the trajectory in any way fails here.
"""
from __future__ import annotations

import torch

from src.agents.dqn import DQNAgent
from src.games import make_game
from src.opponents.samplers import OpponentSampler
from src.training.config import validate_config
from src.agents.replay import ReplayBuffer
from src.training.versus import Versus
from tests.training.helpers import assert_identical, make_trainer, tiny_config


def seed_of(seed: int, salt: int) -> int:
    return (seed * 1_000_003 + salt * 7_919) % (2 ** 62)


class RandomReplies(OpponentSampler):
    def __init__(self, game, seed):
        from src.games.backends import make_ops

        self.ops = make_ops(game.geometry, game.device, game.backend, seed + 7919)

    def on_new_games(self, new):
        pass

    def on_game_end(self, done, reward):
        pass

    def act(self, cur, mask, active=None):
        return self.ops.random_legal_actions(mask)


def reference_dqn_run(raw: dict) -> DQNAgent:
    cfg = validate_config(raw)
    seed, p, train = cfg["seed"], cfg["agent"]["params"], cfg["train"]
    torch.manual_seed(seed)
    n_envs = train["num_envs"]
    game = make_game("connect4", n_envs, device="cpu", seed=seed_of(seed, 1), **cfg["game"]["params"])
    agent = DQNAgent(p, game.observation_shape, game.num_actions, "cpu", seed=seed_of(seed, 2))
    replay = ReplayBuffer(p["replay_buffer_size"], "cpu", seed=seed_of(seed, 5))
    sampler_seed = train["opponent_sampler"]["params"]["seed"]
    if train["opponent_sampler"]["type"] == "random":
        replies = RandomReplies(game, seed_of(sampler_seed, 3))
    else:
        from src.opponents.pool import PoolSampler

        replies = PoolSampler(train["opponent_sampler"]["params"], game, agent, seed_of(seed, 4))
    versus = Versus(game, replies, train["start_policy"], seed=seed_of(seed, 6))
    encode = agent.encode if p["features"] == "threats" else game.ops.to_planes
    decay = next((c for c in train["callbacks"] if c["type"] == "epsilon_decay"), None)
    lr = next((c for c in train["callbacks"] if c["type"] == "lr_decay"), None)
    versus.reset()
    step = 0
    while step < train["total_steps"]:
        action = agent.act(encode(game.cur, game.mask), versus.legal_mask(), train["deterministic"])
        batch = versus.step(action)
        replay.add(batch)
        step += n_envs
        if decay is not None:  # per agent step: decay ** num_envs per batch step
            agent.epsilon.mul_(agent.epsilon_decay ** n_envs).clamp_(min=agent.epsilon_min)
        if lr is not None:
            k = step // lr["params"]["interval_steps"] - (step - n_envs) // lr["params"]["interval_steps"]
            for group in agent.optimizer.param_groups:
                group["lr"] = max(lr["params"]["min_lr"], group["lr"] * lr["params"]["decay_factor"] ** k)
        if len(replay) >= max(p["learning_starts"], 1):
            for _ in range(p["updates_per_step"]):
                n = p["n_step"]
                if n > 1 and len(replay) > (n - 1) * n_envs:
                    s = replay.sample_nstep(p["batch_size"], n, n_envs, agent.gamma)
                else:
                    s = replay.sample(p["batch_size"])
                obs, act = encode(s["cur"], s["mask"]), s["action"].long()
                nxt, nlegal = encode(s["next_cur"], s["next_mask"]), game.ops.legal_mask(s["next_mask"])
                if p["mirror_augment"]:
                    flip = torch.rand(act.shape, generator=replay.generator) < 0.5
                    f4 = flip[:, None, None, None]
                    obs, nxt = torch.where(f4, obs.flip(-1), obs), torch.where(f4, nxt.flip(-1), nxt)
                    act = torch.where(flip, game.cols - 1 - act, act)
                    nlegal = torch.where(flip[:, None], nlegal.flip(-1), nlegal)
                agent.update(obs, act, s["reward"].float(), s["done"], nxt, nlegal, s.get("discount"))
    return agent


CALLBACKS = [{"type": "epsilon_decay", "params": {"every": "step"}},
             {"type": "lr_decay", "params": {"interval_steps": 96, "decay_factor": 0.7}}]


def test_trainer_equals_the_reference_loop_random_sampler_nstep_threats():
    raw = tiny_config(agent={"params": {"n_step": 3, "features": "threats", "updates_per_step": 2}},
                      train={"total_steps": 320, "callbacks": CALLBACKS})
    trainer = make_trainer(raw)
    trainer.train()
    ref = reference_dqn_run(raw)
    assert trainer.agent.num_updates == ref.num_updates > 0
    assert_identical(trainer.agent.state_dict(), ref.state_dict())


def test_trainer_equals_the_reference_loop_pool_sampler():
    raw = tiny_config(train={"total_steps": 320, "callbacks": CALLBACKS[:1], "opponent_sampler": {
        "type": "pool", "params": {
            "self_play": {"start_episode": 10, "current_self_fraction": 0.3, "past_self_fraction": 0.3,
                          "max_frozen_agents": 2, "save_every": 20},
            "heuristic_distribution": {"random": 0.5, "heuristic": 0.3, "search:2": 0.2}}}})
    trainer = make_trainer(raw)
    trainer.train()
    ref = reference_dqn_run(raw)
    assert_identical(trainer.agent.state_dict(), ref.state_dict())
