"""Create or migrate the schema with Alembic."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from smmpanel.db import Database


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "smmpanel:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(db: Database, revision: str = "head") -> None:
    """Migrate to `revision`.  On SQLite the migration runs in a plain transaction
    (batch mode recreates tables, which BEGIN IMMEDIATE does not disturb)."""
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
