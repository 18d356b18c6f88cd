"""The vendored front-end files match their manifest, no page refers to another
host, and every English text of the templates has its Russian translation."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from babel.messages.pofile import read_po

from smmpanel.web import i18n

WEB = Path(__file__).resolve().parents[2] / "smmpanel" / "web"
VENDOR = WEB / "static" / "vendor"
# A URL with a scheme or protocol-relative (//host): what would leave the panel's host.
OFF_HOST = re.compile(
    r"""(?:src|href|action|url)\s*[=(]\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I
)
MSGID = re.compile(r"""_\(\s*(["'])(.+?)\1\s*[,)]""")


def test_vendored_files_match_the_manifest() -> None:
    entries = json.loads((VENDOR / "MANIFEST.json").read_text())
    names = {entry["name"] for entry in entries}
    assert names == {"htmx.org", "@picocss/pico", "chart.js"}
    assert all(e["version"].startswith("2.0.") for e in entries if e["name"] == "htmx.org")
    for entry in entries:
        data = (VENDOR / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    listed = {entry["file"] for entry in entries}
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert present - {"MANIFEST.json"} == listed
    assert any("LICENSE" in f for f in listed if f.startswith("htmx/"))
    assert any("LICENSE" in f for f in listed if f.startswith("pico/"))
    assert "chartjs/chart.umd.min.js" in listed
    assert any("LICENSE" in f for f in listed if f.startswith("chartjs/"))


def test_no_template_refers_to_another_host() -> None:
    for template in sorted((WEB / "templates").rglob("*.html")):
        found = OFF_HOST.findall(template.read_text())
        assert not found, (template.name, found)
    for css in (WEB / "static" / "css").glob("*.css"):
        assert "url(" not in css.read_text() or not OFF_HOST.search(css.read_text()), css.name


def test_a_russian_text_is_defined_in_one_file_only() -> None:
    seen: dict[str, str] = {}
    for po_file in sorted((WEB / "translations" / "ru" / "LC_MESSAGES").glob("*.po")):
        with po_file.open("rb") as po:
            for message in read_po(po, locale="ru"):
                if message.id:
                    assert message.id not in seen, (message.id, seen.get(message.id), po_file.name)
                    seen[str(message.id)] = po_file.name
    assert {"messages.po", "admin.po"} <= set(seen.values())


def test_every_template_text_is_translated_to_russian() -> None:
    catalog = i18n.merged_catalog("ru")
    translated = {message.id for message in catalog if message.id and message.string}
    used = {
        match[1]
        for template in (WEB / "templates").rglob("*.html")
        for match in MSGID.findall(template.read_text())
    }
    assert used, "no _() found: the pattern is wrong"
    labels = {"Username", "E-mail", "Password", "Current password", "New password"}
    labels |= {"Code from the app", "Username or e-mail"}
    assert (used | labels) - translated == set()
