"""The admin's customers section over HTTP, on SQLite and PostgreSQL: search,
a customer's page, and each action's effect in the database and the audit
trail (actor staff:<name>); roles (403), CSRF (403), bad input (400), unknown
customers (404)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from smmpanel.accounts.errors import InvalidApiKey
from smmpanel.accounts.models import Account
from smmpanel.accounts.passwords import reset_target
from smmpanel.accounts.queries import authenticate
from smmpanel.accounts.service import create_account, set_currency_rate
from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.catalog.models import AccountServiceRate
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.service import place_order
from smmpanel.payments.service import start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.support.service import open_ticket
from tests.factories import make_customer, make_service
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

PAGE = "/admin/customers/{}"


def audit_of(db: Database, account_id: int, action: str) -> list[tuple[str, str]]:
    """(actor, details) of the account's audit rows of `action`, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.details)
            .where(AuditEntry.subject == f"account:{account_id}", AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(actor, details) for actor, details in rows]


def account(db: Database, account_id: int) -> Account:
    with db.read() as session:
        return session.get_one(Account, account_id)


def counts(db: Database) -> tuple[int, int, int]:
    """Ledger entries, audit rows and the balances' sum: what a refused action leaves alone."""
    with db.read() as session:
        return (
            session.scalar(select(func.count(LedgerEntry.id))) or 0,
            session.scalar(select(func.count(AuditEntry.id))) or 0,
            session.scalar(select(func.sum(Account.balance))) or 0,
        )


def post(browser: Browser, account_id: int, action: str, data: dict[str, str]) -> Any:
    """An action's form, posted with the token of the customer's page."""
    path = PAGE.format(account_id)
    return browser.submit(f"{path}/{action}", data, page=path)


def test_search_by_id_username_and_email(db: Database, browser_factory: Any) -> None:
    alice = create_account(db, username="Alice", email="alice@mail.example")
    bob = create_account(db, username="bob", email="Bob.Smith@corp.example")
    carol = create_account(db, username="carol_7", email=None)
    admin = staff_browser(db, browser_factory, role="support")

    def found(query: str) -> list[int]:
        answer = admin.get("/admin/customers", params={"q": query})
        assert answer.status_code == 200
        return [int(i) for i in re.findall(r'data-customer="(\d+)"', answer.text)]

    assert found("") == [carol.id, bob.id, alice.id]  # newest first
    assert found("aLi") == [alice.id]  # a part of the username, either case
    assert found("CORP.example") == [bob.id]  # a part of the e-mail
    assert found(str(bob.id)) == [bob.id]  # the id
    assert found("_7") == [carol.id] and found("%") == []  # wildcards are plain text
    assert found("x" * 5000) == []  # cut to its bound, not an error
    nothing = admin.get("/admin/customers", params={"q": "nobody"})
    assert "No customer matches." in nothing.text
    row = admin.get("/admin/customers", params={"q": "bob"}).text
    assert "Bob.Smith@corp.example" in row and "0.00000 USD" in row
    assert admin.get("/admin/customers", params={"before": "x"}).status_code == 400


def test_the_customer_page_shows_the_account(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db, balance="25")
    service = make_service(db)
    order = place_order(
        db,
        account_id=alice.id,
        service_id=service,
        params={"link": "https://x.y/1", "quantity": 100},
    ).order_id
    ticket = open_ticket(db, account_id=alice.id, subject_kind="order", message="Where is it?")
    admin = staff_browser(db, browser_factory, role="support")
    page = admin.get(PAGE.format(alice.id))
    assert page.status_code == 200
    text = page.text
    assert 'id="customer-balance" class="balance">24.91000 USD' in text  # 25 - 100 x 0.90/1000
    assert f"<code>{alice.key[:6]}…</code>" in text and alice.key not in text
    assert f'href="/admin/orders/{order}"' in text and f'href="/admin/tickets/{ticket}"' in text
    assert "test top-up" in text and "account_funded" in text  # ledger and audit
    assert 'id="customer-two-factor">off' in text
    # Support may look, not act: no forms for money or options.
    assert "/fund" not in text and "/rotate-key" not in text
    russian = admin.get(PAGE.format(alice.id), headers={"accept-language": "ru"}).text
    assert "Последние заказы" in russian and "Журнал операций" in russian
    assert admin.get(PAGE.format(999_999)).status_code == 404
    assert admin.get(PAGE.format(10**12)).status_code == 404
    assert admin.get(PAGE.format(alice.id), params={"ledger_before": "-1"}).status_code == 400


