"""Refresh the front-end files vendored into smmpanel/web/static/vendor/.

Each package is fetched with `npm pack` (the registry's tarball, checked by npm
against its integrity hash) into a temporary directory; the files the pages use
and the package's licence are copied out, and MANIFEST.json records the name,
version, file and sha256 of each, which a test checks.  Nothing is loaded from
a CDN or at run time: the pages only ever request files from the panel itself.

    python scripts/vendor_static.py            # the versions pinned below
    python scripts/vendor_static.py --check    # only verify the manifest's hashes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "smmpanel" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"

# npm spec -> (folder, {file in the package: name in the folder}).
# htmx stays on 2.0.x: 4.x is a breaking release.
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "htmx.org@2.0.11": (
        "htmx",
        {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"},
    ),
    "@picocss/pico@2.1.1": (
        "pico",
        {"package/css/pico.min.css": "pico.min.css", "package/LICENSE.md": "LICENSE.md"},
    ),
    # The admin dashboard's chart: the UMD build defines window.Chart for our own
    # static/js/dashboard.js (no module loader, no inline script under the CSP).
    "chart.js@4.6.1": (
        "chartjs",
        {"package/dist/chart.umd.min.js": "chart.umd.min.js", "package/LICENSE.md": "LICENSE.md"},
    ),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refresh() -> None:
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, (folder, files) in PACKAGES.items():
            tarball = (
                subprocess.run(
                    ["npm", "pack", "--silent", spec],
                    cwd=tmp,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            name, version = spec.rsplit("@", 1)
            target = VENDOR / folder
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            with tarfile.open(Path(tmp) / tarball) as archive:
                for member, local in files.items():
                    source = archive.extractfile(member)
                    if source is None:
                        raise SystemExit(f"{spec}: {member} is not a file")
                    (target / local).write_bytes(source.read())
                    entries.append(
                        {
                            "name": name,
                            "version": version,
                            "file": f"{folder}/{local}",
                            "sha256": sha256(target / local),
                        }
                    )
    MANIFEST.write_text(json.dumps(entries, indent=2) + "\n")
    print(f"Wrote {len(entries)} files and {MANIFEST}")


def check() -> list[str]:
    """The files whose hash differs from the manifest's (or which are missing)."""
    wrong = []
    for entry in json.loads(MANIFEST.read_text()):
        path = VENDOR / entry["file"]
        if not path.is_file() or sha256(path) != entry["sha256"]:
            wrong.append(entry["file"])
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the manifest only")
    if parser.parse_args().check:
        wrong = check()
        for file in wrong:
            print(f"hash mismatch: {file}", file=sys.stderr)
        raise SystemExit(1 if wrong else 0)
    refresh()


if __name__ == "__main__":
    main()
