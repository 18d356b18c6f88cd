"""The fake gateway installed as a plug-in (a dist-info with an entry point on
sys.path, as pip would leave it), and set up and enabled in the test's database."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.payments.registry import clear_registry_cache
from smmpanel.payments.setup import configure_gateway, enable_gateway
from tests.payments.fakes import SECRET, FakeGateway


def install_plugin(root: Path, dist: str, entries: dict[str, str]) -> None:
    """Write `dist`'s metadata with `entries` (code -> module:Class) in the
    smmpanel.gateways group under `root`, put root on sys.path, forget the registry."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{code} = {target}\n" for code, target in entries.items())
    (info / "entry_points.txt").write_text(f"[smmpanel.gateways]\n{lines}")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    clear_registry_cache()


def uninstall_plugin(root: Path) -> None:
    sys.path.remove(str(root))
    importlib.invalidate_caches()
    clear_registry_cache()


@pytest.fixture
def fake_installed(tmp_path: Path) -> Iterator[type[FakeGateway]]:
    FakeGateway.answers, FakeGateway.down, FakeGateway.created = {}, False, []
    FakeGateway.start_override = None
    root = tmp_path / "site"
    install_plugin(root, "fake_gateway", {"fake": "tests.payments.fakes:FakeGateway"})
    yield FakeGateway
    uninstall_plugin(root)


@pytest.fixture
def fake_gateway(db: Database, fake_installed: type[FakeGateway]) -> type[FakeGateway]:
    """The fake gateway, set up (USD, 1 to 10000, +5% from 100, +10% from 500) and enabled."""
    values = {"secret": SECRET, "bonus": "100:5,500:10"}
    configure_gateway(db, code="fake", values=values, actor=Actor.system())
    enable_gateway(db, code="fake", actor=Actor.system())
    return fake_installed
