"""Create or migrate the schema with Alembic."""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from smmpanel.db import Database


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "smmpanel:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def expected_revisions() -> frozenset[str]:
    """The head revisions of the migrations shipped with this smmpanel (read
    once: it costs milliseconds, and the code does not change under a process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def database_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database records (none: it was never migrated)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def upgrade_schema(db: Database, revision: str = "head") -> None:
    """Migrate to `revision` on a connection of its own.  On SQLite that plain
    connection leaves foreign keys off (SQLite's default): batch mode recreates
    tables that others reference, which enforcement would refuse."""
    config = alembic_config(db.url)
    engine = create_engine(db.url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
