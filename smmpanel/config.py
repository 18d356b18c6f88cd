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
    # Minutes an order may wait on its providers (paused or unreachable) before
    # the worker raises an owner alert; it keeps waiting, and retrying, after.
    order_wait_alert_minutes: int = 60
