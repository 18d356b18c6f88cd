"""catalog version: a counter that every change of the `services` answer bumps

Revision ID: 0019
Revises: 0018

The API keeps the rendered `services` answer per process (smmpanel/api_v2/
services_cache.py) and checks this one-row counter on every call. Triggers
bump it on any INSERT, UPDATE or DELETE of a table the answer is made of, so
no writer (the command line, the admin, price sync, imports, another process,
a hand-written SQL statement) can forget to. The prices' currency conversion
needs no trigger: the caller's rate is read with its key on every call and is
part of the cache's key.

PostgreSQL: one statement-level BEFORE trigger per table. BEFORE, so a
transaction takes the counter's row lock before it locks any catalog row:
two catalog writers then queue at the counter instead of deadlocking over
rows they both touch. SQLite has only row-level triggers (AFTER ... FOR EACH
ROW; writers are serialised by the database lock anyway).

Note for later migrations: SQLite's batch mode recreates a table it alters
and drops that table's triggers; a migration that batch-alters one of these
tables must create its triggers again (tests/api/test_services_cache.py
checks that every kind of change still bumps the counter).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "categories",
    "category_translations",
    "services",
    "service_translations",
    "account_service_rates",
)
OPERATIONS = ("insert", "update", "delete")
BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
PG_FUNCTION = "smmpanel_bump_catalog_version"


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER catalog_version_bump BEFORE INSERT OR UPDATE OR DELETE "
                f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
            )
        return
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(
                f"CREATE TRIGGER catalog_version_{table}_{operation} AFTER {operation.upper()} "
                f"ON {table} FOR EACH ROW BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER catalog_version_bump ON {table}")
        op.execute(f"DROP FUNCTION {PG_FUNCTION}()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER catalog_version_{table}_{operation}")
    op.drop_table("catalog_version")
