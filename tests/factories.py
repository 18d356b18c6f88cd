"""Test data: accounts, services, providers, orders and catalogs, made through
the domain commands (never by inserting rows), so that tests set up exactly
what the panel itself would have."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from smmpanel.accounts.service import create_account
from smmpanel.catalog.service import ServiceSpec, create_service, import_catalog
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.service import place_order
from smmpanel.providers.service import add_provider, map_service
from smmpanel.simulator.testing import RunningSimulator


@dataclass(frozen=True)
class Customer:
    id: int
    username: str
    key: str


def make_customer(
    db: Database, username: str = "alice", *, balance: str = "100", currency: str | None = None
) -> Customer:
    account = create_account(db, username=username, currency=currency)
    if Decimal(balance) != 0:
        fund_account(db, username=username, amount=balance, note="test top-up")
    return Customer(id=account.id, username=username, key=account.api_key)


def make_service(db: Database, **overrides: Any) -> int:
    values: dict[str, Any] = dict(
        name="Followers",
        type="Default",
        category="Instagram",
        rate="0.90",
        min_quantity=10,
        max_quantity=10_000,
    )
    service_id = overrides.pop("service_id", None)
    values.update(overrides)
    return create_service(db, spec=ServiceSpec(**values), service_id=service_id)


def reference_catalog() -> list[dict[str, Any]]:
    """The example `services` answer of the API reference, as shipped with smmpanel."""
    text = resources.files("smmpanel").joinpath("data/reference_catalog.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def import_reference_catalog(db: Database) -> None:
    import_catalog(db, entries=reference_catalog())


def make_provider(
    db: Database,
    sim: RunningSimulator,
    name: str = "up",
    *,
    dialect: dict[str, Any] | None = None,
) -> str:
    """A provider pointing at the simulator `sim` with its key; returns its name."""
    add_provider(db, name=name, api_url=sim.api_url, api_key=sim.key, dialect=dialect)
    return name


def make_backed_service(
    db: Database, provider: str, *, upstream_service: str = "1", **service: Any
) -> int:
    """A local service (make_service's defaults and `service`) forwarded to the
    provider's upstream service; returns its id."""
    service_id = make_service(db, **service)
    map_service(
        db, service_id=service_id, provider_name=provider, upstream_service_id=upstream_service
    )
    return service_id


def make_order(
    db: Database,
    customer: Customer,
    service_id: int,
    *,
    link: str = "https://x.com/a",
    quantity: int | None = 100,
    **params: str,
) -> int:
    """An order placed as the API places it (`quantity=None` leaves it out, for
    types without one); returns its id."""
    values = {"link": link, **params}
    if quantity is not None:
        values["quantity"] = str(quantity)
    return place_order(db, account_id=customer.id, service_id=service_id, params=values).order_id
