"""``multipart/form-data`` bodies: what PHP's cURL sends when given an array.

Text fields only; a file part is refused with a message that says what to send.
The body is already bounded by the endpoint (SMMPANEL_MAX_BODY_BYTES), so it is
parsed in memory; the number of parts and the size of a part's headers are
bounded here.  Written by hand (about as long as the glue a library would need,
and no dependency): the form of these bodies is simple and fixed (RFC 7578).
"""

from __future__ import annotations

import re

MAX_FIELDS = 1000
MAX_PART_HEADER_BYTES = 8192
MAX_BOUNDARY_LENGTH = 70  # RFC 2046

_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))', re.IGNORECASE)
_NAME = re.compile(r'(?:^|;)\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))', re.IGNORECASE)
_FILENAME = re.compile(r"(?:^|;)\s*filename\*?\s*=", re.IGNORECASE)


class MultipartError(ValueError):
    """The body cannot be read as multipart/form-data text fields."""


def parse_multipart(body: bytes, content_type: str) -> dict[str, str]:
    """The text fields of a multipart/form-data body (the last of a repeated name wins,
    as in a urlencoded body)."""
    delimiter = b"\r\n--" + _boundary(content_type)
    # A CRLF before the first delimiter makes every delimiter look alike.
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 2:
        raise MultipartError("multipart body without its boundary")
    if len(sections) - 2 > MAX_FIELDS:
        raise MultipartError(f"more than {MAX_FIELDS} multipart fields")
    fields: dict[str, str] = {}
    # sections[0] is the preamble, ignored; the last one follows the closing "--".
    for section in sections[1:]:
        if section.startswith(b"--"):
            return fields
        name, value = _field(section)
        fields[name] = value
    raise MultipartError("multipart body without its closing boundary")


def _boundary(content_type: str) -> bytes:
    found = _BOUNDARY.search(content_type)
    boundary = (found.group(1) or found.group(2)) if found else ""
    if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH or not boundary.isascii():
        raise MultipartError("multipart/form-data needs a boundary in its Content-Type")
    return boundary.encode("ascii")


def _field(section: bytes) -> tuple[str, str]:
    # After the delimiter: optional spaces ("transport padding"), CRLF, headers, CRLF CRLF.
    line_end = section.find(b"\r\n")
    if line_end < 0 or section[:line_end].strip(b" \t"):
        raise MultipartError("a multipart boundary line is malformed")
    head_end = section.find(b"\r\n\r\n", line_end)
    if head_end < 0 or head_end - line_end > MAX_PART_HEADER_BYTES:
        raise MultipartError("a multipart part has no end to its headers")
    headers = section[line_end + 2 : head_end].decode("utf-8", errors="replace")
    disposition = _header(headers, "content-disposition")
    name = _NAME.search(disposition) if disposition else None
    if name is None:
        raise MultipartError("a multipart part has no Content-Disposition name")
    if _FILENAME.search(disposition or ""):
        raise MultipartError(
            "file uploads are not accepted: send text fields only (or a urlencoded form)"
        )
    field_name = name.group(1) if name.group(1) is not None else name.group(2)
    value = section[head_end + 4 :].decode("utf-8", errors="replace")
    return field_name.replace('\\"', '"'), value


def _header(headers: str, wanted: str) -> str | None:
    for line in headers.split("\r\n"):
        field, colon, value = line.partition(":")
        if colon and field.strip().lower() == wanted:
            return value.strip()
    return None
