"""The owner's texts (terms, home) and logo: set with `smmpanel site`, shown by
the public pages, per language, always as text, the logo served from the
database with its own type."""

from __future__ import annotations

import zlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.db import Database
from smmpanel.panel.site import MAX_TEXT
from tests.cli.conftest import Run, make_run


def _png(width: int = 2, height: int = 1) -> bytes:
    """A valid PNG of `width` x `height` black pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def run(db: Database) -> Run:
    return make_run(db)


TERMS = "First rule: <script>alert(1)</script> & more.\n\nSecond paragraph,\nwith a line break."


def test_terms_are_paragraphs_of_escaped_text(run: Run, web_url: str) -> None:
    done = run("site", "set-text", "terms", input=TERMS)
    assert done.stdout.strip() == f"terms (default): {len(TERMS):,} characters"
    page = httpx.get(f"{web_url}/terms").text
    assert "<script>alert(1)</script>" not in page
    assert "First rule: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more." in page
    assert page.count('<p class="terms">') == 2
    assert "Second paragraph,\nwith a line break." in page


def test_a_language_has_its_own_text_and_falls_back(run: Run, web_url: str) -> None:
    run("site", "set-text", "home", input="Welcome, resellers.")
    run("site", "set-text", "home", "--language", "ru", input="Добро пожаловать.")
    english = httpx.get(f"{web_url}/", headers={"Accept-Language": "en"}).text
    russian = httpx.get(f"{web_url}/", headers={"Accept-Language": "ru"}).text
    assert "Welcome, resellers." in english and "Добро пожаловать." not in english
    assert "Добро пожаловать." in russian
    assert run("site", "show-text", "home", "--language", "en").stdout.strip() == (
        "Welcome, resellers."
    )
    run("site", "set-text", "home", "--language", "ru", input="")  # removed
    assert "Welcome, resellers." in httpx.get(f"{web_url}/", headers={"Accept-Language": "ru"}).text


def test_the_short_terms_setting_of_earlier_panels_still_shows(run: Run, web_url: str) -> None:
    run("settings", "set", "terms", "Be nice.")
    assert "Be nice." in httpx.get(f"{web_url}/terms").text
    run("site", "set-text", "terms", input="The long terms.")
    page = httpx.get(f"{web_url}/terms").text
    assert "The long terms." in page and "Be nice." not in page


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("set-text", "faq"), "x", "unknown text 'faq'"),
        (("set-text", "terms", "--language", "de"), "x", "language is one of: en, ru"),
        (("set-text", "terms"), "x" * (MAX_TEXT + 1), "at most 20,000 characters"),
        (("set-text", "terms"), "a\x00b", "NUL"),
        (("show-text", "faq"), None, "unknown text 'faq'"),
    ],
)
def test_bad_texts_are_refused(
    run: Run, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    done = run("site", *args, input=stdin, code=2)
    assert message in done.output


def test_the_logo_is_served_from_the_database(
    run: Run, web_url: str, tmp_path: Path, db: Database
) -> None:
    assert httpx.get(f"{web_url}/logo").status_code == 404
    assert 'class="logo"' not in httpx.get(f"{web_url}/").text
    image = tmp_path / "logo.png"
    image.write_bytes(_png())
    assert run("site", "set-logo", str(image)).stdout.strip() == (
        f"logo set: image/png, {len(_png()):,} bytes"
    )
    home = httpx.get(f"{web_url}/").text
    assert '<img src="/logo?v=' in home
    served = httpx.get(f"{web_url}/logo")
    assert served.status_code == 200 and served.content == _png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    image.write_bytes(_png(3, 3))
    run("site", "set-logo", str(image))
    assert httpx.get(f"{web_url}/logo").content == _png(3, 3)
    assert httpx.get(f"{web_url}/").text != home  # a new version in the URL
    assert run("site", "clear-logo").stdout.strip() == "logo removed"
    assert run("site", "clear-logo").stdout.strip() == "no logo was set"
    assert httpx.get(f"{web_url}/logo").status_code == 404
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["logo_changed"] * 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "SVG is not taken"),
        (b"GIF89a" + b"\x00" * (256 * 1024), "at most 256 KiB"),
        (b"", "a logo is a PNG, JPEG or GIF"),
    ],
)
def test_a_logo_must_be_a_small_raster_image(
    run: Run, tmp_path: Path, content: bytes, message: str
) -> None:
    image = tmp_path / "logo"
    image.write_bytes(content)
    assert message in run("site", "set-logo", str(image), code=2).output


def test_a_missing_logo_file_is_one_error_line(run: Run, tmp_path: Path) -> None:
    assert "cannot read" in run("site", "set-logo", str(tmp_path / "none.png"), code=2).output


def test_text_changes_are_audited(run: Run, db: Database) -> None:
    run("site", "set-text", "terms", input="Hello.")
    listed = run("audit", "list", "--action", "site_text_changed", "--json").stdout
    assert '"subject": "text:terms:default"' in listed
    assert '"characters": 6' in listed
