"""Reading a call's parameters: the form split by hand is parse_qsl's
answer, and the one-pass text check refuses what the full check refuses."""

from __future__ import annotations

import socket
import string
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smmpanel.api_v2.app import create_app
from smmpanel.api_v2.params import BadRequest, check_text, parse_form
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.factories import make_customer

# Forms as clients write them, and the characters that make parsing differ.
FORM_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "&=%+._-~ \x00é", max_size=60)


@given(FORM_TEXT)
@example("a=1&b=2")
@example("&&a&=x&b==c&a=2&")
@example("key=a+b&x=%41")
@example("link=https%3A%2F%2Fexample.com%2Fp%2F1%2F&quantity=1000&n%61me=%C3%A9%E9%zz%")
def test_parse_form_is_parse_qsl(text: str) -> None:
    assert parse_form(text) == dict(parse_qsl(text, keep_blank_values=True))


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5))
def test_the_quick_text_check_agrees_with_the_full_one(params: dict[str, str]) -> None:
    """Whatever the params, check_text refuses exactly those with a NUL or a
    lone surrogate in a name or a value (the one-pass check of ASCII params
    included)."""
    texts = [*params, *params.values()]
    bad = any("\x00" in t or any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in texts)
    if bad:
        with pytest.raises(BadRequest):
            check_text(params)
    else:
        check_text(params)


def test_a_raw_nul_in_a_plain_form_is_an_incorrect_request(db: Database) -> None:
    """A form with nothing to unquote is split directly and checked in one
    pass: a NUL sent as a raw byte (not %00) is refused there too."""
    customer = make_customer(db)
    with serve_in_thread(create_app(db)) as url:
        parts = urlsplit(url)
        body = b"key=" + customer.key.encode() + b"&action=balance&x=a\x00b"
        post = (
            b"POST /api/v2 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        assert b'"error":"Incorrect request"' in _raw(parts.hostname, parts.port, post)


def _raw(host: str | None, port: int | None, request: bytes) -> bytes:
    with socket.create_connection((host or "127.0.0.1", port or 80), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    return reply
