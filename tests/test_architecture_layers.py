"""The layer contracts of pyproject.toml ([tool.importlinter]) hold for the
panel as it is, and fail for a cycle between contexts or an edge imported by a
context: import-linter is run on a copy of the package with one import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smmpanel

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts, on the package under `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        Path(smmpanel.__file__).parent,
        tmp_path / "smmpanel",
        ignore=shutil.ignore_patterns("__pycache__", "static", "translations", "templates"),
    )
    return tmp_path


def _add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{statement}  # added by the test\n")


def test_the_panel_keeps_every_contract(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        # A cycle: accounts sits below orders.
        ("smmpanel.accounts.models", "import smmpanel.orders.models", "Edges on top"),
        # A context importing an edge.
        ("smmpanel.orders.service", "import smmpanel.api_v2.actions", "Edges on top"),
        # The SDK outside its adapter.
        ("smmpanel.providers.forwarding", "import smmpanel.client", "Only the provider adapter"),
        # The SDK depending on the panel.
        ("smmpanel.client.errors", "import smmpanel.ledger.models", "libraries of their own"),
        # The port sharing depending on the panel.
        ("smmpanel.reuseport", "import smmpanel.orders.models", "libraries of their own"),
    ],
)
def test_a_forbidden_import_fails_the_lint(
    tree: Path, module: str, statement: str, broken: str
) -> None:
    _add_import(tree, module, statement)
    done = _lint(tree)
    assert done.returncode != 0
    assert "1 broken" in done.stdout
    assert module in done.stdout and broken in done.stdout.replace("\n", " ")
