"""Hypothesis strategies for the fuzzing suite: raw HTTP requests to the panel.

Every action and parameter, with values of every type and length, lone
surrogates, NUL, huge numbers and long id lists; sent as a form, JSON
(duplicated names included), multipart, a query string or a mix; by every
method, to the endpoint and around it; sometimes chunked or too large.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from hypothesis import strategies as st

from tests.api.asgi_client import RawRequest

ACTION_NAMES = ["services", "add", "status", "refill", "refill_status", "cancel", "balance"]
PARAM_NAMES = [
    "service", "link", "quantity", "runs", "interval", "comments", "usernames", "username",
    "min", "max", "posts", "old_posts", "delay", "expiry", "answer_number", "order", "orders",
    "refill", "refills", "cancels", "request_id", "type_of_traffic", "device", "google_keyword",
    "referring_url", "hashtags", "hashtag", "media", "groups", "keywords", "country",
]  # fmt: skip
NASTY_TEXT = [
    "", " ", "0", "-1", "1.5", "1e3", "1e9999999", "-1e9999999", "NaN", "Infinity", "\u0663",
    "\uff11\uff12", "9" * 30, "9" * 400, "99999999999", "2147483648", "1,2,3", "1, x ,3", ",,,",
    "\x00", "a\x00b", "\ud800", "a\udfffb", "\ud83d\ude00", "null", "[1,2]", '{"a":1}', "%0A",
    "+", "'; DROP TABLE orders; --", "\r\n\r\n", "😀" * 10, "0x10", "1_000", "-0",
]  # fmt: skip
OTHER_METHODS = ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"]
PATHS = ["/api/v2/", "/api/v2/x", "/api/v2//", "/api", "/", "/healthz", "/api/v3"]
ENCODINGS = ["form", "json", "multipart", "get", "form+query", "json+query", "raw"]
QUERY_ENCODINGS = ("get", "form+query", "json+query")
BOUNDARY = "------------------------fuzzb0undary0001"

any_char = st.characters() | st.characters(categories=["Cs"]) | st.sampled_from("\x00,\n ")
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-5, max_value=2000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_TEXT),
    st.text(any_char, max_size=40),
    # Long text in one draw (drawn character by character it would crowd out the rest).
    st.integers(min_value=125, max_value=750).map(lambda n: "ab\n " * n),
)
# Mostly scalars, sometimes a list or an object, and a few deep ones fixed: a
# recursive strategy drew 6x slower (3 ms a value), and nesting adds little.
values = st.one_of(
    scalars,
    scalars,
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(any_char, max_size=5), scalars, max_size=2),
    st.sampled_from([[[[1]]], {"a": {"b": [None, {"c": "\ud800"}]}}, [{"x\x00": 1e308}]]),
)
many_ids = st.lists(
    st.integers(min_value=-3, max_value=2**40) | st.sampled_from(["x", "", " 1 ", "\ud800"]),
    max_size=150,
)
# Values that often make a valid call, so that orders do get placed.
plausible: dict[str, st.SearchStrategy[Any]] = {
    "service": st.sampled_from([1, 2, 3, 4, 5, "1", " 2 ", 6, "99999999999", 10**20]),
    "link": st.uuids().map(lambda u: f"https://x.com/p/{u.hex[:12]}"),
    "quantity": st.integers(min_value=1, max_value=3000) | st.sampled_from(["100", "1e9999999"]),
    "comments": st.lists(st.text("abc ", min_size=1, max_size=8), max_size=6).map("\n".join),
    "username": st.sampled_from(["ann", "bob"]),
    "min": st.sampled_from([1, 5, 10]),
    "max": st.sampled_from([10, 20]),
    "answer_number": st.sampled_from([1, 2, "3"]),
    "runs": st.sampled_from([2, 3]),
    "interval": st.sampled_from([5, 10]),
    "request_id": st.sampled_from(["r1", "r2", "r3", "r4"]),
    "orders": st.sampled_from(["1,2,3", "4", "x,1", "1,99999999999"]) | many_ids,
    "order": st.sampled_from([1, 2, "3", "2147483648", 10**20]),
    "refills": many_ids,
    "cancels": many_ids,
}
ADD_PARAMS = ["service", "link", "quantity", "comments", "username", "min", "max", "answer_number"]


@dataclass(frozen=True)
class FuzzCall:
    method: str
    path: str
    encoding: str
    key_kind: str  # "rich", "poor", "junk" or "missing"
    params: tuple[tuple[str, Any], ...]  # in order; a name may repeat
    chunked: bool
    oversize: bool  # padded past the body limit

    def to_raw(self, keys: dict[str, str], max_body: int) -> RawRequest:
        params = list(self.params)
        if self.encoding in QUERY_ENCODINGS:
            # Below what any HTTP server accepts in a request line.
            params = [(str(n)[:50], v if isinstance(v, int | None) else str(v)[:400])
                      for n, v in params]  # fmt: skip
        if self.key_kind in keys:
            params.append(("key", keys[self.key_kind]))
        body, content_type, query = _encode(self.encoding, params)
        headers: list[tuple[bytes, bytes]] = []
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        if self.oversize:
            body += b"&pad=" + b"x" * max_body
        return RawRequest(self.method, self.path, query, headers, body, self.chunked)

    @property
    def acts(self) -> bool:
        """Whether the panel treats this call as an API call at all."""
        return self.method in ("GET", "POST") and self.path in ("/api/v2", "/api/v2/")


def _text(value: Any) -> bytes:
    """A value as a form or query client would write it; surrogates as their
    (invalid) UTF-8 bytes, which the panel decodes as U+FFFD."""
    text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
    return text.encode("utf-8", "surrogatepass")


def _pairs(params: Sequence[tuple[str, Any]]) -> bytes:
    return b"&".join(
        quote_plus(_text(name)).encode() + b"=" + quote_plus(_text(value)).encode()
        for name, value in params
    )


def _json(params: Sequence[tuple[str, Any]]) -> bytes:
    # By hand, so that a repeated name stays repeated (the last one wins).
    members = [f"{json.dumps(name)}:{json.dumps(value)}" for name, value in params]
    return ("{" + ",".join(members) + "}").encode()


def _multipart(params: Sequence[tuple[str, Any]]) -> bytes:
    parts = [
        b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\""
        + _text(name).replace(b'"', b"%22") + b'"\r\n\r\n' + _text(value) + b"\r\n"
        for name, value in params
    ]  # fmt: skip
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


def _encode(encoding: str, params: list[tuple[str, Any]]) -> tuple[bytes, str | None, bytes]:
    """(body, content type, query string) of an encoding."""
    half = len(params) // 2
    if encoding == "form":
        return _pairs(params), "application/x-www-form-urlencoded", b""
    if encoding == "json":
        return _json(params), "application/json", b""
    if encoding == "multipart":
        return _multipart(params), f"multipart/form-data; boundary={BOUNDARY}", b""
    if encoding == "get":
        return b"", None, _pairs(params)
    if encoding == "form+query":
        return _pairs(params[half:]), "application/x-www-form-urlencoded", _pairs(params[:half])
    if encoding == "json+query":
        return _json(params[half:]), None, _pairs(params[:half])
    # raw: the pairs as bytes under a random content type
    return _pairs(params), "text/plain; charset=utf-8", b""


@st.composite
def fuzz_calls(draw: st.DrawFn) -> FuzzCall:
    """One call; most go to /api/v2 by GET or POST, so that actions run."""
    method = draw(st.sampled_from(["GET", "POST"] * 6 + OTHER_METHODS))
    path = draw(st.sampled_from(["/api/v2"] * 12 + PATHS))
    encoding = "get" if method == "GET" else draw(st.sampled_from(ENCODINGS))
    key_kind = draw(st.sampled_from(["rich", "rich", "rich", "poor", "junk", "missing"]))
    known = st.sampled_from(["add", "add", "add", "ADD", " status ", *ACTION_NAMES])
    action = draw(known | known | known | st.text(any_char, max_size=12))
    params: list[tuple[str, Any]] = [("action", action)]
    mode = draw(st.sampled_from(["plausible", "mixed", "random"]))
    if mode != "random":
        core = ADD_PARAMS if action.strip().lower() == "add" else ["order", "orders"]
        more = st.sampled_from(["refills", "cancels", "request_id"])
        core = core + draw(st.lists(more, max_size=1))
        for name in core:
            strategy = plausible[name]
            params.append((name, draw(strategy if mode == "plausible" else strategy | values)))
    for name in draw(st.lists(st.sampled_from(PARAM_NAMES), max_size=5, unique=True)):
        maybe = plausible.get(name)
        params.append((name, draw(maybe | values if maybe is not None else values)))
    for name in draw(st.lists(st.text(any_char, max_size=10), max_size=2)):
        params.append((name, draw(values)))
    if key_kind == "junk":
        params.append(("key", draw(values)))
    # Rare choices are tested against a middle value: hypothesis favours 0 and the ends.
    if draw(st.integers(0, 9)) == 5:  # a name sent twice (the last one wins)
        params.append(draw(st.sampled_from(params)))
    params = draw(st.permutations(params)) if draw(st.booleans()) else params
    chunked = method == "POST" and draw(st.integers(0, 7)) == 5
    oversize = method == "POST" and draw(st.integers(0, 20)) == 11
    return FuzzCall(method, path, encoding, key_kind, tuple(params), chunked, oversize)


def variants(call: FuzzCall) -> list[FuzzCall]:
    """The call as drawn, then its parameters in every encoding (by POST, or GET
    for a query string) with each valid key: drawing a call costs hypothesis
    ~10 ms, sending it ~1-2 ms, so each drawn call is sent 14 ways.  Each way
    links elsewhere, so that the duplicate-link rule does not refuse the rest."""
    sent = [call]
    for encoding in ENCODINGS:
        method = "GET" if encoding == "get" else "POST"
        for key_kind in ("rich", "poor"):
            if (encoding, key_kind) != (call.encoding, call.key_kind):
                params = tuple(_relinked(call.params, len(sent)))
                way = FuzzCall(method, "/api/v2", encoding, key_kind, params, False, False)
                sent.append(way)
    return sent


def _relinked(params: Sequence[tuple[str, Any]], n: int) -> list[tuple[str, Any]]:
    return [
        (name, f"{value}/{n}" if name == "link" and isinstance(value, str) else value)
        for name, value in params
    ]
