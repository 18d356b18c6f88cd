"""The actions of API v2.  Each runs synchronously (in a worker thread, or on
the event loop for SQLite's short reads: loop_reads.py; PostgreSQL's are read
on the loop by loop_reads_pg.py, answered by the same builders), calls the
domain and shapes the answer exactly as docs/api.md says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from smmpanel.accounts.queries import Principal, principal_and_balance, principal_for
from smmpanel.api_v2.answers import render_json
from smmpanel.api_v2.errors import (
    INCORRECT_ORDER,
    TOO_MANY_IDS,
    RequestError,
    TooManyIds,
    error_message,
)
from smmpanel.api_v2.params import MAX_IDS, id_list, int_param, text_param
from smmpanel.api_v2.services_cache import CacheKey, ServicesCache, services_cache
from smmpanel.catalog.entries import service_entry
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.catalog.queries import services_in
from smmpanel.catalog.version import CatalogState, caller_and_catalog, catalog_version
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import format_units
from smmpanel.orders import queries as order_queries
from smmpanel.orders.bulk_place import is_plain
from smmpanel.orders.errors import OrderNotFound, RefillNotFound
from smmpanel.orders.offers import Offers
from smmpanel.orders.requests import request_cancel, request_refill
from smmpanel.orders.service import OrderPlan, place_order, plan_order
from smmpanel.orders.statuses import OrderStatus, statuses_in, statuses_lagging

Json = Any
Action = Callable[[Database, Principal, dict[str, Any]], Json]
KeyedAction = Callable[[Database, str, dict[str, Any]], Json]
# The account's orders among the given ids, by id (where `status` reads them).
OrderFinder = Callable[[list[int]], dict[int, OrderStatus]]


def services(db: Database, digest: str, params: dict[str, Any]) -> Json:
    """The key and the catalog's version read in one transaction; the answer,
    rendered, from the process's cache while the version stands, else the list
    read in that same transaction (after the version, so never newer than it).
    With read replicas the key and version are read on the primary and the list
    on a replica, with the replica's own version, under which it is kept."""
    cache = services_cache(db)
    with db.read_core() as connection:
        who, state = caller_and_catalog(connection, digest)
        key = cache_key(who, state)
        body = cache.get(state.version, key)
        if body is not None:
            return body
        if not db.replicas:
            return _render_services(cache, connection, who, state, key)
    with db.read_core_lagging() as connection:
        lagging = CatalogState(catalog_version(connection), state.custom_rates)
        return _render_services(cache, connection, who, lagging, key)


def _render_services(
    cache: ServicesCache,
    connection: Connection,
    who: Principal,
    state: CatalogState,
    key: CacheKey,
) -> bytes:
    """The list read on `connection` (after `state` was), rendered and kept."""
    with Session(bind=connection) as session:
        views = services_in(
            session,
            account_id=who.account_id,
            fx_rate=who.fx_rate,
            with_translations=who.extended_fields,
        )
    body = render_json([service_entry(view, extended=who.extended_fields) for view in views])
    cache.put(state.version, key, body)
    return body


def cache_key(who: Principal, state: CatalogState) -> CacheKey:
    """What the list depends on besides the catalog (services_cache.py)."""
    return (who.account_id if state.custom_rates else None, who.fx_rate, who.extended_fields)


def add(db: Database, digest: str, params: dict[str, Any]) -> Json:
    """Authenticates in the order's own write transaction: one BEGIN IMMEDIATE
    for the key and the order, not a read transaction first (place_order
    joins it).  The key is read on the session's connection: the same
    transaction, without the ORM's execute (a tenth of the order's cost,
    measured)."""
    with db.write() as session:
        return add_in(session, principal_for(session.connection(), digest), params)


def add_in(
    session: Session, who: Principal, params: dict[str, Any], offers: Offers | None = None
) -> Json:
    """`add` for the account of a checked key, in the caller's write
    transaction: a batch of the group commit (group_add.py) runs one per
    savepoint, all of them sharing `offers` (orders.offers), when it does not
    write them together (`add_plan`)."""
    placed = place_order(
        session,
        account_id=who.account_id,
        service_id=_service_of(params),
        params=params,
        request_id=text_param(params, "request_id"),
        actor=_actor_of(who),
        offers=offers,
    )
    return {"order": placed.order_id}


def add_plan(
    session: Session, who: Principal, params: dict[str, Any], offers: Offers
) -> OrderPlan | None:
    """`add_in`'s order checked and priced, not written (the batch writes the
    plain ones together: orders.bulk_place), raising what add_in would raise
    before writing; None for a call add_in is to place, one by one: one with a
    request_id (its claim is written first) or of a kind that is not plain."""
    service_id = _service_of(params)
    if text_param(params, "request_id") is not None:
        return None
    plan = plan_order(
        session.connection(),
        account_id=who.account_id,
        service_id=service_id,
        params=params,
        actor=_actor_of(who),
        offers=offers,
    )
    return plan if is_plain(plan) else None


