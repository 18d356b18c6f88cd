"""The rate-limit settings, the client address and the key digest, checked alone."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from limits import RateLimitItemPerSecond
from starlette.requests import Request

from smmpanel.accounts.rate_limit import Rate
from smmpanel.accounts.service import hash_key
from smmpanel.api_v2.ratelimit import (
    InvalidRateLimitSetting,
    RateLimits,
    check_settings,
    client_ip,
    key_digest_of,
    proxy_options,
    rate_limits_for,
    rules_from,
)
from smmpanel.config import Settings
from smmpanel.db import Database
from tests.cli.conftest import invoke


def test_defaults() -> None:
    rules = rules_from(Settings())
    # 20 calls a second per key, 600 at once; 40 a second per address, 1,200 at once.
    assert rules.key == RateLimitItemPerSecond(600, 30)
    assert rules.ip == RateLimitItemPerSecond(1200, 30)
    assert rules.failed_keys == RateLimitItemPerSecond(20, 60)
    assert rules.lockout == RateLimitItemPerSecond(100, 3600)


@pytest.mark.parametrize(
    ("rate", "burst", "bucket"),
    [
        (Rate(20, 1), 30, (600, 30)),
        (Rate(600, 60), 30, (300, 30)),
        (Rate(1, 3600), 30, (1, 3600)),  # at least one call, then one an hour
        (Rate(7, 60), 30, (4, 34)),
        (Rate(5, 3600), 3600, (5, 3600)),
    ],
)
def test_a_bucket_holds_burst_seconds_of_its_rate(
    rate: Rate, burst: int, bucket: tuple[int, int]
) -> None:
    rules = rules_from(Settings(rate_limit_burst_seconds=burst))
    assert rules.bucket(rate) == RateLimitItemPerSecond(*bucket)
    assert rules.bucket(None) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate_limit_key", "fast", "SMMPANEL_RATE_LIMIT_KEY: 'fast' is not a rate limit"),
        ("rate_limit_ip", "10/day", "SMMPANEL_RATE_LIMIT_IP: '10/day' is not a rate limit"),
        ("rate_limit_failed_keys", "0/s", "SMMPANEL_RATE_LIMIT_FAILED_KEYS: a rate limit allows"),
        ("rate_limit_lockout", "", "SMMPANEL_RATE_LIMIT_LOCKOUT: '' is not a rate limit"),
        ("rate_limit_burst_seconds", 0, "SMMPANEL_RATE_LIMIT_BURST_SECONDS must be 1 or more"),
        ("trusted_proxies", "proxy.lan", "SMMPANEL_TRUSTED_PROXIES: 'proxy.lan' is not an IP"),
        ("redis_url", "http://127.0.0.1:6379", "SMMPANEL_REDIS_URL is redis://"),
    ],
)
def test_bad_settings_are_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidRateLimitSetting) as refused:
        check_settings(Settings(rate_limits=True, **{field: value}))
    assert str(refused.value).startswith(message)


def test_serve_refuses_a_bad_setting_in_one_line(db: Database) -> None:
    result = invoke(
        ["--database-url", db.url, "serve", "--workers", "2"],
        env={"SMMPANEL_RATE_LIMITS": "on", "SMMPANEL_RATE_LIMIT_KEY": "lots"},
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: SMMPANEL_RATE_LIMIT_KEY: 'lots' is not a rate limit; write N/second, "
        "N/minute or N/hour, or off"
    )


def test_limits_off_is_the_do_nothing_kind(sqlite_db: Database) -> None:
    limits = rate_limits_for(Settings(rate_limits=False, rate_limit_key="junk"), sqlite_db)
    assert type(limits) is RateLimits


def test_proxies_are_uvicorn_s_to_trust_and_none_by_default() -> None:
    assert proxy_options(Settings(trusted_proxies="")) == {
        "proxy_headers": False,
        "forwarded_allow_ips": None,
    }
    assert proxy_options(Settings(trusted_proxies=" 10.0.0.0/8,::1 ")) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.0/8", "::1"],
    }


def _request(client: tuple[str, int] | None) -> Request:
    return Request({"type": "http", "method": "GET", "headers": [], "client": client})


@pytest.mark.parametrize(
    ("peer", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one host, one /64
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_client_ip(peer: str, counted_as: str) -> None:
    assert client_ip(_request((peer, 1234))) == counted_as


def test_a_call_without_a_peer_is_counted_as_unknown() -> None:
    assert client_ip(_request(None)) == "unknown"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"key": " abc "}, hash_key("abc")),
        ({"key": "\ud800"}, hashlib.sha256("\ud800".encode("utf-8", "surrogatepass")).hexdigest()),
        ({"key": ""}, None),
        ({"key": ["a"]}, None),
        ({"key": "k" * 257}, None),
        ({}, None),
    ],
)
def test_the_key_digest_never_fails(params: dict[str, Any], expected: str | None) -> None:
    assert key_digest_of(params) == expected
