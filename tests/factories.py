"""Test data: accounts, services and catalogs, made through the domain commands."""

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
