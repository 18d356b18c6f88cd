"""`add` by group commit: the calls of one process that arrive while a batch
commits are placed together in the next one (orders/group_commit.py), as a
database's group commit does with its log writes.  The plain orders of a
batch (most of them: no request_id, not a drip-feed or subscription) are
checked one by one and written together (orders/bulk_place.py); the others
are placed one by one in savepoints, in their place among them.

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
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.orm import Session
from starlette.responses import Response

from smmpanel.accounts.queries import (
    Principal,
    balances_of_keys,
    key_digest,
    lock_balances,
    principal_of,
)
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import Json, add_in, add_plan
from smmpanel.api_v2.errors import error_body
from smmpanel.api_v2.params import text_param
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.orders.bulk_place import write_plain_orders
from smmpanel.orders.group_commit import MAX_BATCH, Outcome, run_batch
from smmpanel.orders.offers import Offers
from smmpanel.orders.service import OrderPlan

log = logging.getLogger("smmpanel.api")

# How long a batch waits at most for the calls on their way (`_gather`): a
# quarter of the time the last batch took, at most GATHER_SECONDS, looking
# every GATHER_STEP_SECONDS.
GATHER_SECONDS = 0.004
GATHER_STEP_SECONDS = 0.0002

# app.answer_of: the answer of `run` (handle's part), every failure answered in JSON.
Answerer = Callable[..., Response]


@dataclass(eq=False)
class _Call:
    params: dict[str, Any]
    future: asyncio.Future[Response]
    # When it is answered 503 if no batch took it (the loop's clock).
    deadline: float
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
        self._taking = threading.Lock()  # _take and _sweep, on two threads
        self._drainer: asyncio.Task[None] | None = None
        self._last_size = 0
        self._last_took = 0.0  # seconds
        self._sweep_timer: asyncio.TimerHandle | None = None

    async def add(self, params: dict[str, Any]) -> Response:
        """The answer of one `add` call, after the commit of its batch."""
        loop = asyncio.get_running_loop()
        call = _Call(params, loop.create_future(), loop.time() + self.db.busy_timeout)
        self._queue.append(call)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        if self._sweep_timer is None:
            self._sweep_timer = loop.call_at(call.deadline, self._sweep)
        return await call.future

    def _sweep(self) -> None:
        """The busy timeout has passed for the calls at the head of the queue:
        those no batch took yet are answered 503 and left out of any batch;
        one taken waits for its batch's answer.  One timer for the queue, at
        its oldest call's deadline (calls queue in the order of their
        deadlines), not one per call: creating and cancelling a timer a call
        was ~10 % of the event loop's time of an `add` (cProfile)."""
        self._sweep_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        expired: list[_Call] = []
        next_deadline: float | None = None
        with self._taking:
            for call in self._queue:
                if call.deadline > now:
                    next_deadline = call.deadline
                    break
                if not call.taken and not call.abandoned:
                    call.abandoned = True
                    expired.append(call)
        for call in expired:
            if not call.future.done():
                call.future.set_result(answers.database_unavailable(self.db.busy_timeout))
        if next_deadline is not None:
            self._sweep_timer = loop.call_at(next_deadline, self._sweep)

    async def _drain(self) -> None:
        """Run batches until no call waits."""
        while self._queue:
            await self.gate.acquire()
            try:
                await self._gather()
                await self._run_next()
            finally:
                self.gate.release()

    async def _gather(self) -> None:
        """Under load, let the calls on their way join the next batch: while
        fewer wait than half the last batch held, wait (the loop reads the
        requests that come in) up to a quarter of the time the last batch took,
        GATHER_SECONDS at most.  A batch costs ~1 ms on SQLite and several on
        PostgreSQL before its first order (measured: its BEGIN, locks, COMMIT
        and round trips): answering the callers of a full batch, then placing
        the one call that came meanwhile alone, then the rest, paid it twice
        (batches alternated 1 and 31 calls under 32 clients).  A lone caller
        (the last batch held one) never waits."""
        loop = asyncio.get_running_loop()
        wanted = self._last_size // 2  # a batch holds max_batch at most
        if len(self._queue) >= wanted:
            return
        deadline = loop.time() + min(GATHER_SECONDS, self._last_took / 4)
        await asyncio.sleep(0)
        while len(self._queue) < wanted and loop.time() < deadline:
            await asyncio.sleep(GATHER_STEP_SECONDS)

    def _take(self) -> list[_Call]:
        """The next batch, in the batch's thread (`_run_next`): under `_taking`,
        so that no call is both taken and given up (`_sweep`, on the loop)."""
        batch: list[_Call] = []
        with self._taking:
            while self._queue and len(batch) < self.max_batch:
                call = self._queue.popleft()
                if not call.abandoned:
                    call.taken = True
                    batch.append(call)
        self._last_size = len(batch)
        return batch

    async def _run_next(self) -> None:
        """The next batch, taken by its thread once it holds the writers' turn
        (SQLite: sqlite_turns.py; PostgreSQL has none), not before: the calls
        that came while another process wrote join it.  Taken before the
        wait, a batch of 2 processes held half the calls waiting (measured:
        7.8 orders a batch against 15.6), and its fixed cost (BEGIN, the reads
        of keys, balances and links, COMMIT: ~2 ms of CPU) was paid twice as
        often.  Taken in the thread, not by a call back to the loop, which may
        be busy with requests for milliseconds while the turn is held.  Calls
        in the order they came: the batch locks its balances first, in account
        order (_BatchReads.prepare), so no two batches deadlock over them."""
        taken: list[_Call] = []

        def in_turn() -> tuple[list[Response], float]:
            with ExitStack() as turn:
                failure: Exception | None = None
                try:
                    turn.enter_context(self.db.writer_turn())
                except Exception as error:  # waited past the busy timeout
                    failure = error
                taken.extend(self._take())
                calls = [call.params for call in taken]
                started = time.monotonic()
                outcomes = failure if failure is not None else batch_outcomes(self.db, calls)
                took = time.monotonic() - started
            # Rendered after the turn, which the other processes wait for.
            return answers_of(self.db, calls, outcomes, self.answer), took

        try:
            responses, took = await anyio.to_thread.run_sync(in_turn, limiter=self.threads)
        except BaseException:
            _answer_all(taken, answers.server_error())  # cancelled (shutdown)
            raise
        if taken:
            self._finish(taken, responses, took)

    def _finish(self, batch: list[_Call], responses: list[Response], took: float) -> None:
        self._last_took = took
        self.batch_sizes.record(len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch))
        for call, response in zip(batch, responses, strict=True):
            if not call.future.done():
                call.future.set_result(response)


