"""What an order would cost, without placing it: the customer web's live price.

It runs the very validation and pricing `place_order` runs (`draft_order`, the
account's rate read as `place_order` reads it, the charge rule), in a read
transaction, so the price a page
shows as the customer types is the charge placing the order makes, and its
refusals are the API's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.db import Database
from smmpanel.orders.offers import Offers
from smmpanel.orders.service import _charge
from smmpanel.orders.validation import draft_order
from smmpanel.timeutil import utcnow


@dataclass(frozen=True)
class Quote:
    charge: int  # minor units of `currency`; 0 for a subscription (charged per post)
    currency: str
    rate: int  # per 1000 (a package: the package's price)
    quantity: int
    runs: int | None
    total_quantity: int
    kind: str


def quote_order(
    db: Database, *, account_id: int, service_id: int, params: Mapping[str, Any]
) -> Quote:
    """The charge `place_order` would make for these parameters now, or the
    domain error it would raise for them (funds and duplicate links aside:
    those depend on the moment the order is placed)."""
    with db.read() as session:
        offer = Offers().of(session.connection(), account_id, service_id)
    if offer is None or not offer.service.enabled:
        raise ServiceNotFound("Incorrect service ID")
    draft = draft_order(offer.service, params, today=utcnow().date())
    return Quote(
        charge=_charge(draft, offer.rate),
        currency=offer.currency,
        rate=offer.rate,
        quantity=draft.quantity,
        runs=draft.runs,
        total_quantity=draft.total_quantity,
        kind=draft.kind,
    )
