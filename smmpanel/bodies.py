"""Request bodies read with a bound: for the API and the gateways' webhooks,
which both refuse a body past their limit without reading it all."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body passed the limit (declared or as it arrived)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as it arrives and refused as soon as it passes `limit`
    (a chunked body has no Content-Length to check first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