def test_the_customer_page_lists_deposits(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db, balance="0")
    configure_gateway(db, code="manual", values={"instructions": "IBAN X"}, actor=Actor.system())
    enable_gateway(db, code="manual", actor=Actor.system())
    started = start_deposit(
        db,
        account_id=alice.id,
        gateway="manual",
        amount="12",
        panel_url="https://panel.example",
        actor=Actor("web", "alice"),
    )
    admin = staff_browser(db, browser_factory, role="support")
    row = re.search(
        rf'<tr data-deposit="{started.deposit_id}">(.*?)</tr>',
        admin.get(PAGE.format(alice.id)).text,
        re.S,
    )
    assert row is not None
    assert started.reference in row[1] and "12.00000 USD" in row[1]
    assert "Awaiting payment" in row[1]


def test_fund_and_deduct(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db, balance="100")
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    done = post(manager, alice.id, "fund", {"amount": "12.34567", "note": "bank transfer 42"})
    assert (done.status_code, done.headers["location"]) == (
        303,
        PAGE.format(alice.id) + "?done=funded",
    )
    assert account(db, alice.id).balance == 11_234_567
    with db.read() as session:
        entry = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert entry is not None
    assert (entry.kind, entry.amount, entry.balance_after, entry.note) == (
        "topup",
        1_234_567,
        11_234_567,
        "bank transfer 42",
    )
    [(actor, details)] = audit_of(db, alice.id, "account_funded")[1:]
    assert actor == "staff:mia" and '"amount": "12.34567"' in details
    assert "The balance is changed." in manager.get(done.headers["location"]).text

    assert post(manager, alice.id, "fund", {"amount": "-0.34567"}).status_code == 303
    assert account(db, alice.id).balance == 11_200_000

    before = counts(db)
    refused = post(manager, alice.id, "fund", {"amount": "-112.00001", "note": "too much"})
    assert refused.status_code == 400
    assert (
        "Cannot deduct 112.00001 USD: the balance is 112.00000 USD and never goes below zero."
        in refused.text
    )
    assert counts(db) == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("ten", "not a decimal number"),
        ("1.123456", "at most 5 decimal places"),
        ("99999999999", "must be from"),
        ("0", "must not be zero"),
        ("", "This field is required."),
        ("1" * 41, "Field cannot be longer than 40 characters."),
    ],
)
def test_bad_amounts_are_refused(
    db: Database, browser_factory: Any, amount: str, message: str
) -> None:
    alice = make_customer(db, balance="5")
    owner = staff_browser(db, browser_factory)
    before = counts(db)
    refused = post(owner, alice.id, "fund", {"amount": amount})
    assert refused.status_code == 400 and message in refused.text
    assert counts(db) == before


def test_support_may_not_act_and_posts_need_the_token(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db)
    service = make_service(db)
    support = staff_browser(db, browser_factory, role="support")
    owner = staff_browser(db, browser_factory, role="owner")
    path = PAGE.format(alice.id)
    actions: list[tuple[str, dict[str, str]]] = [
        ("fund", {"amount": "5"}),
        ("rate", {"service": str(service), "rate": "0.5"}),
        ("status/suspended", {}),
        ("extended/on", {}),
        ("currency", {"currency": "USD"}),
        ("rotate-key", {}),
        ("reset-link", {"hours": "24"}),
    ]
    before = counts(db)
    for action, data in actions:
        forbidden = post(support, alice.id, action, data)
        assert forbidden.status_code == 403, action
        assert "role does not allow" in forbidden.text
        bare = owner.http.post(f"{path}/{action}", data=data)  # the owner, without a token
        assert bare.status_code == 403, action
    assert counts(db) == before
    assert (
        owner.submit(f"{PAGE.format(999_999)}/fund", {"amount": "5"}, page=path).status_code == 404
    )
    assert owner.get(f"{path}/fund").status_code == 405


def test_suspend_reactivate_and_extended_fields(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db)
    owner = staff_browser(db, browser_factory, username="olga")
    assert (
        post(owner, alice.id, "status/suspended", {})
        .headers["location"]
        .endswith("?done=suspended")
    )
    assert account(db, alice.id).status == "suspended"
    with pytest.raises(InvalidApiKey):
        authenticate(db, alice.key)
    assert "Reactivate" in owner.get(PAGE.format(alice.id)).text
    assert post(owner, alice.id, "status/active", {}).status_code == 303
    assert authenticate(db, alice.key).account_id == alice.id
    assert [a for a, _ in audit_of(db, alice.id, "account_suspended")] == ["staff:olga"]
    assert [a for a, _ in audit_of(db, alice.id, "account_unsuspended")] == ["staff:olga"]
    assert post(owner, alice.id, "status/deleted", {}).status_code == 404

    assert post(owner, alice.id, "extended/on", {}).status_code == 303
    assert account(db, alice.id).extended_fields is True
    assert post(owner, alice.id, "extended/off", {}).status_code == 303
    assert account(db, alice.id).extended_fields is False
    changed = audit_of(db, alice.id, "account_changed")
    assert [a for a, _ in changed] == ["staff:olga", "staff:olga"]
    assert '"extended_fields": true' in changed[0][1]


