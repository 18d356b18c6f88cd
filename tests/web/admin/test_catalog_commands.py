"""The catalog commands the admin's pages needed and the command line did not
have: create and move a category, change services in bulk, set a service's
translation, reorder a service's providers.  Each is one transaction with its
audit rows; both databases (the `db` fixture)."""

from __future__ import annotations

import pytest

from smmpanel.audit.models import Actor
from smmpanel.catalog.bulk import MAX_BULK, update_services
from smmpanel.catalog.categories import (
    create_category,
    list_categories,
    move_category,
    update_category,
)
from smmpanel.catalog.errors import (
    CategoryExists,
    CategoryNotFound,
    InvalidService,
    ServiceNotFound,
)
from smmpanel.catalog.queries import list_services
from smmpanel.catalog.translations import set_service_translation
from smmpanel.db import Database
from smmpanel.providers.errors import ProviderNotFound
from smmpanel.providers.service import map_service
from smmpanel.providers.service_sources import move_service_source, service_sources
from tests.factories import make_service
from tests.web.admin.catalog_helpers import (
    audit,
    category_id,
    category_order,
    mapping,
    quiet_provider,
    service_category,
    stored,
)

ANN = Actor.staff("ann")


def test_create_category_lists_it_last_and_refuses_a_taken_name(db: Database) -> None:
    make_service(db, category="Instagram")
    made = create_category(db, name=" TikTok ", actor=ANN)
    assert [(c.id, c.name, c.position, c.services) for c in list_categories(db)][1] == (
        made,
        "TikTok",
        2,
        0,
    )
    assert audit(db, "category_created")[1] == (
        "staff:ann",
        f"category:{made}",
        {"after": {"name": "TikTok", "position": 2}},
    )
    for bad, error in (
        ("TikTok", CategoryExists),
        ("", InvalidService),
        ("x" * 256, InvalidService),
    ):
        with pytest.raises(error):
            create_category(db, name=bad, actor=ANN)
    assert len(list_categories(db)) == 2


def test_move_category_renumbers_ties_then_swaps(db: Database) -> None:
    for name in ("A", "B", "C"):
        create_category(db, name=name, actor=ANN)
    # Two categories sharing a position (as `categories set --position` allows).
    update_category(db, name="C", position=1, actor=ANN)
    assert category_order(db) == ["A", "C", "B"]
    move_category(db, category_id=category_id(db, "B"), offset=-1, actor=ANN)
    assert category_order(db) == ["A", "B", "C"]
    assert [c.position for c in list_categories(db)] == [1, 2, 3]
    move_category(db, category_id=category_id(db, "A"), offset=-1, actor=ANN)  # first already
    move_category(db, category_id=category_id(db, "C"), offset=1, actor=ANN)  # last already
    assert [c.position for c in list_categories(db)] == [1, 2, 3]
    # Only what changed is audited: C, renumbered after B (ties go by id) and swapped.
    assert audit(db, "category_changed")[1:] == [
        (
            "staff:ann",
            f"category:{category_id(db, 'C')}",
            {"before": {"position": 1}, "after": {"position": 3}},
        )
    ]
    for bad in (0, 2, -2):
        with pytest.raises(InvalidService):
            move_category(db, category_id=category_id(db, "A"), offset=bad, actor=ANN)
    with pytest.raises(CategoryNotFound):
        move_category(db, category_id=999, offset=1, actor=ANN)


def test_update_category_by_id(db: Database) -> None:
    made = create_category(db, name="Old", actor=ANN)
    update_category(db, category_id=made, new_name="New", translations={"ru": "Новая"}, actor=ANN)
    [view] = list_categories(db)
    assert (view.name, view.translations) == ("New", {"ru": "Новая"})
    with pytest.raises(CategoryNotFound):
        update_category(db, category_id=made + 1, new_name="X", actor=ANN)


