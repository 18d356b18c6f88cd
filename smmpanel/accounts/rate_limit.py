"""How a rate limit is written: ``N/second`` (or ``N/s``, ``N/minute``, ``N/m``,
``N/hour``, ``N/h``) or ``off``.  One grammar for the panel's settings and for
an account's own limit, so an owner writes both the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

OFF = "off"
# An account's limit when it has none of its own (stored as NULL).
DEFAULT = "default"
MAX_CALLS = 1_000_000

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
}
_NAMES = {1: "second", 60: "minute", 3600: "hour"}
_RATE_RE = re.compile(r"(\d{1,7})\s*/\s*([a-z]+)")


class BadRate(ValueError):
    """Not a rate limit in the grammar above."""


@dataclass(frozen=True)
class Rate:
    """`calls` per `seconds` (1, 60 or 3600)."""

    calls: int
    seconds: int

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    def __str__(self) -> str:
        return f"{self.calls}/{_NAMES[self.seconds]}"


def parse_rate(text: str) -> Rate | None:
    """The rate `text` says; None for ``off``.  BadRate for anything else."""
    cleaned = (text or "").strip().lower()
    if cleaned == OFF:
        return None
    match = _RATE_RE.fullmatch(cleaned)
    if match is None or match.group(2) not in _UNITS:
        raise BadRate(f"{text!r} is not a rate limit; write N/second, N/minute or N/hour, or off")
    calls = int(match.group(1))
    if not 1 <= calls <= MAX_CALLS:
        raise BadRate(f"a rate limit allows 1 to {MAX_CALLS:,} calls per period, not {calls}")
    return Rate(calls, _UNITS[match.group(2)])


def normalise_rate(text: str) -> str:
    """The stored spelling of a rate limit: ``off`` or ``N/second|minute|hour``."""
    rate = parse_rate(text)
    return OFF if rate is None else str(rate)
