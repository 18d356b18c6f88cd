"""`add` by group commit: calls that arrive together are placed in one
transaction, each in its own savepoint, and every caller gets exactly the
answer a lone `add` would have given it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from smmpanel.api_v2.app import ApiEndpoint, answer_of, create_app
from smmpanel.api_v2.group_add import AddCommitter
from smmpanel.db import Database, TransactionDoomed, transaction
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.orders.group_commit import run_batch
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order
from smmpanel.server import serve_in_thread
from tests.api.helpers import TRANSPORTS, answer, assert_ledger_consistent, balance_text, send
from tests.factories import make_customer, make_service

NO_FUNDS = {"error": "Not enough funds on balance"}
DUPLICATE = {
    "error": "You have active order with this link. Please wait until order being completed."
}
BAD_SERVICE = {"error": "Incorrect service ID"}
TOO_FEW = {"error": "Quantity less than minimal 10"}
BAD_KEY = {"error": "Invalid API key"}


def _committer(app: Any) -> AddCommitter:
    endpoint = next(r.endpoint for r in app.routes if isinstance(r.endpoint, ApiEndpoint))
    committer: AddCommitter = endpoint.adds
    return committer


@pytest.fixture
def served(db: Database) -> Iterator[tuple[str, AddCommitter]]:
    app = create_app(db)
    with serve_in_thread(app) as url:
        yield url, _committer(app)


def _all_at_once(calls: list[dict[str, Any]], url: str) -> list[Any]:
    """Send every call from its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> Any:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait(timeout=30)
            return answer(send(client, TRANSPORTS[i % 3], {"action": "add", **calls[i]}))

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, range(len(calls))))


def _orders(db: Database) -> dict[int, Order]:
    with db.read() as session:
        return {o.id: o for o in session.scalars(select(Order))}


def test_a_mixed_batch_answers_every_caller_its_own(
    db: Database, served: tuple[str, AddCommitter]
) -> None:
    url, committer = served
    make_service(db, rate="1", min_quantity=10)  # 100 units cost 0.10000
    alice = make_customer(db, "alice", balance="100")
    bob = make_customer(db, "bob", balance="0.35")  # pays for 3 orders of 100
    good = [
        {"key": alice.key, "service": 1, "link": f"https://x.com/a{i}", "quantity": 100}
        for i in range(12)
    ]
    bad = [
        {"key": alice.key, "service": 99, "link": "https://x.com/u", "quantity": 100},
        {"key": alice.key, "service": 1, "link": "https://x.com/q", "quantity": 5},
        {"key": "not-a-key", "service": 1, "link": "https://x.com/k", "quantity": 100},
        {"service": 1, "link": "https://x.com/nokey", "quantity": 100},  # no key at all
        {"key": "k" * 500, "service": 1, "link": "https://x.com/long", "quantity": 100},
    ]
    overdraft = [
        {"key": bob.key, "service": 1, "link": f"https://x.com/b{i}", "quantity": 100}
        for i in range(8)
    ]
    repeated = [
        {"key": alice.key, "service": 1, "link": "https://x.com/r", "quantity": 100,
         "request_id": "same-1"}
    ] * 5  # fmt: skip
    duplicate = [
        {"key": alice.key, "service": 1, "link": "https://x.com/dup", "quantity": 200}
    ] * 5  # fmt: skip
    calls = good + bad + overdraft + repeated + duplicate
    got = _all_at_once(calls, url)
    by_kind = iter(got)

    def take(n: int) -> list[Any]:
        return [next(by_kind) for _ in range(n)]

    good_got, bad_got = take(len(good)), take(len(bad))
    overdraft_got, repeated_got, duplicate_got = take(8), take(5), take(5)
    assert committer.batch_sizes.calls == len(calls)
    assert max(committer.batch_sizes.counts) > 1, committer.batch_sizes.summary()

    assert all(set(a) == {"order"} for a in good_got)
    assert bad_got == [BAD_SERVICE, TOO_FEW, BAD_KEY, BAD_KEY, BAD_KEY]
    placed_bob = [a for a in overdraft_got if a != NO_FUNDS]
    assert len(placed_bob) == 3 and all(set(a) == {"order"} for a in placed_bob)
    assert len({a["order"] for a in repeated_got}) == 1 and set(repeated_got[0]) == {"order"}
    assert sorted(duplicate_got, key=str).count(DUPLICATE) == 4
    placed_dup = [a for a in duplicate_got if a != DUPLICATE]
    assert len(placed_dup) == 1

    # Every order answered is the caller's own: its account, link and quantity.
    orders = _orders(db)
    answered = [(call, a["order"]) for call, a in zip(calls, got, strict=True) if "order" in a]
    assert {order_id for _, order_id in answered} == set(orders)
    for call, order_id in answered:
        order = orders[order_id]
        assert order.account_id == (bob.id if call["key"] == bob.key else alice.id)
        assert (order.link, order.quantity) == (call["link"], call["quantity"])
    assert len(orders) == 12 + 3 + 1 + 1
    charges = Counter(o.account_id for o in orders.values())
    assert charges == {alice.id: 14, bob.id: 3}
    assert balance_text(db, alice.id) == "98.50000"  # 13 orders of 0.10, one of 0.20
    assert balance_text(db, bob.id) == "0.05000"
    assert_ledger_consistent(db)