def test_update_services_is_all_or_nothing(db: Database) -> None:
    ids = [make_service(db, name=f"S{i}", category="Old") for i in range(3)]
    make_service(db, name="Anchor", category="New")
    assert update_services(db, service_ids=ids, changes={"enabled": False}, actor=ANN) == 3
    assert [stored(db, i).enabled for i in ids] == [False] * 3
    # Already disabled: nothing changes, nothing is audited.
    assert update_services(db, service_ids=ids, changes={"enabled": False}, actor=ANN) == 0
    assert len(audit(db, "service_changed")) == 3
    with pytest.raises(ServiceNotFound):
        update_services(db, service_ids=[*ids, 999], changes={"category": "New"}, actor=ANN)
    assert [service_category(db, i) for i in ids] == ["Old"] * 3
    assert update_services(db, service_ids=ids, changes={"category": "New"}, actor=ANN) == 3
    assert [service_category(db, i) for i in ids] == ["New"] * 3
    for bad in ({}, {"rate": "0"}, {"enabled": True, "name": "x"}):
        with pytest.raises(InvalidService):
            update_services(db, service_ids=ids, changes=bad, actor=ANN)
    with pytest.raises(InvalidService):
        update_services(db, service_ids=[], changes={"enabled": True}, actor=ANN)
    with pytest.raises(InvalidService):
        update_services(
            db, service_ids=range(1, MAX_BULK + 2), changes={"enabled": True}, actor=ANN
        )


def test_set_service_translation_sets_changes_and_removes(db: Database) -> None:
    service_id = make_service(db)

    def texts() -> tuple[dict[str, str], dict[str, str]]:
        [view] = list_services(db, with_translations=True)
        return view.name_lang, view.description_lang

    set = set_service_translation
    assert set(db, service_id=service_id, lang="ru", name=" Имя ", description=None, actor=ANN)
    assert texts() == ({"ru": "Имя"}, {})
    assert set(db, service_id=service_id, lang="ru", name="Имя", description="Опис", actor=ANN)
    assert not set(db, service_id=service_id, lang="ru", name="Имя", description="Опис", actor=ANN)
    assert texts() == ({"ru": "Имя"}, {"ru": "Опис"})
    assert set(db, service_id=service_id, lang="ru", name="", description=" ", actor=ANN)
    assert texts() == ({}, {})
    rows = audit(db, "service_changed")
    assert [d["after"] for _, _, d in rows] == [
        {"name_ru": "Имя"},
        {"description_ru": "Опис"},
        {"name_ru": None, "description_ru": None},
    ]
    assert {actor for actor, _, _ in rows} == {"staff:ann"}
    with pytest.raises(ServiceNotFound):
        set(db, service_id=999, lang="ru", name="x", description=None, actor=ANN)
    for lang, name, description in (
        ("", "x", None),
        ("r" * 17, "x", None),
        ("ru", "n" * 256, None),
        ("ru", None, "d" * 10_001),
    ):
        with pytest.raises(InvalidService):
            set(db, service_id=service_id, lang=lang, name=name, description=description, actor=ANN)


def test_move_service_source_swaps_priorities(db: Database) -> None:
    service_id = make_service(db)
    for name in ("alpha", "beta", "gamma"):
        quiet_provider(db, name)
        map_service(db, service_id=service_id, provider_name=name, upstream_service_id=name[0])
    # beta and gamma tied: forwarding orders them by id, so does the move.
    map_service(
        db, service_id=service_id, provider_name="gamma", upstream_service_id="g", priority=2
    )
    move_service_source(db, service_id=service_id, provider_name="alpha", offset=1, actor=ANN)
    assert mapping(db, service_id) == [("beta", "b", 1), ("alpha", "a", 2), ("gamma", "g", 3)]
    assert [s.provider for s in service_sources(db)[service_id]] == ["beta", "alpha", "gamma"]
    rows = audit(db, "service_mapped")[4:]
    assert [(d["before"]["priority"], d["after"]["priority"]) for _, _, d in rows] == [
        (2, 1),
        (1, 2),
        (2, 3),
    ]
    assert {actor for actor, _, _ in rows} == {"staff:ann"}
    with pytest.raises(ProviderNotFound):
        move_service_source(db, service_id=service_id, provider_name="zeta", offset=1, actor=ANN)
    quiet_provider(db, "delta")
    with pytest.raises(ProviderNotFound):
        move_service_source(db, service_id=service_id, provider_name="delta", offset=1, actor=ANN)
    with pytest.raises(ServiceNotFound):
        move_service_source(db, service_id=999, provider_name="alpha", offset=1, actor=ANN)
