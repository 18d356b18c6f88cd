"""What the catalog version's triggers (migration 0019) cost big catalog writes:
an import of many services and a price change of every one of them in one
transaction (as a price sync makes it), with the triggers and without them, in
the same run.

    python bench/bench_catalog_writes.py [--services 1000] [--rounds 3]
                                         [--database-url URL]

Without `--database-url`: temporary SQLite files.  With a PostgreSQL URL (of a
server, the database part is ignored): two databases are created beside it and
dropped at the end.  The triggers are dropped in the second one.  Printed: the
first import (every service new) and the best of `--rounds` reprices.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.catalog.models import Service
from smmpanel.catalog.service import import_catalog
from smmpanel.db import Database
from smmpanel.schema import upgrade_schema

TABLES = ("categories", "category_translations", "services", "service_translations")
TABLES += ("account_service_rates",)


def _entries(size: int, round_: int) -> list[dict[str, Any]]:
    return [
        {"service": n, "name": f"Followers {n}", "type": "Default", "rate": f"{n % 90 + 1}.25",
         "min": "10", "max": "100000", "dripfeed": False, "refill": n % 2 == 0, "cancel": False,
         "category": f"Category {n // 25} {round_}", "description": f"Service {n}"}
        for n in range(1, size + 1)
    ]  # fmt: skip


def _drop_triggers(db: Database) -> None:
    with db.engine.begin() as connection:
        for table in TABLES:
            if db.is_sqlite:
                for operation in ("insert", "update", "delete"):
                    connection.execute(text(f"DROP TRIGGER catalog_version_{table}_{operation}"))
            else:
                connection.execute(text(f"DROP TRIGGER catalog_version_bump ON {table}"))


def _reprice(db: Database) -> None:
    """Every service's rate changed in one transaction, one UPDATE each."""
    with db.write() as session:
        for service in session.scalars(select(Service)):
            service.rate += 1
        session.flush()


def _timed(db: Database, size: int, rounds: int) -> tuple[float, float]:
    imports, reprices = [], []
    for round_ in range(rounds):
        started = time.perf_counter()
        import_catalog(db, entries=_entries(size, round_))
        imports.append(time.perf_counter() - started)
        started = time.perf_counter()
        _reprice(db)
        reprices.append(time.perf_counter() - started)
    return imports[0], min(reprices)  # the import that creates them; the best reprice


def _databases(url: str) -> tuple[list[str], list[str]]:
    """Two empty databases and the names to drop afterwards (PostgreSQL)."""
    if not url:
        work = tempfile.mkdtemp(prefix="smmpanel-bench-")
        return [f"sqlite:///{work}/with.db", f"sqlite:///{work}/without.db"], []
    names = [f"smmpanel_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    parsed = make_url(url)
    urls = [parsed.set(database=n).render_as_string(hide_password=False) for n in names]
    return urls, names


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    admin_url = Database(options.database_url).url if options.database_url else ""
    urls, names = _databases(admin_url)
    results = []
    try:
        for url, triggers in zip(urls, (True, False), strict=True):
            db = Database(url)
            upgrade_schema(db)
            if not triggers:
                _drop_triggers(db)
            results.append((triggers, *_timed(db, options.services, options.rounds)))
            db.dispose()
    finally:
        if names:
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in names:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"backend={urls[0].split(':', 1)[0]} services={options.services}")
    print(f"{'triggers':<10}{'import ms':>11}{'reprice ms':>12}")
    for triggers, imported, repriced in results:
        print(f"{'on' if triggers else 'off':<10}{imported * 1000:>11.0f}{repriced * 1000:>12.0f}")


if __name__ == "__main__":
    main()
