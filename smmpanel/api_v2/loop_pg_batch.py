"""Concurrent reads of one kind coalesced into one statement (loop_reads_pg.py),
as group commit gathers writes (group_add.py).

Each `balance` call on PostgreSQL cost one round trip and one statement of
the server, on the same cores as the panel.  Here the calls of one kind that
arrive while the loop's connections are busy wait together in an open batch;
when a connection is free the batch is sealed and answered by ONE statement
for all of its calls (`key_hash = ANY($1)`), so the round trip, the server's
per-statement work and the loop's wake-up are shared.

What a batch may answer: only calls that arrived before its statement was
sent.  The batch is sealed when its connection is in hand, and the statement
is sent at once, so every call it answers arrived before the statement began;
a call arriving while a statement is in flight joins the next batch, never
the one in flight.  A key revoked or an account suspended is thus refused on
the very next call, as without coalescing.

Bounded: a batch holds at most MAX_CALLS calls (the next call opens another
batch), and each batch is a task that settles every call's future whatever
happens (its runner's own bounds: the wait for a connection, the busy
timeout), so a caller never waits for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from smmpanel.api_v2.loop_pg_conn import settle

log = logging.getLogger("smmpanel.api")

# The most calls one statement answers (a `status` call asks for up to 100 ids).
MAX_CALLS = 256


@dataclass(slots=True, eq=False)
class Call:
    """One call waiting in a batch: its key's digest, what it asks (per kind),
    and the future its answer is set on (None: to a thread)."""

    digest: str
    ask: Any
    answer: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# Answers a sealed batch: sets each call's future (a batch's runner).
Runner = Callable[["Batch"], Coroutine[Any, Any, None]]


class Batch:
    """The calls one statement answers; open until `seal`."""

    __slots__ = ("_coalescer", "calls")

    def __init__(self, coalescer: Coalescer) -> None:
        self.calls: list[Call] = []
        self._coalescer = coalescer

    def seal(self) -> None:
        """No call joins after this: call it right before sending the statement."""
        if self._coalescer.open is self:
            self._coalescer.open = None


class Coalescer:
    """Calls of one kind gathered into batches, each answered by `runner` in a
    task of its own (which first waits for a connection, then seals the batch)."""

    def __init__(self, runner: Runner, *, limit: int = MAX_CALLS) -> None:
        self.runner = runner
        self.limit = limit
        self.open: Batch | None = None
        self.batches = 0  # batches opened (for the tests)
        self._running: set[asyncio.Task[None]] = set()

    def ask(self, digest: str, ask: Any) -> asyncio.Future[Any]:
        """The future of a call's answer (its body, an exception, None: to a thread)."""
        batch = self.open
        if batch is None or len(batch.calls) >= self.limit:
            batch = self.open = Batch(self)
            self.batches += 1
            task = asyncio.create_task(self.runner(batch))
            self._running.add(task)
            task.add_done_callback(partial(self._ended, batch))
        call = Call(digest, ask)
        batch.calls.append(call)
        return call.answer

    def _ended(self, batch: Batch, task: asyncio.Task[None]) -> None:
        """Every call the runner left unanswered goes to a thread: it failed, or
        was cancelled (perhaps before it began, so here, not in the task)."""
        self._running.discard(task)
        batch.seal()
        if not task.cancelled() and task.exception() is not None:
            log.error("a coalesced read failed", exc_info=task.exception())
        for call in batch.calls:
            settle(call.answer, None)

    def cancel(self) -> None:
        """Stop every batch (at shutdown): their calls go to a thread."""
        for task in list(self._running):
            task.cancel()
