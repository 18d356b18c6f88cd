"""Rate limits of /api/v2: per API key, per client IP, and for wrong keys per IP.

Every limit is a bucket of the `limits` library, which has no token bucket:
its sliding window counter comes closest (N calls per window of W seconds; the
previous window's calls weigh less as it slides out, so a steady client gets
N/W a second and a burst of N waits at most W seconds).  The buckets live in
this process's memory (ratelimit_memory.py) or, with SMMPANEL_REDIS_URL, in
Redis shared by every process.  A call is checked in the event loop, before
any thread or database work, and refused with HTTP 429, `Retry-After` and
{"error": "Too many requests"}:

- a key with a limit of its own (`smmpanel users set NAME --rate-limit`) is
  held to that limit alone; other keys to the key limit, and their calls also
  count against their IP's limit;
- an `Invalid API key` answer counts against the IP's wrong-key bucket.  When it
  is empty, or the IP sent the lockout's number of wrong keys in its period, the
  IP is *penalised*: its calls are refused until the bucket refills, or for the
  whole lockout period — except calls with a key known to be valid (one that
  worked lately), so a reseller whose broken script shares an IP with its good
  one keeps working, and the attacker's guesses never reach the database.

If the store fails (Redis down), calls are served without limits and a warning
is logged once a minute: a panel must not stop taking orders for that.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindow
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from smmpanel.accounts.queries import MAX_KEY_LENGTH, rate_limit_overrides
from smmpanel.accounts.rate_limit import BadRate, Rate, parse_rate
from smmpanel.api_v2.errors import INVALID_KEY
from smmpanel.api_v2.params import text_param
from smmpanel.api_v2.ratelimit_memory import LoopMemoryStorage
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.errors import DomainError

log = logging.getLogger("smmpanel.ratelimit")

TOO_MANY_REQUESTS = "Too many requests"
# After a store failure, calls go unlimited this long before the store is tried
# again, so a store that hangs does not cost every call its timeout.
STORE_RETRY_SECONDS = 2.0
STORE_TIMEOUT_SECONDS = 0.5
WARN_EVERY_SECONDS = 60.0
# A key that answered anything but `Invalid API key` is "known" this long ...
KNOWN_KEY_SECONDS = 86_400
# ... and each process renews that at most this often per key.
KNOWN_KEY_RENEW_SECONDS = 3_600.0


class InvalidRateLimitSetting(DomainError):
    """A rate-limit setting that cannot be used; the server refuses to start."""


@dataclass(frozen=True)
class Rules:
    """The panel's limits, checked; None = off."""

    key: RateLimitItem | None
    ip: RateLimitItem | None
    failed_keys: RateLimitItem | None
    lockout: RateLimitItem | None
    burst_seconds: int

    def bucket(self, rate: Rate | None) -> RateLimitItem | None:
        """A bucket holding `burst_seconds` of `rate` (at least one call), refilled at `rate`."""
        if rate is None:
            return None
        calls = max(1, round(rate.per_second * self.burst_seconds))
        return RateLimitItemPerSecond(calls, max(1, round(calls / rate.per_second)))


def rules_from(settings: Settings) -> Rules:
    """The settings' limits; InvalidRateLimitSetting names a bad one."""
    if settings.rate_limit_burst_seconds < 1:
        raise InvalidRateLimitSetting("SMMPANEL_RATE_LIMIT_BURST_SECONDS must be 1 or more")
    rules = Rules(None, None, None, None, settings.rate_limit_burst_seconds)
    return Rules(
        key=rules.bucket(_setting(settings, "rate_limit_key")),
        ip=rules.bucket(_setting(settings, "rate_limit_ip")),
        failed_keys=_window(_setting(settings, "rate_limit_failed_keys")),
        lockout=_window(_setting(settings, "rate_limit_lockout")),
        burst_seconds=settings.rate_limit_burst_seconds,
    )


def _setting(settings: Settings, field: str) -> Rate | None:
    try:
        return parse_rate(getattr(settings, field))
    except BadRate as exc:
        raise InvalidRateLimitSetting(f"SMMPANEL_{field.upper()}: {exc}") from None


def _window(rate: Rate | None) -> RateLimitItem | None:
    """A bucket of exactly `rate`: "20/minute" holds 20 and refills over a minute."""
    return None if rate is None else RateLimitItemPerSecond(rate.calls, rate.seconds)


# --- the client -------------------------------------------------------------------


