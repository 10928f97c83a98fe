"""The replay ring: keeps the newest ``capacity`` transitions in order, samples only what it holds."""
from __future__ import annotations

import pytest
import torch

from src.agents.replay import ReplayBuffer


def transitions(start: int, n: int) -> dict:
    """n transitions numbered start, start+1, ...; every field carries the number so that
    fields can be checked to stay aligned."""
    k = torch.arange(start, start + n, dtype=torch.int64)
    return {"cur": k, "mask": k * 10, "action": (k % 7).to(torch.int8), "reward": (k % 3 - 1).to(torch.int8),
            "done": k % 2 == 0, "next_cur": k + 1, "next_mask": k * 10 + 1}


def in_order(buf: ReplayBuffer) -> list[int]:
    """Stored transition numbers, oldest first."""
    cur = buf.storage["cur"][: buf.size]
    return torch.roll(cur, -buf.ptr).tolist() if buf.size == buf.capacity else cur.tolist()


def assert_aligned(s: dict):
    k = s["cur"]
    assert torch.equal(s["mask"], k * 10) and torch.equal(s["next_cur"], k + 1)
    assert torch.equal(s["next_mask"], k * 10 + 1) and torch.equal(s["done"], k % 2 == 0)
    assert torch.equal(s["action"], (k % 7).to(torch.int8)) and torch.equal(s["reward"], (k % 3 - 1).to(torch.int8))


def test_size_grows_then_caps_at_capacity():
    buf = ReplayBuffer(5, "cpu", seed=0)
    sizes = []
    for start in (0, 3, 6):
        buf.add(transitions(start, 3))
        sizes.append(len(buf))
    assert sizes == [3, 5, 5]


def test_wraparound_keeps_the_newest_capacity_transitions_in_order():
    buf = ReplayBuffer(5, "cpu", seed=0)
    buf.add(transitions(0, 3))
    buf.add(transitions(3, 4))  # wraps: 0 and 1 are overwritten
    assert in_order(buf) == [2, 3, 4, 5, 6]
    buf.add(transitions(7, 2))
    assert in_order(buf) == [4, 5, 6, 7, 8]


@pytest.mark.parametrize("first", [0, 3], ids=["from empty", "from the middle of the ring"])
def test_batch_larger_than_capacity_keeps_only_its_newest_transitions(first):
    buf = ReplayBuffer(5, "cpu", seed=0)
    buf.add(transitions(100, first))  # first == 0: nothing
    buf.add(transitions(0, 12))
    assert len(buf) == 5 and in_order(buf) == [7, 8, 9, 10, 11]
    assert_aligned(buf.sample(50))


def test_sample_returns_only_stored_transitions_with_fields_aligned():
    buf = ReplayBuffer(100, "cpu", seed=0)
    buf.add(transitions(1000, 7))
    s = buf.sample(500)
    assert set(s["cur"].tolist()) == set(range(1000, 1007))  # never an empty slot
    assert_aligned(s)
    buf.add(transitions(0, 200))  # wraps the ring twice over: only 100..199 remain
    assert set(buf.sample(2000)["cur"].tolist()) <= set(range(100, 200))


def test_sample_batch_larger_than_what_is_stored_draws_with_replacement():
    buf = ReplayBuffer(8, "cpu", seed=0)
    buf.add(transitions(0, 3))
    s = buf.sample(64)
    assert s["cur"].shape == (64,) and set(s["cur"].tolist()) == {0, 1, 2}


def test_sampling_an_empty_buffer_raises():
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(4, "cpu", seed=0).sample(1)


def test_same_seed_samples_the_same_indices():
    a, b = ReplayBuffer(50, "cpu", seed=3), ReplayBuffer(50, "cpu", seed=3)
    a.add(transitions(0, 50))
    b.add(transitions(0, 50))
    assert torch.equal(a.sample(32)["cur"], b.sample(32)["cur"])
