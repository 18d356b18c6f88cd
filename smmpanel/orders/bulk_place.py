"""Many plain orders written with a few statements: the fast path of a batch
of the group commit (api_v2/group_add.py).

Placed one by one, an order of a batch costs seven statements (its link
checked, the order, its debit and ledger entry, its event, and for a service
of providers its forwarding event and job), each a round trip through
SQLAlchemy and the driver: the statements, not the rules, were most of the
cost of an `add` (docs/benchmarks.md, "Orders written in bulk").  Here the
orders of a batch that are checked and priced (service.OrderPlan) are written
together: one read of the links they would hold and one of their accounts'
balances (none when the caller passes those it read), then one INSERT of the
orders, one of their events, one UPDATE per account with one INSERT of the
ledger entries, and one INSERT of forwarding jobs.

On PostgreSQL each statement sent alone is a round trip, which costs more
than most of these statements' work (db_pipeline.py): the locks of the
balances (`lock_first`, taken here, right before the writes, so that another
process's batch of the same account waits for as little as possible) go with
the read of the links, the orders' ids follow, and then every write goes in
one round trip, each INSERT of arrays.  A batch of orders of one service
makes 6 round trips with its COMMIT, against 15.

The rules are create_order's and plan_fulfilment's, decided in Python in the
order the orders came, as if each were placed after the one before: a link
held by an active order, or by an earlier order of the batch, refuses the
order (ActiveOrderExists); a charge its balance no longer covers, after the
earlier orders' debits, refuses it (InsufficientFunds); a refused order writes
nothing and spends nothing.  The balances read are locked by the batch
(api_v2/group_add.py, `_BatchReads`), and the ledger's UPDATE is made only
where a balance is still the one read (ledger.service.post_fresh_debits).
Drip-feed orders and subscriptions, and orders with a request_id, are placed
one by one (`is_plain`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, Text, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from smmpanel.db_bulk import insert_rows
from smmpanel.db_pipeline import Pipeline
from smmpanel.errors import DomainError
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import JOBS, job_rows
from smmpanel.ledger import causes
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.service import (
    BALANCES_ANY,
    ENTRIES,
    LOCK_BALANCES_ANY,
    SET_BALANCE,
    BalanceMoved,
    FreshDebit,
    FreshDebits,
    balances_of,
    fresh_debits,
    settle_moves,
    write_fresh_debits,
)
from smmpanel.orders.creation import ACTIVE_LINK_MESSAGE, order_row, placed_event_row
from smmpanel.orders.errors import ActiveOrderExists
from smmpanel.orders.fulfilment import FORWARDING_ACTOR, forward_key
from smmpanel.orders.models import PENDING, ForwardState, Order, OrderEvent, OrderKind
from smmpanel.orders.service import OrderPlan

# Kinds whose placing is create_order and, for a service of providers, one
# forward job: the others set up more (a drip-feed's schedule, a
# subscription's posts) and are placed one by one.
_NOT_PLAIN = frozenset({OrderKind.DRIPFEED, OrderKind.SUBSCRIPTION})


def is_plain(plan: OrderPlan) -> bool:
    """Whether `write_plain_orders` may write this order."""
    return plan.draft.kind not in _NOT_PLAIN


def write_plain_orders(
    session: Session,
    plans: Sequence[OrderPlan],
    *,
    balances: Mapping[int, int] | None = None,
    lock_first: Sequence[int] = (),
) -> list[int | DomainError]:
    """Write the orders of `plans` (all `is_plain`) in the caller's write
    transaction: for each, in order, its order id or the error that refused
    it (nothing of it written).  The transaction holds the locks of their
    accounts' balances, or `lock_first` names the accounts to lock first
    (PostgreSQL: in the round trip that reads the links; SQLite's writer holds
    the whole database).  `balances`: the accounts' balances as the caller
    read them with their locks, when nothing has changed them since (else
    they are read here).  On a database error (BalanceMoved, a constraint)
    what was written is in the transaction: the caller rolls it back
    (group_commit runs the batch again one by one)."""
    session.flush()
    connection = session.connection()
    charged = {plan.account_id for plan in plans if plan.charge}
    links = sorted({plan.active_link for plan in plans if plan.active_link})
    if balances is not None and charged <= balances.keys():
        balances = {account_id: balances[account_id] for account_id in charged}
    else:
        balances = None
    pipelined = connection.dialect.name == "postgresql"
    if pipelined:
        before, held = _read_pipelined(connection, charged, links, balances, lock_first)
    else:
        before = balances if balances is not None else balances_of(connection, charged)
        held = _links_held(connection, links)
    outcomes, accepted = _decide(plans, held, dict(before))
    if accepted:
        plans_written = [plan for _, plan in accepted]
        ids = _new_order_ids(connection, len(plans_written))
        for (index, _), order_id in zip(accepted, ids, strict=True):
            outcomes[index] = order_id
        writes = _writes(plans_written, ids, before)
        if pipelined:
            _send_pipelined(session, connection, writes)
        else:
            _send_one_by_one(session, connection, writes)
    return outcomes


def _decide(
    plans: Sequence[OrderPlan], held: set[str], left: dict[int, int]
) -> tuple[list[int | DomainError], list[tuple[int, OrderPlan]]]:
    """Each plan's refusal, or 0 for its id to come, in order, as if each were
    placed after the one before (`left`: each balance after the orders
    accepted so far); and the accepted plans with their places."""
    outcomes: list[int | DomainError] = []
    accepted: list[tuple[int, OrderPlan]] = []
    for plan in plans:
        refusal = _refusal(plan, held, left)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        if plan.active_link is not None:
            held.add(plan.active_link)
        if plan.charge:
            left[plan.account_id] -= plan.charge
        accepted.append((len(outcomes), plan))
        outcomes.append(0)  # its id, once inserted
    return outcomes, accepted


def _refusal(plan: OrderPlan, held: set[str], balances: dict[int, int]) -> DomainError | None:
    """Why create_order would refuse this order now, checked in its order:
    the link first, then the balance."""
    if plan.active_link is not None and plan.active_link in held:
        return ActiveOrderExists(ACTIVE_LINK_MESSAGE)
    if plan.charge and balances[plan.account_id] < plan.charge:
        return InsufficientFunds("Not enough funds on balance")
    return None


def _links_held(connection: Connection, links: list[str]) -> set[str]:
    """SQLite: which of `links` active orders hold."""
    if not links:
        return set()
    return set(connection.execute(_LINKS_HELD, {"links": links}).scalars())


def _read_pipelined(
    connection: Connection,
    charged: set[int],
    links: list[str],
    balances: dict[int, int] | None,
    lock_first: Sequence[int],
) -> tuple[dict[int, int], set[str]]:
    """PostgreSQL: the charged accounts' balances (locked first when
    `lock_first`, read when not given) and the links held, in one round trip.

    The read of the links is planned at each run, never prepared.
    psycopg prepares a statement at its 5th run and PostgreSQL may then keep
    one generic plan for good, chosen while the table was small: measured on
    a new panel (bench_api.py), a sequential scan of `orders` at every batch,
    7-20 ms once it held 10,000 orders (a third of a batch's time), until an
    ANALYZE of the table (autovacuum's, a minute or more later) replaced it.
    Planned with its links, it is an index lookup whatever the table held.
    (Planning every statement so, with plan_cache_mode=force_custom_plan, was
    measured too: slower.)  The links go as one array: an IN of one
    placeholder a link is a new statement for each number of links, which
    SQLAlchemy and psycopg each rewrite at every run."""
    pipeline = Pipeline(connection)
    if lock_first:
        read_at = pipeline.query(LOCK_BALANCES_ANY, {"ids": sorted(set(lock_first))})
    elif balances is None and charged:
        read_at = pipeline.query(BALANCES_ANY, {"ids": sorted(charged)})
    else:
        read_at = None
    links_at = None
    if links:
        links_at = pipeline.query(_LINKS_HELD_ANY, {"links": links}, prepare=False)
    done = pipeline.send()
    if read_at is not None:
        balances = {account_id: balance for account_id, balance in done[read_at].rows}
    balances = balances or {}  # none read: no order charges
    missing = charged - balances.keys()
    if missing:  # an account gone: a bug (the batch runs one by one)
        raise BalanceMoved(min(missing))
    held = {link for (link,) in done[links_at].rows} if links_at is not None else set()
    return {account_id: balances[account_id] for account_id in charged}, held


def _new_order_ids(connection: Connection, count: int) -> list[int]:
    """`count` ids no order has or will be given: on PostgreSQL taken from the
    table's sequence; on SQLite the next ones after the largest, as SQLite
    itself would give them (the table has no AUTOINCREMENT and orders are
    never deleted), which no other writer can take while the batch holds the
    database's write lock (BEGIN IMMEDIATE)."""
    if connection.dialect.name == "postgresql":
        return sorted(connection.execute(_NEXT_IDS, {"count": count}).scalars())
    largest = connection.execute(_LARGEST_ID).scalar_one() or 0
    return list(range(largest + 1, largest + 1 + count))


def _row(plan: OrderPlan) -> dict[str, Any]:
    row = order_row(**plan.order_columns())
    # A service of providers queues its order for forwarding as it is placed
    # (plan_fulfilment moves it from none to queued): written so at once.
    row["forward_state"] = ForwardState.QUEUED if plan.offer.provider_backed else None
    return row


@dataclass(frozen=True)
class _Writes:
    """What placing the accepted orders writes, rows by table."""

    orders: list[dict[str, Any]]
    debits: FreshDebits
    events: list[dict[str, Any]]
    jobs: list[dict[str, Any]]


def _writes(plans: list[OrderPlan], ids: list[int], balances: dict[int, int]) -> _Writes:
    """The orders just given `ids`, their debits (from `balances`, read
    before any), events and forward jobs."""
    orders = [{**_row(plan), "id": order_id} for plan, order_id in zip(plans, ids, strict=True)]
    debits = [
        FreshDebit(
            account_id=plan.account_id,
            amount=plan.charge,
            actor=plan.actor,
            cause=causes.order_charge(order_id),
            order_id=order_id,
        )
        for plan, order_id in zip(plans, ids, strict=True)
        if plan.charge
    ]
    events: list[dict[str, Any]] = []
    forwarded: list[int] = []
    for plan, order_id in zip(plans, ids, strict=True):
        events.append({**_NO_FORWARD, **placed_event_row(order_id, plan.actor, "", plan.now)})
        if plan.offer.provider_backed:
            events.append(_queued_event(order_id, plan.now))
            forwarded.append(order_id)
    jobs = job_rows(
        JobKind.FORWARD_ORDER,
        [{"order_id": order_id} for order_id in forwarded],
        dedupe_keys=[forward_key(order_id) for order_id in forwarded],
    )
    return _Writes(orders, fresh_debits(debits, balances), events, jobs)


def _send_one_by_one(session: Session, connection: Connection, writes: _Writes) -> None:
    """SQLite: each table's rows by one INSERT (executemany), in its process."""
    insert_rows(connection, _ORDERS, writes.orders)
    write_fresh_debits(session, writes.debits)
    insert_rows(connection, _EVENTS, writes.events)
    insert_rows(connection, JOBS, writes.jobs)


def _send_pipelined(session: Session, connection: Connection, writes: _Writes) -> None:
    """PostgreSQL: every write in one round trip (db_pipeline)."""
    pipeline = Pipeline(connection)
    pipeline.insert(_ORDERS, writes.orders)
    moves = [pipeline.execute(SET_BALANCE, moved) for moved in writes.debits.moves]
    pipeline.insert(ENTRIES, writes.debits.entries)
    pipeline.insert(_EVENTS, writes.events)
    pipeline.insert(JOBS, writes.jobs)
    done = pipeline.send()
    settle_moves(session, writes.debits, [done[at].rowcount for at in moves])


# Every event row of one INSERT has the same columns.
_NO_FORWARD = {"from_status": None, "from_forward": None, "to_forward": None}


def _queued_event(order_id: int, now: datetime) -> dict[str, Any]:
    """The event move_forward_state writes for a move from none to queued."""
    return {
        "order_id": order_id,
        "from_status": PENDING,
        "to_status": PENDING,
        "from_forward": None,
        "to_forward": ForwardState.QUEUED,
        "actor": FORWARDING_ACTOR,
        "note": "",
        "created_at": now,
    }


_ORDERS = cast(Table, Order.__table__)
_LARGEST_ID = select(func.max(_ORDERS.c.id))
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, :count)"
)
_EVENTS = cast(Table, OrderEvent.__table__)
_LINKS_HELD = select(_ORDERS.c.active_link).where(
    _ORDERS.c.active_link.in_(bindparam("links", expanding=True))
)
_LINKS_HELD_ANY = select(_ORDERS.c.active_link).where(
    _ORDERS.c.active_link == func.any(bindparam("links", type_=ARRAY(Text)))
)
