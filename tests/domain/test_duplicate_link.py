"""The duplicate-active-link rule compares pages, not spellings."""

from __future__ import annotations

import pytest

from smmpanel.db import Database
from smmpanel.orders.errors import ActiveOrderExists
from smmpanel.orders.service import place_order, same_target, update_order
from smmpanel.panel.settings import put_setting
from tests.factories import Customer, make_customer, make_order, make_service


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://x.com/a", "HTTPS://WWW.X.COM/a/"),
        ("https://x.com/a", "http://x.com/a#comments"),
        ("x.com/a", "https://x.com/a"),
    ],
)
def test_spellings_of_one_page_are_one_link(db: Database, first: str, second: str) -> None:
    service = make_service(db)
    customer = make_customer(db)
    order = place_order(
        db, account_id=customer.id, service_id=service, params={"link": first, "quantity": "100"}
    )
    with pytest.raises(ActiveOrderExists):
        place_order(
            db,
            account_id=customer.id,
            service_id=service,
            params={"link": second, "quantity": "100"},
        )
    update_order(db, order_id=order.order_id, status="Completed")
    again = place_order(
        db, account_id=customer.id, service_id=service, params={"link": second, "quantity": "100"}
    )
    assert again.order_id > order.order_id


def test_paths_keep_their_case_and_queries_count() -> None:
    assert same_target("https://x.com/A") != same_target("https://x.com/a")
    assert same_target("https://x.com/p?id=1") != same_target("https://x.com/p?id=2")
    assert same_target("https://www.X.com/") == same_target("x.com") == "x.com"


def _scope(db: Database, scope: str) -> None:
    with db.write() as session:
        put_setting(session, "duplicate_link_scope", scope)


def _add(db: Database, customer: Customer, service: int, link: str = "https://x.com/a") -> int:
    return make_order(db, customer, service, link=link)


@pytest.mark.parametrize(
    ("scope", "second_account_placed", "same_account_placed"),
    [("panel", False, False), ("account", True, False), ("off", True, True)],
)
def test_the_duplicate_link_scope(
    db: Database, scope: str, second_account_placed: bool, same_account_placed: bool
) -> None:
    """panel: one active order per link and service on the whole panel; account:
    per account (other customers cannot learn or block a link); off: no rule."""
    service = make_service(db)
    alice, bob = make_customer(db), make_customer(db, "bob")
    _scope(db, scope)
    first = _add(db, alice, service)
    outcomes = []
    for customer in (bob, alice):
        try:
            _add(db, customer, service, "HTTPS://WWW.X.COM/a/")
            outcomes.append(True)
        except ActiveOrderExists:
            outcomes.append(False)
    assert outcomes == [second_account_placed, same_account_placed]
    # Another service, or the first order ended: the link is free again.
    _add(db, alice, make_service(db, name="Likes"))
    update_order(db, order_id=first, status="Completed")
    if not same_account_placed:
        _add(db, alice, service)


def test_orders_placed_under_one_scope_keep_their_rule_after_a_change(db: Database) -> None:
    service = make_service(db)
    alice, bob = make_customer(db), make_customer(db, "bob")
    _add(db, alice, service)  # panel-wide, the default
    _scope(db, "account")
    _add(db, bob, service)  # bob's own: the panel-wide key does not block it
    with pytest.raises(ActiveOrderExists):
        _add(db, bob, service)
    _scope(db, "panel")
    with pytest.raises(ActiveOrderExists):
        _add(db, bob, service)
