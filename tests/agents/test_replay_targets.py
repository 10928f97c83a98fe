"""Position averaging in the AlphaZero replay, and the opponent-reply auxiliary head (issue 21).

The averaged targets are checked against a plain Python reference: a dict from each position's
state words to the list of its copies in the ring."""
from __future__ import annotations

import collections

import pytest
import torch

from src.agents.alphazero.learner import PositionReplay
from src.config.schema import ConfigError
from src.training.config import validate_config
from tests.agents.test_alphazero import az_config, learner_for

FIELDS = ("cur", "mask")


def _items(n: int, seed: int, distinct: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # few distinct positions, so that most are duplicated; two words, equal in one word only sometimes
    a = torch.randint(0, distinct, (n,), generator=g)
    b = torch.randint(0, 2, (n,), generator=g)
    policy = torch.rand((n, 7), generator=g)
    return {"cur": a, "mask": b, "policy": policy / policy.sum(1, keepdim=True),
            "value": torch.randint(-1, 2, (n,), generator=g).to(torch.int8), "q": torch.rand(n, generator=g) * 2 - 1}


def _reference(replay: PositionReplay) -> dict[tuple[int, int], dict[str, torch.Tensor]]:
    """Per distinct position of the ring: the means of its copies' targets, one slot at a time."""
    copies = collections.defaultdict(list)
    for i in range(len(replay)):
        copies[(int(replay.storage["cur"][i]), int(replay.storage["mask"][i]))].append(i)
    out = {}
    for key, slots in copies.items():
        out[key] = {k: torch.stack([replay.storage[k][i].float() for i in slots]).mean(0) for k in ("policy", "value", "q")}
    return out


@pytest.mark.parametrize("mode", ["average", "merge"])
def test_sampled_targets_are_the_means_over_every_copy_in_the_ring(mode):
    replay = PositionReplay(50, 7, "cpu", seed=3, state_fields=FIELDS, averaging=mode)
    for step in range(4):  # 4 x 20 positions into a ring of 50: the oldest are overwritten
        replay.add(_items(20, seed=step))
        ref = _reference(replay)
        batch = replay.sample(64)
        for i in range(64):
            want = ref[(int(batch["cur"][i]), int(batch["mask"][i]))]
            for k in ("policy", "value", "q"):
                # the ring holds policies and q in float16: the means agree to float32 rounding
                assert torch.allclose(batch[k][i].float(), want[k], atol=1e-6), (mode, step, k)


def test_merge_draws_the_distinct_positions_uniformly_and_average_draws_the_copies():
    counts = {}
    for mode in ("merge", "average"):
        replay = PositionReplay(200, 7, "cpu", seed=5, state_fields=FIELDS, averaging=mode)
        items = _items(200, seed=9, distinct=4)
        items["cur"][:150] = 0  # one position holds 3/4 of the ring (150 copies of (0, 0) or (0, 1))
        items["mask"][:150] = 0
        replay.add(items)
        batch = replay.sample(20000)
        counts[mode] = collections.Counter(zip(batch["cur"].tolist(), batch["mask"].tolist()))
        distinct = len(_reference(replay))
    share = counts["merge"][(0, 0)] / 20000
    assert abs(share - 1 / distinct) < 0.02, share  # one distinct position among `distinct`
    copies_share = counts["average"][(0, 0)] / 20000
    assert copies_share > 0.72, copies_share  # by copies: at least 150 of 200 slots


def test_off_leaves_the_targets_of_each_copy_alone():
    replay = PositionReplay(64, 7, "cpu", seed=1, state_fields=FIELDS, averaging="off")
    replay.add(_items(64, seed=2))
    batch = replay.sample(32)
    rows = {(int(replay.storage["cur"][i]), int(replay.storage["mask"][i]), float(replay.storage["q"][i])) for i in range(64)}
    for i in range(32):  # each sample is one stored copy, targets unchanged
        assert (int(batch["cur"][i]), int(batch["mask"][i]), float(batch["q"][i])) in rows
    assert batch["value"].dtype == torch.int8


def test_averaged_groups_are_recomputed_after_a_resume():
    a = PositionReplay(40, 7, "cpu", seed=4, state_fields=FIELDS, averaging="average")
    a.add(_items(30, seed=1))
    a.sample(8)  # groups computed
    b = PositionReplay(40, 7, "cpu", seed=0, state_fields=FIELDS, averaging="average")
    b.load_state_dict(a.state_dict())
    x, y = a.sample(16), b.sample(16)
    for k in x:
        assert torch.equal(x[k], y[k]), k


def test_the_reply_target_is_the_next_plys_policy_and_the_last_ply_has_none():
    learner = learner_for(2, reply_loss_weight=0.5, random_opening_plies=0)
    learner.self_play = True
    state = learner.game.State(torch.tensor([5, 6]), torch.tensor([5, 6]))
    policies = [torch.eye(7)[[p, (p + 3) % 7]] for p in range(3)]  # ply p: game 0 plays p, game 1 plays p + 3
    for ply in range(3):
        learner._record(state, policies[ply], torch.zeros(2), None, ply % 2 == 0)
    learner.on_game_end(torch.tensor([True, True]), torch.tensor([1.0, -1.0]))
    s = learner.replay.storage
    assert len(learner.replay) == 6
    for i in range(6):  # rows: game 0's plies 0..2, then game 1's
        game, ply = divmod(i, 3)
        assert bool(s["reply_ok"][i]) == (ply < 2)
        if ply < 2:
            assert int(s["reply"][i].float().argmax()) == (ply + 1 + 3 * game) % 7
            assert float(s["reply"][i].float().sum()) == 1.0


def test_against_an_opponent_no_reply_is_recorded():
    learner = learner_for(1, reply_loss_weight=0.5, random_opening_plies=0)
    learner.self_play = False  # the agent's positions only: the next one recorded is not the reply
    state = learner.game.State(torch.tensor([5]), torch.tensor([5]))
    for ply in range(3):
        learner._record(state, torch.full((1, 7), 1 / 7), torch.zeros(1), None, True)
    learner.on_game_end(torch.tensor([True]), torch.tensor([1.0]))
    assert not learner.replay.storage["reply_ok"][:3].any()


def test_the_reply_head_is_trained_and_leaves_the_search_outputs_alone():
    learner = learner_for(4, reply_loss_weight=1.0, random_opening_plies=0, learning_starts=1)
    net = learner.agent.online
    assert net.reply_head
    obs = torch.zeros((3, 2, 6, 7))
    out = net(obs)
    assert len(out) == 2  # the search sees (logits, value) only
    # one update with a reply target on column 6 raises the reply head's probability of 6
    learner.self_play = True
    state = learner.game.State(torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64))
    for ply in range(2):
        learner._record(state, torch.eye(7)[[6] * 4] if ply else torch.full((4, 7), 1 / 7), torch.zeros(4), None, True)
    learner.on_game_end(torch.ones(4, dtype=torch.bool), torch.zeros(4))
    learner.params = {**learner.params, "mirror_augment": False}
    with torch.no_grad():
        before = float(torch.softmax(net(obs[:1], reply=True)[2], 1)[0, 6])
    for _ in range(40):
        learner.learn()
    with torch.no_grad():
        after = float(torch.softmax(net(obs[:1], reply=True)[2], 1)[0, 6])
    assert after > before + 0.2, (before, after)


