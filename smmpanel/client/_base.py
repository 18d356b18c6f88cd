"""What the sync and async clients share: configuration, requests, retries, decoding.

Nothing here does I/O; :class:`~smmpanel.client.Client` and
:class:`~smmpanel.client.AsyncClient` send the requests and sleep.
"""

from __future__ import annotations

import json
import logging
import random
import re
import ssl
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, Literal, TypeVar
from urllib.parse import quote, quote_plus

import httpx

from . import _ops, dialect
from ._ops import MAX_IDS, Call, Retry
from .dialect import answer_error
from .errors import ApiError, OrderMayExistError, ProtocolError, SmmError, TransportError
from .models import (
    CancelResult,
    CancelStatusResult,
    OrderStatusResult,
    RefillResult,
    RefillStatusResult,
)

T = TypeVar("T")

log = logging.getLogger("smmpanel.client")

Method = Literal["post", "json", "get"]
METHODS: tuple[str, ...] = ("post", "json", "get")
USER_AGENT = "smmpanel-client/0.1"
SNIPPET_CHARS = 200

# Sending nothing: the connection was never made (so a creation can be retried).
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors of this side that a retry cannot mend.
_NOT_RETRYABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_MAY_EXIST_NOTE = (
    " The order may or may not have been created: check for it before placing it again"
    " (give add() a request_id to make it safe to retry)."
)
_SAME_REQUEST_ID_NOTE = (
    " The order may or may not have been created: sending it again with the same"
    " request_id is safe on panels that honour request_id."
)


def _add_note(call: Call) -> str:
    if call.action != "add":
        return ""
    return _SAME_REQUEST_ID_NOTE if call.idempotency_key else _MAY_EXIST_NOTE


_KEY_PARAM = re.compile(r"((?:^|[?&\s])key=)[^&\s\"']+")


class _RedactKeyFilter(logging.Filter):
    """Hide ``key=...`` in httpx's own request log lines (GET puts the key in the URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _KEY_PARAM.sub(r"\1***", str(arg)) if isinstance(arg, str | httpx.URL) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactKeyFilter())


@cache
def _shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: loading the CA bundle takes ~40 ms."""
    return httpx.create_ssl_context()


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


