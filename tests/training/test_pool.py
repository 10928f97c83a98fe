"""The ``pool`` opponent sampler: who each new game faces, snapshots of the agent, and frozen
snapshots playing exactly as the weights they were taken from. Torch backend on the CPU (no
numba compile); ``on_game_end`` / ``on_new_games`` are called as Versus calls them."""
from __future__ import annotations

import pytest
import torch

from src.agents.dqn import DQNAgent
from src.games import make_game
from src.opponents.pool import PoolSampler, validate_pool_params
from src.agents.dqn import DQN_PARAMS
from tests.training.helpers import make_trainer, random_positions, tiny_config

DIST = {"random": 0.2, "heuristic": 0.5, "smart_heuristic": 0.3}


def pool(num_envs, distribution=None, seed=11, **self_play):
    sp = {"start_episode": 0, "current_self_fraction": 0.0, "past_self_fraction": 0.0, "max_frozen_agents": 3,
          "save_every": 10, **self_play}
    params = validate_pool_params({"self_play": sp, "heuristic_distribution": distribution or DIST}, seed)
    game = make_game("connect4", num_envs, device="cpu", backend="torch", seed=0)
    agent = DQNAgent(DQN_PARAMS.fill({"hidden_sizes": [32], "device": "cpu"}, "agent.params"),
                     game.observation_shape, game.num_actions, "cpu", seed=0)
    return PoolSampler(params, game, agent, seed), agent


def everyone(n):
    return torch.ones(n, dtype=torch.bool)


def finish(sampler, games: torch.Tensor):
    """The ``games`` end (as draws) and start again, as in Versus.step."""
    sampler.on_game_end(games, torch.zeros(games.shape))
    sampler.on_new_games(games)


def first(n, k):
    return torch.arange(n) < k


def perturb(agent, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in agent.online.parameters():
            p.add_(torch.randn(p.shape, generator=g))


def mix(sampler) -> dict:
    """Share of the games facing each kind of opponent."""
    ids = sampler.opponent_id
    kinds = [sampler.kind_of(int(i)) for i in ids]
    return {k: kinds.count(k) / len(kinds) for k in set(kinds)}


def test_before_start_episode_new_games_follow_heuristic_distribution():
    sampler, _ = pool(4096, start_episode=10 ** 6, current_self_fraction=0.5, past_self_fraction=0.5)
    sampler.on_new_games(everyone(4096))
    shares = mix(sampler)
    assert shares.keys() == DIST.keys()
    for name, w in DIST.items():
        assert shares[name] == pytest.approx(w, abs=0.03), name
    assert sampler.status()["opponent_mix"] == pytest.approx(shares, abs=1e-3)


def test_after_start_episode_new_games_follow_self_play_fractions():
    sampler, _ = pool(4096, {"random": 1, "heuristic": 3}, current_self_fraction=0.25, past_self_fraction=0.35)
    sampler.on_new_games(everyone(4096))  # start_episode 0: the first snapshot is taken now
    assert len(sampler.frozen) == 1
    shares = mix(sampler)
    expected = {"self": 0.25, "past_self": 0.35, "random": 0.4 * 0.25, "heuristic": 0.4 * 0.75}
    assert shares.keys() == expected.keys()
    for kind, share in expected.items():
        assert shares[kind] == pytest.approx(share, abs=0.03), kind


def test_past_self_games_get_heuristics_while_no_snapshot_exists():
    sampler, _ = pool(4096, {"random": 1}, start_episode=0, past_self_fraction=0.5)
    sampler.check_every = 10 ** 9  # the host never looks: no snapshot yet
    sampler.on_new_games(everyone(4096))
    assert sampler.frozen == [] and mix(sampler) == {"random": 1.0}


def test_a_game_keeps_its_opponent_id_until_it_ends():
    sampler, _ = pool(4096, current_self_fraction=0.3, past_self_fraction=0.3)
    sampler.on_new_games(everyone(4096))
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        before = sampler.opponent_id.clone()
        new = torch.rand(4096, generator=g) < 0.3
        sampler.on_new_games(new)
        assert torch.equal(sampler.opponent_id[~new], before[~new])
        assert (sampler.opponent_id[new] != before[new]).any()


def test_snapshots_every_save_every_finished_games_from_start_episode_keeping_the_newest():
    n = 512
    sampler, _ = pool(n, start_episode=100, save_every=50, max_frozen_agents=3, current_self_fraction=0.5)
    history = []
    for k in (60, 39, 1, 49, 1, 50, 50):
        finish(sampler, first(n, k))
        history.append(list(sampler.frozen_at))
    assert history == [[], [], [100], [100], [100, 150], [100, 150, 200], [150, 200, 250]]


def test_no_self_play_opponents_before_start_episode():
    n = 512
    sampler, _ = pool(n, start_episode=100, current_self_fraction=0.5)
    finish(sampler, first(n, 99))
    assert max(sampler.opponent_id.tolist()) < sampler.current_id
    finish(sampler, first(n, 200))
    assert (sampler.opponent_id[:200] == sampler.current_id).float().mean() > 0.3


def frozen_weights(sampler):
    return [[p.detach().clone() for p in net.parameters()] for net in sampler.frozen]


def test_finishing_several_save_every_at_once_does_not_fill_the_pool_with_copies():
    n = 512
    sampler, agent = pool(n, start_episode=0, save_every=10, max_frozen_agents=3)
    finish(sampler, first(n, 0))  # snapshot at 0
    perturb(agent, 1)
    finish(sampler, first(n, 10))  # snapshot at 10
    perturb(agent, 2)
    finish(sampler, first(n, 35))  # 45 finished: one more snapshot of the current weights
    weights = frozen_weights(sampler)
    assert len(weights) == 3
    distinct = {tuple(round(float(p.sum()), 4) for p in w) for w in weights}
    assert len(distinct) == 3


def test_dropping_the_oldest_snapshot_does_not_change_the_opponent_of_running_games():
    n = 64
    sampler, agent = pool(n, start_episode=0, save_every=10, max_frozen_agents=2, past_self_fraction=1.0)
    sampler.on_new_games(everyone(n))  # snapshot A; every game faces it

    def policies():
        return [id(sampler.slots[int(i) - sampler.frozen_base]) for i in sampler.opponent_id]

    for k, seed in ((10, 1), (10, 2)):  # snapshot B, then C (A is dropped)
        perturb(agent, seed)
        before = policies()
        ended = torch.zeros(n, dtype=torch.bool)
        ended[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]] = True
        finish(sampler, ended)
        after = policies()
        assert [a for a, e in zip(after, ended) if not e] == [b for b, e in zip(before, ended) if not e]