def test_a_reply_head_checkpoint_loads_and_acts(tmp_path):
    from src.agents import load_agent
    learner = learner_for(2, reply_loss_weight=0.5)
    path = tmp_path / "m.pt"
    torch.save(learner.agent.checkpoint({"step": 0, "game": {"params": {"rows": 6, "cols": 7}}}), path)
    agent = load_agent(path)
    assert agent.online.reply_head
    for a, b in zip(agent.online.state_dict().values(), learner.agent.online.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("params,key", [({"position_averaging": "mean"}, "agent.params.position_averaging"),
                                        ({"reply_loss_weight": -1}, "agent.params.reply_loss_weight")])
def test_bad_values_are_config_errors_naming_the_key(params, key):
    with pytest.raises(ConfigError) as err:
        validate_config(az_config(params))
    assert key in str(err.value)


# -- value_length_penalty: the outcome shrunk by the plies left to the game's end ----------------

W = 0.5


def _play_and_record(learner, columns, record):
    """Plays ``columns`` from the empty board in one game, recording the positions whose ply
    ``record(ply)`` accepts (the mover's seat: to_move 0); returns the last move's reward and done."""
    game = learner.game
    state = game.init(1)
    for ply, c in enumerate(columns):
        if record(ply):
            learner._record(state, torch.full((1, 7), 1 / 7), torch.zeros(1), None, game.to_move(state) == 0)
        state, reward, done, _ = game.play(state, torch.tensor([c]))
    return reward, done


def test_self_play_values_shrink_with_the_plies_to_the_end():
    learner = learner_for(1, value_length_penalty=W, random_opening_plies=0)
    learner.self_play = True
    columns = [0, 1, 0, 1, 0, 1, 5, 2, 0]  # the first player completes column 0 with the 9th ply
    reward, done = _play_and_record(learner, columns, lambda ply: ply >= 2)  # plies 0-1: a random opening
    assert bool(done[0]) and float(reward[0]) == 1.0
    learner.on_game_end(done, reward)
    values = learner.replay.storage["value"][:len(learner.replay)].float()
    assert learner.replay.storage["value"].dtype == torch.float16
    want = [(1 if ply % 2 == 0 else -1) * (1 - W * (9 - ply) / 42) for ply in range(2, 9)]
    assert torch.allclose(values, torch.tensor(want), atol=1e-3), (values, want)


def test_against_an_opponent_a_lost_game_ends_one_ply_after_the_agents_last_position():
    learner = learner_for(1, value_length_penalty=W, random_opening_plies=0)
    learner.self_play = False
    columns = [0, 1, 2, 1, 3, 1, 5, 1]  # the opponent (second) completes column 1 with the 8th ply
    reward, done = _play_and_record(learner, columns, lambda ply: ply % 2 == 0)
    assert bool(done[0]) and float(reward[0]) == 1.0  # the mover of the last ply won: the agent lost
    learner.on_game_end(done, -reward)
    values = learner.replay.storage["value"][:len(learner.replay)].float()
    want = [-(1 - W * (8 - ply) / 42) for ply in (0, 2, 4, 6)]
    assert torch.allclose(values, torch.tensor(want), atol=1e-3), (values, want)


def test_draws_stay_zero_and_without_the_penalty_the_outcome_is_stored_whole():
    for w in (W, 0.0):
        learner = learner_for(1, value_length_penalty=w, random_opening_plies=0)
        learner.self_play = True
        _play_and_record(learner, [0, 1, 0, 1], lambda ply: True)
        learner.on_game_end(torch.tensor([True]), torch.tensor([0.0]))  # called a draw: every target 0
        assert learner.replay.storage["value"][:4].float().abs().sum() == 0
        learner._record(learner.game.init(1), torch.full((1, 7), 1 / 7), torch.zeros(1), None, True)
        learner.on_game_end(torch.tensor([True]), torch.tensor([1.0]))
        assert float(learner.replay.storage["value"][4]) == pytest.approx(1 - w * 1 / 42, abs=1e-3)  # float16


def test_a_proven_roots_search_value_is_shrunk_by_its_proofs_length():
    learner = learner_for(1, value_length_penalty=W, random_opening_plies=0)
    learner.self_play = True
    game = learner.game
    state = game.init(1)
    for c in [0, 1, 0, 1, 0, 1]:  # the first player to move wins at once in column 0
        state = game.play(state, torch.tensor([c]))[0]
    learner._search_moves(state, None, True, deterministic=True)
    assert abs(float(learner.p_q[0, 0]) - (1 - W * 1 / 42)) < 1e-3
    state = game.play(state, torch.tensor([6]))[0]  # it plays elsewhere: the second player now wins at once
    learner._search_moves(state, None, False, deterministic=True)
    assert abs(float(learner.p_q[0, 1]) - (1 - W * 1 / 42)) < 1e-3


@pytest.mark.parametrize("value", [1.0, -0.1])
def test_a_penalty_outside_0_to_1_is_a_config_error(value):
    with pytest.raises(ConfigError) as err:
        validate_config(az_config({"value_length_penalty": value}))
    assert "agent.params.value_length_penalty" in str(err.value)
