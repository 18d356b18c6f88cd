"""The simulated clock: real time scaled, plus manual advances."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Seconds of simulated time since the simulator started.

    `now()` = real elapsed seconds x `scale` (0 when `manual`) + everything `advance()`d.
    `wall()` maps a simulated instant onto a UTC datetime (start wall time + instant).
    """

    def __init__(self, *, scale: float = 1.0, manual: bool = False) -> None:
        self._scale = 0.0 if manual else scale
        self._origin = time.monotonic()
        self._offset = 0.0
        self._wall_origin = datetime.now(UTC)
        self._lock = threading.Lock()
        self._last = 0.0

    def now(self) -> float:
        with self._lock:
            value = (time.monotonic() - self._origin) * self._scale + self._offset
            self._last = max(self._last, value)  # never go backwards
            return self._last

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            self._offset += seconds
        return self.now()

    def wall(self, instant: float) -> datetime:
        return self._wall_origin + timedelta(seconds=instant)
