from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http(panel_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the panel served over the test's database."""
    with httpx.Client(base_url=panel_url, timeout=30) as client:
        yield client
