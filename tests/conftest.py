"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

`db` is parametrised over both backends.  SQLite gets a fresh copy of a
database migrated once per run; PostgreSQL gets one database per run (created
here, migrated with Alembic, dropped at the end) whose tables are truncated
before each test.  Point the suite at a server with SMMPANEL_TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres); set
SMMPANEL_TEST_POSTGRES=skip to run on SQLite alone.
"""

from __future__ import annotations

import os

# Set before anything reads them, and inherited by the processes tests start:
# a secret key for the stored secrets, and loopback allowed for the simulators
# and webhook receivers (the tests of the outbound guard turn it off).
TEST_SECRET_KEY = "dGVzdC1rZXktb2YtdGhlLXNtbXBhbmVsLXRlc3RzISE="
os.environ.setdefault("SMMPANEL_SECRET_KEY", TEST_SECRET_KEY)
os.environ.setdefault("SMMPANEL_ALLOW_PRIVATE_URLS", "1")

import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from smmpanel.db import Base, Database  # noqa: E402
from smmpanel.schema import upgrade_schema  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Many tests (fuzz, concurrency) hammer the API from one IP, with junk keys:
# rate limits are off unless a test turns them on (tests/ratelimit/ does, through
# Settings or a subprocess's environment).
os.environ.setdefault("SMMPANEL_RATE_LIMITS", "off")


def _pg_admin_url() -> str:
    url = os.environ.get("SMMPANEL_TEST_POSTGRES_URL", DEFAULT_PG)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _backends() -> list[str]:
    if os.environ.get("SMMPANEL_TEST_POSTGRES", "").lower() == "skip":
        return ["sqlite"]
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade_schema(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin_url = _pg_admin_url()
    name = f"smmpanel_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {admin_url} ({exc.__class__.__name__}); start it "
            "(.ci/run does) or set SMMPANEL_TEST_POSTGRES=skip"
        )
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade_schema(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(db: Database) -> None:
    """Empty every table and restart the id counters (DELETE is ~20x faster than
    TRUNCATE on tables this small)."""
    # The catalog's version counter is kept: it only ever grows (migration 0019).
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name != "catalog_version"]
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())
        for table in tables:
            if "id" in table.c and table.c.id.autoincrement in (True, "auto"):
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), 1, false)"),
                    {"t": table.name},
                )
        conn.execute(
            text("INSERT INTO currencies (code, rate, updated_at) VALUES ('USD', '1', now())")
        )


@pytest.fixture(params=_backends())
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database (with the USD base currency)."""
    if request.param == "sqlite":
        path = tmp_path / "panel.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        _reset_postgres(database)
    yield database
    database.dispose()


@pytest.fixture
def postgres_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """PostgreSQL only, for tests of PostgreSQL-specific behaviour (skipped with
    SMMPANEL_TEST_POSTGRES=skip)."""
    if "postgresql" not in _backends():
        pytest.skip("PostgreSQL is skipped (SMMPANEL_TEST_POSTGRES=skip)")
    database = Database(request.getfixturevalue("postgres_url"))
    _reset_postgres(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """SQLite only, for tests of SQLite-specific behaviour."""
    path = tmp_path / "panel.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def panel_url(db: Database) -> Iterator[str]:
    """A real HTTP server of the panel on a free port, over the test's database."""
    from smmpanel.api_v2.app import create_app
    from smmpanel.server import serve_in_thread

    with serve_in_thread(create_app(db)) as url:
        yield url


_FIGURE = "reliability figure"
_FIGURES_SEEN: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Figures recorded by a test (and by its fixtures' teardown) ride on its
    teardown report, which pytest-xdist sends from the worker to the controller."""
    from tests.figures import take

    report = yield
    if report.when == "teardown":
        report.user_properties.extend((_FIGURE, line) for line in take())
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _FIGURES_SEEN.extend(str(value) for name, value in report.user_properties if name == _FIGURE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the reliability suites (tests/figures.py), even under -q."""
    if _FIGURES_SEEN:
        terminalreporter.section("reliability figures")
        for line in sorted(_FIGURES_SEEN):
            terminalreporter.write_line(line)
