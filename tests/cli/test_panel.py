"""`smmpanel currencies ...` and `smmpanel settings ...`."""

from __future__ import annotations

import json

from smmpanel.accounts.panel import get_flag, get_int
from smmpanel.db import Database
from tests.cli.conftest import Run
from tests.factories import make_customer


def test_currencies(run: Run) -> None:
    assert run("currencies", "set", "eur", "0.92").stdout.strip() == "1 USD = 0.92 EUR"
    run("currencies", "set", "RUB", "91.5")
    rows = json.loads(run("currencies", "list", "--json").stdout)
    assert [(r["code"], r["rate"], r["base"]) for r in rows] == [
        ("EUR", "0.92", False),
        ("RUB", "91.5", False),
        ("USD", "1", True),
    ]
    assert all(r["updated_at"] for r in rows)
    table = run("currencies", "list").stdout
    assert "per 1 USD" in table
    assert next(line for line in table.splitlines() if "RUB" in line).split()[:2] == ["RUB", "91.5"]


def test_currency_refusals(run: Run) -> None:
    assert "positive" in run("currencies", "set", "EUR", "0", ok=False).stderr
    assert "currency code" in run("currencies", "set", "E1", "2", ok=False).stderr
    assert "base currency" in run("currencies", "set", "USD", "2", ok=False).stderr


def test_base_currency_only_on_an_empty_panel(run: Run, db: Database) -> None:
    assert run("currencies", "base", "eur").stdout.strip() == "base currency: EUR"
    rows = json.loads(run("currencies", "list", "--json").stdout)
    assert [r["code"] for r in rows if r["base"]] == ["EUR"]
    make_customer(db, balance="0", currency="EUR")
    result = run("currencies", "base", "USD", ok=False)
    assert "only be chosen on an empty panel" in result.stderr


def test_settings(run: Run, db: Database) -> None:
    values = json.loads(run("settings", "list", "--json").stdout)
    assert values == {
        "base_currency": "USD",
        "default_refill_days": "30",
        "duplicate_link_check": "on",
    }
    assert run("settings", "set", "duplicate_link_check", "no").stdout.strip() == (
        "duplicate_link_check = off"
    )
    run("settings", "set", "default_refill_days", "7")
    with db.read() as session:
        assert get_flag(session, "duplicate_link_check") is False
        assert get_int(session, "default_refill_days") == 7
    table = run("settings", "list").stdout
    assert next(line for line in table.splitlines() if "refill" in line).split()[:3] == [
        "default_refill_days",
        "7",
        "30",
    ]


def test_setting_refusals(run: Run) -> None:
    assert "unknown setting 'colour'" in run("settings", "set", "colour", "red", ok=False).stderr
    assert "on or off" in run("settings", "set", "duplicate_link_check", "maybe", ok=False).stderr
    assert (
        "positive whole number"
        in run("settings", "set", "default_refill_days", "0", ok=False).stderr
    )
    # The base currency has its own command.
    assert "unknown setting" in run("settings", "set", "base_currency", "EUR", ok=False).stderr
