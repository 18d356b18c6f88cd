"""Webhooks: status changes queued in the order's transaction, delivered signed
to a real HTTP receiver by the worker, retried with backoff, re-read at delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from smmpanel.accounts.errors import AccountNotFound, InvalidAccountInput, NoWebhook
from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.jobs.models import DONE, FAILED, QUEUED, Job
from smmpanel.jobs.worker import Worker
from smmpanel.orders.lifecycle import change_order_status, lock_order
from smmpanel.orders.service import place_order, update_order
from smmpanel.orders.webhooks import (
    MAX_ATTEMPTS,
    WEBHOOK_JOB,
    deliver_webhook,
    rotate_webhook_secret,
    set_webhook,
    sign,
    verify_signature,
)
from smmpanel.secretbox import reveal_secret
from smmpanel.server import free_port
from smmpanel.timeutil import as_utc, utcnow
from smmpanel.worker import handlers
from tests.factories import Customer, make_customer, make_service
from tests.statements import statements_run
from tests.webhooks.conftest import Receiver


def _order(db: Database, customer: Customer, service_id: int, link: str = "https://x.com/a") -> int:
    placed = place_order(
        db,
        account_id=customer.id,
        service_id=service_id,
        params={"link": link, "quantity": "1000"},
    )
    return placed.order_id


def _webhook_jobs(db: Database) -> list[Job]:
    with db.read() as session:
        return list(
            session.scalars(select(Job).where(Job.kind == WEBHOOK_JOB).order_by(Job.id)).all()
        )


def _make_due(db: Database) -> None:
    with db.write() as session:
        session.execute(
            update(Job).where(Job.kind == WEBHOOK_JOB, Job.status == QUEUED).values(run_at=utcnow())
        )


def _worker(db: Database) -> Worker:
    return Worker(db, {WEBHOOK_JOB: deliver_webhook}, name="webhooks-test")


def _account(db: Database, account_id: int) -> Account:
    with db.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def _stored_secret(db: Database, account_id: int) -> str:
    """The account's webhook secret as stored (encrypted), decrypted."""
    stored = _account(db, account_id).webhook_secret
    assert stored is not None and stored.startswith("enc1:")
    return reveal_secret(stored)


def test_status_change_is_delivered_signed(db: Database, receiver: Receiver) -> None:
    customer = make_customer(db)
    secret = set_webhook(db, username=customer.username, url=receiver.hook_url("orders"))
    assert secret is not None and len(secret) >= 43
    service_id = make_service(db, rate="0.90")
    order_id = _order(db, customer, service_id)
    assert _webhook_jobs(db) == []  # placing an order is not a status change

    before = utcnow().replace(microsecond=0)
    assert update_order(db, order_id=order_id, status="In progress", start_count=3572)
    jobs = _webhook_jobs(db)
    assert [(j.status, j.max_attempts, j.dedupe_key) for j in jobs] == [
        (QUEUED, MAX_ATTEMPTS, None)
    ]
    assert MAX_ATTEMPTS == 10

    assert _worker(db).run_once() == 1
    assert len(receiver.received) == 1
    delivery = receiver.received[0]
    assert delivery.path == "/orders"
    body = json.loads(delivery.body.decode("utf-8"))
    stamp = body.pop("timestamp")
    assert body == {
        "id": f"order-{order_id}-2",
        "event": "order.status",
        "order": order_id,
        "status": "In progress",
        "charge": "0.90000",
        "start_count": "3572",
        "remains": "1000",
        "currency": "USD",
    }
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= utcnow()
    # Compact JSON, UTF-8.
    assert b": " not in delivery.body and b", " not in delivery.body
    headers = delivery.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-smmpanel-event"] == "order.status"
    assert headers["x-smmpanel-delivery"] == f"order-{order_id}-2"
    assert headers["x-smmpanel-timestamp"] == str(int(moment.timestamp()))
    signature = headers["x-smmpanel-signature"]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(secret, delivery.body, signature)
    assert not verify_signature("another-secret", delivery.body, signature)
    assert not verify_signature(secret, delivery.body + b" ", signature)
    assert [j.status for j in _webhook_jobs(db)] == [DONE]


