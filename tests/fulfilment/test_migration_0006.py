"""Migration 0006: the database refuses an unknown forwarding state, keeps the
known ones, and order events get the columns of forwarding moves; its
downgrade takes both away again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from smmpanel.db import Database
from smmpanel.schema import alembic_config, upgrade_schema
from tests.fulfilment.test_migration_0004 import _ROWS
from tests.fulfilment.test_migration_0004 import empty_db as empty_db  # the fixture

_SET_STATE = "UPDATE orders SET forward_state = :state WHERE id = 2"


def _downgrade(db: Database, revision: str) -> None:
    config = alembic_config(db.url)
    engine = create_engine(db.url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


@pytest.fixture
def old_panel(empty_db: Database) -> Iterator[Database]:
    """A panel at 0005 with orders (queued, sending, NULL...) and a forward job."""
    upgrade_schema(empty_db, "0002")
    with empty_db.engine.begin() as conn:
        for statement in filter(str.strip, _ROWS.split(";")):
            conn.execute(text(statement))
    upgrade_schema(empty_db, "0005")
    yield empty_db


def _states(db: Database) -> list[str | None]:
    with db.engine.connect() as conn:
        return list(conn.scalars(text("SELECT forward_state FROM orders ORDER BY id")))


def _event_columns(db: Database) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("order_events")}


def test_upgrade_keeps_known_states_and_refuses_unknown_ones(old_panel: Database) -> None:
    before = _states(old_panel)
    upgrade_schema(old_panel, "0006")
    assert _states(old_panel) == before == [None, "failed", "reconcile", "queued"]
    assert {"from_forward", "to_forward"} <= _event_columns(old_panel)
    with pytest.raises(IntegrityError), old_panel.engine.begin() as conn:
        conn.execute(text(_SET_STATE), {"state": "lost"})
    with old_panel.engine.begin() as conn:  # every known state and NULL are taken
        for state in ("parent", "accepted", None):
            conn.execute(text(_SET_STATE), {"state": state})
    assert _states(old_panel)[1] is None


def test_downgrade_removes_the_constraint_and_the_columns(old_panel: Database) -> None:
    upgrade_schema(old_panel, "0006")
    _downgrade(old_panel, "0005")
    assert not {"from_forward", "to_forward"} & _event_columns(old_panel)
    with old_panel.engine.begin() as conn:
        conn.execute(text(_SET_STATE), {"state": "lost"})
    assert _states(old_panel)[1] == "lost"
