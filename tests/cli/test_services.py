"""`smmpanel services ...`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from smmpanel.catalog.queries import list_services
from smmpanel.db import Database
from tests.cli.conftest import Run, invoke, last_line
from tests.factories import make_service, reference_catalog

EXTENDED = ("desc", "description", "name_lang", "cat_lang", "category_lang", "desc_lang")


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_add_prints_the_id_last(run: Run, db: Database) -> None:
    result = run(
        "services", "add", "--name", "Likes", "--type", "default", "--category", "Instagram",
        "--rate", "0.0009", "--min", "10", "--max", "5000", "--refill", "--refill-days", "7",
        "--cancel", "--dripfeed", "--description", "Fast likes",
    )  # fmt: skip
    service_id = int(last_line(result))
    (view,) = list_services(db, enabled_only=False)
    assert view.id == service_id
    assert (view.name, view.type, view.category, view.rate) == ("Likes", "Default", "Instagram", 90)
    assert (view.min_quantity, view.max_quantity, view.refill_days) == (10, 5000, 7)
    assert (view.dripfeed, view.refill, view.cancel, view.link_required) == (True, True, True, True)
    assert view.description == "Fast likes"


def test_add_with_id_and_without_link(run: Run, db: Database) -> None:
    result = run(
        "services", "add", "--id", "40", "--name", "Views", "--category", "Video",
        "--rate", "1", "--min", "1", "--max", "10", "--no-link", "--disabled",
    )  # fmt: skip
    assert last_line(result) == "40"
    (view,) = list_services(db, enabled_only=False)
    assert (view.id, view.link_required, view.enabled) == (40, False, False)
    again = ("--name", "X", "--category", "C", "--rate", "1", "--min", "1", "--max", "2")
    assert "taken" in run("services", "add", "--id", "40", *again, ok=False).stderr


def test_add_refusals(run: Run) -> None:
    base = ["--name", "X", "--category", "C", "--rate", "1"]
    assert (
        "unknown service type 'Robots'"
        in run(
            "services", "add", *base, "--min", "1", "--max", "2", "--type", "Robots", code=2
        ).stderr
    )
    assert (
        "min must be at least 1"
        in run("services", "add", *base, "--min", "5", "--max", "2", code=2).stderr
    )
    bad_rate = ["--name", "X", "--category", "C", "--rate", "cheap", "--min", "1", "--max", "2"]
    assert "not a decimal number" in run("services", "add", *bad_rate, code=2).stderr


def test_set(run: Run, db: Database) -> None:
    service = make_service(db, refill=True, refill_days=5)
    result = run(
        "services", "set", str(service), "--disable", "--rate", "1.25", "--min", "20",
        "--max", "300", "--name", "Real followers", "--refill-days", "default", "--no-link",
    )  # fmt: skip
    assert result.stdout.startswith(f"service {service}: enabled=off, rate=1.25, min_quantity=20")
    (view,) = list_services(db, enabled_only=False)
    assert (view.enabled, view.rate, view.min_quantity, view.max_quantity) == (
        False,
        125_000,
        20,
        300,
    )
    assert (view.name, view.refill_days, view.link_required) == ("Real followers", None, False)
    run("services", "set", str(service), "--enable", "--category", "TikTok")
    (view,) = list_services(db)
    assert view.category == "TikTok"


def test_set_refusals(run: Run, db: Database) -> None:
    service = str(make_service(db))
    assert "no service 99" in run("services", "set", "99", "--disable", ok=False).stderr
    assert "nothing to change" in run("services", "set", service, code=2).stderr
    assert "min must be at least 1" in run("services", "set", service, "--max", "5", code=2).stderr
    assert "--refill-days" in run("services", "set", service, "--refill-days", "x", code=2).stderr


def test_import_the_reference_catalog(run: Run, db: Database, tmp_path: Path) -> None:
    path = _write(tmp_path / "catalog.json", reference_catalog())
    result = run("services", "import", str(path))
    assert result.stdout.splitlines() == [
        "created: 2 (1, 2)",
        "updated: 0",
        "unchanged: 0",
        "renumbered: 0",
    ]
    views = list_services(db, with_translations=True)
    assert [(v.id, v.name, v.type, v.rate) for v in views] == [
        (1, "Followers", "Default", 90_000),
        (2, "Comments", "Custom Comments", 800_000),
    ]
    assert views[0].name_lang == {"en": "EN Description", "ru": "RU Description"}
    again = json.loads(run("services", "import", str(path), "--json").stdout)
    assert again == {"created": [], "updated": [], "unchanged": [1, 2], "renumbered": {}}
    # The next service without an id gets a free one (PostgreSQL's sequence moved on).
    added = run("services", "add", "--name", "New", "--category", "C", "--rate", "1",
                "--min", "1", "--max", "9")  # fmt: skip
    assert last_line(added) == "3"


def test_import_renumbers_taken_ids(run: Run, db: Database, tmp_path: Path) -> None:
    make_service(db, name="Other", service_id=1)
    path = _write(tmp_path / "catalog.json", reference_catalog())
    result = run("services", "import", str(path))
    assert result.stdout.splitlines() == [
        "created: 2 (2, 3)",
        "updated: 0",
        "unchanged: 0",
        "renumbered: 2 (1->2, 2->3)",
    ]


def test_import_from_stdin(run: Run) -> None:
    result = run("services", "import", "-", input=json.dumps(reference_catalog()))
    assert result.stdout.splitlines()[0] == "created: 2 (1, 2)"


def test_import_refusals(run: Run, db: Database, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    assert "is not valid JSON" in run("services", "import", str(broken), code=2).stderr
    assert "cannot read" in run("services", "import", str(tmp_path / "nope.json"), ok=False).stderr
    bad = _write(tmp_path / "bad.json", [*reference_catalog(), {"name": "X", "rate": "1"}])
    assert "entry 3: missing 'min'" in run("services", "import", str(bad), code=2).stderr
    assert list_services(db, enabled_only=False) == []  # all or nothing


def test_export_has_every_field(run: Run, db: Database) -> None:
    run("services", "import", "-", input=json.dumps(reference_catalog()))
    run("services", "set", "2", "--disable", "--refill-days", "9")
    exported = json.loads(run("services", "export").stdout)
    assert [entry["service"] for entry in exported] == [1, 2]
    first = exported[0]
    assert {k: first[k] for k in ("name", "type", "rate", "min", "max", "category")} == {
        "name": "Followers",
        "type": "Default",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "category": "First Category",
    }
    assert (first["dripfeed"], first["refill"], first["cancel"]) == (True, True, False)
    for key in EXTENDED:
        assert first[key], key
    assert first["description_lang"] == {"en": "EN Description", "ru": "RU Description"}
    assert first["cat_lang"] == {"en": "EN Category Name", "ru": "RU Category Name"}
    assert (first["refill_days"], first["link_required"], first["enabled"]) == (None, True, True)
    assert (exported[1]["enabled"], exported[1]["refill_days"], exported[1]["rate"]) == (
        False,
        9,
        "8",
    )


def test_export_import_round_trip(
    run: Run, db: Database, tmp_path: Path, sqlite_template: Path
) -> None:
    run("services", "import", "-", input=json.dumps(reference_catalog()))
    make_service(db, name="Tiny", category="Misc", rate="0.0009", link_required=False,
                 refill=True, refill_days=3, enabled=False)  # fmt: skip
    path = tmp_path / "export.json"
    assert run("services", "export", str(path)).stdout.strip() == f"exported 3 services to {path}"
    original = path.read_text(encoding="utf-8")
    # Into a fresh panel: the same catalog comes out again.
    shutil.copy(sqlite_template, tmp_path / "fresh.db")  # a migrated, empty panel
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    imported = invoke(["--database-url", fresh, "services", "import", str(path)])
    assert imported.stdout.splitlines()[0] == "created: 3 (1, 2, 3)"
    assert invoke(["--database-url", fresh, "services", "export"]).stdout == original
    # Into the same panel: every service is matched in place, and nothing changes.
    again = run("services", "import", str(path))
    assert again.stdout.splitlines()[:3] == [
        "created: 0",
        "updated: 0",
        "unchanged: 3 (1, 2, 3)",
    ]
    assert run("services", "export").stdout == original


def test_list(run: Run, db: Database) -> None:
    assert "no services yet" in run("services", "list").stdout
    run("services", "import", "-", input=json.dumps(reference_catalog()))
    run("services", "set", "1", "--disable")
    rows = json.loads(run("services", "list", "--json").stdout)
    assert rows[0] == {
        "id": 1,
        "name": "Followers",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90000",
        "min": 50,
        "max": 10000,
        "dripfeed": True,
        "refill": True,
        "refill_days": None,
        "cancel": False,
        "link_required": True,
        "enabled": False,
    }
    assert rows[1]["rate"] == "8.00000"
    table = run("services", "list").stdout.splitlines()
    assert any(
        line.split()[:5] == ["id", "name", "type", "category", "rate/1000"] for line in table
    )
    assert next(line for line in table if "Comments" in line).split()[-3:] == [
        "15000",
        "cancel",
        "yes",
    ]