def test_batches_form_under_load_and_keep_the_balance(
    db: Database, served: tuple[str, AddCommitter]
) -> None:
    """Rounds of simultaneous calls from one account that can pay for only
    some: batches of more than one, never an overdraft."""
    url, committer = served
    make_service(db, rate="1", min_quantity=10)
    customer = make_customer(db, balance="2.05")  # 20 orders of 100
    calls = [
        {"key": customer.key, "service": 1, "link": f"https://x.com/{i}", "quantity": 100}
        for i in range(40)
    ]
    got = _all_at_once(calls, url)
    assert sum(a == NO_FUNDS for a in got) == 20
    assert len({a["order"] for a in got if "order" in a}) == 20
    assert max(committer.batch_sizes.counts) > 1, committer.batch_sizes.summary()
    assert balance_text(db, customer.id) == "0.05000"
    assert_ledger_consistent(db)


def test_a_failed_command_leaves_the_batch_whole(db: Database) -> None:
    """In-process: a refusal after writes, a bug, and a command that swallows
    a joined failure each lose only their own work."""
    make_service(db, rate="1", min_quantity=10)
    customer = make_customer(db, balance="0.25")

    def order(link: str, quantity: int = 100) -> Callable[[Session], int]:
        def run(session: Session) -> int:
            placed = place_order(
                session,
                account_id=customer.id,
                service_id=1,
                params={"link": link, "quantity": quantity},
            )
            return placed.order_id

        return run

    def bug(session: Session) -> int:
        order("https://x.com/bug")(session)  # written, then undone with its savepoint
        raise RuntimeError("a bug")

    def swallows(session: Session) -> int:
        try:
            with transaction(session):
                order("https://x.com/swallowed")(session)
                raise InsufficientFunds("refused after writing")
        except InsufficientFunds:
            return 0

    outcomes = run_batch(
        db,
        [
            order("https://x.com/1"),
            bug,
            swallows,
            order("https://x.com/2"),
            order("https://x.com/3"),  # no money left
            order("https://x.com/1"),  # the link is taken by the first
        ],
    )
    first, second = outcomes[0].value, outcomes[3].value
    assert isinstance(first, int) and isinstance(second, int)
    assert isinstance(outcomes[1].error, RuntimeError)
    assert isinstance(outcomes[2].error, TransactionDoomed)
    assert type(outcomes[4].error).__name__ == "InsufficientFunds"
    assert type(outcomes[5].error).__name__ == "ActiveOrderExists"
    orders = _orders(db)
    assert {o.id: o.link for o in orders.values()} == {
        first: "https://x.com/1",
        second: "https://x.com/2",
    }
    assert balance_text(db, customer.id) == "0.05000"
    assert_ledger_consistent(db)


def test_a_batch_that_cannot_begin_answers_503_to_every_caller(sqlite_db: Database) -> None:
    """SQLite's write lock held elsewhere longer than the busy timeout: the batch
    that waits for it and the calls queued behind it all get a lone add's 503,
    and nothing is placed."""
    make_service(sqlite_db, rate="1", min_quantity=10)
    customer = make_customer(sqlite_db)
    impatient = Database(sqlite_db.url, busy_timeout=0.5)
    app = create_app(impatient)
    blocker = sqlite_db.engine.connect()
    holding = blocker.begin()  # BEGIN IMMEDIATE: the write lock
    try:
        with serve_in_thread(app) as url:
            calls = [
                {"key": customer.key, "service": 1, "link": f"https://x.com/{i}", "quantity": 100}
                for i in range(6)
            ]
            barrier = threading.Barrier(len(calls))

            def run(i: int) -> httpx.Response:
                with httpx.Client(base_url=url, timeout=60) as client:
                    barrier.wait(timeout=30)
                    return send(client, "form", {"action": "add", **calls[i]})

            with ThreadPoolExecutor(max_workers=len(calls)) as pool:
                got = list(pool.map(run, range(len(calls))))
    finally:
        holding.rollback()
        blocker.close()
        impatient.dispose()
    assert [r.status_code for r in got] == [503] * len(calls)
    assert all(r.json()["error"] == "Service temporarily unavailable" for r in got)
    assert all("nothing was done" in r.json()["detail"] for r in got)
    with sqlite_db.read() as session:
        assert session.execute(text("select count(*) from orders")).scalar_one() == 0
    assert balance_text(sqlite_db, customer.id) == "100.00000"