def client_ip(request: Request) -> str:
    """Who the call counts against: the socket peer, or the client a trusted proxy
    named (uvicorn resolves X-Forwarded-For, see `proxy_options`).  IPv6 clients
    count per /64, the block one host is given."""
    host = request.client.host if request.client else ""
    if ":" not in host:
        return host[:64] or "unknown"
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host[:64]
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For, trusting SMMPANEL_TRUSTED_PROXIES
    only: uvicorn alone trusts 127.0.0.1 (and FORWARDED_ALLOW_IPS), so any local
    client could choose its own address.  The one place the header is read."""
    trusted = [item.strip() for item in settings.trusted_proxies.split(",") if item.strip()]
    for item in trusted:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidRateLimitSetting(
                f"SMMPANEL_TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from None
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


def key_digest_of(params: dict[str, Any]) -> str | None:
    """The stored form of the call's key (as `accounts.queries.key_digest`), or None
    when there is no usable key; never raises, whatever the text."""
    key = text_param(params, "key")
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """One call as the limits see it; `refusal` is the 429 answer, if refused."""

    ip: str
    digest: str | None
    refusal: Response | None = None
    checked: bool = True


UNCHECKED = Caller("", None, checked=False)


def too_many_requests(seconds: int) -> Response:
    return JSONResponse(
        {"error": TOO_MANY_REQUESTS}, status_code=429, headers={"Retry-After": str(seconds)}
    )


# --- where the buckets live -------------------------------------------------------


class Buckets:
    """Bucket operations over a `limits` storage: this process's memory (plain
    calls) or Redis (awaited); the same awaitable methods either way."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._awaits = isinstance(storage, RedisStorage)
        strategy = AsyncSlidingWindow if self._awaits else SlidingWindowCounterRateLimiter
        self._limiter: Any = strategy(storage)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        """Take one call from the bucket; False when it is empty."""
        return bool(await self._done(self._limiter.hit(item, *ids)))

    async def retry_after(self, item: RateLimitItem, *ids: str) -> int:
        stats = await self._done(self._limiter.get_window_stats(item, *ids))
        return _whole_seconds(stats.reset_time - time.time())

    async def count(self, key: str) -> int:
        return int(await self._done(self.storage.get(key)))

    async def seconds_left(self, key: str) -> int:
        """Seconds until the mark `key` expires; 0 when there is none."""
        if not await self.count(key):
            return 0
        return _whole_seconds(await self._done(self.storage.get_expiry(key)) - time.time())

    async def mark(self, key: str, seconds: int, *, unless_longer: bool = True) -> None:
        """Set the mark `key` to expire in `seconds` (unless it outlives that already)."""
        if unless_longer and await self.seconds_left(key) >= seconds:
            return
        await self._done(self.storage.clear(key))
        await self._done(self.storage.incr(key, seconds))

    async def _done(self, value: Any) -> Any:
        return await value if self._awaits else value


class MemoryBuckets(Buckets):
    """Buckets in this process's memory, taken and read without the library's
    strategy and wrappers: the same keys (`RateLimitItem.key_for`), windows and
    arithmetic, at ~2 us a call instead of ~7 (two a call, and a mark read)."""

    def __init__(self, storage: LoopMemoryStorage) -> None:
        super().__init__(storage)
        self._memory = storage

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        unit = item.GRANULARITY
        key = f"{item.namespace}/{'/'.join(ids)}/{item.amount}/{item.multiples}/{unit.name}"
        return self._memory.take(key, item.amount, unit.seconds * item.multiples)

    async def count(self, key: str) -> int:
        return self._memory.count(key)


def buckets_of(storage: Any) -> Buckets:
    return MemoryBuckets(storage) if isinstance(storage, LoopMemoryStorage) else Buckets(storage)


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def open_storage(settings: Settings) -> Any:
    """In-process memory, or Redis (no client retries: a failure is answered by
    serving without limits, at once)."""
    if not settings.redis_url:
        return LoopMemoryStorage()
    _check_redis_url(settings.redis_url)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client_options: dict[str, Any] = {
        "socket_timeout": STORE_TIMEOUT_SECONDS,
        "socket_connect_timeout": STORE_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }
    return RedisStorage(
        f"async+{settings.redis_url}",
        implementation="redispy",
        key_prefix=settings.redis_prefix,
        wrap_exceptions=True,
        **client_options,
    )


def _check_redis_url(url: str) -> None:
    if urlsplit(url).scheme not in ("redis", "rediss", "redis+unix"):
        raise InvalidRateLimitSetting(
            "SMMPANEL_REDIS_URL is redis://[:password@]host[:port][/db] (or rediss://)"
        )


# --- the accounts' own limits -----------------------------------------------------


class AccountLimits:
    """The limits of accounts that have their own, by key digest, re-read every
    `refresh` seconds: no database query per call, and a change reaches every
    process within `refresh` seconds."""

    def __init__(self, db: Database, rules: Rules, refresh: float) -> None:
        self._db = db
        self._rules = rules
        self._refresh = refresh
        self._by_digest: dict[str, RateLimitItem | None] = {}
        self._loaded_at = -math.inf
        self._loading = False
        self._warned_at = -math.inf

    async def lookup(self, digest: str) -> tuple[bool, RateLimitItem | None]:
        """(True, its bucket or None for off) for a key with a limit of its own."""
        if time.monotonic() - self._loaded_at > self._refresh and not self._loading:
            await self._reload()
        if digest in self._by_digest:
            return True, self._by_digest[digest]
        return False, None

    async def _reload(self) -> None:
        # Calls arriving meanwhile use the limits read last time.
        self._loading = True
        try:
            stored = await anyio.to_thread.run_sync(rate_limit_overrides, self._db)
            self._by_digest = self._buckets(stored)
        except Exception as exc:  # the database's trouble is the action's to answer
            if time.monotonic() - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = time.monotonic()
                log.warning("could not read the accounts' rate limits: %s", type(exc).__name__)
        finally:
            self._loaded_at = time.monotonic()
            self._loading = False

    def _buckets(self, stored: dict[str, str]) -> dict[str, RateLimitItem | None]:
        buckets: dict[str, RateLimitItem | None] = {}
        for digest, text in stored.items():
            try:
                buckets[digest] = self._rules.bucket(parse_rate(text))
            except BadRate:
                continue  # not written by `users set`: the default applies
        return buckets


