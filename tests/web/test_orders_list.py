"""The orders, order, refills and cancels pages over HTTP: keyset pages, tabs,
search, the refill and cancel buttons where the domain allows them, another
customer's ids not found, CSRF, and no 500 for any input."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smmpanel.db import Database
from smmpanel.orders.models import CANCELED, COMPLETED, IN_PROGRESS, PARTIAL
from smmpanel.orders.requests import resolve_cancel
from smmpanel.orders.service import place_order, update_order
from tests.factories import make_service
from tests.web.conftest import Browser
from tests.web.orders_helpers import logged_in

ROW = re.compile(r'<tr data-order="(\d+)">')


def place(db: Database, account_id: int, service_id: int, link: str, quantity: int = 100) -> int:
    return place_order(
        db,
        account_id=account_id,
        service_id=service_id,
        params={"link": link, "quantity": str(quantity)},
    ).order_id


def ids_on(page: str) -> list[int]:
    return [int(found) for found in ROW.findall(page)]


def every_page(browser: Browser, path: str) -> list[int]:
    """Follow the "older" links from `path` to the end; all ids seen, in order."""
    seen: list[int] = []
    while True:
        text = browser.get(path).text
        seen += ids_on(text)
        found = re.search(r'href="([^"]+)" id="older"', text)
        if not found:
            return seen
        path = found.group(1).replace("&amp;", "&")


def test_keyset_pages_tabs_and_search(db: Database, browser_factory: Any) -> None:
    browser, account_id = logged_in(db, browser_factory, balance="1000")
    service_id = make_service(db, rate="0.10")
    made = [place(db, account_id, service_id, f"https://example.com/p{n}") for n in range(120)]
    _other, other_id = logged_in(db, browser_factory, username="bob")
    theirs = place(db, other_id, service_id, "https://example.com/p7-bob")
    for order_id in made[:30]:
        update_order(db, order_id=order_id, status=COMPLETED, remains=0)
    newest_first = sorted(made, reverse=True)
    assert every_page(browser, "/orders") == newest_first  # 50 + 50 + 20, no gap or repeat
    first = browser.get("/orders").text
    assert 'id="newer"' not in first and ids_on(first) == newest_first[:50]
    second_link = re.search(r'href="([^"]+)" id="older"', first)
    assert second_link
    second = browser.get(second_link.group(1)).text
    assert ids_on(second) == newest_first[50:100]
    back = re.search(r'href="([^"]+)" id="newer"', second)
    assert back and ids_on(browser.get(back.group(1)).text) == newest_first[:50]
    assert every_page(browser, "/orders?status=completed") == sorted(made[:30], reverse=True)
    assert every_page(browser, "/orders?status=canceled") == []
    assert every_page(browser, "/orders?q=p11") == sorted([made[11], *made[110:120]], reverse=True)
    assert ids_on(browser.get(f"/orders?q={made[5]}").text) == [made[5]]  # a number: the id
    assert ids_on(browser.get(f"/orders?q={theirs}").text) == []
    assert ids_on(browser.get("/orders?q=99999999999999").text) == []
    assert theirs not in every_page(browser, "/orders?q=bob")
    assert ids_on(browser.get("/orders?q=100%25").text) == []  # LIKE's % taken literally
    tab = browser.get("/orders?status=completed&q=p2").text
    assert ids_on(tab) == sorted([made[2], *made[20:30]], reverse=True)


def test_order_page_refill_and_cancel(db: Database, browser_factory: Any) -> None:
    browser, account_id = logged_in(db, browser_factory)
    refillable = make_service(db, name="Refillable", refill=True, cancel=False)
    cancellable = make_service(db, name="Cancellable", refill=False, cancel=True)
    done = place(db, account_id, refillable, "https://example.com/done")
    update_order(db, order_id=done, status=IN_PROGRESS, start_count=40)
    update_order(db, order_id=done, status=COMPLETED, remains=0)
    running = place(db, account_id, cancellable, "https://example.com/running")
    fixed = place(db, account_id, refillable, "https://example.com/fixed")
    listed = browser.get("/orders").text
    assert f'class="outline refill" data-order="{done}"' in listed
    assert f'class="outline cancel" data-order="{running}"' in listed
    assert (
        f'data-order="{fixed}">Cancel' not in listed
        and f'data-order="{fixed}">Refill' not in listed
    )
    page = browser.get(f"/orders/{done}")
    assert page.status_code == 200 and "Request a refill" in page.text
    assert "Request a cancel" not in page.text and ">40<" in page.text
    refilled = browser.submit(f"/orders/{done}/refill", {}, page=f"/orders/{done}")
    assert refilled.headers["location"] == f"/orders/{done}?done=refill"
    after = browser.get(refilled.headers["location"]).text
    assert "The refill is requested." in after and 'id="refills"' in after
    assert "Request a refill" not in after  # one open refill at a time
    again = browser.submit(f"/orders/{done}/refill", {}, page=f"/orders/{done}")
    assert again.status_code == 400 and "Refill request was sent earlier" in again.text
    canceled = browser.submit(f"/orders/{running}/cancel", {}, page=f"/orders/{running}")
    assert canceled.headers["location"] == f"/orders/{running}?done=cancel"
    assert "The cancel is requested." in browser.get(canceled.headers["location"]).text
    refused = browser.submit(f"/orders/{fixed}/cancel", {}, page=f"/orders/{fixed}")
    assert refused.status_code == 400 and "Cancel is disabled for this service" in refused.text
    refills = browser.get("/refills").text
    assert f'href="/orders/{done}"' in refills
    cancels = browser.get("/cancels").text
    # A manual service's cancel waits for the owner, who resolves it.
    assert f'href="/orders/{running}"' in cancels and '"status">Pending<' in cancels
    resolve_cancel(db, cancel_id=1, status="Completed")
    assert f'id="status">{CANCELED}<' in browser.get(f"/orders/{running}").text


def test_dripfeed_parent_shows_its_runs(db: Database, browser_factory: Any) -> None:
    from smmpanel.orders import dripfeed

    browser, account_id = logged_in(db, browser_factory)
    service_id = make_service(db, dripfeed=True)
    parent = place_order(
        db,
        account_id=account_id,
        service_id=service_id,
        params={"link": "https://example.com/d", "quantity": "100", "runs": "3", "interval": "5"},
    ).order_id
    assert hasattr(dripfeed, "is_dripfeed_parent")
    page = browser.get(f"/orders/{parent}").text
    assert "100 \u00d7 3" in page
    listed = browser.get("/orders").text
    assert ids_on(listed) == [parent]  # its runs, once made, are on its page only


def test_another_customers_order_is_not_found(db: Database, browser_factory: Any) -> None:
    alice, alice_id = logged_in(db, browser_factory)
    service_id = make_service(db, refill=True, cancel=True)
    hers = place(db, alice_id, service_id, "https://example.com/hers")
    update_order(db, order_id=hers, status=PARTIAL, remains=10)
    bob, _ = logged_in(db, browser_factory, username="bob")
    assert bob.get(f"/orders/{hers}").status_code == 404
    for what in ("refill", "cancel"):
        answer = bob.submit(f"/orders/{hers}/{what}", {}, page="/orders")
        assert answer.status_code == 404, what
    assert hers not in ids_on(bob.get("/orders").text)
    assert alice.get(f"/orders/{hers}").status_code == 200


def test_forms_without_csrf_token_are_refused(db: Database, browser_factory: Any) -> None:
    browser, account_id = logged_in(db, browser_factory)
    service_id = make_service(db, cancel=True)
    order_id = place(db, account_id, service_id, "https://example.com/x")
    for path, data in [
        ("/order/new", {"service": str(service_id), "link": "https://e.com/y", "quantity": "10"}),
        ("/order/quote", {"service": str(service_id)}),
        ("/order/mass", {"orders": f"{service_id} | https://e.com/z | 10"}),
        (f"/orders/{order_id}/cancel", {}),
    ]:
        answer = browser.http.post(path, data=data)
        assert answer.status_code == 403, path
    assert "Canceled" not in browser.get(f"/orders/{order_id}").text


@pytest.mark.parametrize(
    "path",
    [
        "/orders?before=abc&after=-1&status=nope&q=" + "x" * 5000,
        "/orders?before=99999999999999999999",
        "/orders/0",
        "/orders/abc",
        "/orders/99999999999999999999",
        "/orders/1/explode",
        "/order/new?service=abc&category=%00&q=%ff",
        "/order/new?service=99999999999",
        "/refills?before=%00",
        "/cancels?after=1e9",
        "/order/quote",
    ],
)
def test_bad_input_never_answers_500(db: Database, browser_factory: Any, path: str) -> None:
    browser, _ = logged_in(db, browser_factory)
    assert browser.get(path).status_code in (200, 400, 404, 405)


def test_bad_posts_never_answer_500(db: Database, browser_factory: Any) -> None:
    browser, _ = logged_in(db, browser_factory)
    service_id = make_service(db)
    for data in [
        {"service": str(service_id), "link": "https://e.com/\x00", "quantity": "1e999999"},
        {"service": str(service_id), "link": "x" * 10_000, "quantity": "-5"},
        {"service": "-1"},
        {"service": str(service_id), "runs": "99999999999999999999", "interval": "NaN"},
    ]:
        for path in ("/order/new", "/order/quote"):
            answer = browser.submit(path, data, page="/order/new")
            assert answer.status_code in (200, 400), (path, data, answer.text[:300])
    mass = browser.submit("/order/mass", {"orders": f"{service_id} | \x00 | 1e99999\n|||\n"})
    assert mass.status_code == 200


def test_visitors_are_sent_to_log_in(browser_factory: Any) -> None:
    visitor: Browser = browser_factory()
    for path in ("/order/new", "/order/mass", "/orders", "/orders/1", "/refills", "/cancels"):
        answer = visitor.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path


def test_subscription_shows_its_posts_and_their_cost(db: Database, browser_factory: Any) -> None:
    from smmpanel.audit.models import Actor
    from smmpanel.orders.posts import record_post

    browser, account_id = logged_in(db, browser_factory)
    service_id = make_service(db, type="Subscriptions", rate="2.00", min_quantity=10)
    sub = place_order(
        db,
        account_id=account_id,
        service_id=service_id,
        params={"username": "<b>watched</b>", "min": "10", "max": "50"},
    ).order_id
    for quantity in (20, 30):
        record_post(db, subscription_id=sub, quantity=quantity, actor=Actor.system())
    page = browser.get(f"/orders/{sub}").text
    assert "<h2>Posts</h2>" in page and page.count("<td>20</td>") + page.count("<td>30</td>") == 2
    assert 'id="charge">0.10000 USD<' in page  # 50 units at 2.00 per 1000, the posts' sum
    assert "&lt;b&gt;watched&lt;/b&gt;" in page and "<b>watched" not in page
    listed = browser.get("/orders").text
    assert ids_on(listed) == [sub] and "0.10000 USD" in listed


def test_history_of_a_provider_backed_order_is_its_statuses(
    db: Database, browser_factory: Any
) -> None:
    from sqlalchemy import func, select

    from smmpanel.orders.models import OrderEvent
    from smmpanel.providers.service import add_provider
    from tests.factories import make_backed_service

    browser, account_id = logged_in(db, browser_factory)
    # Never called here: placing only queues the forwarding (a move the owner sees).
    add_provider(db, name="up", api_url="http://127.0.0.1:9/api/v2", api_key="k")
    service_id = make_backed_service(db, "up")
    order_id = place(db, account_id, service_id, "https://example.com/up")
    with db.read() as session:
        moves = session.scalar(
            select(func.count()).where(
                OrderEvent.order_id == order_id, OrderEvent.to_forward.is_not(None)
            )
        )
    assert moves == 1
    page = browser.get(f"/orders/{order_id}").text
    history = page[page.index('id="events"') : page.index("</table>", page.index('id="events"'))]
    assert history.count("<tr><td>") == 1 and "Pending" in history
