"""The one place upstream panels are opened from: an `Upstream` per provider
(upstream.py; made of the SDK by sdk_adapter.py).

Keys never leave this module in readable form: `mask_key` is what any message
or listing shows.  They are stored encrypted (`smmpanel.secretbox`) and
decrypted only into a `ProviderAccess`, for the call.  Every call connects
through the outbound guard (`smmpanel.netguard`), so a provider URL cannot
reach the panel's own network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from smmpanel.netguard import (
    GuardedTransport,
    OutboundPolicy,
    UrlRefused,
    check_url,
    current_policy,
    same_origin,
)
from smmpanel.providers import sdk_adapter
from smmpanel.providers.errors import InvalidProviderUrl
from smmpanel.providers.models import Provider
from smmpanel.providers.upstream import Upstream
from smmpanel.secretbox import reveal_secret

DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class ProviderAccess:
    """What is needed to call a provider, detached from any database session."""

    id: int
    name: str
    api_url: str
    api_key: str
    method: str
    dialect: dict[str, Any]

    @classmethod
    def of(cls, provider: Provider) -> ProviderAccess:
        return cls(
            id=provider.id,
            name=provider.name,
            api_url=provider.api_url,
            api_key=reveal_secret(provider.api_key),
            method=provider.method,
            dialect=dict(provider.dialect or {}),
        )

    @property
    def honours_request_id(self) -> bool:
        """True for upstreams (another smmpanel) where a repeated `add` with the
        same request_id returns the first order: resending is then safe."""
        return bool(self.dialect.get("request_id"))

    def __repr__(self) -> str:
        return f"ProviderAccess({self.name!r}, {self.api_url!r}, key={mask_key(self.api_key)})"


def mask_key(key: str) -> str:
    return f"{key[:4]}…" if len(key) > 8 else "…"


def masked_stored_key(stored: str) -> str:
    """`mask_key` of a key as stored (encrypted, or plain from before encryption)."""
    return mask_key(reveal_secret(stored))


def check_provider_urls(
    api_url: str, lookup_url: str | None = None, *, policy: OutboundPolicy | None = None
) -> None:
    """Refuse (InvalidProviderUrl) an API URL the guard refuses, and a look-up URL
    that is not on the same scheme, host and port: the provider's key is sent
    to it, and must go nowhere but to the provider."""
    policy = policy or current_policy()
    try:
        check_url(api_url, policy)
    except UrlRefused as exc:
        raise InvalidProviderUrl(f"the API URL is refused: {exc}") from None
    if lookup_url is None:
        return
    if not same_origin(lookup_url, api_url):
        raise InvalidProviderUrl(
            "the look-up URL must be on the provider's own host (the same scheme, host "
            "and port as its API URL): the provider's key is sent to it"
        )
    try:
        check_url(lookup_url, policy)
    except UrlRefused as exc:
        raise InvalidProviderUrl(f"the look-up URL is refused: {exc}") from None


def open_upstream(
    access: ProviderAccess, *, timeout: float | None = None, policy: OutboundPolicy | None = None
) -> Upstream:
    """The provider's panel, open for calls through the outbound guard.
    ValueError when its settings cannot make a client."""
    method = cast(
        Literal["post", "json", "get"],
        access.method if access.method in ("post", "json", "get") else "post",
    )
    return sdk_adapter.connect(
        access.api_url,
        access.api_key,
        method=method,
        timeout=timeout or float(access.dialect.get("timeout", DEFAULT_TIMEOUT)),
        user_agent="smmpanel-relay",
        transport=GuardedTransport(policy or current_policy()),
    )
