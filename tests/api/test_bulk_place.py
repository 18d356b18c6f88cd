"""A batch's plain orders written together (orders/bulk_place.py) leave exactly
what the same calls leave placed one after another by lone `add`s: the same
answers, orders, events, ledger entries, balances and forward jobs.

Each comparison builds two identical "worlds" (accounts and services of their
own) in one database: the calls go to one world as one batch, and to the other
one by one through `handle`; the two are then compared with their ids
replaced by their rank in their own world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smmpanel import db_bulk, db_pipeline
from smmpanel.api_v2 import group_add
from smmpanel.api_v2.app import answer_of, handle
from smmpanel.api_v2.group_add import batch_answers
from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders import bulk_place
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.simulator.testing import running_simulator
from tests.api.helpers import assert_ledger_consistent, balance_text
from tests.factories import (
    Customer,
    make_backed_service,
    make_customer,
    make_provider,
    make_service,
)
from tests.statements import statements_run

_worlds = count()


@dataclass
class World:
    """Two customers (one who can pay for few orders) and three services: a
    manual one, one forwarded to a provider, and one with drip-feed."""

    rich: Customer
    poor: Customer
    services: list[int]
    tag: str

    @property
    def customers(self) -> list[Customer]:
        return [self.rich, self.poor]


def _world(db: Database, provider: str) -> World:
    tag = f"w{next(_worlds)}"
    rich = make_customer(db, f"{tag}rich", balance="50")
    poor = make_customer(db, f"{tag}poor", balance="0.35")  # three orders of 100 at 1.00
    manual = make_service(db, rate="1", min_quantity=10)
    backed = make_backed_service(db, provider, rate="1", min_quantity=10)
    drip = make_service(db, rate="1", min_quantity=10, dripfeed=True)
    return World(rich, poor, [manual, backed, drip], tag)


# One call, as a test writes it: who, which service (an index into the world's,
# 3 = no such service), link number, quantity, request_id, drip-feed runs.
Call = tuple[int, int, int, int, str | None, int | None]


def _params(world: World, call: Call) -> dict[str, Any]:
    who, service, link, quantity, request_id, runs = call
    params: dict[str, Any] = {
        "key": world.customers[who].key,
        "action": "add",
        "service": str(world.services[service] if service < 3 else 999_999),
        "link": f"https://x.com/{world.tag}/{link}",
        "quantity": str(quantity),
    }
    if request_id is not None:
        params["request_id"] = request_id
    if runs is not None:
        params.update(runs=str(runs), interval="5")
    return params


def _batched(db: Database, world: World, calls: list[Call]) -> list[Any]:
    responses = batch_answers(db, [_params(world, call) for call in calls], answer_of)
    return [json.loads(bytes(response.body)) for response in responses]


def _one_by_one(db: Database, world: World, calls: list[Call]) -> list[Any]:
    return [handle(db, _params(world, call)) for call in calls]


def _state(db: Database, world: World, answers: list[Any]) -> dict[str, Any]:
    """What the calls left in `world`, its ids replaced by their rank in it."""
    accounts = [customer.id for customer in world.customers]
    with db.read() as session:
        orders = session.scalars(
            select(Order).where(Order.account_id.in_(accounts)).order_by(Order.id)
        ).all()
        rank = {order.id: n for n, order in enumerate(orders)}
        events = session.execute(
            select(
                OrderEvent.order_id,
                OrderEvent.from_status,
                OrderEvent.to_status,
                OrderEvent.from_forward,
                OrderEvent.to_forward,
                OrderEvent.actor,
            )
            .where(OrderEvent.order_id.in_(rank))
            .order_by(OrderEvent.id)
        ).all()
        entries = session.execute(
            select(
                LedgerEntry.account_id,
                LedgerEntry.kind,
                LedgerEntry.amount,
                LedgerEntry.balance_after,
                LedgerEntry.order_id,
                LedgerEntry.actor,
            )
            .where(LedgerEntry.account_id.in_(accounts), LedgerEntry.order_id.is_not(None))
            .order_by(LedgerEntry.id)
        ).all()
        causes = session.scalars(
            select(LedgerEntry.cause).where(LedgerEntry.order_id.in_(rank))
        ).all()
        jobs = session.execute(select(Job.kind, Job.payload, Job.dedupe_key, Job.status)).all()
    who = {account: n for n, account in enumerate(accounts)}
    service = {service_id: n for n, service_id in enumerate(world.services)}

    def named(text: str | None) -> str | None:
        return None if text is None else text.replace(world.tag, "W")

    charged = sorted(f"charge:order:{o.id}" for o in orders if o.charge)
    return {
        "answers": [{"order": rank[a["order"]]} if "order" in a else a for a in answers],
        "orders": [_order_row(o, who, service, named) for o in orders],
        "events": [(rank[e.order_id], *e[1:5], named(e.actor)) for e in events],
        "ledger": [(who[e[0]], *e[1:4], rank[e.order_id], named(e.actor)) for e in entries],
        "causes": sorted(str(cause) for cause in causes) == charged,
        "jobs": sorted(
            (kind, rank[payload["order_id"]], key == f"forward:{payload['order_id']}", status)
            for kind, payload, key, status in jobs
            if payload.get("order_id") in rank
        ),
        "balances": [balance_text(db, account) for account in accounts],
    }


def _order_row(
    o: Order, who: dict[int, int], service: dict[int, int], named: Any
) -> tuple[Any, ...]:
    """An order's columns, its ids replaced by their rank in its world."""
    return (
        who[o.account_id], service[o.service_id], o.kind, named(o.link), o.quantity, o.runs,
        o.interval, o.total_quantity, o.rate, o.charge, o.currency, o.status, o.remains,
        o.forward_state, o.active_link is None, o.parent_id, o.params,
    )  # fmt: skip


