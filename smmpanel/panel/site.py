"""The texts and the logo of the panel's public pages, set by the owner.

Texts are longer than a setting (terms run to pages), kept per language with a
fallback text; the logo is a small raster image kept in the database, so every
server process serves the same one without shared files.  SVG is refused: an
SVG opened on the panel's own origin can run script.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.panel.errors import InvalidSetting
from smmpanel.panel.models import SiteAsset, SiteText
from smmpanel.panel.settings import get_setting
from smmpanel.timeutil import utcnow

# What each text is for; the keys are the only ones taken.
TEXT_KEYS = {
    "terms": "the terms page",
    "home": "the home page's introduction, under the panel's name",
}
LANGUAGES = ("", "en", "ru")  # "": shown where the page's language has no text of its own
MAX_TEXT = 20_000  # characters: terms of several pages
MAX_LOGO_BYTES = 256 * 1024
LOGO = "logo"
# Magic numbers of the image types a logo may be.
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class Logo:
    content_type: str
    data: bytes
    version: str  # the first characters of its sha256: the URL changes with the image


def _checked_key(key: str, language: str) -> tuple[str, str]:
    key = (key or "").strip().lower()
    if key not in TEXT_KEYS:
        raise InvalidSetting(f"unknown text {key!r}; known: {', '.join(sorted(TEXT_KEYS))}")
    language = (language or "").strip().lower()
    if language not in LANGUAGES:
        named = ", ".join(code for code in LANGUAGES if code)
        raise InvalidSetting(f"a text's language is one of: {named}")
    return key, language


def set_site_text(db: Database, *, key: str, text: str, actor: Actor, language: str = "") -> int:
    """Store the text (empty: remove it); returns its length in characters."""
    key, language = _checked_key(key, language)
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise InvalidSetting(f"a text takes at most {MAX_TEXT:,} characters, not {len(text):,}")
    if "\x00" in text:
        raise InvalidSetting("a text cannot hold NUL characters")
    with db.write() as session:
        row = session.get(SiteText, (key, language))
        before = len(row.text) if row is not None else 0
        if not text:
            session.execute(
                delete(SiteText).where(SiteText.key == key, SiteText.language == language)
            )
        elif row is None:
            session.add(SiteText(key=key, language=language, text=text))
        else:
            row.text, row.updated_at = text, utcnow()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SITE_TEXT_CHANGED,
            subject=subject("text", f"{key}:{language or 'default'}"),
            before={"characters": before},
            after={"characters": len(text)},
        )
    return len(text)


def site_text(session: Session, key: str, language: str) -> str:
    """The text in `language`, else the fallback text; for the terms, the short
    `terms` setting of earlier panels when neither exists."""
    found = session.execute(
        select(SiteText.language, SiteText.text).where(
            SiteText.key == key, SiteText.language.in_((language, ""))
        )
    )
    rows = {row_language: text for row_language, text in found}
    text = rows.get(language) or rows.get("")
    if text is None and key == "terms":
        return get_setting(session, "terms")
    return text or ""


def image_type(data: bytes) -> str | None:
    """The content type of a PNG, JPEG or GIF image, from its first bytes."""
    for magic, content_type in _IMAGE_TYPES:
        if data.startswith(magic):
            return content_type
    return None


def set_logo(db: Database, *, data: bytes, actor: Actor) -> Logo:
    """Make `data` (a PNG, JPEG or GIF of at most 256 KiB) the panel's logo."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidSetting(f"a logo is at most {MAX_LOGO_BYTES // 1024} KiB")
    content_type = image_type(data)
    if content_type is None:
        raise InvalidSetting("a logo is a PNG, JPEG or GIF image (SVG is not taken)")
    digest = hashlib.sha256(data).hexdigest()
    with db.write() as session:
        row = session.get(SiteAsset, LOGO)
        before = row.sha256[:12] if row is not None else None
        if row is None:
            session.add(SiteAsset(key=LOGO, content_type=content_type, data=data, sha256=digest))
        else:
            row.content_type, row.data, row.sha256 = content_type, data, digest
            row.updated_at = utcnow()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.LOGO_CHANGED,
            subject=subject("site", LOGO),
            before={"sha256": before},
            after={"sha256": digest[:12], "bytes": len(data), "type": content_type},
        )
    return Logo(content_type, data, digest[:12])


def clear_logo(db: Database, *, actor: Actor) -> bool:
    """Remove the logo; False when there was none."""
    with db.write() as session:
        row = session.get(SiteAsset, LOGO)
        if row is None:
            return False
        before = row.sha256[:12]
        session.delete(row)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.LOGO_CHANGED,
            subject=subject("site", LOGO),
            before={"sha256": before},
            after={"sha256": None},
        )
    return True


def logo_version(session: Session) -> str | None:
    """The logo's version for its URL, or None when the panel has none."""
    digest = session.scalar(select(SiteAsset.sha256).where(SiteAsset.key == LOGO))
    return digest[:12] if digest else None


def read_logo(db: Database) -> Logo | None:
    with db.read() as session:
        row = session.get(SiteAsset, LOGO)
        return None if row is None else Logo(row.content_type, row.data, row.sha256[:12])