def test_a_locked_database_fails_the_batch_once(sqlite_db: Database) -> None:
    """The batch begins before its first command: a database locked longer than
    the busy timeout fails the whole batch, not each command after a wait."""
    impatient = Database(sqlite_db.url, busy_timeout=0.2)
    blocker = sqlite_db.engine.connect()
    holding = blocker.begin()  # BEGIN IMMEDIATE: the write lock
    ran: list[Session] = []
    try:
        with pytest.raises(OperationalError, match="locked"):
            run_batch(impatient, [ran.append] * 3)
    finally:
        holding.rollback()
        blocker.close()
        impatient.dispose()
    assert ran == []


def test_a_batch_chosen_as_a_deadlock_victim_runs_again(postgres_db: Database) -> None:
    """Two batches lock two balances in opposite orders (a status sync's batch
    of refunds and an add batch can): PostgreSQL fails one of them, which is
    rolled back whole and run again; every order is placed exactly once."""
    db = postgres_db
    make_service(db, rate="1", min_quantity=10)
    alice = make_customer(db, "alice", balance="1")
    bob = make_customer(db, "bob", balance="1")
    both_hold_one = threading.Barrier(2, timeout=10)
    runs: Counter[str] = Counter()

    def order(account_id: int, link: str, meet: bool = False) -> Callable[[Session], int]:
        def run(session: Session) -> int:
            runs[link] += 1
            placed = place_order(
                session, account_id=account_id, service_id=1, params={"link": link, "quantity": 100}
            )
            if meet and runs[link] == 1:  # the first run only: then each holds one balance
                both_hold_one.wait()
            return placed.order_id

        return run

    batches = [
        [order(alice.id, "https://x.com/a1", meet=True), order(bob.id, "https://x.com/b1")],
        [order(bob.id, "https://x.com/b2", meet=True), order(alice.id, "https://x.com/a2")],
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda commands: run_batch(db, commands), batches))
    assert all(outcome.error is None for outcomes in results for outcome in outcomes), results
    assert sorted(runs.values()) == [1, 1, 2, 2]  # the victim's two commands ran twice
    assert sorted(o.link for o in _orders(db).values()) == [
        "https://x.com/a1", "https://x.com/a2", "https://x.com/b1", "https://x.com/b2"
    ]  # fmt: skip
    assert balance_text(db, alice.id) == balance_text(db, bob.id) == "0.80000"
    assert_ledger_consistent(db)


def test_a_call_no_batch_takes_in_time_is_answered_503_and_never_placed(
    sqlite_db: Database,
) -> None:
    """The write gate held past the busy timeout: the waiting call is answered
    503 at the timeout, and the batch that runs once the gate is free leaves
    it out (its caller was told nothing was done)."""
    make_service(sqlite_db, rate="1", min_quantity=10)
    customer = make_customer(sqlite_db, balance="10")
    impatient = Database(sqlite_db.url, busy_timeout=0.3)
    params = {"key": customer.key, "action": "add", "service": "1", "link": "https://x.com/a",
              "quantity": "100"}  # fmt: skip

    async def scenario() -> tuple[Any, float, Any]:
        gate = anyio.CapacityLimiter(1)
        committer = AddCommitter(
            impatient, answer=answer_of, gate=gate, threads=anyio.CapacityLimiter(2)
        )
        await gate.acquire()  # a batch of someone else's, running long
        started = time.monotonic()
        refused = await committer.add(params)
        waited = time.monotonic() - started
        gate.release()
        placed = await committer.add({**params, "link": "https://x.com/b"})
        return refused, waited, placed

    refused, waited, placed = asyncio.run(scenario())
    assert refused.status_code == 503 and b"nothing was done" in bytes(refused.body)
    assert 0.25 < waited < 2
    assert json.loads(bytes(placed.body)) == {"order": 1}
    assert [o.link for o in _orders(sqlite_db).values()] == ["https://x.com/b"]


