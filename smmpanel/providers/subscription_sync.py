"""Provider-backed subscriptions, the upstream side: what a status answer says
of a subscription and of its posts, handed to orders/subscriptions.py.

A subscription's status answer lists the upstream orders made for its posts
(``"orders": [ids]``) and its cumulative ``charge``; a post's own answer may
report the ``quantity`` it had.  This module reads those, and looks up the
provider's rate for the service when a charge must be turned into units;
deciding, charging and settling posts is the orders context's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.catalog.models import ServiceSource
from smmpanel.money import to_units
from smmpanel.orders.models import Order
from smmpanel.orders.subscriptions import record_posts, settle_provisional_post
from smmpanel.providers.models import UpstreamService
from smmpanel.providers.upstream import UpstreamOrderStatus


def record_subscription_posts(
    session: Session, sub: Order, result: UpstreamOrderStatus, *, actor: str
) -> int:
    """Make and charge the new posts the subscription's status answer lists
    (inside the sync's transaction, the subscription locked); how many."""
    return record_posts(
        session,
        sub,
        listed=upstream_post_ids(result.raw),
        upstream_charge=None if result.charge is None else to_units(result.charge),
        upstream_rate=lambda: upstream_rate(session, sub),
        actor=actor,
    )


def settle_from_upstream(
    session: Session, post: Order, result: UpstreamOrderStatus, *, actor: str
) -> int:
    """Settle a post charged provisionally at its max from its own status
    answer; the amount refunded (0 while it cannot be told yet)."""
    return settle_provisional_post(
        session,
        post,
        status=result.status,
        reported_units=_reported_quantity(result),
        upstream_charge=None if result.charge is None else to_units(result.charge),
        remains=result.remains,
        upstream_rate=lambda: upstream_rate(session, post),
        actor=actor,
    )


def upstream_post_ids(raw: dict[str, Any]) -> list[str]:
    """The upstream ids of a subscription's post orders, in the order given
    (a list of numbers or strings, or a comma-separated string)."""
    value = raw.get("orders")
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return []
    seen: dict[str, None] = {}
    for item in items:
        text = str(item).strip()
        if text.isdigit():
            seen.setdefault(str(int(text)), None)
    return list(seen)


def _reported_quantity(result: UpstreamOrderStatus) -> int | None:
    text = str(result.raw.get("quantity", "")).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def upstream_rate(session: Session, order: Order) -> int | None:
    """The provider's last known rate (its currency) for the order's service."""
    found = session.execute(
        select(UpstreamService.rate)
        .join(
            ServiceSource,
            (ServiceSource.provider_id == UpstreamService.provider_id)
            & (ServiceSource.upstream_service_id == UpstreamService.upstream_id),
        )
        .where(
            ServiceSource.service_id == order.service_id,
            ServiceSource.provider_id == order.provider_id,
        )
    ).first()
    return int(found[0]) if found is not None else None
