"""The add-funds pages over plain HTTP: the gateways with their limits and
bonuses, starting a deposit, refusals on the form, a deposit's page (the
return URL, which never credits), the demo gateway's Pay and Fail, and who may
see what."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.accounts.queries import account_balance
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.panel.settings import put_setting
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind, GatewayEvent
from smmpanel.payments.models import Deposit
from smmpanel.payments.service import approve_deposit, start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.server import serve_in_thread, site_app
from tests.payments.conftest import fake_gateway, fake_installed
from tests.payments.fakes import FakeGateway
from tests.web.conftest import Browser, web_settings

# The tests' third-party gateway, installed through an entry point (tests/payments).
__all__ = ["fake_gateway", "fake_installed"]

INSTRUCTIONS = "IBAN XX00 TEST 0000 0000, Test Panel Ltd"


def set_up_gateways(db: Database) -> None:
    actor = Actor.system()
    configure_gateway(
        db,
        code="demo",
        values={"secret": "s3cret-of-the-demo", "min": "5", "max": "500", "bonus": "100:5"},
        actor=actor,
    )
    enable_gateway(db, code="demo", actor=actor)
    configure_gateway(db, code="manual", values={"instructions": INSTRUCTIONS}, actor=actor)
    enable_gateway(db, code="manual", actor=actor)


@pytest.fixture
def shop(db: Database) -> Iterator[str]:
    """A demo panel (the demo gateway offered) with both gateways enabled."""
    set_up_gateways(db)
    with serve_in_thread(site_app(db, web_settings(demo_payments=True))) as url:
        yield url


@pytest.fixture
def customer(shop: str) -> Iterator[Browser]:
    browser = Browser(shop)
    assert browser.sign_up("alice").status_code == 303
    yield browser
    browser.close()


def account_of(db: Database, username: str) -> int:
    with db.read() as session:
        found: int = session.execute(
            select(Account.id).where(Account.username == username)
        ).scalar_one()
        return found


def start(browser: Browser, amount: str, gateway: str) -> httpx.Response:
    return browser.submit("/funds/add", {"amount": amount, "gateway": gateway})


def deposit_id_of(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text[:2000]
    found = re.search(r"/funds/(?:deposits|demo-pay)/(\d+)$", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def state_of(db: Database, deposit_id: int) -> str:
    with db.read() as session:
        return session.get_one(Deposit, deposit_id).state


def test_the_gateways_are_listed_with_their_limits_and_bonus(customer: Browser) -> None:
    page = customer.get("/funds/add")
    assert page.status_code == 200
    demo = re.search(r'<tr data-gateway="demo">(.*?)</tr>', page.text, re.S)
    manual = re.search(r'<tr data-gateway="manual">(.*?)</tr>', page.text, re.S)
    assert demo and manual
    assert "Demo payment (no money)" in demo.group(1)
    assert re.search(r'class="min">5<', demo.group(1))
    assert re.search(r'class="max">500<', demo.group(1))
    assert "+5% from 100" in demo.group(1)
    assert "Bank transfer" in manual.group(1)
    assert re.search(r'class="max">10000<', manual.group(1))
    assert '<select id="gateway" name="gateway">' in page.text
    assert "This panel takes no payments online yet." not in page.text


def test_without_gateways_the_owners_text_is_shown(db: Database, browser_factory: Any) -> None:
    with db.write() as session:
        put_setting(session, "add_funds_text", "Write to us on Telegram.")
    browser: Browser = browser_factory()
    browser.sign_up("bob")
    page = browser.get("/funds/add")
    assert page.status_code == 200
    assert "Write to us on Telegram." in page.text
    assert 'name="amount"' not in page.text
    # The demo gateway is not offered outside demo mode, even when enabled.
    set_up_gateways(db)
    offered = browser.get("/funds/add").text
    assert 'data-gateway="manual"' in offered
    assert 'data-gateway="demo"' not in offered


def test_a_demo_deposit_goes_to_the_pay_page_and_pay_credits(
    db: Database, customer: Browser
) -> None:
    answer = start(customer, "100", "demo")
    deposit_id = deposit_id_of(answer)
    assert answer.headers["location"] == f"/funds/demo-pay/{deposit_id}"
    pay_page = customer.get(f"/funds/demo-pay/{deposit_id}")
    assert pay_page.status_code == 200
    assert "100.00000 USD" in pay_page.text
    assert 'value="paid"' in pay_page.text and 'value="failed"' in pay_page.text

    # The return URL shows the state and never credits.
    shown = customer.get(f"/funds/deposits/{deposit_id}")
    assert shown.status_code == 200
    assert 'data-state="pending"' in shown.text
    assert "once the payment is confirmed" in shown.text
    assert f'hx-get="/funds/deposits/{deposit_id}" hx-trigger="every 4s"' in shown.text
    assert account_balance(db, account_of(db, "alice"))[0] == 0

    paid = customer.submit(f"/funds/demo-pay/{deposit_id}", {"event": "paid"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"/funds/deposits/{deposit_id}"
    assert state_of(db, deposit_id) == "paid"
    # 100 USD and the +5% bonus from 100.
    assert account_balance(db, account_of(db, "alice"))[0] == 10_500_000
    after = customer.get(f"/funds/deposits/{deposit_id}").text
    assert 'data-state="paid"' in after and "Your balance is credited." in after
    assert "hx-trigger" not in after  # a settled deposit is not asked about again
    listed = customer.get("/funds/add").text
    row = re.search(rf'<tr data-deposit="{deposit_id}">(.*?)</tr>', listed, re.S)
    assert row and "Credited" in row.group(1)
    # The ledger names the deposit, and its bonus as an entry of its own.
    funds = customer.get("/funds").text
    link = f'<a href="/funds/deposits/{deposit_id}">#{deposit_id}</a>'
    assert f"Deposit {link}" in funds
    assert f"Bonus on deposit {link}" in funds
    assert "5.00000" in funds and "100.00000" in funds
    assert f"deposit {deposit_id}" in customer.get("/funds.csv").text
    # Pressing Pay again (the same event): nothing more.
    again = customer.submit(
        f"/funds/demo-pay/{deposit_id}", {"event": "paid"}, page=f"/funds/deposits/{deposit_id}"
    )
    assert again.status_code == 303
    assert account_balance(db, account_of(db, "alice"))[0] == 10_500_000
    assert find_balance_mismatches(db) == []


def test_fail_credits_nothing(db: Database, customer: Browser) -> None:
    deposit_id = deposit_id_of(start(customer, "10", "demo"))
    answer = customer.submit(f"/funds/demo-pay/{deposit_id}", {"event": "failed"})
    assert answer.status_code == 303
    assert state_of(db, deposit_id) == "failed"
    page = customer.get(f"/funds/deposits/{deposit_id}").text
    assert "This deposit was not credited." in page
    assert account_balance(db, account_of(db, "alice"))[0] == 0
    bad = customer.submit(f"/funds/demo-pay/{deposit_id}", {"event": "refund"})
    assert bad.status_code == 400
    assert find_balance_mismatches(db) == []


def test_a_manual_transfer_shows_its_instructions_and_the_owner_approves(
    db: Database, customer: Browser
) -> None:
    answer = start(customer, "50", "manual")
    deposit_id = deposit_id_of(answer)
    assert answer.headers["location"] == f"/funds/deposits/{deposit_id}"
    page = customer.get(f"/funds/deposits/{deposit_id}").text
    reference = re.search(r'<dd id="reference"><code>([^<]+)</code>', page)
    assert reference and reference.group(1).startswith("D-")
    instructions = re.search(r'<p class="terms" id="instructions">(.*?)</p>', page, re.S)
    assert instructions
    assert INSTRUCTIONS in html.unescape(instructions.group(1))
    assert reference.group(1) in html.unescape(instructions.group(1))
    assert 'id="pay"' not in page  # nowhere to go: pay by hand

    approve_deposit(db, deposit_id=deposit_id, actor=Actor("cli", "owner"))
    assert account_balance(db, account_of(db, "alice"))[0] == 5_000_000
    assert 'data-state="paid"' in customer.get(f"/funds/deposits/{deposit_id}").text
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize(
    ("amount", "gateway", "shown"),
    [
        ("4.99", "demo", "a deposit is from 5 to 500 USD"),
        ("501", "demo", "a deposit is from 5 to 500 USD"),
        ("10.001", "demo", "at most 2 decimal places"),
        ("0", "demo", "the amount must be more than zero"),
        ("ten", "demo", "not a decimal number"),
        ("10", "stripe", "Not a valid choice"),
        ("", "demo", "This field is required."),
    ],
)
def test_refusals_are_shown_on_the_form(
    db: Database, customer: Browser, amount: str, gateway: str, shown: str
) -> None:
    answer = start(customer, amount, gateway)
    assert answer.status_code == 400
    assert shown in html.unescape(answer.text)
    with db.read() as session:
        assert session.scalars(select(Deposit)).all() == []


def test_refusals_are_translated(customer: Browser) -> None:
    customer.submit("/language", {"language": "ru", "back": "/funds/add"}, page="/")
    answer = start(customer, "501", "demo")
    assert answer.status_code == 400
    assert "пополнение — от 5 до 500 USD" in answer.text
    assert "Способ оплаты" in answer.text
    assert "+5% от 100" in answer.text
    assert "Банковский перевод" in answer.text


def test_another_customers_deposit_is_404(db: Database, shop: str, customer: Browser) -> None:
    deposit_id = deposit_id_of(start(customer, "10", "demo"))
    other = Browser(shop)
    try:
        other.sign_up("mallory")
        for path in (f"/funds/deposits/{deposit_id}", f"/funds/demo-pay/{deposit_id}"):
            assert other.get(path).status_code == 404, path
        for path in ("/funds/deposits/999999", "/funds/deposits/abc", "/funds/deposits/0"):
            assert other.get(path).status_code == 404, path
        refused = other.submit(f"/funds/demo-pay/{deposit_id}", {"event": "paid"}, page="/")
        assert refused.status_code == 404
        assert 'data-deposit="' not in other.get("/funds/add").text
    finally:
        other.close()
    assert state_of(db, deposit_id) == "pending"


def test_a_visitor_is_sent_to_log_in(shop: str) -> None:
    with httpx.Client(base_url=shop) as visitor:
        for path in ("/funds/add", "/funds/deposits", "/funds/deposits/1", "/funds/demo-pay/1"):
            answer = visitor.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, "/login"), path


def test_demo_pay_is_404_outside_demo_mode(db: Database, browser_factory: Any) -> None:
    set_up_gateways(db)
    browser: Browser = browser_factory()  # web_url: demo payments off
    browser.sign_up("carol")
    deposit_id = deposit_id_of(start(browser, "20", "manual"))
    assert browser.get(f"/funds/demo-pay/{deposit_id}").status_code == 404


def test_a_post_without_the_csrf_token_is_403(db: Database, customer: Browser) -> None:
    bare = customer.http.post("/funds/add", data={"amount": "10", "gateway": "demo"})
    assert bare.status_code == 403
    deposit_id = deposit_id_of(start(customer, "10", "demo"))
    forged = customer.http.post(f"/funds/demo-pay/{deposit_id}", data={"event": "paid"})
    assert forged.status_code == 403
    assert state_of(db, deposit_id) == "pending"
    with db.read() as session:
        assert len(session.scalars(select(Deposit)).all()) == 1


@pytest.fixture
def plugin_shop(db: Database, fake_gateway: type[FakeGateway]) -> Iterator[str]:
    """A real panel offering the tests' third-party gateway, whose payment page
    is another site."""
    with serve_in_thread(site_app(db, web_settings())) as url:
        yield url


def test_an_off_site_gateway_is_reached_through_the_deposit_page(
    db: Database, plugin_shop: str, fake_gateway: type[FakeGateway]
) -> None:
    browser = Browser(plugin_shop)
    try:
        browser.sign_up("dora")
        answer = start(browser, "30", "fake")
        deposit_id = deposit_id_of(answer)
        # Not a redirect to another site from a form post (form-action 'self').
        assert answer.headers["location"] == f"/funds/deposits/{deposit_id}"
        page = browser.get(answer.headers["location"]).text
        assert f'href="https://pay.example/c/fk_{deposit_id}" role="button" id="pay"' in page
        assert "Fake Pay" in page
        # The gateway handed the panel's URLs for this deposit.
        (ref, _config) = fake_gateway.created[-1]
        assert ref.return_url == f"{plugin_shop}/funds/deposits/{deposit_id}"
        assert ref.webhook_url == f"{plugin_shop}/payments/webhook/fake"

        fake_gateway.down = True
        refused = start(browser, "30", "fake")
        assert refused.status_code == 400
        assert "This payment method is not available right now" in refused.text
        assert "fake gateway is down" not in refused.text
    finally:
        browser.close()
    assert state_of(db, deposit_id) == "pending"


def test_a_reversed_deposit_says_what_is_still_owed(db: Database, customer: Browser) -> None:
    deposit_id = deposit_id_of(start(customer, "100", "demo"))
    assert customer.submit(f"/funds/demo-pay/{deposit_id}", {"event": "paid"}).status_code == 303
    fund_account(db, username="alice", amount="-100", note="spent on orders")  # 5 left of 105
    reversal = GatewayEvent(
        kind=EventKind.REVERSED,
        event_id="demo-chargeback",
        deposit_id=deposit_id,
        external_id=None,
        amount=Decimal("100"),
        currency="USD",
        payload="{}",
    )
    apply_gateway_event(db, gateway="demo", event=reversal, actor=Actor("gateway", "demo"))
    page = customer.get(f"/funds/deposits/{deposit_id}").text
    assert 'data-state="reversed"' in page
    assert "its credit taken back" in page
    assert "Still owed: 100.00000 USD." in page
    assert account_balance(db, account_of(db, "alice"))[0] == 0
    assert find_balance_mismatches(db) == []


def test_all_deposits_page_by_page(db: Database, shop: str, customer: Browser) -> None:
    alice = account_of(db, "alice")
    settings = web_settings(demo_payments=True)
    made = [
        start_deposit(
            db,
            account_id=alice,
            gateway="manual",
            amount=str(10 + n),
            panel_url=shop,
            settings=settings,
            actor=Actor("web", "alice"),
        ).deposit_id
        for n in range(53)
    ]
    first = customer.get("/funds/deposits")
    assert first.status_code == 200
    shown = [int(i) for i in re.findall(r'<tr data-deposit="(\d+)">', first.text)]
    assert shown == made[::-1][:50]
    older = re.search(r'href="(/funds/deposits\?before=\d+)" id="older"', first.text)
    assert older
    second = customer.get(older.group(1)).text
    assert [int(i) for i in re.findall(r'<tr data-deposit="(\d+)">', second)] == made[2::-1]
    assert 'id="older"' not in second
    assert "Bank transfer" in second and "Awaiting payment" in second
    # /funds/add shows the latest 20, and links here.
    latest = customer.get("/funds/add").text
    assert len(re.findall(r"<tr data-deposit=", latest)) == 20
    assert 'href="/funds/deposits" id="all-deposits"' in latest
    assert customer.get("/funds/deposits?before=x").status_code == 400

    other = Browser(shop)
    try:
        other.sign_up("eve")
        assert "No deposits yet." in other.get("/funds/deposits").text
    finally:
        other.close()