def test_custom_rates(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db)
    service = make_service(db, name="Likes")
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    assert (
        post(manager, alice.id, "rate", {"service": str(service), "rate": "0.5"}).status_code == 303
    )
    with db.read() as session:
        stored = session.get(AccountServiceRate, (alice.id, service))
        assert stored is not None and stored.rate == 50_000
    page = manager.get(PAGE.format(alice.id)).text
    assert f"#{service} Likes" in page and "0.50000" in page
    # The row's Remove button posts an empty rate.
    assert post(manager, alice.id, "rate", {"service": str(service), "rate": ""}).status_code == 303
    with db.read() as session:
        assert session.get(AccountServiceRate, (alice.id, service)) is None
    rows = audit_of(db, alice.id, "rate_set")
    assert [a for a, _ in rows] == ["staff:mia", "staff:mia"]
    assert '"rate": "0.50000"' in rows[0][1] and '"rate": null' in rows[1][1]

    before = counts(db)
    for data, message in [
        ({"service": "999999", "rate": "1"}, "no service 999999"),
        ({"service": "abc", "rate": "1"}, "Not a valid integer value."),
        ({"service": str(service), "rate": "cheap"}, "not a decimal number"),
        ({"service": str(service), "rate": "-1"}, "must be from 0"),
    ]:
        refused = post(manager, alice.id, "rate", data)
        assert refused.status_code == 400 and message in refused.text, data
    assert counts(db) == before


def test_change_currency(db: Database, browser_factory: Any) -> None:
    set_currency_rate(db, code="EUR", rate="0.9")
    alice = make_customer(db, balance="10")
    owner = staff_browser(db, browser_factory, username="olga")
    refused = post(owner, alice.id, "currency", {"currency": "EUR"})
    assert refused.status_code == 400
    assert "the currency can only change while the balance is zero" in refused.text
    assert post(owner, alice.id, "currency", {"currency": "GBP"}).status_code == 400  # no rate
    assert account(db, alice.id).currency == "USD"

    assert post(owner, alice.id, "fund", {"amount": "-10"}).status_code == 303
    done = post(owner, alice.id, "currency", {"currency": "EUR"})
    assert done.headers["location"].endswith("?done=currency")
    assert account(db, alice.id).currency == "EUR"
    [(actor, details)] = audit_of(db, alice.id, "account_currency_changed")
    assert actor == "staff:olga"
    assert details == '{"after": {"currency": "EUR"}, "before": {"currency": "USD"}}'
    assert (
        'id="customer-balance" class="balance">0.00000 EUR' in owner.get(PAGE.format(alice.id)).text
    )


def test_rotate_the_api_key(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db)
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    shown = post(manager, alice.id, "rotate-key", {})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    key = re.search(r'id="api-key">([^<]+)<', shown.text)
    assert key is not None
    new_key = key.group(1)
    with pytest.raises(InvalidApiKey):
        authenticate(db, alice.key)
    assert authenticate(db, new_key).account_id == alice.id
    assert new_key not in manager.get(PAGE.format(alice.id)).text  # shown that once
    [(actor, details)] = audit_of(db, alice.id, "key_rotated")
    assert actor == "staff:mia" and new_key not in details


def test_a_password_reset_link(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db)
    owner = staff_browser(db, browser_factory, username="olga")
    shown = post(owner, alice.id, "reset-link", {"hours": "2"})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    link = re.search(r'id="reset-link">([^<]+)<', shown.text)
    assert link is not None and "valid 2 h" in shown.text
    token = link.group(1).rsplit("/reset/", 1)[1]
    assert reset_target(db, token=token) == "alice"
    [(actor, details)] = audit_of(db, alice.id, "reset_link_issued")
    assert actor == "staff:olga" and token not in details and '"valid_seconds": 7200' in details
    for hours in ("0", "337", "two"):
        assert post(owner, alice.id, "reset-link", {"hours": hours}).status_code == 400
    assert len(audit_of(db, alice.id, "reset_link_issued")) == 1


def test_a_customer_session_opens_no_customer_page(db: Database, browser_factory: Any) -> None:
    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    for path in ("/admin/customers", "/admin/customers/1"):
        answer = customer.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login")


def test_the_list_pages_keep_the_search(db: Database, browser_factory: Any) -> None:
    ids = [create_account(db, username=f"user{n}").id for n in range(52)]
    create_account(db, username="other")
    admin = staff_browser(db, browser_factory, role="support")
    first = admin.get("/admin/customers", params={"q": "user"}).text
    assert len(re.findall(r'data-customer="', first)) == 50 and 'id="newer"' not in first
    older = re.search(r'href="([^"]+)" id="older"', first)
    assert older is not None
    assert older.group(1) == f"/admin/customers?q=user&amp;before={ids[2]}"
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    assert [int(i) for i in re.findall(r'data-customer="(\d+)"', second)] == [ids[1], ids[0]]
    assert 'id="older"' not in second and f"q=user&amp;after={ids[1]}" in second
