"""Settings read from ``SMMPANEL_*`` environment variables."""

from __future__ import annotations

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
    # Threads running /api/v2 database work at once, per process, for reads and
    # again for writes (add, refill, cancel): blocked writers never hold up reads.
    db_threads: int = 4
    # How long an /api/v2 call waits for the database (a thread, a lock, a
    # connection) before it answers HTTP 503 with nothing done.  The worker and
    # the admin command line are not interactive and wait 30 s.
    db_busy_timeout_seconds: float = 3.0
