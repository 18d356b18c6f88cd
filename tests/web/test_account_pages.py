"""The account-side pages over plain HTTP: funds and the CSV, add funds, the
API page (key rotation, webhook), the API documentation, support tickets."""

from __future__ import annotations

import csv
import html
import io
import re
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.service import place_order
from smmpanel.panel.settings import put_setting
from smmpanel.support.queries import ticket_thread
from smmpanel.support.service import open_ticket, reply_as_owner
from tests.factories import make_customer, make_service
from tests.web.conftest import PASSWORD, Browser


def account_id(db: Database, username: str) -> int:
    with db.read() as session:
        found: int = session.execute(
            select(Account.id).where(Account.username == username)
        ).scalar_one()
        return found


def signed_up(browser_factory: Any, username: str) -> Browser:
    browser: Browser = browser_factory()
    assert browser.sign_up(username).status_code == 303
    return browser


def order(db: Database, owner: int, service: int, link: str, quantity: int = 100) -> int:
    params = {"link": link, "quantity": str(quantity)}
    return place_order(db, account_id=owner, service_id=service, params=params).order_id


def rows_of(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-entry="(\d+)">', page.text)


def test_funds_page_filters_and_csv(db: Database, browser_factory: Any) -> None:
    browser = signed_up(browser_factory, "alice")
    alice = account_id(db, "alice")
    fund_account(db, username="alice", amount="10", note='=HYPERLINK("http://evil")')
    service = make_service(db, rate="0.90")
    placed = order(db, alice, service, "https://example.com/p")
    fund_account(db, username="alice", amount="-0.5", note="@correction")

    page = browser.get("/funds")
    assert page.status_code == 200
    assert '<p class="balance" id="balance">9.41000 USD</p>' in page.text
    assert len(rows_of(page)) == 3
    assert f'<a href="/orders/{placed}">#{placed}</a>' in page.text
    assert "-0.09000" in page.text and "Top-up by the panel owner" in page.text
    assert "=HYPERLINK(&#34;http://evil&#34;)" in page.text  # escaped, shown as text

    charges = browser.get("/funds", params={"kind": "charge"})
    assert len(rows_of(charges)) == 1 and "Charge for order" in charges.text
    today = datetime.now(UTC).date()
    assert len(rows_of(browser.get("/funds", params={"to": str(today)}))) == 3
    later = browser.get("/funds", params={"from": str(today + timedelta(days=1))})
    assert rows_of(later) == [] and "No entries match." in later.text
    for bad in ({"kind": "gift"}, {"from": "yesterday"}, {"to": "2024-13-01"}, {"before": "x"}):
        assert browser.get("/funds", params=bad).status_code == 400, bad
        if "before" not in bad:  # the CSV has no pages
            assert browser.get("/funds.csv", params=bad).status_code == 400, bad

    answer = browser.get("/funds.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == [
        "id", "date", "kind", "amount", "balance_after", "currency", "order", "cause", "note",
    ]  # fmt: skip
    assert [(r[2], r[3], r[4], r[6], r[7]) for r in table[1:]] == [
        ("adjustment", "-0.50000", "9.41000", "", "adjustment by the panel owner"),
        ("charge", "-0.09000", "9.91000", str(placed), f"charge for order {placed}"),
        ("topup", "10.00000", "10.00000", "", "top-up by the panel owner"),
    ]
    # Text that a spreadsheet would run as a formula is kept as text.
    assert (table[1][8], table[3][8]) == ("'@correction", '\'=HYPERLINK("http://evil")')
    topups = list(csv.reader(io.StringIO(browser.get("/funds.csv?kind=topup").text)))
    assert [r[2] for r in topups[1:]] == ["topup"]


def test_funds_keyset_pages(db: Database, browser_factory: Any) -> None:
    browser = signed_up(browser_factory, "bea")
    for n in range(1, 56):
        fund_account(db, username="bea", amount=str(n))
    first = browser.get("/funds")
    ids = rows_of(first)
    assert len(ids) == 50
    older = re.search(r'<a href="([^"]+)" id="older">', first.text)
    assert older
    second = browser.get(html.unescape(older.group(1)))
    rest = rows_of(second)
    assert len(rest) == 5 and int(rest[0]) < int(ids[-1])
    assert 'id="older"' not in second.text
    table = list(csv.reader(io.StringIO(browser.get("/funds.csv").text)))
    assert len(table) == 56 and table[-1][3] == "1.00000"


def test_add_funds_page_shows_the_owner_text(db: Database, browser_factory: Any) -> None:
    browser = signed_up(browser_factory, "carl")
    page = browser.get("/funds/add")
    assert "open a support ticket with the amount" in page.text
    assert 'href="/tickets/new?subject=payment"' in page.text
    with db.write() as session:
        put_setting(session, "add_funds_text", "Pay by bank transfer <b>IBAN</b>")
    assert "Pay by bank transfer &lt;b&gt;IBAN&lt;/b&gt;" in browser.get("/funds/add").text
    new = browser.get("/tickets/new?subject=payment")
    assert '<option selected value="payment">' in new.text


def api_call(url: str, key: str, action: str = "balance") -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{url}/api/v2", data={"key": key, "action": action}).json()
    return answer


def test_api_key_rotation_asks_the_password(
    db: Database, browser_factory: Any, web_url: str
) -> None:
    browser = signed_up(browser_factory, "dora")
    wrong = browser.submit("/account/api/key", {"password": "not it"}, page="/account/api")
    assert wrong.status_code == 400 and "the password is wrong" in wrong.text
    assert 'id="new-key"' not in wrong.text
    keys = []
    for _ in range(2):
        answer = browser.submit("/account/api/key", {"password": PASSWORD}, page="/account/api")
        assert answer.status_code == 200
        found = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', answer.text)
        assert found
        keys.append(found.group(1))
    old, new = keys
    assert api_call(web_url, new) == {"balance": "0.00000", "currency": "USD"}
    assert api_call(web_url, old) == {"error": "Invalid API key"}
    later = browser.get("/account/api")
    assert new not in later.text and f"<code>{new[:6]}…</code>" in later.text
    assert browser.http.get("/account/api/key").status_code == 405
    # Wrong passwords count as failed logins of the account: guessing stops.
    for _ in range(4):
        browser.submit("/account/api/key", {"password": "guess"}, page="/account/api")
    throttled = browser.submit("/account/api/key", {"password": PASSWORD}, page="/account/api")
    assert throttled.status_code == 400 and "too many failed logins" in throttled.text
    assert 'id="new-key"' not in throttled.text


def test_webhook_set_refused_and_cleared(
    db: Database, browser_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = signed_up(browser_factory, "eve")
    monkeypatch.setenv("SMMPANEL_ALLOW_PRIVATE_URLS", "0")
    refused = browser.submit(
        "/account/api/webhook", {"url": "http://127.0.0.1:9/hook"}, page="/account/api"
    )
    assert refused.status_code == 400 and "the webhook URL is refused" in refused.text
    bad = browser.submit("/account/api/webhook", {"url": "ftp://x"}, page="/account/api")
    assert bad.status_code == 400 and "must start with http:// or https://" in bad.text

    url = "https://93.184.216.34/hook?token=abc"
    saved = browser.submit("/account/api/webhook", {"url": url}, page="/account/api")
    assert saved.status_code == 200
    secret = re.search(r'id="new-secret">([^<]+)</code>', saved.text)
    assert secret and len(secret.group(1)) >= 40
    with db.read() as session:
        stored = session.scalar(select(Account.webhook_url).where(Account.username == "eve"))
    assert stored == url
    again = browser.submit("/account/api/webhook", {"url": url + "2"}, page="/account/api")
    assert again.headers["location"] == "/account/api?saved=webhook"
    assert secret.group(1) not in browser.get("/account/api?saved=webhook").text
    rotated = browser.submit("/account/api/webhook/secret", {}, page="/account/api")
    new_secret = re.search(r'id="new-secret">([^<]+)</code>', rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)
    cleared = browser.submit("/account/api/webhook/clear", {}, page="/account/api")
    assert cleared.headers["location"] == "/account/api?saved=cleared"
    assert "No webhook is set." in browser.get("/account/api").text
    with db.read() as session:
        row = session.execute(
            select(Account.webhook_url, Account.webhook_secret).where(Account.username == "eve")
        ).one()
    assert tuple(row) == (None, None)
    no_hook = browser.submit("/account/api/webhook/secret", {}, page="/account/api")
    assert no_hook.status_code == 400


def test_api_docs_examples_run_against_the_panel(
    db: Database, browser_factory: Any, web_url: str
) -> None:
    browser = signed_up(browser_factory, "finn")
    fund_account(db, username="finn", amount="50")
    default = make_service(db, name="Followers", min_quantity=20)
    comments = make_service(db, name="Comments", type="Custom Comments", min_quantity=3)
    make_service(db, name="More followers")  # a second Default: the first one is shown
    key = browser.submit("/account/api/key", {"password": PASSWORD}, page="/account/api")
    found = re.search(r'id="new-key">([^<]+)</code>', key.text)
    assert found
    real_key = found.group(1)

    page = browser.get("/api-docs")
    assert page.status_code == 200
    assert f'<code id="api-url">{web_url}/api/v2</code>' in page.text
    assert real_key not in page.text and "YOUR_API_KEY" in page.text
    ids = re.findall(r'<code class="service-id">(\d+)</code>', page.text)
    assert ids == [str(default), str(comments)]
    assert "from smmpanel.client import Client" in page.text
    curls = [html.unescape(c) for c in re.findall(r'<pre class="example curl"><code>(.*?)</code>',
                                                   page.text, re.S)]  # fmt: skip
    assert len(curls) == 4  # balance, services, Default, Custom Comments
    answers = [run_curl(curl, real_key) for curl in curls]
    assert answers[0] == {"balance": "50.00000", "currency": "USD"}
    assert [s["service"] for s in answers[1]] == [default, comments, default + 2]
    assert set(answers[2]) == {"order"} and set(answers[3]) == {"order"}


def run_curl(command: str, key: str) -> Any:
    """The example's URL and parameters, sent as curl would send them."""
    words = [w for w in shlex.split(command) if w.strip()]
    assert words[:3] == ["curl", "-X", "POST"]
    url, data = words[3], []
    for flag, value in zip(words[4::2], words[5::2], strict=True):
        assert flag == "--data-urlencode"
        name, _, text = value.partition("=")
        data.append((name, key if text == "YOUR_API_KEY" else text))
    return httpx.post(url, data=dict(data)).json()


def test_tickets_pages(db: Database, browser_factory: Any) -> None:
    alice = signed_up(browser_factory, "gina")
    bob = signed_up(browser_factory, "hugo")
    gina, hugo = account_id(db, "gina"), account_id(db, "hugo")
    fund_account(db, username="gina", amount="10")
    fund_account(db, username="hugo", amount="10")
    service = make_service(db)
    own = order(db, gina, service, "https://example.com/g")
    foreign = order(db, hugo, service, "https://example.com/h")

    refused = alice.submit(
        "/tickets/new", {"subject": "order", "orders": str(foreign), "message": "where?"}
    )
    assert refused.status_code == 400 and f"no such order of yours: {foreign}" in refused.text
    for data in ({"subject": "gift", "message": "x"}, {"subject": "order", "message": ""},
                 {"subject": "order", "orders": "12a", "message": "x"}):  # fmt: skip
        assert alice.submit("/tickets/new", data).status_code == 400, data
    made = alice.submit(
        "/tickets/new", {"subject": "refill", "orders": f" {own} ", "message": "It <b>dropped</b>"}
    )
    assert made.status_code == 303
    path = made.headers["location"]
    ticket = int(path.rsplit("/", 1)[1])
    shown = alice.get(path)
    assert "It &lt;b&gt;dropped&lt;/b&gt;" in shown.text
    assert f'<a href="/orders/{own}">#{own}</a>' in shown.text

    assert "New answer" not in alice.get("/tickets").text
    reply_as_owner(db, ticket_id=ticket, message="Refill sent.")
    listing = alice.get("/tickets")
    assert '<mark class="unread">New answer</mark>' in listing.text
    assert "Refill sent." in alice.get(path).text
    assert "New answer" not in alice.get("/tickets").text  # opened: read

    answered = alice.submit(path, {"message": "Thanks"})
    assert answered.headers["location"] == path
    assert ticket_thread(db, ticket_id=ticket).ticket.status == "open"

    assert bob.get(path).status_code == 404
    assert bob.submit(path, {"message": "mine"}, page="/tickets/new").status_code == 404
    assert [m.body for m in ticket_thread(db, ticket_id=ticket).messages][-1] == "Thanks"
    for bad in ("/tickets/0", "/tickets/abc", "/tickets/99999999999", "/tickets/999"):
        assert alice.get(bad).status_code == 404, bad
    other = open_ticket(db, account_id=hugo, subject_kind="other", message="hi")
    assert alice.get(f"/tickets/{other}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/funds",
        "/funds.csv",
        "/funds/add",
        "/account/api",
        "/account/api/key",
        "/account/api/webhook",
        "/account/api/webhook/clear",
        "/account/api/webhook/secret",
        "/api-docs",
        "/tickets",
        "/tickets/new",
        "/tickets/1",
    ],
)
def test_pages_need_login_csrf_and_never_500(db: Database, browser_factory: Any, path: str) -> None:
    visitor: Browser = browser_factory()
    answer = visitor.get(path)
    assert answer.status_code in (303, 405) and answer.headers.get("location", "/login") == "/login"
    browser = signed_up(browser_factory, "ivy")
    customer = make_customer(db, "other")
    open_ticket(db, account_id=customer.id, subject_kind="other", message="not ivy's")
    no_token = browser.http.post(path, data={"message": "x", "url": "https://93.184.216.34/"})
    assert no_token.status_code in (403, 405), (path, no_token.status_code)
    token = browser.token("/account/api")
    for junk in ["", "x" * 6000, "\x00", "<script>", "9" * 30, "-1", "ё", "%ff"]:
        data = {"csrf_token": token, "password": junk, "url": junk, "message": junk}
        data |= {"subject": junk, "orders": junk}
        params = {"kind": junk, "from": junk, "to": junk, "before": junk, "subject": junk}
        for method in ("GET", "POST"):
            answer = browser.http.request(method, path, params=params, data=data)
            assert answer.status_code < 500, (path, method, junk[:10], answer.text[:300])
