"""The admin's customers section (being built: no pages yet)."""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    return []