# --- the checks -------------------------------------------------------------------


class RateLimits:
    """The checks of one app: `admit` before the action, `settle` after it.  This
    base is SMMPANEL_RATE_LIMITS=off: every call goes ahead."""

    async def admit(self, request: Request, params: dict[str, Any]) -> Caller:
        return UNCHECKED

    async def settle(self, caller: Caller, answer: Any) -> None:
        return None


class BucketLimits(RateLimits):
    """The limits on."""

    def __init__(self, rules: Rules, buckets: Buckets, accounts: AccountLimits) -> None:
        self._rules = rules
        self._buckets = buckets
        self._accounts = accounts
        self._known_here: dict[str, float] = {}
        self._store_down_until = -math.inf
        self._warned_at = -math.inf

    async def admit(self, request: Request, params: dict[str, Any]) -> Caller:
        if time.monotonic() < self._store_down_until:
            return UNCHECKED
        caller = Caller(client_ip(request), key_digest_of(params))
        try:
            wait = await self._wait(caller)
        except Exception as exc:
            self._store_failed(exc)
            return UNCHECKED
        return Caller(caller.ip, caller.digest, too_many_requests(wait)) if wait else caller

    async def settle(self, caller: Caller, answer: Any) -> None:
        """Count a wrong key against the caller's IP; remember a key that worked."""
        if not caller.checked:
            return
        try:
            if isinstance(answer, dict) and answer.get("error") == INVALID_KEY:
                await self._count_wrong_key(caller.ip)
            elif caller.digest is not None:
                await self._remember_key(caller.digest)
        except Exception as exc:
            self._store_failed(exc)

    async def _wait(self, caller: Caller) -> int:
        """Seconds the caller must wait; 0 to go ahead (and a call taken)."""
        ip, digest = caller.ip, caller.digest
        own, bucket = await self._accounts.lookup(digest) if digest else (False, None)
        penalty = await self._buckets.seconds_left(_penalty_key(ip))
        if penalty and not (own or await self._is_known(digest)):
            return penalty
        if not own:
            if self._rules.ip and not await self._buckets.hit(self._rules.ip, "ip", ip):
                return await self._buckets.retry_after(self._rules.ip, "ip", ip)
            bucket = self._rules.key
        if digest and bucket and not await self._buckets.hit(bucket, "key", digest[:32]):
            return await self._buckets.retry_after(bucket, "key", digest[:32])
        return 0

    async def _count_wrong_key(self, ip: str) -> None:
        lockout, failed = self._rules.lockout, self._rules.failed_keys
        if lockout and not await self._buckets.hit(lockout, "lockout", ip):
            await self._buckets.mark(_penalty_key(ip), int(lockout.get_expiry()))
        elif failed and not await self._buckets.hit(failed, "failed", ip):
            wait = await self._buckets.retry_after(failed, "failed", ip)
            await self._buckets.mark(_penalty_key(ip), wait)

    async def _is_known(self, digest: str | None) -> bool:
        if digest is None:
            return False
        if digest in self._known_here:
            return True
        return bool(await self._buckets.count(_known_key(digest)))

    async def _remember_key(self, digest: str) -> None:
        now = time.monotonic()
        if now - self._known_here.get(digest, -math.inf) < KNOWN_KEY_RENEW_SECONDS:
            return
        self._known_here[digest] = now
        await self._buckets.mark(_known_key(digest), KNOWN_KEY_SECONDS, unless_longer=False)

    def _store_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._store_down_until = now + STORE_RETRY_SECONDS
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "rate limits are off: their store does not answer (%s: %s); serving calls "
                "without limits until it does",
                type(exc).__name__,
                _first_line(exc),
            )


def _penalty_key(ip: str) -> str:
    return f"penalty/{ip}"


def _known_key(digest: str) -> str:
    return f"known/{digest[:32]}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


def check_settings(settings: Settings) -> None:
    """Refuse rate-limit and proxy settings that cannot be used, with the name of
    the variable (InvalidRateLimitSetting), before a server starts."""
    proxy_options(settings)
    if settings.rate_limits:
        rules_from(settings)
        if settings.redis_url:
            _check_redis_url(settings.redis_url)


def rate_limits_for(settings: Settings, db: Database) -> RateLimits:
    """The app's rate limits as the settings say (InvalidRateLimitSetting if they
    cannot be used)."""
    check_settings(settings)
    if not settings.rate_limits:
        return RateLimits()
    rules = rules_from(settings)
    accounts = AccountLimits(db, rules, settings.rate_limit_refresh_seconds)
    return BucketLimits(rules, buckets_of(open_storage(settings)), accounts)