def test_each_change_is_its_own_delivery(db: Database, receiver: Receiver) -> None:
    customer = make_customer(db)
    set_webhook(db, username=customer.username, url=receiver.hook_url())
    order_id = _order(db, customer, make_service(db, rate="0.90"))
    update_order(db, order_id=order_id, status="In progress", start_count=10)
    update_order(db, order_id=order_id, remains=400)
    update_order(db, order_id=order_id, status="Partial", remains=250)
    # No change, no event.
    assert not update_order(db, order_id=order_id, status="Partial")
    assert len(_webhook_jobs(db)) == 3

    assert _worker(db).run_once() == 3
    bodies = [json.loads(d.body) for d in receiver.received]
    assert [(b["id"], b["status"], b["remains"], b["start_count"]) for b in bodies] == [
        (f"order-{order_id}-2", "In progress", "1000", "10"),
        (f"order-{order_id}-3", "In progress", "400", "10"),
        (f"order-{order_id}-4", "Partial", "250", "10"),
    ]
    # What the order costs at each change: Partial gave 250 x 0.90 / 1000 back.
    assert [b["charge"] for b in bodies] == ["0.90000", "0.90000", "0.67500"]
    assert [d.headers["x-smmpanel-delivery"] for d in receiver.received] == [
        b["id"] for b in bodies
    ]


def test_failing_receiver_is_retried_with_backoff(db: Database, receiver: Receiver) -> None:
    customer = make_customer(db)
    secret = set_webhook(db, username=customer.username, url=receiver.hook_url())
    assert secret is not None
    order_id = _order(db, customer, make_service(db))
    update_order(db, order_id=order_id, status="Completed")
    receiver.fail_next = 2
    worker = _worker(db)

    assert worker.run_once() == 1
    [job] = _webhook_jobs(db)
    assert (job.status, job.attempts) == (QUEUED, 1)
    assert "HTTP 500" in job.last_error
    assert as_utc(job.run_at) > utcnow()  # backing off
    assert worker.run_once() == 0  # not due yet

    _make_due(db)
    assert worker.run_once() == 1
    [job] = _webhook_jobs(db)
    assert (job.status, job.attempts) == (QUEUED, 2)

    _make_due(db)
    assert worker.run_once() == 1
    [job] = _webhook_jobs(db)
    assert (job.status, job.attempts) == (DONE, 3)

    assert len(receiver.received) == 3
    # Every attempt sends the same bytes, the same delivery id and a valid signature.
    assert len({d.body for d in receiver.received}) == 1
    assert {d.headers["x-smmpanel-delivery"] for d in receiver.received} == {f"order-{order_id}-2"}
    assert all(
        verify_signature(secret, d.body, d.headers["x-smmpanel-signature"])
        for d in receiver.received
    )
    assert json.loads(receiver.received[-1].body)["status"] == "Completed"
    assert json.loads(receiver.received[-1].body)["remains"] == "0"


def test_unreachable_receiver_is_retried_then_fails_after_max_attempts(db: Database) -> None:
    customer = make_customer(db)
    set_webhook(db, username=customer.username, url=f"http://127.0.0.1:{free_port()}/hook")
    order_id = _order(db, customer, make_service(db))
    update_order(db, order_id=order_id, status="In progress")
    worker = _worker(db)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _make_due(db)
        assert worker.run_once() == 1
        [job] = _webhook_jobs(db)
        assert job.attempts == attempt
        assert "ConnectError" in job.last_error
    assert job.status == FAILED
    _make_due(db)
    assert worker.run_once() == 0


def test_no_webhook_queues_nothing(db: Database) -> None:
    customer = make_customer(db)
    order_id = _order(db, customer, make_service(db))
    assert update_order(db, order_id=order_id, status="In progress", start_count=1)
    assert update_order(db, order_id=order_id, status="Canceled")
    assert _webhook_jobs(db) == []


def test_one_account_lookup_per_transaction(db: Database) -> None:
    customer = make_customer(db)
    service_id = make_service(db)
    orders = [_order(db, customer, service_id, link=f"https://x.com/{n}") for n in range(3)]
    with statements_run(db.engine) as statements:
        with db.write() as session:
            for order_id in orders:
                change_order_status(
                    session, lock_order(session, order_id), status="In progress", actor="test"
                )
        with db.write() as session:
            change_order_status(
                session, lock_order(session, orders[0]), status="Completed", actor="test"
            )
    lookups = [s for s in statements if "webhook_url" in s]
    assert len(lookups) == 2  # one per transaction, not one per order
    assert _webhook_jobs(db) == []


