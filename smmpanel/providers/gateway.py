"""The one place upstream panels are called from: an SDK client per provider.

Keys never leave this module in readable form: `mask_key` is what any message
or listing shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from smmpanel.client import Client
from smmpanel.providers.models import Provider

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
            api_key=provider.api_key,
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


def open_client(access: ProviderAccess, *, timeout: float | None = None) -> Client:
    method = cast(
        Literal["post", "json", "get"],
        access.method if access.method in ("post", "json", "get") else "post",
    )
    return Client(
        access.api_url,
        access.api_key,
        method=method,
        timeout=timeout or float(access.dialect.get("timeout", DEFAULT_TIMEOUT)),
        user_agent="smmpanel-relay",
    )
