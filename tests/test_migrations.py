"""The Alembic history builds exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from smmpanel.db import Database
from smmpanel.models import Base


def test_migrated_schema_matches_the_models(db: Database) -> None:
    engine = create_engine(db.url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_from_first_revision_keeps_data(tmp_path: Path) -> None:
    import sqlite3

    from smmpanel.schema import upgrade_schema

    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    upgrade_schema(db, "0001")
    raw = sqlite3.connect(path)
    raw.executescript(
        """
        INSERT INTO accounts(username, status, currency, balance, extended_fields, created_at)
            VALUES ('a', 'active', 'USD', 100, 0, '2026-01-01');
        INSERT INTO categories(name, position) VALUES ('c', 1);
        INSERT INTO services(name, type, category_id, rate, min_quantity, max_quantity, dripfeed,
            refill, cancel, enabled, link_required, description, position, created_at)
            VALUES ('s', 'Default', 1, 100, 1, 10, 0, 0, 0, 1, 1, '', 0, '2026-01-01');
        INSERT INTO orders(account_id, service_id, kind, link, quantity, total_quantity, rate,
            charge, package, currency, status, remains, params, created_at, updated_at)
            VALUES (1, 1, 'order', 'x', 5, 5, 100, 1, 0, 'USD', 'Pending', 5, '{}',
            '2026-01-01', '2026-01-01');
        INSERT INTO ledger_entries(account_id, kind, amount, balance_after, order_id, actor, note,
            created_at) VALUES (1, 'charge', -1, 99, 1, 't', '', '2026-01-01');
        """
    )
    raw.commit()
    raw.close()
    upgrade_schema(db)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT id, forward_skip, stale, provider_id FROM orders").fetchall() == [
        (1, "[]", 0, None)
    ]
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
    db.dispose()
