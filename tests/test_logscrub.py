"""Scrubbing secrets from log records: what is masked and what is kept."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from smmpanel.db import Database
from smmpanel.logscrub import SecretScrubber, install_log_scrubbing, scrub
from tests.cli.conftest import invoke

KEY = "LZocnGKbSR8h49Am6FVbSbM8Mt_1p1MyFNkBx7IBbWg"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"GET /api/v2?key={KEY}&action=balance", "GET /api/v2?key=***&action=balance"),
        (f"action=add&api_key={KEY}", "action=add&api_key=***"),
        (f"POST /x?apiKey={KEY} 200", "POST /x?apiKey=*** 200"),
        (f"access_token={KEY}&secret=s3&password=pw", "access_token=***&secret=***&password=***"),
        (f'{{"key": "{KEY}", "action": "balance"}}', '{"key": "***", "action": "balance"}'),
        (f"{{'webhook_secret': '{KEY}'}}", "{'webhook_secret': '***'}"),
        (f"Authorization: Bearer {KEY}", "Authorization: ***"),
        (f"postgresql://panel:{KEY}@db:5432/smm", "postgresql://panel:***@db:5432/smm"),
        ("action=balance&order=12&link=https://x.com/p", "action=balance&order=12&link=https://x.com/p"),
    ],
)  # fmt: skip
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.fixture
def scrubbed_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger printing to a buffer, with scrubbing installed (and removed after)."""
    factory = logging.getLogRecordFactory()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("smmpanel.test.scrub")
    logger.addHandler(handler)
    logger.propagate = False
    install_log_scrubbing()
    install_log_scrubbing()  # idempotent: one layer
    try:
        yield logger, out
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(handler)


def test_every_record_is_scrubbed(scrubbed_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = scrubbed_log
    # uvicorn's access log line: a 5-tuple its formatter unpacks, kept a 5-tuple.
    logger.warning('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", f"/api/v2?key={KEY}", "1.1", 200)
    logger.warning("key=%s", KEY)  # a secret only the whole message shows
    logger.warning("body %r", {"key": KEY})
    logger.warning("plain %s", "action=balance")
    try:
        raise ValueError(f"https://panel/api/v2?key={KEY}")
    except ValueError:
        logger.exception("failed")
    lines = out.getvalue()
    assert KEY not in lines
    assert 'GET /api/v2?key=*** HTTP/1.1" 200' in lines
    assert "key=***\n" in lines
    assert "body {'key': '***'}" in lines
    assert "plain action=balance" in lines
    assert "ValueError: https://panel/api/v2?key=***" in lines


def test_the_filter_for_handlers() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", (f"/?token={KEY}",), None)
    assert SecretScrubber().filter(record) is True
    assert record.getMessage() == "GET /?token=***"


def test_the_worker_scrubs_its_logs(db: Database) -> None:
    factory = logging.getLogRecordFactory()
    root_handlers = list(logging.getLogger().handlers)
    try:
        result = invoke(["--database-url", db.url, "worker", "--once"])
        assert result.exit_code == 0, result.output
        record = logging.getLogRecordFactory()(
            "smmpanel.worker", logging.INFO, __file__, 1, "GET %s", (f"/?key={KEY}",), None
        )
        assert record.getMessage() == "GET /?key=***"
    finally:
        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            if handler not in root_handlers:
                logging.getLogger().removeHandler(handler)