def _answer_all(batch: list[_Call], response: Response) -> None:
    """Nobody waits for ever: the calls of a batch that was cancelled."""
    for call in batch:
        if not call.future.done():
            call.future.set_result(response)


def batch_answers(db: Database, calls: list[dict[str, Any]], answer: Answerer) -> list[Response]:
    """The answers of a batch of `add` calls (in a worker thread)."""
    return answers_of(db, calls, batch_outcomes(db, calls), answer)


def batch_outcomes(db: Database, calls: list[dict[str, Any]]) -> list[Outcome[Json]] | Exception:
    """The batch of `add` calls placed and committed: each call's outcome, or
    the error that failed the whole batch (not begun, or not committed)."""
    if not calls:  # every call waiting had given up: no transaction
        return []
    try:
        digests = [_digest_of(params) for params in calls]
        reads = _BatchReads([digest for digest in digests if digest is not None])
        return run_batch(
            db,
            [
                functools.partial(_add, params, digest, reads)
                for params, digest in zip(calls, digests, strict=True)
            ],
            prepare=reads.prepare,
            bulk=_AddBulk(calls, digests, reads),
            before_whole=reads.lock,
        )
    except Exception as error:
        return error


def answers_of(
    db: Database,
    calls: list[dict[str, Any]],
    outcomes: list[Outcome[Json]] | Exception,
    answer: Answerer,
) -> list[Response]:
    """Each call's answer: its outcome's, or, when the batch failed, a lone
    add's answer to the same failure (logged once per caller, as lone calls
    would be)."""
    if isinstance(outcomes, Exception):
        return [answer(db, params, run=_raising(outcomes)) for params in calls]
    return [
        answer(db, params, run=_given(outcome))
        for params, outcome in zip(calls, outcomes, strict=True)
    ]


