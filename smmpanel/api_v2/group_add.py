"""`add` by group commit: the calls of one process that arrive while a batch
commits are placed together in the next one (orders/group_commit.py), as a
database's group commit does with its log writes.

One batch runs at a time, in a worker thread, behind the write gate like any
write.  The first call finds no batch running and is placed at once (no
waiting for company); the calls that arrive meanwhile queue, and the next
batch takes up to MAX_BATCH of them.  Each caller is answered only after the
COMMIT that holds its order, with exactly the answer a lone `add` gives: its
order, its own refusal, or, when the batch could not begin or commit, the 503
of a lone `add` that met the same failure.  A call that waits longer than the
database's busy timeout without joining a batch is taken out of the queue and
answered 503 with nothing done, as a call that waits that long at the gate.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.orm import Session
from starlette.responses import Response

from smmpanel.accounts.queries import key_digest, lock_balances_of_keys, principal_of
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import Json, add_in
from smmpanel.api_v2.errors import error_body
from smmpanel.api_v2.params import text_param
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.orders.group_commit import MAX_BATCH, Outcome, run_batch
from smmpanel.orders.offers import Offers

log = logging.getLogger("smmpanel.api")

# app.answer_of: the answer of `run` (handle's part), every failure answered in JSON.
Answerer = Callable[..., Response]


@dataclass(eq=False)
class _Call:
    params: dict[str, Any]
    future: asyncio.Future[Response]
    # Taken into a batch (then it is answered after the batch), or given up
    # waiting (then no batch takes it).
    taken: bool = False
    abandoned: bool = False


@dataclass
class BatchSizes:
    """How many orders each batch held: a count per size, for the benchmark and
    for metrics."""

    counts: Counter[int] = field(default_factory=Counter)

    def record(self, size: int) -> None:
        self.counts[size] += 1

    @property
    def batches(self) -> int:
        return sum(self.counts.values())

    @property
    def calls(self) -> int:
        return sum(size * n for size, n in self.counts.items())

    def summary(self) -> str:
        if not self.counts:
            return "no batches"
        mean = self.calls / self.batches
        sizes = " ".join(f"{size}:{n}" for size, n in sorted(self.counts.items()))
        return (
            f"{self.batches} batches, {self.calls} calls, mean {mean:.1f}, "
            f"max {max(self.counts)}; size:batches {sizes}"
        )


class AddCommitter:
    """The group committer of one process's `add` calls."""

    def __init__(
        self,
        db: Database,
        *,
        answer: Answerer,
        gate: CapacityLimiter,
        threads: CapacityLimiter,
        max_batch: int = MAX_BATCH,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """`on_batch`: told each committed batch's size (the metrics)."""
        self.db = db
        self.on_batch = on_batch
        self.answer = answer
        self.gate = gate
        self.threads = threads
        self.max_batch = max_batch
        self.batch_sizes = BatchSizes()
        self._queue: deque[_Call] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def add(self, params: dict[str, Any]) -> Response:
        """The answer of one `add` call, after the commit of its batch."""
        loop = asyncio.get_running_loop()
        call = _Call(params, loop.create_future())
        self._queue.append(call)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        try:
            return await asyncio.wait_for(asyncio.shield(call.future), self.db.busy_timeout)
        except TimeoutError:
            if not call.taken:
                call.abandoned = True
                return answers.database_unavailable(self.db.busy_timeout)
            return await call.future

    async def _drain(self) -> None:
        """Run batches until no call waits."""
        while self._queue:
            await self.gate.acquire()
            try:
                batch = self._take()
                if batch:
                    await self._run(batch)
            finally:
                self.gate.release()

    def _take(self) -> list[_Call]:
        batch: list[_Call] = []
        while self._queue and len(batch) < self.max_batch:
            call = self._queue.popleft()
            if not call.abandoned:
                call.taken = True
                batch.append(call)
        return batch

    async def _run(self, batch: list[_Call]) -> None:
        # Calls in the order they came: the batch locks its balances first, in
        # account order (_BatchReads.prepare), so no two batches deadlock over them.
        try:
            responses = await anyio.to_thread.run_sync(
                batch_answers, self.db, [c.params for c in batch], self.answer, limiter=self.threads
            )
        except BaseException:
            for call in batch:  # cancelled (shutdown): nobody waits forever
                if not call.future.done():
                    call.future.set_result(answers.server_error())
            raise
        self.batch_sizes.record(len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch))
        for call, response in zip(batch, responses, strict=True):
            if not call.future.done():
                call.future.set_result(response)


def batch_answers(db: Database, calls: list[dict[str, Any]], answer: Answerer) -> list[Response]:
    """The answers of a batch of `add` calls (in a worker thread)."""
    try:
        digests = [_digest_of(params) for params in calls]
        reads = _BatchReads([digest for digest in digests if digest is not None])
        outcomes = run_batch(
            db,
            [
                functools.partial(_add, params, digest, reads)
                for params, digest in zip(calls, digests, strict=True)
            ],
            prepare=reads.prepare,
        )
    except Exception as error:
        # Not begun, or not committed: every caller gets a lone add's answer to
        # the same failure (logged once per caller, as lone calls would be).
        return [answer(db, params, run=_raising(error)) for params in calls]
    return [
        answer(db, params, run=_given(outcome))
        for params, outcome in zip(calls, outcomes, strict=True)
    ]


class _BatchReads:
    """What a batch reads once for all of its calls, in its transaction: the
    key check of each key (in the statement that locks their balances) and
    the offers of services (orders.offers).  No `add` writes keys, accounts'
    status, services, prices or settings, so each call sees what it would
    have read itself."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = digests
        self.keys: dict[str, Any] = {}
        self.offers = Offers()

    def prepare(self, session: Session) -> None:
        """At the start of each run of the batch (again after a deadlock): the
        balances locked in account order, so that no two batches deadlock
        over them, and the keys checked."""
        self.offers.clear()
        self.keys = lock_balances_of_keys(session, self.digests)


def _digest_of(params: dict[str, Any]) -> str | None:
    """The call's key digest, None for a missing or malformed key (its command
    refuses it, with the answer a lone add would give)."""
    try:
        return key_digest(text_param(params, "key"))
    except DomainError:
        return None


def _add(params: dict[str, Any], digest: str | None, reads: _BatchReads, session: Session) -> Json:
    """One call of the batch, as `handle` runs a lone one (a key without a
    digest is refused here, with a lone add's answer)."""
    digest = digest or key_digest(text_param(params, "key"))
    return add_in(session, principal_of(reads.keys.get(digest), digest), params, reads.offers)


def _given(outcome: Outcome[Json]) -> Callable[..., Json]:
    def run(_db: Database, _params: dict[str, Any]) -> Json:
        if isinstance(outcome.error, DomainError):
            return error_body(outcome.error)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value

    return run


def _raising(error: Exception) -> Callable[..., Json]:
    def run(_db: Database, _params: dict[str, Any]) -> Json:
        raise error

    return run
