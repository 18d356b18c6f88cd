"""The bounds of docs/operations.md ("Limits"): exact money with at most 5 places,
top-ups, balances, rates, exchange rates, service quantities; and what a catalog
import does at and past them."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from smmpanel.accounts.errors import BalanceLimit
from smmpanel.accounts.queries import account_balance
from smmpanel.accounts.service import create_account
from smmpanel.catalog.errors import CatalogImportError, InvalidService, ServiceIdTaken
from smmpanel.catalog.models import Service
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.catalog.service import (
    MAX_QUANTITY,
    ServiceSpec,
    create_service,
    import_catalog,
    takes_no_link,
    update_service,
)
from smmpanel.db import Database
from smmpanel.errors import InvalidValue
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.service import post_entry
from smmpanel.money import (
    MAX_BALANCE_UNITS,
    MoneyError,
    parse_amount,
    parse_exchange_rate,
    parse_rate,
)
from tests.factories import make_customer, make_service

BAD_MONEY = ["1e30", "NaN", "Infinity", "-Infinity", "sNaN", "1e-30", "abc", "", "0.123456"]


@pytest.mark.parametrize("text", BAD_MONEY)
def test_bad_amounts_are_refused_not_rounded(text: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_amount(text)
    assert isinstance(refused.value, InvalidValue)
    assert str(refused.value).startswith("the amount")


def test_amounts_rates_and_exchange_rates_at_their_bounds() -> None:
    assert parse_amount("-10000000000") == Decimal("-10000000000")
    assert parse_amount("0.12345") == Decimal("0.12345")
    assert parse_amount("1.500000") == Decimal("1.5")  # trailing zeros are not places
    with pytest.raises(MoneyError, match="from -10000000000 to 10000000000"):
        parse_amount("10000000000.00001")
    assert parse_rate("1000000") == Decimal("1000000")
    for bad in ("1000000.00001", "-0.00001", "0.000001"):
        with pytest.raises(MoneyError):
            parse_rate(bad)
    assert parse_exchange_rate("0.000001") == Decimal("0.000001")
    assert parse_exchange_rate("1E+6") == Decimal("1000000")
    for bad in ("0", "0.0000009", "1000000.000001", "0.1234567", "1e30", "-1"):
        with pytest.raises(MoneyError, match="an exchange rate"):
            parse_exchange_rate(bad)


@pytest.mark.parametrize("amount", ["1e14", "1e30", "0.123456", "1e-30"])
def test_fund_refuses_bad_amounts_and_changes_nothing(db: Database, amount: str) -> None:
    """`users fund bob 1e14` overflowed the column, 1e30 crashed, 0.123456 was
    rounded to 0.12346: each is refused now, before anything is written."""
    customer = make_customer(db, balance="1")
    with pytest.raises(InvalidValue):
        fund_account(db, username=customer.username, amount=amount)
    assert _balance(db, customer.id) == 100_000


def test_a_balance_never_goes_past_its_ceiling(db: Database) -> None:
    account = create_account(db, username="whale")
    with db.write() as session:  # a balance just under the ceiling
        post_entry(
            session,
            account_id=account.id,
            kind=ledger_models.TOPUP,
            amount=MAX_BALANCE_UNITS - 1,
            actor="test",
        )
    with pytest.raises(BalanceLimit, match="above the largest a panel keeps"):
        fund_account(db, username="whale", amount="0.00002")
    assert _balance(db, account.id) == MAX_BALANCE_UNITS - 1
    assert fund_account(db, username="whale", amount="0.00001") == MAX_BALANCE_UNITS


def test_custom_rates_are_bounded(db: Database) -> None:
    service = make_service(db)
    make_customer(db)
    for bad in ("1000000.00001", "-1", "0.123456", "1e30"):
        with pytest.raises(MoneyError):
            set_custom_rate(db, username="alice", service_id=service, rate=bad)
    set_custom_rate(db, username="alice", service_id=service, rate="1000000")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_quantity": MAX_QUANTITY + 1}, "max is at most 1000000000"),
        ({"max_quantity": 10**15}, "max is at most"),
        ({"rate": "1000000.00001"}, "the rate must be from 0 to 1000000"),
        ({"rate": "0.123456"}, "at most 5 decimal places"),
        ({"rate": "1e30"}, "the rate must be"),
        ({"refill_days": 3651}, "refill days are 1 to 3650"),
    ],
)
def test_service_bounds(db: Database, changes: dict[str, object], message: str) -> None:
    service = make_service(db)
    with pytest.raises(InvalidValue, match=message):
        update_service(db, service_id=service, changes=changes)
    with pytest.raises(InvalidValue, match=message):
        make_service(db, **changes)
    with db.read() as session:
        assert session.scalar(select(Service.max_quantity)) == 10_000
    # The largest allowed service: the charge at its max fits the ceiling exactly.
    update_service(
        db, service_id=service, changes={"max_quantity": MAX_QUANTITY, "rate": "1000000"}
    )


def test_a_wanted_id_must_fit_and_be_free(db: Database) -> None:
    spec = ServiceSpec("A", "Default", "C", "1", 1, 10)
    with pytest.raises(InvalidService, match="1 to 2147483647"):
        create_service(db, spec=spec, service_id=2**31)
    create_service(db, spec=spec, service_id=7)
    with pytest.raises(ServiceIdTaken):
        create_service(db, spec=spec, service_id=7)


def _entry(**fields: object) -> dict[str, object]:
    return {"service": 1, "name": "Views", "rate": "0.5", "min": "10", "max": "1000", **fields}


def test_import_lowers_unlimited_maxima_to_the_ceiling(db: Database) -> None:
    report = import_catalog(db, entries=[_entry(max="2147483647")])
    assert report.created == [1]
    with db.read() as session:
        assert session.scalar(select(Service.max_quantity)) == MAX_QUANTITY


@pytest.mark.parametrize("bad", ["1e999999999", "NaN", "sNaN", "Infinity", "1.5"])
def test_import_refuses_numbers_it_cannot_use_at_once(db: Database, bad: str) -> None:
    started = time.monotonic()
    with pytest.raises(CatalogImportError, match="entry 1: max is not"):
        import_catalog(db, entries=[_entry(max=bad)])
    assert time.monotonic() - started < 2  # int(1e999999999) would never finish


def test_import_renumbers_an_id_the_panel_cannot_hold(db: Database) -> None:
    report = import_catalog(db, entries=[_entry(service="99999999999")])
    assert (report.created, report.renumbered) == ([1], {99_999_999_999: 1})


def test_import_reports_unchanged_services_apart_from_updated_ones(db: Database) -> None:
    entries = [_entry(), _entry(service=2, name="Likes", name_lang={"ru": "Layki"})]
    assert import_catalog(db, entries=entries).created == [1, 2]
    again = import_catalog(db, entries=entries)
    assert (again.created, again.updated, again.unchanged) == ([], [], [1, 2])
    changed = [_entry(rate="0.6"), _entry(service=2, name="Likes", name_lang={"ru": "Lajki"})]
    third = import_catalog(db, entries=changed)
    assert (third.updated, third.unchanged) == ([1, 2], [])


@pytest.mark.parametrize(
    ("name", "no_link"),
    [
        ("Panel Test Credits [No link]", True),
        ("Votes (no-link)", True),
        ("NO LINK required", True),
        ("Instagram Followers", False),
        ("Unlinked followers", False),
        ("Nolinkage", False),
    ],
)
def test_the_no_link_convention(name: str, no_link: bool) -> None:
    assert takes_no_link(name) is no_link


def test_import_reads_no_link_from_the_name_unless_told(db: Database) -> None:
    entries = [
        _entry(name="Panel Test Credits [No link]"),
        _entry(service=2, name="Credits [No link]", link_required=True),
        _entry(service=3, name="Followers"),
    ]
    import_catalog(db, entries=entries)
    with db.read() as session:
        flags = session.execute(select(Service.id, Service.link_required).order_by(Service.id))
        assert list(flags) == [(1, False), (2, True), (3, True)]


def _balance(db: Database, account_id: int) -> int:
    return account_balance(db, account_id)[0]
