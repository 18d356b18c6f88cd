"""The kept `services` answer: byte for byte the uncached one, kept per key,
and never served again after any kind of catalog change (the version that the
database's triggers bump), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from smmpanel.accounts.queries import authenticate
from smmpanel.accounts.service import set_account_options, set_currency_rate
from smmpanel.api_v2.answers import render_json
from smmpanel.api_v2.app import handle
from smmpanel.api_v2.services_cache import ServicesCache, services_cache
from smmpanel.audit.models import Actor
from smmpanel.catalog.bulk import update_services
from smmpanel.catalog.categories import update_category
from smmpanel.catalog.entries import service_entry
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.catalog.queries import list_services
from smmpanel.catalog.service import import_catalog, update_service
from smmpanel.catalog.translations import set_service_translation
from smmpanel.catalog.version import catalog_version
from smmpanel.db import Database
from tests.api.helpers import ENDPOINT
from tests.factories import (
    Customer,
    import_reference_catalog,
    make_customer,
    make_service,
    reference_catalog,
)

ADMIN = Actor.system()


def served(db: Database, customer: Customer) -> bytes:
    answer = handle(db, {"key": customer.key, "action": "services"})
    assert isinstance(answer, bytes), answer
    return answer


def uncached(db: Database, customer: Customer) -> bytes:
    """The answer made from scratch, as before the cache."""
    who = authenticate(db, customer.key)
    views = list_services(
        db,
        account_id=who.account_id,
        fx_rate=who.fx_rate,
        with_translations=who.extended_fields,
    )
    return render_json([service_entry(v, extended=who.extended_fields) for v in views])


def version(db: Database) -> int:
    with db.read_core() as connection:
        found = catalog_version(connection)
    assert found is not None
    return found


@pytest.fixture
def alice(db: Database) -> Customer:
    import_reference_catalog(db)
    customer = make_customer(db)
    set_account_options(db, username="alice", extended_fields=True)
    return customer


def test_a_kept_answer_is_byte_identical_to_an_uncached_one(
    db: Database, alice: Customer, panel_url: str
) -> None:
    cache = services_cache(db)
    first = served(db, alice)
    assert (cache.hits, cache.misses) == (0, 1)
    again = served(db, alice)
    assert (cache.hits, cache.misses) == (1, 1)
    assert again == first == uncached(db, alice)
    response = httpx.post(f"{panel_url}{ENDPOINT}", data={"key": alice.key, "action": "services"})
    assert response.content == first
    assert response.headers["content-type"] == "application/json"
    entries = response.json()
    assert [e["service"] for e in entries] == [e["service"] for e in reference_catalog()]
    assert entries[0]["name_lang"] == {"en": "EN Description", "ru": "RU Description"}


def _price(db: Database, _: Customer) -> None:
    update_service(db, service_id=1, changes={"rate": "0.95"})


def _new_service(db: Database, _: Customer) -> None:
    make_service(db, name="Views", category="Second Category", rate="0.01")


def _disabled(db: Database, _: Customer) -> None:
    update_services(db, service_ids=[2], changes={"enabled": False}, actor=ADMIN)


def _translation(db: Database, _: Customer) -> None:
    set_service_translation(
        db, service_id=1, lang="de", name="Follower", description=None, actor=ADMIN
    )


def _translation_removed(db: Database, _: Customer) -> None:
    set_service_translation(db, service_id=1, lang="ru", name=None, description=None, actor=ADMIN)


def _category(db: Database, _: Customer) -> None:
    update_category(db, name="First Category", new_name="Instagram", actor=ADMIN)


def _category_translation(db: Database, _: Customer) -> None:
    update_category(db, name="First Category", translations={"de": "Erste"}, actor=ADMIN)


def _custom_rate(db: Database, customer: Customer) -> None:
    set_custom_rate(db, username=customer.username, service_id=1, rate="0.5")


def _currency_rate(db: Database, _: Customer) -> None:
    set_currency_rate(db, code="EUR", rate="0.8")


def _import(db: Database, _: Customer) -> None:
    entries = [dict(entry, service=9, name="Imported") for entry in reference_catalog()[:1]]
    import_catalog(db, entries=entries)


def _by_hand(db: Database, _: Customer) -> None:
    """A statement of nobody's command: the triggers see it too."""
    with db.write() as session:
        session.execute(text("UPDATE services SET min_quantity = 60 WHERE id = 1"))