class _AddBulk:
    """The batch's plain orders planned one by one, then written together
    (orders.bulk_place); the others are placed by `_add`."""

    def __init__(
        self, calls: list[dict[str, Any]], digests: list[str | None], reads: _BatchReads
    ) -> None:
        self.calls = calls
        self.digests = digests
        self.reads = reads

    def plan(self, index: int, session: Session) -> OrderPlan | None:
        params = self.calls[index]
        return add_plan(
            session, self.reads.principal(params, self.digests[index]), params, self.reads.offers
        )

    def write(self, session: Session, plans: list[OrderPlan]) -> list[Json | Exception]:
        balances = self.reads.take_balances()
        lock_first = self.reads.to_lock()
        return [
            found if isinstance(found, Exception) else {"order": found}
            for found in write_plain_orders(
                session, plans, balances=balances, lock_first=lock_first
            )
        ]


class _BatchReads:
    """What a batch reads once for all of its calls, in its transaction: the
    key check of each key (with its account's balance) and the offers of
    services (orders.offers).  No `add` writes keys, accounts' status,
    services, prices or settings, so each call sees what it would have read
    itself.

    The balances are locked, all in one statement and in account order (so
    that no two batches deadlock over them), right before the batch's first
    write: on PostgreSQL the batch's reads and planning then happen before
    its locks, and a batch of another process waits for them only while this
    one writes and commits (with one account, the batches of every process
    wait for each other).  SQLite's writer holds the whole database from its
    BEGIN IMMEDIATE: there the balances read first are as good as locked."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = digests
        self.keys: dict[str, Any] = {}
        self.offers = Offers()
        # The balances as locked, until a write may have changed them.
        self.balances: dict[int, int] | None = None
        self.locked = False

    def prepare(self, session: Session) -> None:
        """At the start of each run of the batch (again after a deadlock): the
        keys checked, and on SQLite the balances read."""
        self.offers.clear()
        self.locked = session.get_bind().dialect.name != "postgresql"
        self.keys = balances_of_keys(session, self.digests)
        self.balances = {row.id: row.balance for row in self.keys.values()} if self.locked else None

    def to_lock(self) -> list[int]:
        """The accounts to lock before the first write (then none: they are)."""
        if self.locked:
            return []
        self.locked = True
        return sorted({row.id for row in self.keys.values()})

    def lock(self, session: Session) -> None:
        """Before a call placed one by one (outside its savepoint, whose
        rollback would release them): the balances locked, if not yet."""
        lock_balances(session, self.to_lock())

    def take_balances(self) -> dict[int, int] | None:
        """The balances as locked, for the first write of the batch's run if
        no call was placed before it (a call placed one by one, or a write,
        changes them: then None, and the write reads them again).  Saves
        that read: one statement a batch."""
        balances, self.balances = self.balances, None
        return balances

    def spent(self) -> None:
        """A call is placed one by one: the balances may change."""
        self.balances = None

    def principal(self, params: dict[str, Any], digest: str | None) -> Principal:
        """The caller of a call whose key digest is `digest`, checked as a lone
        add checks it (a key without a digest is refused here, with a lone
        add's answer)."""
        digest = digest or key_digest(text_param(params, "key"))
        return principal_of(self.keys.get(digest), digest)


def _digest_of(params: dict[str, Any]) -> str | None:
    """The call's key digest, None for a missing or malformed key (its command
    refuses it, with the answer a lone add would give)."""
    try:
        return key_digest(text_param(params, "key"))
    except DomainError:
        return None


def _add(params: dict[str, Any], digest: str | None, reads: _BatchReads, session: Session) -> Json:
    """One call of the batch, as `handle` runs a lone one."""
    reads.spent()
    return add_in(session, reads.principal(params, digest), params, reads.offers)


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
