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
    # PostgreSQL streaming replicas (comma-separated URLs) for the API's reads
    # that tolerate a little lag: `services`, `status`, the pages' lists
    # (docs/operations.md, "Read replicas").  Empty: every read on the primary.
    database_replica_urls: str = ""
    # Orders placed within this many seconds are read from the primary even when
    # a replica is configured, so an order read right after it was placed is current.
    replica_fresh_seconds: float = 5.0
    # Minutes an order may wait on its providers (paused or unreachable) before
    # the worker raises an owner alert; it keeps waiting, and retrying, after.
    order_wait_alert_minutes: int = 60

    # --- The worker (docs/operations.md) ---
    # How often each periodic job runs (seconds).
    status_sync_seconds: int = 60
    reconcile_seconds: int = 300
    price_sync_seconds: int = 3600
    dripfeed_seconds: int = 30
    subscription_expiry_seconds: int = 3600
    # How long a job taken by a worker that died waits before another worker takes it.
    job_lease_seconds: float = 60.0
    # For the crash-recovery tests only: the worker SIGKILLs itself at this named
    # point (e.g. "forward:sent"); empty, the normal case, never.
    crash_at: str = ""

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

    # --- The customer web (docs/web.md) ---
    # The panel's address as customers reach it, for links the panel hands out
    # (password reset links); empty: http://127.0.0.1:8000.
    public_url: str = ""
    # Send the session cookie over HTTPS only (the demo turns it off: it serves
    # plain HTTP on loopback).  Serve the panel behind TLS with this on.
    web_https_only: bool = True
    # Refused web logins within 15 minutes after which further attempts are
    # refused: from one client IP, and for one username.
    login_failures_per_ip: int = 20
    login_failures_per_user: int = 5
    # Password reset by e-mail ("Forgot your password?"): the worker sends the
    # link through this SMTP server.  Empty host: not configured, and the page
    # tells customers to ask the owner (`smmpanel users reset-link`).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    # The sender address of the panel's mail (empty: the SMTP user name).
    smtp_from: str = ""
    # Upgrade the connection with STARTTLS before logging in (off only for a
    # relay on the same machine or a test server).
    smtp_starttls: bool = True
    # Reset requests per 15 minutes: from one client IP, and for one account;
    # past them the page answers the same and sends nothing.
    reset_requests_per_ip: int = 10
    reset_requests_per_account: int = 3
    # Staff must turn on two-factor authentication before any admin page but
    # Security opens (they move money); `smmpanel demo` turns this off.
    staff_two_factor: bool = True

    # --- Deposits (docs/payments.md) ---
    # Offer the demo gateway (pay / fail buttons, no money): `smmpanel demo` turns
    # it on; never on a real panel.
    demo_payments: bool = False
    # How often the worker looks for deposits left pending, how long a deposit may
    # stay pending before the worker asks its gateway, and when one the gateway
    # still has not settled is marked expired.
    deposit_check_seconds: int = 300
    deposit_check_after_minutes: int = 15
    deposit_expire_hours: int = 48

    # --- Metrics and health (docs/operations.md, "Metrics and health") ---
    # The bearer token /metrics requires; unset, /metrics answers loopback clients
    # that come without a proxy's header, and no one else.
    metrics_token: SecretStr | None = None
    # /healthz fails when the freshest worker heartbeat is older than this
    # (a worker beats every 5 s, between jobs too).
    worker_stale_seconds: float = 120.0


def replica_urls(settings: Settings) -> list[str]:
    """SMMPANEL_DATABASE_REPLICA_URLS as a list (empty entries dropped)."""
    return [url.strip() for url in settings.database_replica_urls.split(",") if url.strip()]


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
