"""A manual (not provider-backed) subscription: the owner records each post with
the units it got (`smmpanel orders post`), and it is charged for those."""

from __future__ import annotations

import json
from decimal import Decimal

from smmpanel.accounts.queries import account_balance
from smmpanel.api_v2.app import create_app
from smmpanel.client import Client
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.service import place_order
from smmpanel.providers.service import map_service
from smmpanel.server import serve_in_thread
from tests.cli.conftest import invoke
from tests.factories import make_customer, make_service
from tests.fulfilment.conftest import Relay


def last_line_of(output: str) -> str:
    return output.strip().splitlines()[-1]


def _smmpanel(db: Database, *args: str, code: int = 0) -> str:
    result = invoke(["--database-url", db.url, *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


def test_owner_records_posts_charged_for_their_units(db: Database) -> None:
    alice = make_customer(db, balance="1")
    service = make_service(
        db, type="Subscriptions", rate="0.90", min_quantity=50, max_quantity=5000
    )
    params = {"username": "alice_ig", "min": "50", "max": "100"}
    sub_id = place_order(db, account_id=alice.id, service_id=service, params=params).order_id
    assert account_balance(db, alice.id)[0] == to_units("1")  # nothing charged to subscribe

    first = _smmpanel(db, "orders", "post", str(sub_id), "66")
    assert (
        first.splitlines()[0] == f"post 1 of subscription {sub_id}: 66 units, charged 0.05940 USD"
    )
    second = _smmpanel(db, "orders", "post", str(sub_id), "82", "--status", "in progress")
    refused = _smmpanel(db, "orders", "post", str(sub_id), "101", code=1)
    assert refused.strip() == f"Error: a post of subscription {sub_id} is 1 to 100 units"

    posts = [int(last_line_of(first)), int(last_line_of(second))]
    shown = [json.loads(_smmpanel(db, "orders", "show", str(p), "--json"))["order"] for p in posts]
    assert [(o["quantity"], o["charge"], o["status"]) for o in shown] == [
        (66, "0.05940", "Completed"),
        (82, "0.07380", "In progress"),
    ]
    assert account_balance(db, alice.id)[0] == to_units("1") - to_units("0.1332")
    with serve_in_thread(create_app(db)) as url, Client(f"{url}/api/v2", alice.key) as api:
        answer = api.status(sub_id)
    assert (str(answer.status), answer.charge) == ("In progress", Decimal("0.1332"))
    assert find_balance_mismatches(db) == []


def test_a_post_the_balance_cannot_pay_is_not_recorded(db: Database) -> None:
    bob = make_customer(db, "bob", balance="0.05")
    service = make_service(
        db, type="Subscriptions", rate="0.90", min_quantity=50, max_quantity=5000
    )
    params = {"username": "bob_ig", "min": "50", "max": "100"}
    sub_id = place_order(db, account_id=bob.id, service_id=service, params=params).order_id
    refused = _smmpanel(db, "orders", "post", str(sub_id), "60", code=1)
    assert refused.strip() == "Error: Not enough funds on balance"
    listed = json.loads(_smmpanel(db, "orders", "list", "--json"))
    assert [o["id"] for o in listed] == [sub_id]
    assert account_balance(db, bob.id)[0] == to_units("0.05")


def test_posts_of_a_provider_backed_subscription_are_refused(db: Database, relay: Relay) -> None:
    service = make_service(db, type="Subscriptions", name="Auto", min_quantity=50, max_quantity=500)
    order = _smmpanel(db, "orders", "post", str(relay.order()), "60", code=1)
    assert "is not a subscription" in order
    map_service(db, service_id=service, provider_name="sim", upstream_service_id="21")
    params = {"username": "x", "min": "50", "max": "100"}
    sub_id = place_order(
        db, account_id=relay.customer.id, service_id=service, params=params
    ).order_id
    refused = _smmpanel(db, "orders", "post", str(sub_id), "60", code=1)
    assert "is provider-backed" in refused
