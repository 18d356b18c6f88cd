"""Password reset by e-mail: the page's answer tells nothing, the worker mails
a one-time link through SMTP (a sink written here), the link works once, no
token is left in the jobs table, failures retry and then alert the owner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text, update

from smmpanel.accounts.models import Account, PasswordReset
from smmpanel.accounts.reset_mail import MAX_ATTEMPTS, ResetLimits, request_reset_email
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.models import DONE, FAILED, QUEUED, Job
from smmpanel.jobs.worker import Worker
from smmpanel.panel.models import Alert
from smmpanel.server import serve_in_thread, site_app
from smmpanel.timeutil import utcnow
from smmpanel.worker import failure_hooks, handlers
from tests.factories import make_customer
from tests.web.conftest import TOKEN, Browser, web_settings
from tests.web.smtp_sink import Mailbox, smtp_sink

LINK = re.compile(r"(http://\S+)/reset/(\S+)")
ANSWER = "If an account matches and has an e-mail address, a link to set a new password"


@pytest.fixture
def mail_panel(db: Database) -> Iterator[tuple[str, Settings, Mailbox]]:
    """A panel whose SMTP is the sink: (its URL, the settings, the mailbox)."""
    with smtp_sink() as (port, mailbox):
        settings = web_settings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            smtp_from="panel@example.com",
        )
        with serve_in_thread(site_app(db, settings)) as url:
            yield url, settings.model_copy(update={"public_url": url}), mailbox


def _with_email(db: Database, username: str, email: str, language: str | None = None) -> int:
    customer = make_customer(db, username=username)
    with db.write() as session:
        session.execute(
            update(Account).where(Account.id == customer.id).values(email=email, language=language)
        )
    return customer.id


def _worker(db: Database, settings: Settings) -> Worker:
    email = JobKind.EMAIL
    return Worker(db, {email: handlers(settings)[email]}, failure_hooks=failure_hooks())


def _without_token(page: str) -> str:
    return TOKEN.sub("", page)


def test_reset_mail_link_works_once(db: Database, mail_panel: Any) -> None:
    url, settings, mailbox = mail_panel
    alice = _with_email(db, "alice", "Alice@Example.com")
    browser = Browser(url)
    try:
        login_page = browser.get("/login").text
        assert 'href="/reset"' in login_page and "Forgot your password?" in login_page
        assert 'name="login"' in browser.get("/reset").text
        known = browser.submit("/reset", {"login": "alice"})
        assert (known.status_code, known.headers["location"]) == (303, "/reset?sent=1")
        known_page = browser.get("/reset?sent=1").text
        unknown = browser.submit("/reset", {"login": "nobody"})
        assert (unknown.status_code, unknown.headers["location"]) == (303, "/reset?sent=1")
        # The same answer, byte for byte but the form's token, for both.
        assert _without_token(browser.get("/reset?sent=1").text) == _without_token(known_page)
        assert ANSWER in known_page

        with db.read() as session:
            [job] = session.scalars(select(Job).where(Job.kind == JobKind.EMAIL)).all()
            assert job.payload == {"message": "password_reset", "account_id": alice}
        assert _worker(db, settings).run_once() == 1

        [mail] = mailbox.messages
        assert mail["To"] == "Alice@Example.com" and mail["From"] == "panel@example.com"
        assert mail["Subject"] == "Password reset"
        body = mail.get_content()
        found = LINK.search(body)
        assert found and found.group(1) == url, body
        token = found.group(2)
        # Nothing in the jobs table can be used: the link never was there.
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT status, payload, last_error FROM jobs")).all()
        assert [row[0] for row in rows] == [DONE]
        assert token not in repr(rows)

        link = f"/reset/{token}"
        assert "For the account alice." in browser.get(link).text
        done = browser.submit(link, {"password": "my new password"})
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert "Hello, alice" in browser.get("/").text
        assert Browser(url).get(link).status_code == 404  # once only
        # By e-mail address (any case) works too, and the mail is in the account's language.
        _with_email(db, "boris", "boris@example.com", language="ru")
        Browser(url).submit("/reset", {"login": "BORIS@example.com"})
        _worker(db, settings).run_once()
        assert mailbox.messages[-1]["Subject"] == "Сброс пароля"  # noqa: RUF001
        assert "Здравствуйте, boris!" in mailbox.messages[-1].get_content()
    finally:
        browser.close()


def test_failed_sends_retry_then_alert(db: Database, mail_panel: Any) -> None:
    _url, settings, mailbox = mail_panel
    _with_email(db, "carol", "carol@example.com")
    mailbox.refuse = True
    assert request_reset_email(db, login="carol", ip="1.2.3.4") == 1
    worker = _worker(db, settings)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with db.write() as session:
            session.execute(update(Job).values(run_at=utcnow()))
        assert worker.run_once() == 1
        with db.read() as session:
            job = session.scalars(select(Job)).one()
            assert job.status == (FAILED if attempt == MAX_ATTEMPTS else QUEUED)
            assert job.last_error and "554" in job.last_error
            # Every link issued for a mail that was not sent is spent.
            resets = session.scalars(select(PasswordReset)).all()
            assert len(resets) == attempt and all(r.used_at is not None for r in resets)
    with db.read() as session:
        [alert] = session.scalars(select(Alert)).all()
    assert alert.kind == "email_failed" and "reset-link" in alert.message
    assert mailbox.messages == []


def test_requests_are_limited_per_ip_and_per_account(db: Database, mail_panel: Any) -> None:
    _url, settings, mailbox = mail_panel
    _with_email(db, "dora", "dora@example.com")
    limits = ResetLimits(per_ip=3, per_account=2)
    worker = _worker(db, settings)
    assert request_reset_email(db, login="dora", ip="a", limits=limits) == 1
    # A mail still queued is not queued twice.
    assert request_reset_email(db, login="dora", ip="b", limits=limits) == 0
    worker.run_once()
    assert request_reset_email(db, login="dora", ip="c", limits=limits) == 0  # 2 for dora
    assert len(mailbox.messages) == 1
    for _ in range(2):
        request_reset_email(db, login="nobody", ip="d", limits=limits)
    _with_email(db, "emil", "emil@example.com")
    assert request_reset_email(db, login="emil", ip="d", limits=limits) == 1
    assert request_reset_email(db, login="emil", ip="d", limits=limits) == 0  # 3 for ip d
    # No e-mail, suspended or unknown: nothing queued.
    make_customer(db, username="noemail")
    assert request_reset_email(db, login="noemail", ip="e", limits=limits) == 0
    assert request_reset_email(db, login="", ip="e", limits=limits) == 0


def test_without_smtp_the_page_says_to_ask_the_owner(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    page = browser.get("/reset")
    assert "does not send e-mail" in page.text and 'name="login"' not in page.text
    posted = browser.submit("/reset", {"login": "alice"}, page="/login")
    assert posted.status_code == 200 and "does not send e-mail" in posted.text
    with db.read() as session:
        assert session.scalars(select(Job)).all() == []
    assert browser.http.post("/reset", data={"login": "x"}).status_code == 403
    ru = browser.get("/reset", headers={"accept-language": "ru"})
    assert "Эта панель не отправляет письма" in ru.text


def test_reset_page_bad_input(db: Database, mail_panel: Any) -> None:
    url, _settings, _mailbox = mail_panel
    browser = Browser(url)
    try:
        for data in [{"login": ""}, {"login": "x" * 5000}, {}, {"login": "\x00<script>"}]:
            answer = browser.submit("/reset", data)
            assert answer.status_code in (303, 400), (data, answer.status_code)
        assert browser.http.post("/reset", data={"login": "alice"}).status_code == 403
    finally:
        browser.close()
