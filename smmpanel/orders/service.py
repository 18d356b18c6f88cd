"""Commands on orders: placing one, and the owner's updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.db import Database, transaction
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.money import MAX_BALANCE_UNITS, charge_units
from smmpanel.orders.creation import create_order
from smmpanel.orders.errors import IdempotencyConflict, InvalidOrderRequest
from smmpanel.orders.fulfilment import plan_fulfilment
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.models import KIND_SUBSCRIPTION, IdempotencyKey, Order
from smmpanel.orders.offers import Offer, Offers
from smmpanel.orders.requests import close_pending_cancels
from smmpanel.orders.validation import OrderDraft, draft_order
from smmpanel.timeutil import utcnow

MAX_REQUEST_ID_LENGTH = 255
# Parameters that do not describe the order itself.
_NOT_FINGERPRINTED = frozenset({"key", "action", "request_id"})


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    # True when a repeated request_id returned the first answer.
    replayed: bool = False


def place_order(
    target: Database | Session,
    *,
    account_id: int,
    service_id: int,
    params: Mapping[str, Any],
    request_id: str | None = None,
    actor: str = "api",
    offers: Offers | None = None,
) -> PlacedOrder:
    """Validate, price, charge and record an order: in a write transaction of its
    own when given the Database, in the caller's when given its Session (the API
    authenticates in the same one; see db.transaction).

    With a `request_id`, a repeat of the same request returns the first order
    (`replayed`) and writes nothing; the same id with other parameters is refused.
    `offers`: what the transaction has read of services and prices already (a
    batch of the group commit shares it between its orders; see orders.offers).
    """
    request_id = checked_request_id(request_id)
    with transaction(target) as session:
        return _place(
            session,
            account_id=account_id,
            service_id=service_id,
            params=params,
            request_id=request_id,
            actor=actor,
            offers=offers,
        )


def checked_request_id(request_id: str | None) -> str | None:
    """A request_id trimmed, or InvalidOrderRequest."""
    if request_id is not None:
        request_id = request_id.strip()
        if not request_id or len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise InvalidOrderRequest(f"request_id: 1 to {MAX_REQUEST_ID_LENGTH} characters")
        if "\x00" in request_id:  # PostgreSQL text cannot hold NUL
            raise InvalidOrderRequest("request_id: must not contain NUL characters")
    return request_id


def _place(
    session: Session,
    *,
    account_id: int,
    service_id: int,
    params: Mapping[str, Any],
    request_id: str | None,
    actor: str,
    offers: Offers | None,
) -> PlacedOrder:
    # The statements go to the session's connection (same transaction): the
    # ORM's execute cost ~25 us more a statement than the Core one (measured),
    # and nothing it reads is written through the ORM (create_order flushes).
    connection = session.connection()
    if request_id is not None:
        replayed = _claim_request_id(connection, account_id, request_id, service_id, params)
        if replayed is not None:
            return PlacedOrder(replayed, replayed=True)
    plan = plan_order(
        connection,
        account_id=account_id,
        service_id=service_id,
        params=params,
        actor=actor,
        offers=offers,
    )
    order_id = create_order(session, **plan.order_columns(), actor=actor).order_id
    plan_fulfilment(
        session,
        order_id=order_id,
        service_id=service_id,
        provider_backed=plan.offer.provider_backed,
    )
    if request_id is not None:
        connection.execute(
            _ANSWER_KEY, {"owner": account_id, "request_id": request_id, "order_id": order_id}
        )
    return PlacedOrder(order_id)


@dataclass(frozen=True)
class OrderPlan:
    """An order checked and priced, not yet written: what `create_order` is
    given for it.  A batch of the group commit writes many plain ones together
    (orders/bulk_place.py), a lone order one (`_place`)."""

    account_id: int
    service_id: int
    offer: Offer
    draft: OrderDraft
    charge: int
    active_link: str | None
    actor: str
    now: datetime

    def order_columns(self) -> dict[str, Any]:
        """The columns of this order (`create_order`'s arguments but its actor,
        creation.order_row's)."""
        draft = self.draft
        return {
            "account_id": self.account_id,
            "service_id": self.service_id,
            "kind": draft.kind,
            "link": draft.link,
            "quantity": draft.quantity,
            "total_quantity": draft.total_quantity,
            "runs": draft.runs,
            "interval": draft.interval,
            "rate": self.offer.rate,
            "charge": self.charge,
            "package": draft.package,
            "currency": self.offer.currency,
            "params": draft.params,
            "active_link": self.active_link,
            "now": self.now,
        }


def plan_order(
    connection: Connection,
    *,
    account_id: int,
    service_id: int,
    params: Mapping[str, Any],
    actor: str,
    offers: Offers | None = None,
) -> OrderPlan:
    """Check and price an order, reading but writing nothing: ServiceNotFound,
    the validation errors of draft_order, or InsufficientFunds for a charge no
    balance can pay.  Whether the link is free and the balance covers the
    charge is for the writer to find (create_order, bulk_place)."""
    offer = (offers or Offers()).of(connection, account_id, service_id)
    if offer is None or not offer.service.enabled:
        raise ServiceNotFound("Incorrect service ID")
    now = utcnow()
    draft = draft_order(offer.service, params, today=now.date())
    charge = _charge(draft, offer.rate)
    if charge > MAX_BALANCE_UNITS:
        # No balance can pay it; refused before anything is written, since a
        # charge this large may not even fit the 64-bit columns.
        raise InsufficientFunds("Not enough funds on balance")
    return OrderPlan(
        account_id=account_id,
        service_id=service_id,
        offer=offer,
        draft=draft,
        charge=charge,
        active_link=_active_link_key(offer.link_scope, account_id, service_id, draft),
        actor=actor,
        now=now,
    )


def _charge(draft: OrderDraft, rate: int) -> int:
    if draft.kind == KIND_SUBSCRIPTION:
        return 0  # charged per post, as each post's order is made
    if draft.package:
        return rate
    return charge_units(rate, draft.total_quantity)


def _active_link_key(scope: str, account_id: int, service_id: int, draft: OrderDraft) -> str | None:
    """The order's `active_link` under the panel's duplicate_link_scope `scope`:
    unique among active orders, so that the rule holds under concurrent requests."""
    if not draft.link or draft.kind == KIND_SUBSCRIPTION:
        return None
    if scope == "panel":
        return f"{service_id}:{same_target(draft.link)}"
    if scope == "account":
        # A panel-wide key starts with a digit, this one with "a": the two never
        # collide, even while orders of both scopes are active after a change.
        return f"a{account_id}:{service_id}:{same_target(draft.link)}"
    return None


def same_target(link: str) -> str:
    """The form of a link under which the duplicate rule compares it: scheme and
    host in lower case, no "www.", no trailing slash, no fragment, so that
    `HTTPS://WWW.X.com/a/` and `https://x.com/a` count as the same page.
    Paths keep their case (they are case-sensitive on most sites)."""
    text = link.split("#", 1)[0]
    _scheme, sep, rest = text.partition("://")
    if not sep:
        rest = text
    host, slash, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    path = path.rstrip("/")
    return f"{host}/{path}" if slash and path else host


def _fingerprint(service_id: int, params: Mapping[str, Any]) -> str:
    material = {k: str(v) for k, v in params.items() if k not in _NOT_FINGERPRINTED}
    material["service"] = str(service_id)
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _claim_request_id(
    connection: Connection,
    account_id: int,
    request_id: str,
    service_id: int,
    params: Mapping[str, Any],
) -> int | None:
    """Insert the key row first: a concurrent twin blocks on it (PostgreSQL) or
    waits for our BEGIN IMMEDIATE (SQLite), then sees our answer.  Returns None
    when the key is ours (the row is in, no order yet), or the first request's
    order (a replay: nothing was written).

    One INSERT ... ON CONFLICT DO NOTHING, in Core: the ORM's look-up, then
    insert in a savepoint of its own, cost as much as the rest of the order
    (measured).  A twin that committed the key first is a conflict, read next."""
    fingerprint = _fingerprint(service_id, params)
    key = {"account_id": account_id, "key": request_id}
    claim = _CLAIM_KEY[connection.dialect.name]
    if connection.execute(claim, {**key, "fingerprint": fingerprint}).first() is not None:
        return None
    existing = connection.execute(_CLAIMED_KEY, key).first()
    if existing is not None and existing.fingerprint != fingerprint:
        raise IdempotencyConflict("request_id was used before with different parameters")
    if existing is None or existing.order_id is None:
        raise IdempotencyConflict("request_id is being processed; retry shortly")
    return int(existing.order_id)


_KEYS = cast(Table, IdempotencyKey.__table__)
_CLAIM_KEY = {
    "sqlite": sqlite_insert(_KEYS).on_conflict_do_nothing().returning(_KEYS.c.account_id),
    "postgresql": postgresql_insert(_KEYS).on_conflict_do_nothing().returning(_KEYS.c.account_id),
}
_CLAIMED_KEY = select(_KEYS.c.fingerprint, _KEYS.c.order_id).where(
    _KEYS.c.account_id == bindparam("account_id"), _KEYS.c.key == bindparam("key")
)
_ANSWER_KEY = (
    update(_KEYS)
    .where(_KEYS.c.account_id == bindparam("owner"), _KEYS.c.key == bindparam("request_id"))
    .values(order_id=bindparam("order_id"))
)


def update_order(
    db: Database,
    *,
    order_id: int,
    status: str | None = None,
    start_count: int | None = None,
    remains: int | None = None,
    note: str = "",
    actor: Actor = Actor.system(),
) -> bool:
    """The owner sets an order's status and counters (manual fulfilment).
    Partial and Canceled refund automatically, exactly once."""
    with db.write() as session:
        order = lock_order(session, order_id)
        before = _hand_fields(order)
        # The status history names the owner as before; the trail says which person.
        changed = change_order_status(
            session,
            order,
            status=status,
            start_count=start_count,
            remains=remains,
            actor="owner",
            note=note,
        )
        if changed:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.ORDER_RESOLVED_BY_HAND,
                subject=subject("order", order_id),
                before=before,
                after={**_hand_fields(order), "note": note},
            )
        # An order that ended while a cancel request waited closes that request.
        close_pending_cancels(session, [order])
        return changed


def _hand_fields(order: Order) -> dict[str, Any]:
    """What the trail keeps of an order the owner updates by hand."""
    return {"status": order.status, "start_count": order.start_count, "remains": order.remains}
