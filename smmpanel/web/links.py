"""Links the panel hands out (reset links), on the address customers reach it at."""

from __future__ import annotations

from smmpanel.config import Settings

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def public_url(settings: Settings) -> str:
    return (settings.public_url or DEFAULT_PUBLIC_URL).rstrip("/")


def reset_link(settings: Settings, token: str) -> str:
    return f"{public_url(settings)}/reset/{token}"