def test_calls_queued_at_different_times_each_wait_their_own_timeout(
    sqlite_db: Database,
) -> None:
    """One timer serves the queue (AddCommitter._sweep): each waiting call is
    answered 503 at its own deadline, not at the first one's nor much later,
    and a call that came after them is placed once the gate is free."""
    make_service(sqlite_db, rate="1", min_quantity=10)
    customer = make_customer(sqlite_db, balance="10")
    impatient = Database(sqlite_db.url, busy_timeout=0.4)
    params = {"key": customer.key, "action": "add", "service": "1", "quantity": "100"}

    async def scenario() -> tuple[list[tuple[int, float]], Any]:
        gate = anyio.CapacityLimiter(1)
        committer = AddCommitter(
            impatient, answer=answer_of, gate=gate, threads=anyio.CapacityLimiter(2)
        )
        await gate.acquire()  # a batch of someone else's, running long
        started = time.monotonic()

        async def call(link: str, after: float) -> tuple[int, float]:
            await asyncio.sleep(after)
            answered = await committer.add({**params, "link": link})
            return answered.status_code, time.monotonic() - started

        waited = list(
            await asyncio.gather(call("https://x.com/a", 0), call("https://x.com/b", 0.25))
        )
        gate.release()
        placed = await committer.add({**params, "link": "https://x.com/c"})
        return waited, placed

    waited, placed = asyncio.run(scenario())
    (first, first_at), (second, second_at) = waited
    assert first == second == 503
    assert 0.35 < first_at < 0.55  # its own 0.4 s
    assert 0.6 < second_at < 0.85  # 0.25 + 0.4 s: not answered with the first
    assert json.loads(bytes(placed.body)) == {"order": 1}
    assert [o.link for o in _orders(sqlite_db).values()] == ["https://x.com/c"]


def _holding_the_turn(db: Database, release: threading.Event) -> threading.Thread:
    """Another writer of `db` (a thread with the writers' turn) until `release`."""
    held = threading.Event()

    def hold() -> None:
        with db.writer_turn():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    return holder


def test_calls_that_come_while_another_writer_has_the_turn_join_one_batch(
    sqlite_db: Database,
) -> None:
    """SQLite: a batch is taken once its thread has the writers' turn, so the
    calls that arrived while another writer (another process) wrote are all
    in it, rather than the first alone and the rest in the next batch."""
    make_service(sqlite_db, rate="1", min_quantity=10)
    customer = make_customer(sqlite_db, balance="10")
    calls = [
        {"key": customer.key, "action": "add", "service": "1", "link": f"https://x.com/{n}",
         "quantity": "100"}
        for n in range(6)
    ]  # fmt: skip
    release = threading.Event()

    async def scenario() -> tuple[list[Any], AddCommitter]:
        committer = AddCommitter(
            sqlite_db,
            answer=answer_of,
            gate=anyio.CapacityLimiter(1),
            threads=anyio.CapacityLimiter(2),
        )
        pending = [asyncio.ensure_future(committer.add(calls[0]))]
        await asyncio.sleep(0.2)  # its batch is waiting for the turn
        pending += [asyncio.ensure_future(committer.add(params)) for params in calls[1:]]
        await asyncio.sleep(0.2)  # the others queued behind it
        release.set()
        return list(await asyncio.gather(*pending)), committer

    holder = _holding_the_turn(sqlite_db, release)
    try:
        answers, committer = asyncio.run(scenario())
    finally:
        release.set()
        holder.join(10)
    assert [json.loads(bytes(a.body)) for a in answers] == [{"order": n} for n in range(1, 7)]
    assert committer.batch_sizes.counts == Counter({6: 1})
    assert balance_text(sqlite_db, customer.id) == "9.40000"


def test_a_batch_that_never_gets_the_turn_answers_503_and_places_nothing(
    sqlite_db: Database,
) -> None:
    make_service(sqlite_db, rate="1", min_quantity=10)
    customer = make_customer(sqlite_db, balance="10")
    impatient = Database(sqlite_db.url, busy_timeout=0.3)
    release = threading.Event()

    async def scenario() -> list[Any]:
        committer = AddCommitter(
            impatient,
            answer=answer_of,
            gate=anyio.CapacityLimiter(1),
            threads=anyio.CapacityLimiter(2),
        )
        calls = [
            {"key": customer.key, "action": "add", "service": "1", "link": f"https://x.com/{n}",
             "quantity": "100"}
            for n in range(4)
        ]  # fmt: skip
        return list(await asyncio.gather(*(committer.add(params) for params in calls)))

    holder = _holding_the_turn(impatient, release)
    try:
        answers = asyncio.run(scenario())
    finally:
        release.set()
        holder.join(10)
        impatient.dispose()
    assert [a.status_code for a in answers] == [503] * 4
    assert all(b"nothing was done" in bytes(a.body) for a in answers)
    assert _orders(sqlite_db) == {}
    assert balance_text(sqlite_db, customer.id) == "10.00000"
