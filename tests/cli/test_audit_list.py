"""`smmpanel audit list` filters and refusals; the trail holds no secret and
shares the fate of its change's transaction."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from smmpanel.audit.models import Actor, AuditAction, AuditEntry
from smmpanel.audit.service import SecretInAudit, record_audit
from smmpanel.db import Database
from smmpanel.providers.catalog_sync import sync_prices_job
from smmpanel.simulator.testing import running_simulator
from smmpanel.timeutil import utcnow
from tests.cli.conftest import Run, last_line
from tests.factories import make_customer, make_service

CLI = str(Actor.cli())


def audit_rows(run: Run, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run("audit", "list", "--json", *args).stdout)
    return rows


def _backdate(db: Database, action: AuditAction, days: int) -> None:
    with db.write() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.action == action.value)
            .values(at=utcnow() - timedelta(days=days))
        )


def test_newest_first_with_limit_and_action(run: Run, db: Database) -> None:
    run("users", "add", "alice")
    run("users", "fund", "alice", "5")
    run("users", "fund", "alice", "7")
    rows = audit_rows(run)
    assert [r["action"] for r in rows] == ["account_funded", "account_funded", "account_created"]
    assert [r["actor"] for r in rows] == [CLI] * 3
    assert [r["after"]["amount"] for r in audit_rows(run, "--limit", "2")] == ["7.00000", "5.00000"]
    created = audit_rows(run, "--action", "account_created")
    assert [r["subject"] for r in created] == ["account:1"]
    assert audit_rows(run, "--action", "key_rotated") == []


def test_since_a_date_a_time_or_an_age(run: Run, db: Database) -> None:
    run("users", "add", "alice")
    run("users", "fund", "alice", "5")
    _backdate(db, AuditAction.ACCOUNT_CREATED, days=10)
    assert [r["action"] for r in audit_rows(run, "--since", "7d")] == ["account_funded"]
    assert [r["action"] for r in audit_rows(run, "--since", "24h")] == ["account_funded"]
    assert len(audit_rows(run, "--since", "30d")) == 2
    old_day = (utcnow() - timedelta(days=11)).date().isoformat()
    assert len(audit_rows(run, "--since", old_day)) == 2
    recent = (utcnow() - timedelta(hours=1)).isoformat(timespec="seconds")
    assert [r["action"] for r in audit_rows(run, "--since", recent)] == ["account_funded"]
    assert audit_rows(run, "--since", "2999-01-01") == []


def test_user_shows_changes_to_the_account_and_by_it(run: Run, db: Database) -> None:
    alice = make_customer(db)
    make_customer(db, "bob")
    run("users", "fund", "alice", "5")
    run("users", "fund", "bob", "6")
    run("users", "rotate-key", "bob")
    with db.write() as session:  # a change alice made herself (the web shop, later)
        record_audit(
            session,
            actor=Actor("web", "alice"),
            action=AuditAction.WEBHOOK_SET,
            subject="account:2",
            after={"url": "https://x.example/h"},
        )
    rows = audit_rows(run, "--user", "alice")
    assert [(r["actor"], r["action"], r["subject"]) for r in rows] == [
        ("web:alice", "webhook_set", "account:2"),
        (CLI, "account_funded", f"account:{alice.id}"),
        ("system", "account_funded", f"account:{alice.id}"),  # make_customer's top-up
        ("system", "account_created", f"account:{alice.id}"),
    ]
    bob = audit_rows(run, "--user", "bob", "--action", "key_rotated")
    assert [(r["actor"], r["subject"]) for r in bob] == [(CLI, "account:2")]


def test_table(run: Run, db: Database) -> None:
    assert run("audit", "list").stdout.strip() == "no audit rows"
    run("users", "add", "alice")
    run("users", "set", "alice", "--status", "suspended")
    lines = run("audit", "list").stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["id", "at"])
    assert header.split() == ["id", "at", "by", "action", "subject", "changes"]
    suspended = next(line for line in lines if "account_suspended" in line)
    assert CLI in suspended and "status: active -> suspended" in suspended
    created = next(line for line in lines if "account_created" in line)
    assert "username: alice" in created


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "--since takes a date"),
        (("--since", "2026-13-01"), "--since takes a date"),
        (("--since", "7w"), "--since takes a date"),
        (("--action", "account_deleted"), "unknown action 'account_deleted'"),
        (("--limit", "0"), "--limit"),
        (("--limit", "x"), "--limit"),
    ],
)
def test_bad_values_exit_2(run: Run, args: tuple[str, ...], message: str) -> None:
    assert message in run("audit", "list", *args, code=2).stderr


def test_unknown_user_is_refused(run: Run) -> None:
    assert "no account 'nobody'" in run("audit", "list", "--user", "nobody", ok=False).stderr


def test_no_secret_in_any_row(run: Run, db: Database) -> None:
    key = last_line(run("users", "add", "alice"))
    new_key = last_line(run("users", "rotate-key", "alice"))
    secret = last_line(run("users", "webhook", "alice", "https://shop.example/h?t=TOKEN"))
    rotated = last_line(run("users", "webhook", "alice", "--rotate-secret"))
    provider_key = "PROVIDER-KEY-0123456789"
    run("providers", "add", "up", "https://up.example/api/v2", "--key-stdin",
        input=provider_key + "\n")  # fmt: skip
    with db.read() as session:
        stored = session.scalars(select(AuditEntry.details)).all()
        account = session.execute(text("SELECT webhook_secret FROM accounts")).scalar_one()
        provider = session.execute(text("SELECT api_key FROM providers")).scalar_one()
    assert len(stored) == 5
    whole = json.dumps(audit_rows(run)) + "".join(stored)
    for value in (key, new_key, secret, rotated, provider_key, account, provider, "TOKEN"):
        assert value not in whole
    assert key[:6] not in whole  # not even a key's prefix


def test_record_audit_refuses_a_secret(db: Database) -> None:
    with pytest.raises(SecretInAudit), db.write() as session:
        record_audit(
            session,
            actor=Actor.system(),
            action=AuditAction.PROVIDER_ADDED,
            subject="provider:1",
            after={"name": "up", "api_key": "k"},
        )


def test_the_row_is_rolled_back_with_its_change(run: Run, db: Database) -> None:
    make_customer(db, balance="1")
    make_service(db)
    before = audit_rows(run)
    run("users", "fund", "alice", "-2", ok=False)  # below zero: refused
    run("services", "set", "1", "--min", "50", "--max", "20", code=2)
    run("categories", "set", "Instagram", "--position", "-1", code=2)
    assert audit_rows(run) == before
    with pytest.raises(RuntimeError), db.write() as session:  # a change failing after its row
        record_audit(
            session, actor=Actor.cli(), action=AuditAction.SETTING_CHANGED, subject="setting:x"
        )
        session.flush()
        raise RuntimeError("the change failed")
    assert audit_rows(run) == before


def test_imports_and_price_sync_are_audited(run: Run, db: Database) -> None:
    with running_simulator(manual_clock=True) as sim:
        run("providers", "add", "sim", sim.api_url, sim.key)
        run("providers", "import", "sim", "--markup", "25%", "--category", "Instagram Likes")
        made = [(r["action"], r["subject"]) for r in reversed(audit_rows(run))]
        assert made == [
            ("provider_added", "provider:1"),
            ("category_created", "category:1"),
            ("service_created", "service:1"),
            ("service_mapped", "service:1"),
        ]
        sim.control.catalog(service=2, rate="0.40")
        run("providers", "sync-prices")
        sim.control.catalog(service=2, rate="0.48")
        sync_prices_job(db, {})  # the worker's schedule
    repriced = audit_rows(run, "--action", "service_changed")
    assert [(r["actor"], r["subject"], r["before"], r["after"]) for r in repriced] == [
        ("worker", "service:1", {"rate": "0.50000"}, {"rate": "0.60000", "by": "price sync"}),
        (CLI, "service:1", {"rate": "0.32000"}, {"rate": "0.50000", "by": "price sync"}),
    ]


def test_catalog_import_audits_each_service(run: Run, db: Database, tmp_path: Path) -> None:
    entry = {"service": 5, "name": "Views", "type": "Default", "category": "YouTube",
             "rate": "0.5", "min": 10, "max": 100}  # fmt: skip
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([entry]))
    run("services", "import", str(catalog))
    catalog.write_text(json.dumps([{**entry, "rate": "0.75"}]))
    run("services", "import", str(catalog))
    run("services", "import", str(catalog))  # unchanged: no row
    rows = [(r["action"], r["subject"], r["before"]) for r in audit_rows(run)]
    assert rows == [
        ("service_changed", "service:5", {"rate": "0.50000"}),
        ("service_created", "service:5", None),
        ("category_created", "category:1", None),
    ]
