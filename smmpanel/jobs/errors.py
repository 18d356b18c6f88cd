"""Errors job handlers raise to tell the worker what to do with a job."""

from __future__ import annotations


class RetryLater(Exception):
    """Raised by a handler that cannot finish now (e.g. a paused provider).

    `waiting=True` says the cause is outside the job (a provider paused or
    unreachable): the attempt is not counted, so the job waits as long as it
    takes instead of failing after its attempts."""

    def __init__(self, reason: str, *, delay: float | None = None, waiting: bool = False) -> None:
        super().__init__(reason)
        self.delay = delay
        self.waiting = waiting
