"""The exceptions of the SDK.

::

    SmmError
    ├── ApiError             the panel answered {"error": ...}
    ├── TransportError       no usable answer: connection, timeout, HTTP 429/5xx after retries
    │   └── OrderMayExistError   add (without request_id) lost after it may have been sent
    └── ProtocolError        an answer that cannot be read: HTML, empty, unexpected shape

No message ever contains the API key.
"""

from __future__ import annotations

from collections.abc import Mapping

from .dialect import error_code

__all__ = ["ApiError", "OrderMayExistError", "ProtocolError", "SmmError", "TransportError"]


class SmmError(Exception):
    """Base of every error the SDK raises."""


class ApiError(SmmError):
    """A logical error the panel answered (``{"error": "Not enough funds on balance"}``).

    ``message`` is the panel's text, ``code`` the normalised code
    (``not_enough_funds``, ``invalid_key``, ...; see
    :data:`smmpanel.client.dialect.ERROR_CODES`), ``details`` the other text
    fields of the answer by name (``{"detail": "quantity: required"}``),
    ``detail`` those as one line (``None`` without any), and ``answer`` the
    panel's error answer itself, as decoded. ``str()`` is the message followed by
    the detail: ``Incorrect request (quantity: required)``. Never retried.
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        details: Mapping[str, str] | None = None,
        answer: object = None,
    ) -> None:
        self.message = message
        self.code = code if code is not None else error_code(message)
        self.details = dict(details or {})
        self.answer = answer
        super().__init__(f"{message} ({self.detail})" if self.detail else message)

    @property
    def detail(self) -> str | None:
        """The panel's explanation: its ``detail``, then any other text, on one line."""
        parts = [
            text if name == "detail" else f"{name}: {text}" for name, text in self.details.items()
        ]
        return "; ".join(parts) or None

    def __repr__(self) -> str:
        details = f", details={self.details!r}" if self.details else ""
        return f"ApiError({self.message!r}, code={self.code!r}{details})"


class TransportError(SmmError):
    """No usable answer: connection failure, timeout, HTTP 429 or 5xx (after retries).

    ``status_code`` is the HTTP status when there was one, ``snippet`` the
    start of the body.  ``nothing_sent`` is True when the request surely never
    reached the panel (the connection could not be made: refused, DNS or TLS
    failure, connect timeout), so nothing can have been done there.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        snippet: str = "",
        nothing_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.snippet = snippet
        self.nothing_sent = nothing_sent


class OrderMayExistError(TransportError):
    """``add`` without ``request_id`` failed after the request may have reached the panel.

    The order may or may not have been created: look for it (for example in
    the panel's order list, by link and service) before placing it again.
    """


class ProtocolError(SmmError):
    """An answer that cannot be read: an HTML page, an empty body, an unexpected shape.

    ``status_code`` is the HTTP status and ``snippet`` the start of the body.
    """

    def __init__(self, message: str, *, status_code: int | None = None, snippet: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.snippet = snippet
