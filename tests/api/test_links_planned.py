"""PostgreSQL: a batch's read of the links it would hold is planned at each
run, never prepared (orders/bulk_place.py, `_read_pipelined`).  A prepared
one could keep, for good, a generic plan chosen while `orders` was small: on
a new panel it scanned the whole table at every batch."""

from __future__ import annotations

from sqlalchemy import text

from smmpanel.db import Database
from smmpanel.orders.bulk_place import _read_pipelined

PREPARED = text("SELECT statement FROM pg_prepared_statements")


def test_the_links_read_is_never_prepared(postgres_db: Database) -> None:
    with postgres_db.write() as session:
        connection = session.connection()
        for n in range(8):  # psycopg prepares a statement at its 5th run
            links = [f"1:x.test/{n}", "1:x.test/a"]
            assert _read_pipelined(connection, set(), links, {}, ()) == ({}, set())
            connection.execute(text("SELECT 1 WHERE :n >= 0"), {"n": n})
        prepared = list(connection.execute(PREPARED).scalars())
    # The statement beside it was prepared: the check can see one.
    assert any("WHERE $1 >= 0" in statement for statement in prepared), prepared
    assert not any("active_link" in statement for statement in prepared), prepared
