"""Migration 0004 on a panel with history: refunds already made fill
`orders.refunded`, and orders stranded by a forward job that gave up become
visible (`failed`, or `reconcile` when they may have been sent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from smmpanel.db import Database
from smmpanel.schema import upgrade_schema
from tests.conftest import _backends, _pg_admin_url

_ROWS = """
INSERT INTO accounts (username, status, currency, balance, extended_fields, created_at)
    VALUES ('a', 'active', 'USD', 100, FALSE, '2026-01-01');
INSERT INTO categories (name, position) VALUES ('c', 1);
INSERT INTO services (name, type, category_id, rate, min_quantity, max_quantity, dripfeed,
    refill, cancel, enabled, link_required, description, position, created_at)
    VALUES ('s', 'Default', 1, 100, 1, 1000, FALSE, FALSE, FALSE, TRUE, TRUE, '', 0, '2026-01-01');
INSERT INTO orders (account_id, service_id, kind, link, quantity, total_quantity, rate, charge,
    package, currency, status, remains, params, created_at, updated_at, forward_state)
    VALUES
    (1, 1, 'order', 'x', 100, 100, 100, 10, FALSE, 'USD', 'Partial', 40, '{}',
     '2026-01-01', '2026-01-01', NULL),
    (1, 1, 'order', 'y', 100, 100, 100, 10, FALSE, 'USD', 'Pending', 100, '{}',
     '2026-01-01', '2026-01-01', 'queued'),
    (1, 1, 'order', 'z', 100, 100, 100, 10, FALSE, 'USD', 'Pending', 100, '{}',
     '2026-01-01', '2026-01-01', 'sending'),
    (1, 1, 'order', 'w', 100, 100, 100, 10, FALSE, 'USD', 'Pending', 100, '{}',
     '2026-01-01', '2026-01-01', 'queued');
INSERT INTO ledger_entries (account_id, kind, amount, balance_after, order_id, actor, note,
    cause, created_at)
    VALUES (1, 'refund', 4, 104, 1, 't', '', 'refund:order:1', '2026-01-01');
INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, last_error,
    dedupe_key, created_at)
    VALUES ('forward_order', '{"order_id": 4}', 'queued', '2026-01-01', 0, 8, '',
    'forward:4', '2026-01-01');
"""


@pytest.fixture(params=_backends())
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"smmpanel_m4_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    yield database
    database.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_fills_refunds_and_shows_stranded_orders(empty_db: Database) -> None:
    upgrade_schema(empty_db, "0002")
    with empty_db.engine.begin() as conn:
        for statement in filter(str.strip, _ROWS.split(";")):
            conn.execute(text(statement))
    upgrade_schema(empty_db, "0004")
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, refunded, forward_state, forward_error FROM orders ORDER BY id")
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1, 4, None),  # its refund entry
        (2, 0, "failed"),  # queued, and its forward job is gone
        (3, 0, "reconcile"),  # it was being sent when its job gave up
        (4, 0, "queued"),  # its job still waits: left alone
    ]
    assert "gave up" in rows[1][3] and rows[3][3] == ""
