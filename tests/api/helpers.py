"""Talking to a real panel over HTTP the three ways clients do.

``form`` is the widely copied PHP client: ``key=urlencode(value)`` pairs, so a
space is ``+`` and a newline ``%0A``; ``json`` is a JSON object body; ``get``
is a query string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import format_units

TRANSPORTS = ("form", "json", "get")
ENDPOINT = "/api/v2"


def php_form(params: Mapping[str, Any]) -> str:
    """What PHP's http_build_query / urlencode produce: spaces as '+', '\\n' as %0A."""
    return "&".join(f"{quote_plus(str(k))}={quote_plus(str(v))}" for k, v in params.items())


def send(
    client: httpx.Client,
    transport: str,
    params: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    extra = dict(headers or {})
    if transport == "form":
        extra.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return client.post(ENDPOINT, content=php_form(params), headers=extra)
    if transport == "json":
        extra.setdefault("Content-Type", "application/json")
        return client.post(ENDPOINT, content=json.dumps(params), headers=extra)
    if transport == "get":
        return client.get(ENDPOINT, params={k: str(v) for k, v in params.items()}, headers=extra)
    raise ValueError(transport)


def answer(response: httpx.Response) -> Any:
    """The JSON of a logical answer: always HTTP 200 and application/json."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"
    return json.loads(response.content.decode("utf-8"))


class Api:
    """One account's view of the API over one transport (and extra headers)."""

    def __init__(
        self,
        client: httpx.Client,
        key: str,
        transport: str = "form",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.transport = transport
        self.headers = dict(headers or {})

    def with_headers(self, headers: Mapping[str, str]) -> Api:
        return Api(self.client, self.key, self.transport, {**self.headers, **headers})

    def __call__(self, action: str, /, **params: Any) -> Any:
        body = {"key": self.key, "action": action, **params}
        return answer(send(self.client, self.transport, body, headers=self.headers))


def balance_text(db: Database, account_id: int) -> str:
    units, _currency = account_balance(db, account_id)
    return format_units(units)


def assert_ledger_consistent(db: Database) -> None:
    assert find_balance_mismatches(db) == []
