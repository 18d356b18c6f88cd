"""The admin's orders list over HTTP: filters and searches find exactly the
expected orders, keyset pages cover every row once, bad filters are messages
(never a 500), and who may see the list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.orders.admin_listing import OrderFilter, list_all_orders
from smmpanel.orders.service import update_order
from smmpanel.orders.webhooks import set_webhook
from smmpanel.timeutil import utcnow
from tests.factories import make_customer, make_order, make_service
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

ROW = re.compile(r'<tr data-order="(\d+)"')
CLI = Actor("cli", "tests")


def listed(browser: Browser, query: str = "") -> list[int]:
    answer = browser.get("/admin/orders" + (f"?{query}" if query else ""))
    assert answer.status_code == 200, answer.text[:500]
    return [int(found) for found in ROW.findall(answer.text)]


def _orders(db: Database) -> dict[str, int]:
    """Six orders of two customers on two services, in several statuses."""
    alice, bob = make_customer(db, "alice"), make_customer(db, "bob")
    likes = make_service(db, name="Likes")
    views = make_service(db, name="Views", category="YouTube")
    made = {
        "a1": make_order(db, alice, likes, link="https://x.com/alpha_1"),
        "a2": make_order(db, alice, views, link="https://x.com/beta"),
        "b1": make_order(db, bob, likes, link="https://x.com/gamma%"),
        "b2": make_order(db, bob, views, link="https://y.org/alpha"),
        "a3": make_order(db, alice, likes, link="https://x.com/delta"),
        "b3": make_order(db, bob, likes, link="https://x.com/epsilon"),
    }
    update_order(db, order_id=made["a2"], status="Completed", actor=CLI)
    update_order(db, order_id=made["b2"], status="Canceled", actor=CLI)
    update_order(db, order_id=made["b3"], status="In progress", actor=CLI)
    return made | {"likes": likes, "views": views}


def test_filters_and_searches_find_exactly_the_expected_orders(
    db: Database, browser_factory: Any
) -> None:
    o = _orders(db)
    support = staff_browser(db, browser_factory, role="support")
    every = [o["b3"], o["a3"], o["b2"], o["b1"], o["a2"], o["a1"]]
    assert listed(support) == every
    assert listed(support, "status=Completed") == [o["a2"]]
    assert listed(support, "status=Canceled") == [o["b2"]]
    assert listed(support, f"service={o['likes']}") == [o["b3"], o["a3"], o["b1"], o["a1"]]
    assert listed(support, "customer=alice") == [o["a3"], o["a2"], o["a1"]]
    assert listed(support, f"customer=bob&service={o['views']}") == [o["b2"]]
    assert listed(support, "customer=nobody") == []
    assert listed(support, "forwarding=manual") == every
    assert listed(support, "forwarding=queued") == []
    today = utcnow().date()
    assert listed(support, f"from={today}&to={today}") == every
    assert listed(support, f"to={today - timedelta(days=1)}") == []
    assert listed(support, f"from={today + timedelta(days=1)}") == []
    # Search: an id, a part of a link (LIKE's wildcards taken literally).
    assert listed(support, f"q={o['b1']}") == [o["b1"]]
    assert listed(support, "q=alpha") == [o["b2"], o["a1"]]
    assert listed(support, "q=alpha_") == [o["a1"]]
    assert listed(support, "q=gamma%25") == [o["b1"]]
    assert listed(support, "q=y.org&status=Canceled") == [o["b2"]]
    assert listed(support, "q=9999999999") == []
    # Support sees the list, without checkboxes or bulk actions.
    page = support.get("/admin/orders").text
    assert 'name="ids"' not in page and 'id="bulk-actions"' not in page


def test_bad_filters_are_messages_not_errors(db: Database, browser_factory: Any) -> None:
    o = _orders(db)
    owner = staff_browser(db, browser_factory)
    answer = owner.get("/admin/orders?service=abc&from=2026-13-01&status=Nope&forwarding=x")
    assert answer.status_code == 200
    assert "Not a number: abc" in answer.text
    assert "Not a date (YYYY-MM-DD): 2026-13-01" in answer.text
    assert len(ROW.findall(answer.text)) == 6  # the bad filters are dropped
    assert listed(owner, "before=abc&after=-1") == listed(owner)
    assert listed(owner, "q=" + "x" * 5000) == []
    assert listed(owner, f"before={o['a3']}") == [o["b2"], o["b1"], o["a2"], o["a1"]]
    russian = owner.get("/admin/orders?service=abc", headers={"accept-language": "ru"}).text
    assert "Не число: abc" in russian and "Заказы" in russian  # noqa: RUF001
    assert owner.get("/admin/orders/999999").status_code == 404
    assert owner.get("/admin/orders/abc").status_code == 404


def test_keyset_pages_cover_every_row_once(db: Database) -> None:
    o = _orders(db)
    wanted = OrderFilter(service_id=o["likes"])
    seen: list[int] = []
    page = list_all_orders(db, wanted, limit=3)
    pages = [page.rows]
    while page.older is not None:
        page = list_all_orders(db, wanted, before=page.older, limit=3)
        pages.append(page.rows)
    seen = [row.id for rows in pages for row in rows]
    assert seen == [o["b3"], o["a3"], o["b1"], o["a1"]]
    assert [len(rows) for rows in pages] == [3, 1]
    back = list_all_orders(db, wanted, after=pages[-1][0].id, limit=3)
    assert [row.id for row in back.rows] == [o["b3"], o["a3"], o["b1"]]
    assert back.newer is None and back.older == o["b1"]
    # Every order of the panel, two at a time, newest first.
    ids: list[int] = []
    before = None
    while True:
        page = list_all_orders(db, OrderFilter(), before=before, limit=2)
        ids += [row.id for row in page.rows]
        if page.older is None:
            break
        before = page.older
    assert ids == sorted({v for k, v in o.items() if k not in ("likes", "views")}, reverse=True)


def test_the_list_pages_over_http(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "carol", balance="1000")
    service = make_service(db)
    made = [make_order(db, customer, service, link=f"https://x.com/{n}") for n in range(53)]
    owner = staff_browser(db, browser_factory, role="manager")
    first = owner.get("/admin/orders?customer=carol").text
    assert [int(i) for i in ROW.findall(first)] == made[::-1][:50]
    older = re.search(r'id="older" href="([^"]+)"|href="([^"]+)" id="older"', first)
    assert older is not None
    link = (older.group(1) or older.group(2)).replace("&amp;", "&")
    assert "customer=carol" in link
    second = owner.get(link).text
    assert [int(i) for i in ROW.findall(second)] == made[::-1][50:]
    assert 'id="older"' not in second and 'id="newer"' in second


def test_the_detail_shows_webhook_deliveries_and_audit(db: Database, browser_factory: Any) -> None:
    customer = make_customer(db, "alice")
    set_webhook(db, username="alice", url="https://placeholder.example/hook")
    order_id = make_order(db, customer, make_service(db), link="https://x.com/<b>bold</b>")
    other = make_order(db, customer, make_service(db, name="Other"))
    update_order(db, order_id=order_id, status="In progress", note="<i>started</i>", actor=CLI)
    update_order(db, order_id=other, status="Completed", actor=CLI)
    page = staff_browser(db, browser_factory, role="support").get(f"/admin/orders/{order_id}")
    text = page.text
    deliveries = text[text.index('id="deliveries"') : text.index("<h2>Audit</h2>")]
    # The status change's delivery (the placing is not one), not the other order's.
    assert re.findall(r"<td>(order-\d+-\d+)</td>", deliveries) == [f"order-{order_id}-2"]
    assert "<td>queued</td>" in deliveries
    audit = text[text.index('id="audit"') :]
    assert '<td class="actor">cli:tests</td>' in audit and "order_resolved_by_hand" in audit
    # Data is escaped, never markup.
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text
    assert "&lt;i&gt;started&lt;/i&gt;" in text