CHANGES: dict[str, Callable[[Database, Customer], None]] = {
    "service price": _price,
    "new service": _new_service,
    "service disabled": _disabled,
    "translation": _translation,
    "translation removed": _translation_removed,
    "category renamed": _category,
    "category translation": _category_translation,
    "custom rate": _custom_rate,
    "currency rate": _currency_rate,
    "import": _import,
    "SQL by hand": _by_hand,
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_kind_of_catalog_change_is_answered_on_the_next_call(
    db: Database, change: str
) -> None:
    import_reference_catalog(db)
    set_currency_rate(db, code="EUR", rate="0.9")
    customer = make_customer(db, currency="EUR")
    set_account_options(db, username=customer.username, extended_fields=True)
    cache = services_cache(db)
    before = served(db, customer)
    assert served(db, customer) == before and cache.hits == 1
    CHANGES[change](db, customer)
    after = served(db, customer)
    assert after != before
    assert after == uncached(db, customer)
    assert served(db, customer) == after and cache.hits == 2


def test_accounts_without_own_prices_share_a_list_and_one_with_them_has_its_own(
    db: Database,
) -> None:
    import_reference_catalog(db)
    alice, bob = make_customer(db, "alice"), make_customer(db, "bob")
    cache = services_cache(db)
    assert served(db, alice) == served(db, bob)
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    set_custom_rate(db, username="bob", service_id=1, rate="0.5")
    own = served(db, bob)
    shared = served(db, alice)
    assert b'"rate":"0.50"' in own and own != shared
    assert own == uncached(db, bob) and shared == uncached(db, alice)
    assert len(cache) == 2
    assert served(db, bob) == own and served(db, alice) == shared
    assert cache.hits == 3


def test_the_extended_fields_and_the_currency_are_kept_apart(db: Database) -> None:
    import_reference_catalog(db)
    set_currency_rate(db, code="EUR", rate="0.5")
    plain, euro = make_customer(db, "plain"), make_customer(db, "euro", currency="EUR")
    extended = make_customer(db, "extended")
    set_account_options(db, username="extended", extended_fields=True)
    answers = {c.username: served(db, c) for c in (plain, euro, extended)}
    assert len(set(answers.values())) == 3
    for customer in (plain, euro, extended):
        assert served(db, customer) == answers[customer.username] == uncached(db, customer)
    assert len(services_cache(db)) == 3


def test_each_table_of_the_answer_bumps_the_version_on_insert_update_and_delete(
    db: Database,
) -> None:
    """The triggers of migration 0019, statement by statement."""
    alice = make_customer(db)
    statements = [
        "INSERT INTO categories (id, name, position) VALUES (50, 'C', 0)",
        "UPDATE categories SET position = 1 WHERE id = 50",
        "INSERT INTO category_translations (category_id, lang, name) VALUES (50, 'de', 'K')",
        "UPDATE category_translations SET name = 'L' WHERE category_id = 50",
        "INSERT INTO services (id, name, type, category_id, rate, min_quantity, max_quantity,"
        " dripfeed, refill, cancel, enabled, link_required, description, position,"
        " created_at)"
        " VALUES (60, 'S', 'Default', 50, 1000, 1, 10, false, false, false, true, true, '', 0,"
        " CURRENT_TIMESTAMP)",
        "UPDATE services SET rate = 2000 WHERE id = 60",
        "INSERT INTO service_translations (service_id, lang, name) VALUES (60, 'de', 'D')",
        "UPDATE service_translations SET name = 'E' WHERE service_id = 60",
        "INSERT INTO account_service_rates (account_id, service_id, rate)"
        f" VALUES ({alice.id}, 60, 5)",
        "UPDATE account_service_rates SET rate = 6 WHERE service_id = 60",
        "DELETE FROM account_service_rates WHERE service_id = 60",
        "DELETE FROM service_translations WHERE service_id = 60",
        "DELETE FROM services WHERE id = 60",
        "DELETE FROM category_translations WHERE category_id = 50",
        "DELETE FROM categories WHERE id = 50",
    ]  # fmt: skip
    for statement in statements:
        seen = version(db)
        with db.write() as session:
            session.execute(text(statement))
        assert version(db) > seen, statement


def test_the_cache_is_bounded_and_never_keeps_an_older_list() -> None:
    cache = ServicesCache(size=2)
    one, two, three = (None, Decimal(1), False), (None, Decimal(2), False), (5, Decimal(1), False)
    cache.put(7, one, b"1")
    cache.put(7, two, b"2")
    assert cache.get(7, one) == b"1"  # now the most recently used
    cache.put(7, three, b"3")
    assert len(cache) == 2 and cache.get(7, two) is None and cache.get(7, one) == b"1"
    cache.put(6, one, b"old")  # read before the change of version 7: dropped
    assert cache.get(7, one) == b"1" and cache.get(6, one) is None
    cache.put(8, two, b"new")
    assert len(cache) == 1 and cache.get(7, one) is None and cache.get(8, two) == b"new"
    cache.put(None, one, b"x")  # no version read: never kept
    assert cache.get(None, one) is None and len(cache) == 1
