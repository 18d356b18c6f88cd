"""Accounts in another currency and per-account (custom) rates: what
`services` shows is exactly what `add` charges, in the account's currency."""

from __future__ import annotations

import httpx

from smmpanel.accounts.service import set_currency_rate
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.db import Database
from smmpanel.ledger.queries import list_entries
from tests.api.helpers import Api, assert_ledger_consistent
from tests.factories import make_customer, make_service


def _rates(api: Api) -> dict[int, str]:
    return {s["service"]: s["rate"] for s in api("services")}


def test_eur_account_sees_and_pays_converted_rates(db: Database, http: httpx.Client) -> None:
    make_service(db, name="Followers", rate="0.90", min_quantity=1, max_quantity=100_000)
    make_service(db, name="Cheap", rate="0.12345", min_quantity=1, max_quantity=100_000)
    set_currency_rate(db, code="EUR", rate="0.9")
    usd = make_customer(db, "usd")
    eur = make_customer(db, "eur", balance="50", currency="EUR")
    usd_api, eur_api = Api(http, usd.key), Api(http, eur.key, "json")

    assert _rates(usd_api) == {1: "0.90", 2: "0.12345"}
    # 0.90 x 0.9 = 0.81; 0.12345 x 0.9 = 0.111105 -> 0.11111 (5 places, half up).
    assert _rates(eur_api) == {1: "0.81", 2: "0.11111"}
    assert eur_api("balance") == {"balance": "50.00000", "currency": "EUR"}

    assert eur_api("add", service=2, link="https://x.com/a", quantity=1000) == {"order": 1}
    assert eur_api("add", service=1, link="https://x.com/b", quantity=10_000) == {"order": 2}
    assert eur_api("status", order=1) == {
        "charge": "0.11111",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "EUR",
    }
    assert eur_api("status", order=2)["charge"] == "8.10000"
    assert eur_api("balance") == {"balance": "41.78889", "currency": "EUR"}
    charges = [e.amount for e in list_entries(db, account_id=eur.id) if e.kind == "charge"]
    assert sorted(charges) == [-810_000, -11_111]

    # A new exchange rate changes prices, never a balance already held.
    set_currency_rate(db, code="EUR", rate="2")
    assert eur_api("balance") == {"balance": "41.78889", "currency": "EUR"}
    assert _rates(eur_api) == {1: "1.80", 2: "0.2469"}
    assert eur_api("add", service=1, link="https://x.com/c", quantity=1000) == {"order": 3}
    assert eur_api("status", order=3)["charge"] == "1.80000"
    # An order keeps the price it was placed at.
    assert eur_api("status", order=2)["charge"] == "8.10000"
    assert usd_api("balance") == {"balance": "100.00000", "currency": "USD"}
    assert_ledger_consistent(db)


def test_refunds_stay_in_the_account_currency(db: Database, http: httpx.Client) -> None:
    from smmpanel.orders.service import update_order

    make_service(db, rate="0.12345", min_quantity=1)
    set_currency_rate(db, code="EUR", rate="0.9")
    eur = make_customer(db, "eur", balance="1", currency="EUR")
    api = Api(http, eur.key)
    assert api("add", service=1, link="https://x.com/a", quantity=1000) == {"order": 1}
    set_currency_rate(db, code="EUR", rate="3")
    # Refund = remains x the order's own rate (0.11111 EUR), whatever the rate now.
    update_order(db, order_id=1, status="Partial", remains=500)  # 55.555 -> 0.05556
    assert api("balance") == {"balance": "0.94445", "currency": "EUR"}
    assert_ledger_consistent(db)


def test_custom_rates(db: Database, http: httpx.Client) -> None:
    make_service(db, name="Followers", rate="0.90", min_quantity=1, max_quantity=100_000)
    make_service(db, name="Likes", rate="2", min_quantity=1, max_quantity=100_000)
    set_currency_rate(db, code="EUR", rate="0.9")
    vip = make_customer(db, "vip")
    plain = make_customer(db, "plain")
    eur_vip = make_customer(db, "eurvip", currency="EUR")
    set_custom_rate(db, username="vip", service_id=1, rate="0.5")
    set_custom_rate(db, username="eurvip", service_id=1, rate="0.5")  # base currency
    vip_api, plain_api, eur_api = Api(http, vip.key), Api(http, plain.key), Api(http, eur_vip.key)

    assert _rates(vip_api) == {1: "0.50", 2: "2"}
    assert _rates(plain_api) == {1: "0.90", 2: "2"}
    assert _rates(eur_api) == {1: "0.45", 2: "1.80"}

    assert vip_api("add", service=1, link="https://x.com/v", quantity=2000) == {"order": 1}
    assert vip_api("status", order=1)["charge"] == "1.00000"
    assert plain_api("add", service=1, link="https://x.com/p", quantity=2000) == {"order": 2}
    assert plain_api("status", order=2)["charge"] == "1.80000"
    assert eur_api("add", service=1, link="https://x.com/e", quantity=2000) == {"order": 3}
    assert eur_api("status", order=3) == {
        "charge": "0.90000",
        "start_count": "0",
        "status": "Pending",
        "remains": "2000",
        "currency": "EUR",
    }
    assert vip_api("balance")["balance"] == "99.00000"

    # Removing the custom rate brings the catalog price back.
    set_custom_rate(db, username="vip", service_id=1, rate=None)
    assert _rates(vip_api) == {1: "0.90", 2: "2"}
    # A custom rate of zero makes the service free for that account.
    set_custom_rate(db, username="vip", service_id=2, rate="0")
    assert _rates(vip_api)[2] == "0"
    assert vip_api("add", service=2, link="https://x.com/free", quantity=5000) == {"order": 4}
    assert vip_api("status", order=4)["charge"] == "0.00000"
    assert vip_api("balance")["balance"] == "99.00000"
    assert_ledger_consistent(db)
