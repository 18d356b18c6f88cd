"""The duplicate-active-link rule compares pages, not spellings."""

from __future__ import annotations

import pytest

from smmpanel.db import Database
from smmpanel.orders.errors import ActiveOrderExists
from smmpanel.orders.service import place_order, same_target, update_order
from tests.factories import make_customer, make_service


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