@contextmanager
def _provider(db: Database) -> Iterator[str]:
    with running_simulator(manual_clock=True) as sim:
        yield make_provider(db, sim, f"p{next(_worlds)}")


def _assert_same_as_one_by_one(db: Database, provider: str, calls: list[Call]) -> list[Any]:
    batched_world, lone_world = _world(db, provider), _world(db, provider)
    batched = _state(db, batched_world, _batched(db, batched_world, calls))
    lone = _state(db, lone_world, _one_by_one(db, lone_world, calls))
    assert batched == lone
    return list(batched["answers"])


def test_a_mixed_batch_leaves_what_lone_adds_leave(db: Database) -> None:
    """Plain orders of both services around orders placed one by one (request
    ids, a drip-feed), refusals of every kind, links taken before the batch
    and within it, and a balance that runs out part-way."""
    calls: list[Call] = [
        (0, 0, 1, 100, None, None),
        (0, 1, 2, 100, None, None),  # forwarded: queued, with its job
        (0, 0, 1, 100, None, None),  # link taken by the first
        (1, 0, 3, 100, None, None),
        (1, 1, 4, 100, None, None),
        (0, 0, 5, 100, "r-1", None),  # placed one by one, between plain ones
        (0, 0, 5, 100, "r-1", None),  # its replay
        (1, 0, 6, 100, None, None),
        (1, 0, 7, 100, None, None),  # the poor customer's balance has run out
        (0, 2, 8, 20, None, 3),  # a drip-feed, one by one
        (0, 3, 9, 100, None, None),  # no such service
        (0, 0, 10, 5, None, None),  # below the minimum
        (0, 0, 5, 100, None, None),  # link taken by the request_id's order
        (0, 1, 11, 300, None, None),
        (0, 0, 12, 100, None, None),
    ]
    with _provider(db) as provider:
        answers = _assert_same_as_one_by_one(db, provider, calls)
    duplicate = "You have active order with this link. Please wait until order being completed."
    assert answers == [
        {"order": 0}, {"order": 1}, {"error": duplicate}, {"order": 2}, {"order": 3},
        {"order": 4}, {"order": 4}, {"order": 5}, {"error": "Not enough funds on balance"},
        {"order": 6}, {"error": "Incorrect service ID"},
        {"error": "Quantity less than minimal 10"}, {"error": duplicate},
        {"order": 7}, {"order": 8},
    ]  # fmt: skip
    assert_ledger_consistent(db)


