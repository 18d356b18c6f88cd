"""The documentation and the example files stay true to the repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from smmpanel.catalog.queries import list_services
from smmpanel.catalog.service import import_catalog
from smmpanel.db import Database

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith((".py", ".md", ".toml", ".json")) or n == "dev"]


def test_the_example_catalog_imports(db: Database) -> None:
    entries = json.loads((ROOT / "examples" / "catalog.json").read_text())
    report = import_catalog(db, entries=entries)
    assert report.created == [1, 2, 3, 4, 5, 6]
    types = [view.type for view in list_services(db)]
    assert types == [
        "Default",
        "Default",
        "Custom Comments",
        "Package",
        "Poll",
        "Subscriptions",
    ]


def test_no_file_points_outside_the_repository() -> None:
    for path in tracked_text_files():
        if path == Path(__file__).resolve():
            continue  # the needles themselves
        text = path.read_text(encoding="utf-8")
        for needle in ("contract.md", "shared/design", "../shared", "api-v2-reference.txt"):
            assert needle not in text, f"{path.relative_to(ROOT)} mentions {needle}"


def test_relative_links_of_the_docs_resolve() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
