"""The in-process store of the rate limits: a `limits` storage backend for the
buckets of one server process.

`limits`' own MemoryStorage takes a lock per operation and sweeps every key
from a timer thread it restarts every 10 ms; measured here it cost 70-130 us
per API call (two buckets and a mark, growing with the number of live keys),
about a tenth of a `balance` call.  This one is touched by the event loop's
thread only (the API checks limits before handing the call to a worker
thread), so it needs no lock, and it drops expired counters when it meets
them and in a sweep whenever the table has doubled: ~9 us per bucket, same
counters and the same sliding-window arithmetic as the library's.
"""

from __future__ import annotations

import math
import time

from limits.storage.base import SlidingWindowCounterSupport, Storage, TimestampedSlidingWindow

# Below this many counters, never sweep: a scan costs more than it frees.
SWEEP_FLOOR = 1024


class LoopMemoryStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Counters with an expiry, for the sliding window counter strategy and for
    plain marks (incr/get/get_expiry/clear).  Not thread-safe, by design."""

    STORAGE_SCHEME = ["smmpanel+memory"]

    def __init__(self) -> None:
        super().__init__()
        self._counters: dict[str, list[float]] = {}  # key -> [count, expires_at]
        self._sweep_at = SWEEP_FLOOR

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        return self._incr(key, expiry, amount, time.time())

    def get(self, key: str) -> int:
        return self.count(key)

    def count(self, key: str) -> int:
        counter = self._live(key, time.time())
        return 0 if counter is None else int(counter[0])

    def get_expiry(self, key: str) -> float:
        now = time.time()
        counter = self._live(key, now)
        return now if counter is None else counter[1]

    def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        count = len(self._counters)
        self._counters.clear()
        return count

    # The sliding window counter: a count per window of `expiry` seconds (aligned
    # to the clock); the previous window's count weighs by the part of it still
    # inside the last `expiry` seconds.

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        return self.take(key, limit, expiry, amount)

    # take and count are the unwrapped forms of acquire_sliding_window_entry and
    # get, for ratelimit.MemoryBuckets (the library's wrapper costs ~1 us a call).

    def take(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous, previous_ttl, current, current_key = self._windows(key, expiry, now)
        if math.floor(_count(previous) * previous_ttl / expiry + _count(current)) + amount > limit:
            return False
        if current is None:
            self._incr(current_key, 2 * expiry, amount, now)
        else:
            current[0] += amount
        return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return self._sliding_window(key, expiry, time.time())

    # The library wraps its public methods (to translate errors): inside, the
    # unwrapped helpers below, at a known `now`.

    def _sliding_window(self, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        previous, previous_ttl, current, _ = self._windows(key, expiry, now)
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return _count(previous), previous_ttl, _count(current), current_ttl

    def _windows(
        self, key: str, expiry: int, now: float
    ) -> tuple[list[float] | None, float, list[float] | None, str]:
        """The previous window's counter and the part of it still inside the last
        `expiry` seconds (0 without one), the current window's counter and key
        (the counter None while it has none)."""
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self._live(previous_key, now)
        current = self._live(current_key, now)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        return previous, previous_ttl, current, current_key

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)

    def _incr(self, key: str, expiry: float, amount: int, now: float) -> int:
        counter = self._live(key, now)
        if counter is None:
            counter = self._counters[key] = [0, now + expiry]
            if len(self._counters) >= self._sweep_at:
                self._sweep(now)
        counter[0] += amount
        return int(counter[0])

    def _live(self, key: str, now: float) -> list[float] | None:
        counter = self._counters.get(key)
        if counter is not None and counter[1] <= now:
            del self._counters[key]
            return None
        return counter

    def _sweep(self, now: float) -> None:
        """Drop expired counters; next sweep when the table has doubled again."""
        for key in [k for k, (_, expires_at) in self._counters.items() if expires_at <= now]:
            del self._counters[key]
        self._sweep_at = max(SWEEP_FLOOR, 2 * len(self._counters))


def _count(counter: list[float] | None) -> int:
    return 0 if counter is None else int(counter[0])
