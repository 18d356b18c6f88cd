"""PostgreSQL's loop reads coalesced (loop_pg_batch.py): calls gathered into one
statement get the answers a thread gives each alone; a call never gets its
answer from a statement that began before it arrived (a key revoked, an
account suspended, is refused on the very next call); a batch is bounded; a
failure sends every call of the batch to a thread; shutdown settles them."""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from smmpanel.accounts.models import SUSPENDED
from smmpanel.accounts.service import rotate_api_key, set_account_options, set_currency_rate
from smmpanel.api_v2 import loop_pg_batch, loop_reads_pg
from smmpanel.api_v2.app import answer_of
from smmpanel.api_v2.loop_reads_pg import PgLoopReads
from smmpanel.db import Database
from tests.factories import make_customer, make_order, make_service

T = TypeVar("T")
BALANCE = b'{"balance":"100.00000","currency":"USD"}'
REFUSED = b'{"error":"Invalid API key"}'


@pytest.fixture(autouse=True)
def _patient_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch waits for a connection up to 5 s, not 50 ms: on a loaded machine
    a connection opened or given back late would send a call to a thread."""
    monkeypatch.setattr(loop_reads_pg, "FREE_WAIT_SECONDS", 5.0)


def _on_loop(db: Database, scenario: Callable[[PgLoopReads], Awaitable[T]], size: int = 2) -> T:
    """`scenario` run with the loop reads of `db` (closed after it)."""

    async def run() -> T:
        reads = PgLoopReads(db, size=size)
        try:
            return await scenario(reads)
        finally:
            await reads.aclose()

    return asyncio.run(run())


async def _body(reads: PgLoopReads, params: dict[str, str]) -> bytes | None:
    """The loop's answer's bytes (None: left to a thread)."""
    response = await reads.answer(params.get("action", ""), params)
    return None if response is None else bytes(response.body)


def _batches(reads: PgLoopReads, name: str) -> int:
    return reads._kinds[name][1].batches


async def _warm(reads: PgLoopReads, key: str) -> None:
    """A connection open and the statements prepared on it."""
    for action in ("balance", "services", "status"):
        await _body(reads, {"key": key, "action": action, "order": "1"})


def test_a_coalesced_batch_answers_each_call_as_a_thread_does(postgres_db: Database) -> None:
    service = make_service(postgres_db, min_quantity=1)
    alice = make_customer(postgres_db)
    bob = make_customer(postgres_db, "bob", balance="7")
    set_currency_rate(postgres_db, code="EUR", rate="0.9")
    carol = make_customer(postgres_db, "carol", currency="EUR", balance="3")
    mine = [
        make_order(postgres_db, alice, service, quantity=q, link=f"https://x.com/{q}")
        for q in (1, 2, 3)
    ]
    theirs = make_order(postgres_db, bob, service, quantity=5, link="https://x.com/bob")
    auto = make_service(postgres_db, type="Subscriptions", min_quantity=10, max_quantity=100)
    subscription = make_order(
        postgres_db, alice, auto, quantity=None, username="a", min="10", max="50"
    )
    set_account_options(postgres_db, username="carol", status=SUSPENDED)
    answer_of(postgres_db, {"key": alice.key, "action": "services"})  # alice's list kept
    dave = make_customer(postgres_db, "dave", currency="EUR", balance="2")
    a, b, c = alice.key, bob.key, carol.key
    bodies = [
        *({"key": k, "action": "balance"} for k in (a, b, c, "wrong", a, dave.key)),
        {"action": "balance"},
        *({"key": k, "action": "services"} for k in (a, b, c, "wrong", a)),
        {"key": a, "action": "status", "order": str(mine[0])},
        {"key": a, "action": "status", "order": str(theirs)},  # bob's: not shown
        {"key": b, "action": "status", "order": str(theirs)},
        {"key": b, "action": "status", "orders": f"{mine[0]},{theirs},x,999"},
        {"key": a, "action": "status", "orders": f"{mine[2]},{theirs},{mine[1]},999,x"},
        {"key": a, "action": "status", "orders": f"{mine[1]},{subscription}"},  # a thread's
        {"key": a, "action": "status", "order": "x"},
        {"key": a, "action": "status", "orders": ",".join(["1"] * 101)},
        {"key": "wrong", "action": "status", "orders": ",".join(["1"] * 101)},
        {"key": c, "action": "status", "order": str(mine[0])},
        {
            "key": a,
            "action": "status",
            "orders": ",".join(str(i) for i in range(1, 102) if i != subscription),
        },
    ]
    threads = [bytes(answer_of(postgres_db, dict(body)).body) for body in bodies]

    async def gathered(reads: PgLoopReads) -> tuple[list[bytes | None], dict[str, int]]:
        await _warm(reads, alice.key)
        before = {name: _batches(reads, name) for name in ("balance", "services", "status")}
        found = await asyncio.gather(*(_body(reads, body) for body in bodies))
        return found, {name: _batches(reads, name) - n for name, n in before.items()}

    on_loop, batches = _on_loop(postgres_db, gathered)
    assert batches == {"balance": 1, "services": 1, "status": 1}  # one statement each
    # To a thread: a subscription among the orders (a `services` list is kept).
    assert [n for n, body in enumerate(on_loop) if body is None] == [17]
    assert [body for body in on_loop if body is not None] == [
        body for n, body in enumerate(threads) if n != 17
    ]
    assert on_loop[0] == on_loop[4] == b'{"balance":"99.99460","currency":"USD"}'
    assert on_loop[1] == b'{"balance":"6.99550","currency":"USD"}'  # 7 less an order
    assert on_loop[5] == b'{"balance":"2.00000","currency":"EUR"}'
    assert [on_loop[n] for n in (2, 3, 6, 9, 10, 20, 21)] == [REFUSED] * 7
    not_found = b'{"error":"Incorrect order ID"}'
    assert on_loop[13] == on_loop[18] == not_found
    assert on_loop[12] is not None and b'"status":"Pending"' in on_loop[12]
    assert on_loop[14] is not None and b'"status":"Pending"' in on_loop[14]
    assert on_loop[15] is not None and on_loop[15].startswith(b'{"%d":%s' % (mine[0], not_found))
    assert on_loop[16] is not None and b'"%d":%s' % (theirs, not_found) in on_loop[16]
    assert on_loop[7] == on_loop[8] == on_loop[11] and (on_loop[7] or b"").startswith(b"[")
    assert (on_loop[22] or b"").count(b'"status":"Pending"') == 3  # alice's, not bob's


@pytest.mark.parametrize("change", ["revoke the key", "suspend the account"])
def test_a_call_arriving_while_a_statement_is_in_flight_waits_for_the_next(
    postgres_db: Database, change: str
) -> None:
    alice = make_customer(postgres_db)
    body = {"key": alice.key, "action": "balance"}

    async def scenario(reads: PgLoopReads) -> tuple[bytes | None, bytes | None]:
        await _warm(reads, alice.key)
        connection = reads._idle[-1]  # the one connection (size 1)
        assert b"smmpanel_loop_balance" in connection._prepared
        awaited = connection._results
        second: list[asyncio.Task[bytes | None]] = []

        async def in_flight() -> Any:
            """Right after the first statement was sent, before its answer is
            read: the statement has run on the server (its answer waits on the
            socket), then the key changes, then the second call arrives."""
            if not second:
                assert select.select([connection.pgconn.socket], [], [], 5)[0]
                if change == "revoke the key":
                    rotate_api_key(postgres_db, username="alice")
                else:
                    set_account_options(postgres_db, username="alice", status=SUSPENDED)
                second.append(asyncio.create_task(_body(reads, body)))
                for _ in range(3):  # the second call asks (no I/O) while this one waits
                    await asyncio.sleep(0)
            return await awaited()

        connection._results = in_flight  # type: ignore[method-assign]
        first = await _body(reads, body)
        return first, await second[0]

    first, second = _on_loop(postgres_db, scenario, size=1)
    assert first == BALANCE  # read before the change
    assert second == REFUSED  # arrived after it: never answered by the first statement


def test_a_batch_answers_at_most_max_calls(postgres_db: Database) -> None:
    assert loop_pg_batch.MAX_CALLS == 256
    alice = make_customer(postgres_db)
    body = {"key": alice.key, "action": "balance"}

    async def burst(reads: PgLoopReads) -> tuple[list[bytes | None], int]:
        await _warm(reads, alice.key)
        before = _batches(reads, "balance")
        found = await asyncio.gather(*(_body(reads, body) for _ in range(300)))
        return found, _batches(reads, "balance") - before

    found, batches = _on_loop(postgres_db, burst)
    assert batches == 2  # 256, then 44
    assert found == [BALANCE] * 300


def test_a_failed_batch_sends_every_call_to_a_thread(postgres_db: Database) -> None:
    alice = make_customer(postgres_db)
    body = {"key": alice.key, "action": "status", "order": "1"}

    async def killed(reads: PgLoopReads) -> tuple[list[bytes | None], bool]:
        await _warm(reads, alice.key)
        with postgres_db.engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'smmpanel-loop-reads' "
                    "AND datname = current_database()"
                )
            )
        await asyncio.sleep(0.1)
        found = await asyncio.gather(*(_body(reads, body) for _ in range(5)))
        return found, reads._resting_until > time.monotonic()

    found, resting = _on_loop(postgres_db, killed)
    assert found == [None] * 5
    assert resting


def test_shutdown_sends_the_waiting_calls_to_a_thread(postgres_db: Database) -> None:
    alice = make_customer(postgres_db)
    body = {"key": alice.key, "action": "balance"}

    async def closing(reads: PgLoopReads) -> list[bytes | None]:
        await _warm(reads, alice.key)
        waiting = [asyncio.create_task(_body(reads, body)) for _ in range(3)]
        await asyncio.sleep(0)  # the calls are in a batch, not yet run
        await reads.aclose()
        return list(await asyncio.wait_for(asyncio.gather(*waiting), 5))

    assert _on_loop(postgres_db, closing) == [None] * 3


def test_with_replicas_only_balance_is_read_on_the_loop(postgres_db: Database) -> None:
    alice = make_customer(postgres_db)
    with_replicas = Database(postgres_db.url, replica_urls=[postgres_db.url])

    async def each(reads: PgLoopReads) -> list[bytes | None]:
        return [
            await _body(reads, {"key": alice.key, "action": action, "order": "1"})
            for action in ("balance", "services", "status")
        ]

    try:
        assert _on_loop(with_replicas, each) == [BALANCE, None, None]
    finally:
        with_replicas.dispose()
