"""Gateways as plug-ins: found through the smmpanel.gateways entry-point group,
a broken one skipped with a log line, the demo's only in demo mode."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from smmpanel.audit.models import Actor
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.payments.errors import UnknownGateway
from smmpanel.payments.gateways.manual import ManualTransfer
from smmpanel.payments.queries import offered_gateways
from smmpanel.payments.registry import gateway_for, installed_gateways
from smmpanel.payments.setup import configure_gateway, enable_gateway
from tests.payments.conftest import install_plugin, uninstall_plugin

PLUGIN = textwrap.dedent(
    """
    from smmpanel.payments.gateway import PaymentStart, SettingField

    class AcmePay:
        code = "acme"
        title = "Acme Pay"
        fields = (SettingField("token", "API token", secret=True),)
        demo_only = False
        manual = False

        def create_payment(self, deposit, config):
            return PaymentStart(external_id="a1", redirect_url="https://acme.example/pay")

        def verify_webhook(self, body, headers, config):
            return []

        def fetch_payment(self, deposit, config):
            return None

    class Playground(AcmePay):
        code = "playground"
        demo_only = True

    class Misnamed(AcmePay):
        code = "something_else"
    """
)


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Path]:
    """A third-party package: acme_pay.py with its dist-info, one broken entry."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "acme_pay.py").write_text(PLUGIN)
    (root / "broken_pay.py").write_text("import no_such_module_anywhere\n")
    install_plugin(
        root,
        "acme_pay",
        {
            "acme": "acme_pay:AcmePay",
            "playground": "acme_pay:Playground",
            "broken": "broken_pay:Broken",
            "misnamed": "acme_pay:Misnamed",
        },
    )
    yield root
    uninstall_plugin(root)


def test_the_manual_transfer_ships_with_the_panel() -> None:
    assert installed_gateways()["manual"] is ManualTransfer
    assert isinstance(gateway_for("manual", Settings()), ManualTransfer)


def test_a_third_party_gateway_is_found_through_its_entry_point(plugins: Path) -> None:
    found = installed_gateways()
    assert found["acme"].title == "Acme Pay"
    assert found["manual"] is ManualTransfer
    assert type(gateway_for("acme", Settings())).__name__ == "AcmePay"


def test_a_plugin_that_fails_to_load_is_skipped_with_a_log_line(
    plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="smmpanel.payments"):
        found = installed_gateways()
    assert "broken" not in found and "misnamed" not in found
    assert "acme" in found
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "'broken'" in m and "failed to load" in m and "ModuleNotFoundError" in m for m in messages
    )
    assert any("'misnamed'" in m and "'something_else'" in m for m in messages)
    with pytest.raises(UnknownGateway):
        gateway_for("broken", Settings())


def test_a_demo_only_gateway_exists_only_in_demo_mode(plugins: Path) -> None:
    with pytest.raises(UnknownGateway):
        gateway_for("playground", Settings(demo_payments=False))
    assert gateway_for("playground", Settings(demo_payments=True)).code == "playground"


def test_the_offered_gateways_are_the_enabled_installed_ones(db: Database, plugins: Path) -> None:
    owner = Actor.system()
    values = {"token": "t0k", "min": "2", "bonus": "50:3"}
    for code in ("acme", "playground"):
        configure_gateway(db, code=code, values=values, actor=owner)
        enable_gateway(db, code=code, actor=owner)
    configure_gateway(db, code="manual", values={"instructions": "IBAN X"}, actor=owner)
    with db.read() as session:
        plain = offered_gateways(session, Settings(demo_payments=False))
        demo = offered_gateways(session, Settings(demo_payments=True))
    assert [(g.code, g.title, g.currency, str(g.min_amount), str(g.max_amount)) for g in plain] == [
        ("acme", "Acme Pay", "USD", "2", "10000")
    ]
    assert [str(rule) for rule in plain[0].bonus] == ["+3% from 50"]
    assert [g.code for g in demo] == ["acme", "playground"]
