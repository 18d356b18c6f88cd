"""The in-process store: the same answers as `limits`' MemoryStorage, expired
counters dropped, on a clock the test moves."""

from __future__ import annotations

import random
import time

import pytest
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from smmpanel.api_v2.ratelimit_memory import LoopMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    return fake


def test_same_decisions_as_the_library_s_memory_storage(clock: Clock) -> None:
    theirs_storage = MemoryStorage()
    ours = SlidingWindowCounterRateLimiter(LoopMemoryStorage())
    theirs = SlidingWindowCounterRateLimiter(theirs_storage)
    items = [RateLimitItemPerSecond(5, 2), RateLimitItemPerSecond(20, 60)]
    rng = random.Random(7)
    decisions = []
    try:
        for _ in range(3000):
            clock.now += rng.choice([0, 0, 0, 0.01, 0.05, 0.2, 0.7, 3])
            item, who = rng.choice(items), rng.choice("abc")
            mine = ours.hit(item, who)
            assert mine == theirs.hit(item, who)
            stats = ours.get_window_stats(item, who)
            assert stats == theirs.get_window_stats(item, who)
            decisions.append(mine)
    finally:
        theirs_storage.timer.cancel()
    assert decisions.count(True) > 500 and decisions.count(False) > 100  # both were compared


def test_marks_expire(clock: Clock) -> None:
    store = LoopMemoryStorage()
    assert (store.get("m"), store.get_expiry("m")) == (0, clock.now)
    assert store.incr("m", 10) == 1
    assert store.incr("m", 99) == 2  # the expiry is set when the counter starts
    assert store.get_expiry("m") == clock.now + 10
    clock.now += 9.9
    assert store.get("m") == 2
    clock.now += 0.1
    assert store.get("m") == 0
    store.incr("m", 5)
    store.clear("m")
    assert store.get("m") == 0


def test_expired_counters_are_swept_as_the_table_grows(clock: Clock) -> None:
    store = LoopMemoryStorage()
    for n in range(5000):
        store.incr(f"old/{n}", 1)
    clock.now += 2
    # The table doubled at 1,024, 2,048 and 4,096 counters (nothing to drop then);
    # at 8,192 the sweep drops the 5,000 expired ones.
    for n in range(4000):
        store.incr(f"new/{n}", 60)
    assert store.reset() == 4000


def test_memory_buckets_take_the_library_s_buckets(clock: Clock) -> None:
    """MemoryBuckets (the API's path, without the library's strategy) decides as
    the library does, in the same counters: the library's window stats, read
    from the same store, count what it took (the keys are `key_for`'s)."""
    import asyncio

    from smmpanel.api_v2.ratelimit import MemoryBuckets

    store = LoopMemoryStorage()
    fast = MemoryBuckets(store)
    reference_storage = MemoryStorage()
    reference = SlidingWindowCounterRateLimiter(reference_storage)
    library_view = SlidingWindowCounterRateLimiter(store)
    items = [RateLimitItemPerSecond(5, 2), RateLimitItemPerSecond(20, 60)]
    rng = random.Random(11)
    taken = 0
    try:
        for _ in range(2000):
            clock.now += rng.choice([0, 0, 0.01, 0.05, 0.2, 0.7, 3])
            item, who = rng.choice(items), rng.choice(["ip", "key"])
            mine = asyncio.run(fast.hit(item, who, "1.2.3.4"))
            assert mine == reference.hit(item, who, "1.2.3.4")
            assert library_view.get_window_stats(item, who, "1.2.3.4") == (
                reference.get_window_stats(item, who, "1.2.3.4")
            )
            taken += mine
    finally:
        reference_storage.timer.cancel()
    assert 300 < taken < 2000  # both outcomes were compared
