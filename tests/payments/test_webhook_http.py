"""POST /payments/webhook/{code} over real HTTP, with the demo gateway: a good
webhook credits once (even sent ten times at once), a wrong one is a 400 that
changes nothing, and every answer is JSON with the status a gateway acts on."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, text

from smmpanel.accounts.queries import account_balance
from smmpanel.audit.models import Actor
from smmpanel.cli.common import sqlite_path
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.gateway import EventKind, GatewayUnavailable
from smmpanel.payments.gateways.demo import SignedWebhook, signed_webhook
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.server import serve_in_thread, site_app
from tests.factories import make_customer
from tests.payments.fakes import FakeGateway
from tests.payments.fakes import webhook as fake_webhook
from tests.web.conftest import web_settings

SECRET = "demo-webhook-secret-of-the-tests"
URL = "/payments/webhook/demo"


@dataclass(frozen=True)
class Panel:
    url: str
    db: Database
    account_id: int


def set_up_demo(db: Database, *, secret: str = SECRET) -> None:
    configure_gateway(db, code="demo", values={"secret": secret}, actor=Actor.system())
    enable_gateway(db, code="demo", actor=Actor.system())


@pytest.fixture
def panel(db: Database) -> Iterator[Panel]:
    set_up_demo(db)
    customer = make_customer(db, "alice", balance="0")
    with serve_in_thread(site_app(db, web_settings(demo_payments=True))) as url:
        yield Panel(url=url, db=db, account_id=customer.id)


def new_deposit(panel: Panel, amount: str = "10") -> int:
    started = start_deposit(
        panel.db,
        account_id=panel.account_id,
        gateway="demo",
        amount=amount,
        panel_url=panel.url,
        settings=web_settings(demo_payments=True),
        actor=Actor("web", "alice"),
    )
    return started.deposit_id


def paid(deposit_id: int, amount: str = "10", **kwargs: str) -> SignedWebhook:
    return signed_webhook(
        deposit_id=deposit_id,
        event=kwargs.pop("event", "paid"),
        amount=Decimal(amount),
        currency=kwargs.pop("currency", "USD"),
        secret=kwargs.pop("secret", SECRET),
        **kwargs,
    )


def post(panel: Panel, webhook: SignedWebhook, path: str = URL) -> httpx.Response:
    answer = httpx.post(f"{panel.url}{path}", content=webhook.body, headers=webhook.headers)
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    return answer


def state_of(db: Database, deposit_id: int) -> str:
    with db.read() as session:
        return session.get_one(Deposit, deposit_id).state


def credits_of(db: Database, deposit_id: int) -> int:
    with db.read() as session:
        found = session.scalar(
            select(func.count()).where(LedgerEntry.cause == f"deposit:{deposit_id}")
        )
    return int(found or 0)


def events_of(db: Database, deposit_id: int) -> int:
    with db.read() as session:
        found = session.scalar(select(func.count()).where(DepositEvent.deposit_id == deposit_id))
    return int(found or 0)


def balance(panel: Panel) -> int:
    return account_balance(panel.db, panel.account_id)[0]


def test_a_paid_webhook_credits_the_deposit_once(panel: Panel) -> None:
    deposit_id = new_deposit(panel, "10")
    assert state_of(panel.db, deposit_id) == "pending"
    webhook = paid(deposit_id, "10")

    first = post(panel, webhook)
    assert (first.status_code, first.json()) == (200, {"ok": True})
    assert state_of(panel.db, deposit_id) == "paid"
    assert balance(panel) == 1_000_000  # 10.00000 USD in minor units
    assert credits_of(panel.db, deposit_id) == 1

    again = post(panel, webhook)  # the gateway's retry: taken, changes nothing
    assert (again.status_code, again.json()) == (200, {"ok": True})
    assert balance(panel) == 1_000_000
    assert credits_of(panel.db, deposit_id) == 1
    assert find_balance_mismatches(panel.db) == []


def test_ten_copies_at_once_credit_once(panel: Panel) -> None:
    deposit_id = new_deposit(panel, "25.50")
    webhook = paid(deposit_id, "25.50")
    statuses: list[int] = []
    start = threading.Barrier(10)

    def send() -> None:
        start.wait()
        # A gateway retries a 503 (the database was busy): so does this one.
        for _ in range(20):
            answer = post(panel, webhook)
            if answer.status_code != 503:
                break
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 10
    assert credits_of(panel.db, deposit_id) == 1
    assert balance(panel) == 2_550_000
    assert state_of(panel.db, deposit_id) == "paid"
    assert find_balance_mismatches(panel.db) == []


def test_a_wrong_signature_is_a_400_and_changes_nothing(panel: Panel) -> None:
    deposit_id = new_deposit(panel)
    events = events_of(panel.db, deposit_id)
    forged = paid(deposit_id, secret="not-the-secret")
    unsigned = SignedWebhook(body=forged.body, headers={"content-type": "application/json"})
    genuine = paid(deposit_id, "10")
    tampered = SignedWebhook(genuine.body.replace(b'"10"', b'"1000"'), genuine.headers)
    for webhook in (forged, unsigned, tampered):
        answer = post(panel, webhook)
        assert (answer.status_code, answer.json()) == (400, {"error": "webhook refused"})
    assert state_of(panel.db, deposit_id) == "pending"
    assert events_of(panel.db, deposit_id) == events
    assert balance(panel) == 0
    assert find_balance_mismatches(panel.db) == []


def test_bodies_that_are_not_a_webhook_are_400(panel: Panel) -> None:
    deposit_id = new_deposit(panel)
    signed_junk = [b"", b"not json", b"[1, 2]", b'{"id": "x", "event": "paid"}']
    for body in signed_junk:
        # Signed with the right secret: refused for what it says, not its signature.
        webhook = SignedWebhook(body=body, headers=paid(deposit_id).headers)
        webhook.headers["x-demo-signature"] = signature_of(body)
        answer = post(panel, webhook)
        assert answer.status_code == 400, body
        assert "error" in answer.json()
    empty = httpx.post(f"{panel.url}{URL}")
    assert (empty.status_code, empty.json()) == (400, {"error": "webhook refused"})
    assert state_of(panel.db, deposit_id) == "pending"
    assert balance(panel) == 0


def signature_of(body: bytes) -> str:
    from smmpanel.payments.gateways.demo import signature

    return signature(body, SECRET)


def test_unknown_gateways_are_404(panel: Panel) -> None:
    webhook = paid(1)
    for code in ("nosuch", "UPPER", "a" * 40, "btcpay-x"):
        answer = post(panel, webhook, f"/payments/webhook/{code}")
        assert (answer.status_code, answer.json()) == (404, {"error": "no such gateway"}), code


def test_the_demo_gateway_is_unknown_outside_demo_mode(db: Database) -> None:
    set_up_demo(db)
    with serve_in_thread(site_app(db, web_settings(demo_payments=False))) as url:
        answer = httpx.post(f"{url}{URL}", content=paid(1).body, headers=paid(1).headers)
    assert (answer.status_code, answer.json()) == (404, {"error": "no such gateway"})


def test_a_body_over_256_kb_is_413(panel: Panel) -> None:
    big = b"x" * (256 * 1024 + 1)
    declared = httpx.post(f"{panel.url}{URL}", content=big)
    assert (declared.status_code, declared.json()) == (413, {"error": "body too large"})

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(5):
            yield b"y" * (64 * 1024)

    chunked = httpx.post(f"{panel.url}{URL}", content=chunks())
    assert (chunked.status_code, chunked.json()) == (413, {"error": "body too large"})


def test_only_post_and_no_page_middleware(panel: Panel) -> None:
    for method in ("GET", "PUT", "DELETE"):
        got = httpx.request(method, f"{panel.url}{URL}")
        assert (got.status_code, got.json()) == (405, {"error": "a webhook is a POST"}), method
        assert got.headers["allow"] == "POST"
    answer = post(panel, paid(new_deposit(panel)))
    assert answer.status_code == 200
    # Outside the pages' session, CSRF and header middleware.
    assert "set-cookie" not in answer.headers
    assert "content-security-policy" not in answer.headers


def test_a_failed_payment_and_an_underpayment_credit_nothing(panel: Panel) -> None:
    failed = new_deposit(panel, "10")
    answer = post(panel, paid(failed, "10", event="failed"))
    assert answer.status_code == 200
    assert state_of(panel.db, failed) == "failed"

    short = new_deposit(panel, "10")
    answer = post(panel, paid(short, "9.99"))
    assert answer.status_code == 200
    assert state_of(panel.db, short) == "held"  # for the owner: not credited
    wrong_currency = new_deposit(panel, "10")
    assert post(panel, paid(wrong_currency, "10", currency="EUR")).status_code == 200
    assert state_of(panel.db, wrong_currency) == "held"
    assert balance(panel) == 0
    assert credits_of(panel.db, short) == 0
    assert find_balance_mismatches(panel.db) == []


@contextmanager
def deposits_locked(db: Database) -> Iterator[None]:
    """Another writer holds the deposits for longer than the panel waits:
    SQLite's write lock, or a PostgreSQL table lock."""
    if db.is_sqlite:
        other = sqlite3.connect(str(sqlite_path(db.url)), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with db.engine.connect() as connection, connection.begin():
        connection.execute(text("LOCK TABLE deposits IN ACCESS EXCLUSIVE MODE"))
        yield


def test_a_busy_database_is_a_503_with_retry_after(db: Database) -> None:
    set_up_demo(db)
    customer = make_customer(db, "alice", balance="0")
    settings = web_settings(demo_payments=True)
    quick = Database(db.url, busy_timeout=0.3)
    try:
        with serve_in_thread(site_app(quick, settings)) as url:
            panel = Panel(url=url, db=db, account_id=customer.id)
            deposit_id = new_deposit(panel)
            with deposits_locked(db):
                answer = post(panel, paid(deposit_id))
            assert answer.status_code == 503
            assert int(answer.headers["retry-after"]) > 0
            assert "error" in answer.json()
            assert state_of(db, deposit_id) == "pending"
            retried = post(panel, paid(deposit_id))  # the gateway's retry, once it is free
            assert retried.status_code == 200
            assert state_of(db, deposit_id) == "paid"
    finally:
        quick.dispose()
    assert find_balance_mismatches(db) == []


def test_the_answers_carry_nothing_of_the_request(panel: Panel) -> None:
    deposit_id = new_deposit(panel)
    forged = paid(deposit_id, secret="a-guess")
    answer = post(panel, forged)
    assert answer.status_code == 400
    text_of_answer = json.dumps(answer.json())
    assert SECRET not in text_of_answer
    assert forged.headers["x-demo-signature"] not in text_of_answer


def test_a_plugins_webhook_takes_the_same_path(
    db: Database, fake_gateway: type[FakeGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(db, "alice", balance="0")
    with serve_in_thread(site_app(db, web_settings())) as url:
        panel = Panel(url=url, db=db, account_id=customer.id)
        started = start_deposit(
            db,
            account_id=customer.id,
            gateway="fake",
            amount="40",
            panel_url=url,
            actor=Actor("web", "alice"),
        )
        body, headers = fake_webhook(EventKind.PAID, started.deposit_id, "40")
        answer = httpx.post(f"{url}/payments/webhook/fake", content=body, headers=headers)
        assert (answer.status_code, answer.json()) == (200, {"ok": True})
        assert balance(panel) == 4_000_000
        assert state_of(db, started.deposit_id) == "paid"

        # A gateway that must be asked again and cannot be reached: 503, retry later.
        def unreachable(*_args: object) -> list[object]:
            raise GatewayUnavailable("fake gateway is down")

        monkeypatch.setattr(FakeGateway, "verify_webhook", unreachable)
        down = httpx.post(f"{url}/payments/webhook/fake", content=body, headers=headers)
        assert down.status_code == 503
        assert down.headers["retry-after"] == "60"
        assert "fake gateway is down" not in down.text

        # A plug-in's bug: 503 (the gateway retries), never a 500 or a traceback.
        def broken(*_args: object) -> list[object]:
            raise KeyError("kind")

        monkeypatch.setattr(FakeGateway, "verify_webhook", broken)
        bug = httpx.post(f"{url}/payments/webhook/fake", content=body, headers=headers)
        assert bug.status_code == 503 and "error" in bug.json()
    assert balance(panel) == 4_000_000
    assert find_balance_mismatches(db) == []
