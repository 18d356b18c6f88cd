"""Secrets never reach a log line: API keys in query strings, form and JSON bodies,
passwords in URLs, Authorization headers.

`install_log_scrubbing()` (called by `serve`, each of its uvicorn processes,
`demo` and `worker`) scrubs every record of the process as it is created,
whichever logger makes it and whichever handler prints it: uvicorn's access log
("GET /api/v2?key=... HTTP/1.1"), its error log, httpx's request lines and ours.
A filter on a handler would be lost when uvicorn configures its logging, and a
filter on a logger does not see the records of the loggers below it.
`SecretScrubber` is the same scrubbing as a `logging.Filter`, for handlers an
owner configures.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "***"
# Parameter names that carry a secret: key, api_key, apiKey, token, access_token,
# secret, webhook_secret, password, signature, auth...
_SECRET_WORD = r"(?:key|token|secret|passw(?:or)?d|pwd|signature|sig|auth\w*|credential)"
_NAME = rf"[\w.\-\[\]]*?{_SECRET_WORD}[\w.\-\[\]]*"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # name=value in query strings and form bodies.
    (re.compile(rf"(?i)(?<![\w.\-\[\]])({_NAME})=[^&\s\"'<>;,]*"), rf"\1={MASK}"),
    # "name": "value" in JSON and 'name': 'value' in Python reprs.
    (
        re.compile(rf"""(?i)(["']{_NAME}["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2"""),
        rf"\1\2{MASK}\2",
    ),
    # Authorization: Bearer xyz
    (re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:\w+ )?[^\s,;]+"), rf"\1{MASK}"),
    # scheme://user:password@host
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@/\s]+@"), rf"\1{MASK}@"),
]


def scrub(text: str) -> str:
    """`text` with every secret it carries replaced by ***."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_record(record: logging.LogRecord) -> None:
    """Scrub a record in place.  Its arguments are scrubbed one by one, keeping
    their shape (uvicorn's access formatter unpacks a 5-tuple); a secret that
    only the whole message shows ("key=%s" % key) replaces the message by its
    scrubbed text."""
    if isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {name: _scrub_arg(value) for name, value in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a bad format: logging reports it when the record is printed
        message = None
    if message is not None:
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return scrub(arg)
    if arg is None or isinstance(arg, (int, float, bool, bytes)):
        return arg
    text = str(arg)  # a URL object, an exception...: scrubbed as text when it holds a secret
    scrubbed = scrub(text)
    return arg if scrubbed == text else scrubbed


class SecretScrubber(logging.Filter):
    """A logging.Filter that scrubs each record it sees (and keeps every record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


class _ScrubbingFactory:
    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        scrub_record(record)
        return record


def install_log_scrubbing() -> None:
    """Scrub every log record this process makes from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _ScrubbingFactory):
        logging.setLogRecordFactory(_ScrubbingFactory(current))