def greedy(agent, ops, cur, mask):
    return agent.act(ops.to_planes(cur, mask), ops.legal_mask(mask), deterministic=True)


def test_frozen_snapshot_plays_exactly_like_the_weights_it_was_taken_from():
    n = 512
    sampler, agent = pool(n, past_self_fraction=1.0)
    saved = {k: v.clone() for k, v in agent.online.state_dict().items()}
    sampler.on_new_games(everyone(n))  # snapshot now; every game faces it
    perturb(agent, 5)  # the live network moves on
    reference = DQNAgent(agent.params, (2, 6, 7), 7, "cpu", seed=1)
    reference.online.load_state_dict(saved)
    cur, mask = random_positions(n, sampler.game.geometry, plies=30, seed=3)
    replies = sampler.act(cur, mask, active=everyone(n))
    assert torch.equal(replies, greedy(reference, sampler.game.ops, cur, mask))
    assert not torch.equal(replies, greedy(agent, sampler.game.ops, cur, mask))  # not the live weights


def test_current_self_plays_the_live_network_greedily():
    n = 512
    sampler, agent = pool(n, current_self_fraction=1.0)
    sampler.on_new_games(everyone(n))
    perturb(agent, 6)
    cur, mask = random_positions(n, sampler.game.geometry, plies=30, seed=4)
    assert torch.equal(sampler.act(cur, mask, active=everyone(n)), greedy(agent, sampler.game.ops, cur, mask))


def test_trainer_with_pool_sampler_reports_mix_and_frozen_agents():
    raw = tiny_config(train={"total_steps": 480, "opponent_sampler": {"type": "pool", "params": {
        "self_play": {"start_episode": 0, "current_self_fraction": 0.3, "past_self_fraction": 0.3,
                      "max_frozen_agents": 2, "save_every": 5},
        "heuristic_distribution": {"random": 1.0}}}})
    trainer = make_trainer(raw)
    assert trainer.train() == "completed"
    status = trainer.last_status
    assert set(status["opponent_mix"]) <= {"random", "self", "past_self"}
    assert 1 <= status["frozen_agents"] <= 2 and status["episode"] > 5