def _service_of(params: dict[str, Any]) -> int:
    service_id = int_param(params.get("service"))
    if service_id is None:
        raise ServiceNotFound("Incorrect service ID")
    return service_id


def _actor_of(who: Principal) -> str:
    # The actor columns hold 64 characters; usernames may have 64 themselves.
    return f"api:{who.username}"[:64]


def status(db: Database, digest: str, params: dict[str, Any]) -> Json:
    """The key and the orders read in one transaction; with read replicas the
    key on the primary, the orders on a replica (those it lacks or just placed
    again on the primary: statuses_lagging)."""
    if db.replicas:
        with db.read_core() as connection:
            who = principal_for(connection, digest)
        return status_answer(
            lambda ids: statuses_lagging(db, ids, account_id=who.account_id), params
        )
    with db.read_core() as connection:
        who = principal_for(connection, digest)
        return status_answer(
            lambda ids: statuses_in(connection, ids, account_id=who.account_id), params
        )


def status_answer(find: OrderFinder, params: dict[str, Any]) -> bytes:
    """`status`'s answer, the account's orders found by `find` (by id)."""
    ask = status_ask(params)
    return status_answer_of(ask, find(ask.ids) if ask.ids else {})


@dataclass(frozen=True)
class StatusAsk:
    """What a `status` call asks for: `orders`, each id as given with its number
    (0: not an id), or one `order` (None: not an id)."""

    given: list[tuple[str, int]] | None
    order_id: int | None

    @property
    def ids(self) -> list[int]:
        if self.given is not None:
            return [number for _, number in self.given if number]
        return [self.order_id] if self.order_id else []


def status_ask(params: dict[str, Any]) -> StatusAsk:
    """The ids of a `status` call, read once (a reader on the event loop reads
    its orders between this and `status_answer_of`); RequestError, TooManyIds."""
    if "orders" in params:
        return StatusAsk([(text, int_param(text) or 0) for text in _ids(params["orders"])], None)
    return StatusAsk(None, int_param(params.get("order")))


def status_answer_of(ask: StatusAsk, found: dict[int, OrderStatus]) -> bytes:
    """`status`'s answer to `ask`, the account's orders among its ids `found`, as
    its JSON bytes: a reseller's `status` of 100 orders spent a third of its time
    building 100 dicts and encoding them; here each entry is one format string
    (a test proves the bytes equal to render_json of the dicts)."""
    if ask.given is not None:
        entries = []
        for text, number in ask.given:
            view = found.get(number)
            name = f'"{text}"' if text.isdigit() and text.isascii() else render_json(text).decode()
            entries.append(f"{name}:{_status_entry(view) if view else _NOT_FOUND}")
        return f"{{{','.join(entries)}}}".encode()
    view = found.get(ask.order_id) if ask.order_id else None
    if view is None:
        raise OrderNotFound(INCORRECT_ORDER)
    return _status_entry(view).encode()


# Entries rendered lately, by what they show: resellers poll the same open
# orders every minute, and an entry changes only with its order.  Bounded: the
# table is emptied when full: ~650 bytes an entry, measured (20,000 of them
# grew serve by 13 MB in bench_memory.py; 4,096 keep it flat).
_ENTRIES: dict[OrderStatus, str] = {}
ENTRIES_KEPT = 4_096


def _status_entry(view: OrderStatus) -> str:
    entry = _ENTRIES.get(view)
    if entry is None:
        entry = _render_entry(view)
        if len(_ENTRIES) >= ENTRIES_KEPT:
            _ENTRIES.clear()
        _ENTRIES[view] = entry
    return entry


def _render_entry(view: OrderStatus) -> str:
    """An order's entry, as render_json writes {"charge": ..., "currency": ...}."""
    return (
        f'{{"charge":"{format_units(view.charge)}","start_count":"{view.start_count or 0}",'
        f'"status":{_json_text(view.status)},"remains":"{view.remains}",'
        f'"currency":{_json_text(view.currency)}}}'
    )


_NOT_FOUND = render_json({"error": INCORRECT_ORDER}).decode()
_JSON_TEXTS: dict[str, str] = {}


def _json_text(text: str) -> str:
    """A status or a currency as render_json writes it: a handful of them, kept
    once encoded."""
    encoded = _JSON_TEXTS.get(text)
    if encoded is None:
        encoded = render_json(text).decode()
        if len(_JSON_TEXTS) < 1024:  # a bound all the same
            _JSON_TEXTS[text] = encoded
    return encoded