class BaseClient:
    """Configuration and the I/O-free half of a client."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        method: Method = "post",
        timeout: float | httpx.Timeout = 30.0,
        user_agent: str | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        batch_size: int = MAX_IDS,
        headers: dict[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                "url must be an http:// or https:// address, e.g. https://panel/api/v2"
            )
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if not isinstance(key, str) or not key.strip():
            raise ValueError("key must be a non-empty string")
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must not be negative")
        if not 1 <= batch_size <= MAX_IDS:
            raise ValueError(f"batch_size must be between 1 and {MAX_IDS}")
        self._url = url
        self._key = key.strip()
        self._method: Method = method
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
        port = f":{parsed.port}" if parsed.port else ""
        self._display_url = f"{parsed.scheme}://{host}{port}{parsed.path}"
        self._secrets = {self._key, quote(self._key, safe=""), quote_plus(self._key)}
        self._http_options: dict[str, Any] = {
            "timeout": timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            "headers": {
                "User-Agent": user_agent or USER_AGENT,
                "Accept": "application/json",
                **(headers or {}),
            },
            "follow_redirects": False,
            "verify": _shared_ssl_context() if verify is True else verify,
        }

    @property
    def url(self) -> str:
        """The API address (without any query string)."""
        return self._display_url

    @property
    def method(self) -> Method:
        return self._method

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._display_url!r}, method={self._method!r})"

    # -- batched operations (shared by both clients) -------------------------

    def _batch_statuses(self, ids: _ops.Ids) -> _ops.Batches[OrderStatusResult]:
        return self._batches("status", "orders", ids, "order id", dialect.parse_order_statuses)

    def _batch_refills(self, ids: _ops.Ids) -> _ops.Batches[RefillResult]:
        return self._batches(
            "refill", "orders", ids, "order id", dialect.parse_refills, Retry.CONNECT_ONLY
        )

    def _batch_refill_statuses(self, ids: _ops.Ids) -> _ops.Batches[RefillStatusResult]:
        return self._batches(
            "refill_status", "refills", ids, "refill id", dialect.parse_refill_statuses
        )

    def _batch_cancels(self, ids: _ops.Ids) -> _ops.Batches[CancelResult]:
        return self._batches(
            "cancel", "orders", ids, "order id", dialect.parse_cancels, Retry.CONNECT_ONLY
        )

    def _batch_cancel_statuses(self, ids: _ops.Ids) -> _ops.Batches[CancelStatusResult]:
        return self._batches("cancel", "cancels", ids, "cancel id", dialect.parse_cancel_statuses)

    def _batches(
        self,
        action: str,
        param: str,
        ids: _ops.Ids,
        what: str,
        parse: Callable[[object, Sequence[int]], list[T]],
        retry: Retry = Retry.SAFE,
    ) -> _ops.Batches[T]:
        return _ops.Batches(
            action, param, _ops.to_ids(ids, what), parse, retry, size=self._batch_size
        )

    # -- requests ----------------------------------------------------------

    def _build(self, http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        """The HTTP request for `call`; raises SmmError (nothing sent) when it cannot be built."""
        params: dict[str, str | int] = {"key": self._key, **call.params}
        key = call.idempotency_key
        # A header carries printable ASCII only; the request_id parameter always
        # goes along, so a panel still deduplicates when the header is left out.
        headers = {"Idempotency-Key": key} if key and _header_safe(key) else None
        try:
            if self._method == "get":
                return http.build_request("GET", self._url, params=params, headers=headers)
            if self._method == "json":
                return http.build_request("POST", self._url, json=params, headers=headers)
            return http.build_request("POST", self._url, data=params, headers=headers)
        except httpx.InvalidURL as exc:
            raise SmmError(
                f"{call.action}: the request cannot be sent as a URL ({self._redact(str(exc))}); "
                "nothing was sent: use method='post' for large requests"
            ) from None

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _snippet(self, response: httpx.Response) -> str:
        return self._redact(" ".join(self._text(response).split()))[:SNIPPET_CHARS]

    @staticmethod
    def _text(response: httpx.Response) -> str:
        encoding = response.charset_encoding or "utf-8"
        try:
            text = response.content.decode(encoding, errors="replace")
        except LookupError:
            text = response.content.decode("utf-8", errors="replace")
        return text.lstrip("\ufeff")

    # -- retries -----------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        ceiling = min(self._max_backoff, self._backoff * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _exception_delay(self, call: Call, exc: httpx.HTTPError, attempt: int) -> float:
        """Seconds to wait before sending ``call`` again after ``exc``; or raise."""
        nothing_sent = isinstance(exc, _NOTHING_SENT)
        retryable = (
            isinstance(exc, httpx.TransportError)
            and not isinstance(exc, _NOT_RETRYABLE)
            and (nothing_sent or call.retry is Retry.SAFE)
        )
        if retryable and attempt < self._retries:
            return self._delay(attempt)
        detail = self._redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if isinstance(exc, httpx.DecodingError):
            message = f"{call.action}: the answer cannot be decoded ({detail}).{_add_note(call)}"
            raise ProtocolError(message) from None
        if call.may_create_order and not nothing_sent:
            message = f"add: {detail} after the request may have reached {self._display_url}."
            raise OrderMayExistError(message + _MAY_EXIST_NOTE) from None
        tries = f" after {attempt + 1} tries" if attempt else ""
        message = f"{call.action}: {detail} ({self._display_url}){tries}."
        if not nothing_sent:
            message += _add_note(call)
        raise TransportError(message, nothing_sent=nothing_sent) from None

    def _response_delay(self, call: Call, response: httpx.Response, attempt: int) -> float | None:
        """``None`` when ``response`` is an answer to read; else seconds to wait, or raise."""
        status = response.status_code
        if status != 429 and status < 500:
            return None
        if status >= 500 and self._logical_error(response):
            return None
        if call.retry is Retry.SAFE and attempt < self._retries:
            return max(self._delay(attempt), self._retry_after(response))
        snippet = self._snippet(response)
        tries = f" after {attempt + 1} tries" if attempt else ""
        if status == 429:
            message = f"{call.action}: rate limited by the panel (HTTP 429){tries}: {snippet}"
            raise TransportError(message, status_code=status, snippet=snippet)
        message = f"{call.action}: HTTP {status} from {self._display_url}{tries}: {snippet}."
        error = OrderMayExistError if call.may_create_order else TransportError
        raise error(message + _add_note(call), status_code=status, snippet=snippet)

    def _logical_error(self, response: httpx.Response) -> bool:
        """A 5xx carrying a recognised ``{"error": ...}``: the panel's answer, not a failure."""
        try:
            error = answer_error(json.loads(self._text(response)))
        except ValueError:
            return False
        return error is not None and error.code not in ("unknown", "rate_limited")

    def _retry_after(self, response: httpx.Response) -> float:
        try:
            seconds = float(response.headers.get("retry-after", "0"))
        except ValueError:
            return 0.0
        return min(max(seconds, 0.0), self._max_backoff)

    def _log_retry(self, call: Call, attempt: int, delay: float, why: str) -> None:
        log.info(
            "retrying %s in %.2fs after %s (try %d of %d)",
            call.action,
            delay,
            self._redact(why),
            attempt + 2,
            self._retries + 1,
        )

    # -- answers -----------------------------------------------------------

    def _decode(self, call: Call, response: httpx.Response) -> Any:
        """The JSON of an answer, numbers with a fraction as Decimal; or raise ProtocolError."""
        status = response.status_code
        log.debug("%s %s -> HTTP %d", call.action, self._display_url, status)
        note = _add_note(call)
        if 300 <= status < 400:
            location = self._redact(response.headers.get("location", "?"))
            raise ProtocolError(
                f"{call.action}: the panel redirects to {location} (HTTP {status}); use that URL",
                status_code=status,
            )
        snippet = self._snippet(response)
        text = self._text(response).strip()
        if not text:
            raise ProtocolError(
                f"{call.action}: empty answer (HTTP {status}).{note}", status_code=status
            )
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except ValueError:
            raise ProtocolError(
                f"{call.action}: the answer is not JSON (HTTP {status}): {snippet}{note}",
                status_code=status,
                snippet=snippet,
            ) from None
        if status >= 400 and answer_error(data) is None:
            raise ProtocolError(
                f"{call.action}: HTTP {status} without an error message: {snippet}{note}",
                status_code=status,
                snippet=snippet,
            )
        return data

    def _redacted(self, exc: ApiError) -> ApiError:
        """The panel's error, without the key should the panel have echoed it."""
        return ApiError(
            self._redact(exc.message),
            exc.code,
            details={name: self._redact(text) for name, text in exc.details.items()},
            answer=self._redact_all(exc.answer),
        )

    def _redact_all(self, data: object) -> object:
        """A decoded answer with the key hidden in every string of it."""
        if isinstance(data, str):
            return self._redact(data)
        if isinstance(data, dict):
            return {self._redact(str(k)): self._redact_all(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self._redact_all(item) for item in data]
        return data

    def _unreadable(self, call: Call, response: httpx.Response, exc: Exception) -> SmmError:
        snippet = self._snippet(response)
        note = _add_note(call)
        return ProtocolError(
            self._redact(f"{call.action}: unexpected answer ({exc}): {snippet}{note}"),
            status_code=response.status_code,
            snippet=snippet,
        )
