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

    # --- API rate limits (docs/operations.md, "Rate limits") ---
    # Master switch: off serves every call unlimited (the demo and the tests turn it off).
    rate_limits: bool = True
    # Calls one API key may make, and all calls from one client IP (keys with a
    # limit of their own, `users set --rate-limit`, are not counted per IP).
    # N/second, N/minute or N/hour, or off.
    rate_limit_key: str = "20/second"
    rate_limit_ip: str = "40/second"
    # The key and IP limits are token buckets holding this many seconds of their
    # rate: at 20/second a client may send 600 calls at once, then 20 a second.
    rate_limit_burst_seconds: int = 30
    # Wrong API keys one IP may send before its calls with keys not known to be
    # valid are refused (429) until the bucket refills ...
    rate_limit_failed_keys: str = "20/minute"
    # ... and this many wrong keys within the period lock such calls from the IP
    # out for the whole period.
    rate_limit_lockout: str = "100/hour"
    # How often each server process re-reads the accounts' own limits.
    rate_limit_refresh_seconds: float = 5.0
    # Where the buckets live: empty = in each process's memory; redis://host:port/db
    # shares them between every process and server of the panel.
    redis_url: str = ""
    # Prefix of the Redis keys, so several panels (or test runs) can share one Redis.
    redis_prefix: str = "smmpanel"
    # Proxies whose X-Forwarded-For names the client: comma-separated addresses or
    # networks (e.g. "127.0.0.1, 10.0.0.0/8").  Empty: the socket peer is the client.
    trusted_proxies: str = ""