def refill(db: Database, who: Principal, params: dict[str, Any]) -> Json:
    if "orders" in params:
        return [
            {"order": _id_out(text), "refill": _attempt(lambda i: _refill_one(db, who, i), text)}
            for text in _ids(params["orders"])
        ]
    return {"refill": str(_refill_one(db, who, int_param(params.get("order"))))}


def _refill_one(db: Database, who: Principal, order_id: int | None) -> int:
    if order_id is None:
        raise OrderNotFound(INCORRECT_ORDER)
    return request_refill(db, account_id=who.account_id, order_id=order_id)


def refill_status(db: Database, who: Principal, params: dict[str, Any]) -> Json:
    if "refills" in params:
        given = _ids(params["refills"])
        found = order_queries.refills_by_id(
            db, [i for i in map(int_param, given) if i], account_id=who.account_id
        )
        result = []
        for text in given:
            view = found.get(int_param(text) or 0)
            state: Any = view.status if view else {"error": "Refill not found"}
            result.append({"refill": _id_out(text), "status": state})
        return result
    refill_id = int_param(params.get("refill"))
    found = order_queries.refills_by_id(
        db, [refill_id] if refill_id else [], account_id=who.account_id
    )
    if refill_id not in found:
        raise RefillNotFound("Refill not found")
    return {"status": found[refill_id].status}


def cancel(db: Database, who: Principal, params: dict[str, Any]) -> Json:
    if "cancels" in params:
        return _cancel_statuses(db, who, _ids(params["cancels"]))
    if "orders" in params:
        given = _ids(params["orders"])
    elif "order" in params:
        # An empty `order` is refused like an empty `orders`, not answered with [].
        given = _ids(params["order"])[:1]
    else:
        raise RequestError("orders or cancels is required")
    result = []
    for text in given:
        order_id = int_param(text)
        try:
            if order_id is None:
                raise OrderNotFound(INCORRECT_ORDER)
            cancel_id, kind = request_cancel(db, account_id=who.account_id, order_id=order_id)
            result.append({"order": _id_out(text), "type": kind, "cancel": cancel_id})
        except DomainError as exc:
            known_kind = _order_kind(db, who, order_id)
            entry: dict[str, Any] = {"order": _id_out(text)}
            if known_kind:
                entry["type"] = known_kind
            entry["cancel"] = {"error": error_message(exc)}
            result.append(entry)
    return result


def _order_kind(db: Database, who: Principal, order_id: int | None) -> str | None:
    if order_id is None:
        return None
    view = order_queries.orders_by_id(db, [order_id], account_id=who.account_id).get(order_id)
    return view.kind if view else None


def _cancel_statuses(db: Database, who: Principal, given: list[str]) -> Json:
    found = order_queries.cancels_by_id(
        db, [i for i in map(int_param, given) if i], account_id=who.account_id
    )
    result = []
    for text in given:
        view = found.get(int_param(text) or 0)
        state: Any = view.status if view else {"error": "Cancel not found"}
        result.append({"cancel": _id_out(text), "status": state})
    return result


def balance(db: Database, digest: str, params: dict[str, Any]) -> Json:
    """The key and the balance read in one statement."""
    with db.read_core() as connection:
        who, units = principal_and_balance(connection, digest)
    return balance_answer(units, who.currency)


def balance_answer(units: int, currency: str) -> bytes:
    """{"balance": ..., "currency": ...} as render_json writes it (json.dumps
    was a tenth of a `balance` call's own work)."""
    return f'{{"balance":"{format_units(units)}","currency":{_json_text(currency)}}}'.encode()


def _ids(value: object) -> list[str]:
    ids = id_list(value)
    if not ids:
        raise RequestError("no ids given")
    if len(ids) > MAX_IDS:
        raise TooManyIds(TOO_MANY_IDS)
    return ids


def _id_out(text: str) -> int | str:
    """Ids are integers in answers; an unreadable one is echoed as given."""
    number = int_param(text)
    if number is None and text.isascii() and text.isdigit() and len(text) <= 18:
        number = int(text)  # a well-formed id too large to exist: still a number
    return number if number is not None else text


def _attempt(step: Callable[[int | None], int], text: str) -> int | dict[str, str]:
    try:
        return step(int_param(text))
    except DomainError as exc:
        return {"error": error_message(exc)}


# Actions given the account: the key was checked in a read transaction of its own.
ACTIONS: dict[str, Action] = {
    "refill": refill,
    "refill_status": refill_status,
    "cancel": cancel,
}
# The hot path: actions given the key's digest, which they check inside the
# transaction of the action itself, so a request costs one transaction, not two
# (a suspended account or a revoked key is still refused on the next request).
KEYED_ACTIONS: dict[str, KeyedAction] = {
    "services": services,
    "add": add,
    "status": status,
    "balance": balance,
}