def test_removed_webhook_drops_the_delivery(db: Database, receiver: Receiver) -> None:
    customer = make_customer(db)
    set_webhook(db, username=customer.username, url=receiver.hook_url())
    order_id = _order(db, customer, make_service(db))
    update_order(db, order_id=order_id, status="In progress")
    assert len(_webhook_jobs(db)) == 1

    assert set_webhook(db, username=customer.username, url=None) is None
    account = _account(db, customer.id)
    assert (account.webhook_url, account.webhook_secret) == (None, None)
    assert _worker(db).run_once() == 1
    assert receiver.received == []
    assert [j.status for j in _webhook_jobs(db)] == [DONE]
    # And later changes queue nothing.
    update_order(db, order_id=order_id, status="Completed")
    assert len(_webhook_jobs(db)) == 1


def test_url_and_secret_are_read_at_delivery(db: Database, receiver: Receiver) -> None:
    customer = make_customer(db)
    first = set_webhook(db, username=customer.username, url=receiver.hook_url("old"))
    assert first is not None
    order_id = _order(db, customer, make_service(db))
    update_order(db, order_id=order_id, status="In progress")

    # Changing the URL keeps the secret (and does not show it again).
    assert set_webhook(db, username=customer.username, url=receiver.hook_url("new")) is None
    assert _stored_secret(db, customer.id) == first
    rotated = rotate_webhook_secret(db, username=customer.username)
    assert rotated != first and len(rotated) >= 43
    assert _stored_secret(db, customer.id) == rotated

    assert _worker(db).run_once() == 1
    [delivery] = receiver.received
    assert delivery.path == "/new"
    signature = delivery.headers["x-smmpanel-signature"]
    assert verify_signature(rotated, delivery.body, signature)
    assert not verify_signature(first, delivery.body, signature)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "example.com/hook",
        "http://",
        "https:///path-only",
        "http://exa mple.com/hook",
        "http://example.com/\nhook",
        "http://example.com:99999/hook",
        "https://example.com/" + "a" * 500,
    ],
)
def test_invalid_urls_are_rejected(db: Database, url: str) -> None:
    customer = make_customer(db)
    with pytest.raises(InvalidAccountInput):
        set_webhook(db, username=customer.username, url=url)
    account = _account(db, customer.id)
    assert (account.webhook_url, account.webhook_secret) == (None, None)


def test_valid_url_is_stored_stripped(db: Database) -> None:
    customer = make_customer(db)
    secret = set_webhook(
        db, username=customer.username, url="  HTTPS://hooks.example.com:8443/smm?t=1  "
    )
    account = _account(db, customer.id)
    assert account.webhook_url == "HTTPS://hooks.example.com:8443/smm?t=1"
    assert _stored_secret(db, customer.id) == secret


def test_unknown_account_and_rotate_without_webhook(db: Database) -> None:
    with pytest.raises(AccountNotFound):
        set_webhook(db, username="nobody", url="https://example.com/hook")
    customer = make_customer(db)
    with pytest.raises(NoWebhook):
        rotate_webhook_secret(db, username=customer.username)


def test_verify_signature_edge_cases() -> None:
    body = '{"id":"order-1-2","status":"Completed","note":"ünïcode"}'.encode()
    header = sign("s3cret", body)
    assert header == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert verify_signature("s3cret", body, header)
    assert verify_signature("s3cret", body, header.upper().replace("SHA256=", "sha256="))
    assert verify_signature("s3cret", body, f"  {header} ")
    assert not verify_signature("s3cret", body, header[7:])  # no scheme
    assert not verify_signature("s3cret", body, "sha1=" + header[7:])
    assert not verify_signature("s3cret", body, header[:-1])
    assert not verify_signature("s3cret", body, "sha256=ünïcode")
    assert not verify_signature("s3cret", body, "")
    assert not verify_signature("", body, header)


def test_worker_composition_has_the_handler() -> None:
    assert handlers()[WEBHOOK_JOB] is deliver_webhook
