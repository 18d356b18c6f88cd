"""A service in the format of the API's `services` answer.

One function for both places that speak it: the /api/v2 `services` action
and `smmpanel services export` (whose files `services import` reads back).
"""

from __future__ import annotations

from typing import Any

from smmpanel.catalog.queries import ServiceView
from smmpanel.money import format_rate


def service_entry(view: ServiceView, *, extended: bool) -> dict[str, Any]:
    """The reference's fields, in its order; with `extended`, the descriptions
    and translations it marks "on request"."""
    entry: dict[str, Any] = {
        "service": view.id,
        "name": view.name,
        "type": view.type,
        "rate": format_rate(view.rate),
        "min": str(view.min_quantity),
        "max": str(view.max_quantity),
        "dripfeed": view.dripfeed,
        "refill": view.refill,
        "cancel": view.cancel,
        "category": view.category,
    }
    if extended:
        entry.update(
            desc=view.description,
            description=view.description,
            name_lang=view.name_lang,
            cat_lang=view.category_lang,
            category_lang=view.category_lang,
            desc_lang=view.description_lang,
            description_lang=view.description_lang,
        )
    return entry
