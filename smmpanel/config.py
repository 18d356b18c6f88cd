"""Settings read from ``SMMPANEL_*`` environment variables.

``current_settings()`` is what code deep in the panel (the provider gateway,
webhook delivery, stored secrets) reads: the settings installed in-process
with ``use_settings`` (the demo's), else those of the environment, read afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMPANEL_", extra="ignore")

    database_url: str = "sqlite:///smmpanel.db"
    # Largest request body /api/v2 accepts; larger bodies get HTTP 413.
    max_body_bytes: int = 1_000_000
    log_level: str = "info"
    # One log line per HTTP request (off by default: it costs more than a request).
    access_log: bool = False
    # uvicorn processes of `smmpanel serve` (each runs SMMPANEL_DB_THREADS threads).
    workers: int = 1
    # Encrypts provider API keys and webhook secrets in the database (a Fernet
    # key, made by `smmpanel secrets new-key`); serve and worker refuse to start
    # without one.  No default: a key shipped with the code protects nothing.
    secret_key: SecretStr | None = None
    # Former secret keys, comma-separated: values they encrypted are still read
    # (never written) until `smmpanel secrets rotate` re-encrypts them.
    secret_key_old: SecretStr | None = None
    # Let provider and webhook URLs reach loopback, private, link-local and other
    # non-public addresses (off: the worker must not be a way into the network).
    allow_private_urls: bool = False
    # Threads running /api/v2 database work at once, per process, for reads and
    # again for writes (add, refill, cancel): blocked writers never hold up reads.
    db_threads: int = 4
    # How long an /api/v2 call waits for the database (a thread, a lock, a
    # connection) before it answers HTTP 503 with nothing done.  The worker and
    # the admin command line are not interactive and wait 30 s.
    db_busy_timeout_seconds: float = 3.0
    # Minutes an order may wait on its providers (paused or unreachable) before
    # the worker raises an owner alert; it keeps waiting, and retrying, after.
    order_wait_alert_minutes: int = 60


_installed: Settings | None = None


def current_settings() -> Settings:
    """The settings installed with `use_settings`, else the environment's: read
    again whenever a SMMPANEL_* variable changed, else reused (reading them
    costs ~0.8 ms, and the worker asks on every provider call and webhook)."""
    if _installed is not None:
        return _installed
    variables = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("SMMPANEL_"))
    )
    return _settings_of(variables)


@lru_cache(maxsize=8)
def _settings_of(_variables: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Make `settings` what `current_settings()` returns in this process (every
    thread) until the block ends: the demo's ephemeral key and private URLs."""
    global _installed
    previous, _installed = _installed, settings
    try:
        yield settings
    finally:
        _installed = previous
