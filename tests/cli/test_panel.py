"""`smmpanel currencies ...` and `smmpanel settings ...`."""

from __future__ import annotations

import json

from smmpanel.db import Database
from smmpanel.panel.models import Setting
from smmpanel.panel.settings import duplicate_link_scope, get_int
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
    assert "from 0.000001 to 1000000" in run("currencies", "set", "EUR", "0", code=2).stderr
    assert "currency code" in run("currencies", "set", "E1", "2", code=2).stderr
    assert "base currency" in run("currencies", "set", "USD", "2", code=2).stderr


def test_exchange_rates_are_bounded_and_stored_plainly(run: Run) -> None:
    """`currencies set ZZZ 1e30` was accepted, and every `services` call of an
    account in ZZZ then failed; a rate is 0.000001 to 1000000, 6 places at most."""
    for bad in ("1e30", "1000000.1", "0.0000009", "0.1234567", "-1", "NaN"):
        assert "exchange rate" in run("currencies", "set", "ZZZ", bad, code=2).stderr
    assert run("currencies", "set", "ZZZ", "1E+6").stdout.strip() == "1 USD = 1000000 ZZZ"
    assert run("currencies", "set", "YYY", "0.000001").stdout.strip() == "1 USD = 0.000001 YYY"
    assert run("currencies", "set", "XXX", "0.920000").stdout.strip() == "1 USD = 0.92 XXX"
    rows = json.loads(run("currencies", "list", "--json").stdout)
    assert {r["code"]: r["rate"] for r in rows} == {
        "USD": "1",
        "XXX": "0.92",
        "YYY": "0.000001",
        "ZZZ": "1000000",
    }


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
        "duplicate_link_scope": "panel",
        # The customer web's (docs/web.md).
        "panel_name": "smmpanel",
        "public_services": "on",
        "signup": "on",
        "terms": "",
        "add_funds_text": (
            "Ask the panel owner to add funds: open a support ticket with the amount."
        ),
    }
    assert run("settings", "set", "duplicate_link_scope", "Account").stdout.strip() == (
        "duplicate_link_scope = account"
    )
    run("settings", "set", "default_refill_days", "7")
    with db.read() as session:
        assert duplicate_link_scope(session) == "account"
        assert get_int(session, "default_refill_days") == 7
    table = run("settings", "list").stdout
    assert next(line for line in table.splitlines() if "refill" in line).split()[:3] == [
        "default_refill_days",
        "7",
        "30",
    ]


def test_the_old_duplicate_link_check_still_works(run: Run, db: Database) -> None:
    """Panels that stored duplicate_link_check keep its meaning; setting it (or
    the new key) stores duplicate_link_scope and drops the old row."""
    with db.write() as session:
        session.add(Setting(key="duplicate_link_check", value="off"))
    assert json.loads(run("settings", "list", "--json").stdout)["duplicate_link_scope"] == "off"
    assert run("settings", "set", "duplicate_link_check", "yes").stdout.strip() == (
        "duplicate_link_scope = panel"
    )
    with db.read() as session:
        assert session.get(Setting, "duplicate_link_check") is None
        assert duplicate_link_scope(session) == "panel"
    assert run("settings", "set", "duplicate_link_check", "no").stdout.strip() == (
        "duplicate_link_scope = off"
    )


def test_setting_refusals(run: Run) -> None:
    assert "unknown setting 'colour'" in run("settings", "set", "colour", "red", code=2).stderr
    assert "on or off" in run("settings", "set", "duplicate_link_check", "maybe", code=2).stderr
    assert (
        "panel, account, off"
        in run("settings", "set", "duplicate_link_scope", "everyone", code=2).stderr
    )
    for bad in ("0", "3651", "1e3", "99999999999999999999999", "-1", "7.5"):
        assert "from 1 to 3650" in run("settings", "set", "default_refill_days", bad, code=2).stderr
    # The base currency has its own command.
    assert "unknown setting" in run("settings", "set", "base_currency", "EUR", code=2).stderr
