"""A gateway's setup: common settings checked, secrets sealed and never audited,
enabling only with the required settings."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from smmpanel.payments.errors import (
    GatewaySetupIncomplete,
    InvalidGatewaySetting,
    UnknownGateway,
)
from smmpanel.payments.models import PaymentGateway
from smmpanel.payments.setup import (
    configure_gateway,
    disable_gateway,
    enable_gateway,
    load_setup,
    reseal_gateway_secrets,
)
from smmpanel.secretbox import SecretBox, new_key
from tests.cli.conftest import invoke
from tests.conftest import TEST_SECRET_KEY
from tests.payments.fakes import FakeGateway

OWNER = Actor("cli", "owner")


def test_a_secret_is_stored_sealed_and_revealed_only_to_the_gateway(
    db: Database, fake_installed: type[FakeGateway]
) -> None:
    configure_gateway(db, code="fake", values={"secret": "s3cr3t", "title": "Cards"}, actor=OWNER)
    with db.read() as session:
        row = session.get(PaymentGateway, "fake")
        assert row is not None
        stored = json.loads(row.settings)
        setup = load_setup(session, "fake")
        trail = session.scalars(select(AuditEntry.details)).all()
    assert stored["secret"].startswith("enc1:") and "s3cr3t" not in row.settings
    assert stored["title"] == "Cards"
    assert setup.config == {"secret": "s3cr3t", "shop": "test-shop"}
    assert (setup.title, setup.enabled) == ("Cards", False)
    assert not any("s3cr3t" in details for details in trail)
    assert json.loads(trail[-1])["after"] == {
        "secrets_changed": ["secret"],
        "values": {"title": "Cards"},
    }


def test_common_settings_are_normalised_and_an_empty_value_clears_one(
    db: Database, fake_installed: type[FakeGateway]
) -> None:
    values = {"currency": "eur", "min": "5.50", "max": "1000.00", "bonus": " 500:10, 100:5 "}
    configure_gateway(db, code="fake", values=values, actor=OWNER)
    with db.read() as session:
        setup = load_setup(session, "fake")
    assert (setup.currency, setup.min_amount, setup.max_amount) == (
        "EUR",
        Decimal("5.5"),
        Decimal("1000"),
    )
    assert [(r.threshold, r.percent) for r in setup.bonus] == [
        (Decimal(100), Decimal(5)),
        (Decimal(500), Decimal(10)),
    ]
    configure_gateway(db, code="fake", values={"currency": "", "bonus": ""}, actor=OWNER)
    with db.read() as session:
        setup = load_setup(session, "fake")
    assert (setup.currency, setup.bonus) == ("USD", ())


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"currency": "US$"}, "3-8 letters"),
        ({"min": "0"}, "min must be from 0.01"),
        ({"max": "1.001"}, "2 decimal places"),
        ({"min": "100", "max": "50"}, "must not be above max"),
        ({"bonus": "100"}, "AMOUNT:PERCENT"),
        ({"bonus": "100:150"}, "percent must be from"),
        ({"bonus": "100:5,100:6"}, "two bonus rules from 100"),
        ({"title": "x" * 65}, "at most 64"),
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(
    db: Database, fake_installed: type[FakeGateway], values: dict[str, str], words: str
) -> None:
    with pytest.raises(InvalidGatewaySetting, match=words):
        configure_gateway(db, code="fake", values=values, actor=OWNER)
    with db.read() as session:
        assert session.get(PaymentGateway, "fake") is None


def test_a_gateway_is_enabled_only_with_its_required_settings(
    db: Database, fake_installed: type[FakeGateway]
) -> None:
    with pytest.raises(GatewaySetupIncomplete, match="set secret first"):
        enable_gateway(db, code="fake", actor=OWNER)
    configure_gateway(db, code="fake", values={"secret": "x"}, actor=OWNER)
    enable_gateway(db, code="fake", actor=OWNER)
    with db.read() as session:
        assert load_setup(session, "fake").enabled
    disable_gateway(db, code="fake", actor=OWNER)
    with db.read() as session:
        assert not load_setup(session, "fake").enabled
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["gateway_configured", "gateway_enabled", "gateway_disabled"]


def test_an_unknown_gateway_cannot_be_set_up(db: Database) -> None:
    with pytest.raises(UnknownGateway):
        configure_gateway(db, code="nosuch", values={"min": "1"}, actor=OWNER)
    with pytest.raises(UnknownGateway):
        enable_gateway(db, code="nosuch", actor=OWNER)


def test_secrets_rotate_reseals_gateway_secrets_under_the_new_key(
    db: Database, fake_installed: type[FakeGateway]
) -> None:
    configure_gateway(db, code="fake", values={"secret": "s3cr3t", "shop": "s"}, actor=OWNER)
    rotated = SecretBox(new_key(), (TEST_SECRET_KEY,))
    with db.write() as session:
        assert reseal_gateway_secrets(session, rotated, dry_run=True) == (0, 1, 0)
    with db.write() as session:
        assert reseal_gateway_secrets(session, rotated) == (0, 1, 0)
    with db.write() as session:
        assert reseal_gateway_secrets(session, rotated) == (0, 0, 1)
        row = session.get(PaymentGateway, "fake")
        assert row is not None
        stored = json.loads(row.settings)
    assert rotated.open(stored["secret"]) == "s3cr3t"
    assert stored["shop"] == "s"  # not a secret: left as it is


def test_smmpanel_secrets_rotate_moves_gateway_secrets_to_the_new_key(
    db: Database, fake_installed: type[FakeGateway]
) -> None:
    configure_gateway(db, code="fake", values={"secret": "s3cr3t"}, actor=OWNER)
    new = new_key()
    env = {"SMMPANEL_SECRET_KEY": new, "SMMPANEL_SECRET_KEY_OLD": TEST_SECRET_KEY}
    done = invoke(["--database-url", db.url, "secrets", "rotate"], env=env)
    assert done.exit_code == 0, done.output
    assert (
        "payment gateway secrets: 0 encrypted (were plain), 1 re-encrypted (former key), "
        "0 already with the current key"
    ) in done.stdout
    with db.read() as session:
        row = session.get(PaymentGateway, "fake")
        assert row is not None
    assert SecretBox(new).open(json.loads(row.settings)["secret"]) == "s3cr3t"