_CALLS = st.lists(
    st.tuples(
        st.integers(0, 1),  # who
        st.sampled_from([0, 0, 1, 2, 3]),  # service
        st.integers(0, 5),  # link
        st.sampled_from([5, 10, 100, 300]),  # quantity
        st.one_of(st.none(), st.none(), st.sampled_from(["a", "b"])),  # request_id
        st.one_of(st.none(), st.none(), st.none(), st.integers(1, 3)),  # runs
    ),
    min_size=1,
    max_size=24,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=_CALLS)
def test_any_batch_leaves_what_lone_adds_leave(db: Database, calls: list[Call]) -> None:
    with _provider(db) as provider:
        _assert_same_as_one_by_one(db, provider, calls)


def test_plain_orders_of_a_batch_take_one_statement_of_each_kind(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of the bulk path: 20 orders, one INSERT of orders, of events,
    of ledger entries and of jobs, and one UPDATE of the balance.  On
    PostgreSQL they go in one round trip, and the batch makes 6 in all (its
    BEGIN with the keys, the offers of each of its 2 services, the locks with
    the links, the ids, the writes) before its COMMIT."""
    with _provider(db) as provider:
        world = _world(db, provider)
        calls: list[Call] = [(0, n % 2, n, 100, None, None) for n in range(20)]
        with statements_run(db.engine) as statements:
            pipelines = _record_past_sqlalchemy(monkeypatch, statements)
            answers = _batched(db, world, calls)
    assert all("order" in a for a in answers) and len({a["order"] for a in answers}) == 20
    heads = [s.split(" (")[0].split(" SET")[0].split("\n")[0] for s in statements]
    writes = [s for s in heads if s.startswith(("INSERT", "COPY", "UPDATE"))]
    assert sorted(writes) == [
        "INSERT INTO jobs",
        "INSERT INTO ledger_entries",
        "INSERT INTO order_events",
        "INSERT INTO orders",
        "UPDATE accounts",
    ]
    assert len(statements) <= 16, statements
    if not db.is_sqlite:
        # The keys; the locks and links; the writes.
        assert [len(sent) for sent in pipelines] == [1, 2, 5]
        round_trips = len(statements) - sum(map(len, pipelines)) + len(pipelines)
        assert round_trips == 6, statements


def test_a_bulk_write_that_fails_runs_the_batch_again_one_by_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk write fails after writing (as a link taken by another
    process's batch meanwhile would make it): nothing of that attempt stays,
    and every call gets a lone add's answer."""
    failures: list[int] = []

    def write_then_fail(session: Any, plans: Any, **options: Any) -> Any:
        group_add_write(session, plans, **options)
        failures.append(len(plans))
        raise IntegrityError("INSERT", {}, Exception("a link taken meanwhile"))

    group_add_write = group_add.write_plain_orders
    monkeypatch.setattr(group_add, "write_plain_orders", write_then_fail)
    calls: list[Call] = [
        (0, 0, 1, 100, None, None),
        (0, 0, 1, 100, None, None),
        (0, 0, 2, 100, "r", None),
        (1, 1, 3, 100, None, None),
        (1, 0, 4, 100, None, None),
        (1, 0, 5, 100, None, None),
        (1, 0, 6, 100, None, None),
    ]
    with _provider(db) as provider:
        answers = _assert_same_as_one_by_one(db, provider, calls)
    assert failures == [2]  # the first segment failed; the rerun wrote none in bulk
    assert [a.get("order") for a in answers] == [0, None, 1, 2, 3, 4, None]
    assert_ledger_consistent(db)


def test_a_link_the_database_refuses_in_the_bulk_write_is_answered_as_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The links read misses a link an order holds (as when another process's
    batch commits it between that read and this batch's write): the database's
    unique constraint refuses the bulk INSERT itself (on PostgreSQL inside the
    pipeline of writes), nothing of it stays, and the batch run again one by
    one answers as lone adds would."""
    blind: list[str] = []

    def links_unseen(*args: Any) -> Any:
        blind.append("read")
        if db.is_sqlite:
            return set()
        balances, _ = read_pipelined(*args)
        return balances, set()

    name = "_links_held" if db.is_sqlite else "_read_pipelined"
    read_pipelined = bulk_place._read_pipelined
    with _provider(db) as provider:
        world = _world(db, provider)
        first = _one_by_one(db, world, [(0, 0, 1, 100, None, None)])
        monkeypatch.setattr(bulk_place, name, links_unseen)
        answers = _batched(db, world, [(0, 0, 2, 100, None, None), (0, 0, 1, 100, None, None)])
    assert blind == ["read"]  # the rerun placed both one by one, without a bulk write
    assert [set(a) for a in first + answers] == [{"order"}, {"order"}, {"error"}]
    assert (
        answers[1]["error"]
        == "You have active order with this link. Please wait until order being completed."
    )
    assert balance_text(db, world.rich.id) == "49.80000"
    assert_ledger_consistent(db)


def test_the_balances_come_from_the_lock_until_a_call_is_placed_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's bulk write takes the balances its lock statement read (no
    read of its own); after a call placed one by one (a request_id) it reads
    them again, so its UPDATE finds the balance it expects and the batch is
    not run again one by one (BalanceMoved would have made it)."""
    writes: list[Any] = []

    def recorded(session: Any, plans: Any, **options: Any) -> Any:
        writes.append(options.get("balances"))
        return plain_write(session, plans, **options)

    plain_write = group_add.write_plain_orders
    monkeypatch.setattr(group_add, "write_plain_orders", recorded)
    with _provider(db) as provider:
        world = _world(db, provider)
        with statements_run(db.engine) as statements:
            _record_past_sqlalchemy(monkeypatch, statements)
            plain = _batched(db, world, [(0, 0, 1, 100, None, None), (0, 0, 2, 100, None, None)])
            reads_in_plain = [sql for sql in statements if _reads_balances(sql)]
            statements.clear()
            mixed = _batched(db, world, [(0, 0, 3, 100, "r1", None), (0, 0, 4, 100, None, None)])
    assert [set(a) for a in plain + mixed] == [{"order"}] * 4
    rich = world.rich.id
    if db.is_sqlite:
        # 50.00000 as read first (the writer holds the database); then read again.
        assert writes == [{rich: 5_000_000}, None]
        assert reads_in_plain == []
    else:
        # Read as the bulk write locks them (in its first round trip); then read again.
        assert writes == [None, None]
        assert [sql.rstrip().endswith("FOR UPDATE") for sql in reads_in_plain] == [True]
    assert sum(_reads_balances(sql) for sql in statements) == 1
    # The mixed batch wrote its plain call once, in bulk: no run again one by one.
    assert sum(sql.startswith(("INSERT INTO orders", "COPY orders")) for sql in statements) == 2
    assert balance_text(db, rich) == "49.60000"
    assert_ledger_consistent(db)


def _reads_balances(sql: str) -> bool:
    """A read of balances of its own (not the key check that locks them)."""
    return sql.lstrip().startswith("SELECT") and "accounts.balance" in sql and "api_keys" not in sql


def _record_past_sqlalchemy(
    monkeypatch: pytest.MonkeyPatch, statements: list[str]
) -> list[list[str]]:
    """Add to `statements` what goes to the driver without SQLAlchemy's cursor
    events (db_bulk's COPY, db_pipeline's pipelines, on PostgreSQL); they
    still run.  The statements of each pipeline sent, in a list of their own."""
    copy_rows = db_bulk._copy_rows
    send = db_pipeline.Pipeline.send
    pipelines: list[list[str]] = []

    def recorded(connection: Any, plan: Any, copy_sql: str, rows: Any) -> None:
        statements.append(copy_sql)
        copy_rows(connection, plan, copy_sql, rows)

    def sent(pipeline: db_pipeline.Pipeline) -> list[db_pipeline.Done]:
        queued = [item.sql for item in pipeline._queued]
        statements.extend(queued)
        pipelines.append(queued)
        return send(pipeline)

    monkeypatch.setattr(db_bulk, "_copy_rows", recorded)
    monkeypatch.setattr(db_pipeline.Pipeline, "send", sent)
    return pipelines
