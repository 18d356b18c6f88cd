"""Categories: their order in the catalog, their names and translations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import changed_fields, record_audit, subject
from smmpanel.catalog.errors import CategoryExists, CategoryNotFound, InvalidService
from smmpanel.catalog.models import Category, CategoryTranslation, Service
from smmpanel.catalog.service import ensure_category
from smmpanel.db import Database

# Positions order the catalog; this range is plenty and fits the 32-bit column.
MAX_POSITION = 1_000_000


@dataclass(frozen=True)
class CategoryView:
    id: int
    name: str
    position: int
    services: int
    translations: dict[str, str]


def list_categories(db: Database) -> list[CategoryView]:
    """Categories in catalog order, with their service counts and translations."""
    counts = (
        select(Service.category_id, func.count(Service.id).label("n"))
        .group_by(Service.category_id)
        .subquery()
    )
    with db.read() as session:
        rows = session.execute(
            select(Category, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.category_id == Category.id)
            .order_by(Category.position, Category.id)
        ).all()
        names: dict[int, dict[str, str]] = {}
        for t in session.scalars(select(CategoryTranslation).order_by(CategoryTranslation.lang)):
            names.setdefault(t.category_id, {})[t.lang] = t.name
    return [CategoryView(c.id, c.name, c.position, int(n), names.get(c.id, {})) for c, n in rows]


def update_category(
    db: Database,
    *,
    name: str = "",
    category_id: int | None = None,
    new_name: str | None = None,
    position: int | None = None,
    translations: dict[str, str | None] | None = None,
    actor: Actor,
) -> None:
    """Rename, move (categories are listed by position) or translate a category
    (found by `category_id` when given, else by `name`); a translation of None
    removes it."""
    if position is not None and not 0 <= position <= MAX_POSITION:
        raise InvalidService(f"a position is 0 to {MAX_POSITION}, not {position}")
    for lang, text in (translations or {}).items():
        if not 1 <= len(lang) <= 16 or (text is not None and len(text) > 255):
            raise InvalidService("a translation is LANG (1-16 characters) = TEXT (at most 255)")
    with db.write() as session:
        which = Category.id == category_id if category_id is not None else Category.name == name
        category = session.execute(select(Category).where(which)).scalar_one_or_none()
        if category is None:
            raise CategoryNotFound(f"no category {name or category_id!r}")
        before = _audited(category, translations or {}, session)
        if new_name is not None:
            new_name = new_name.strip()
            if not new_name:
                raise InvalidService("a category needs a name")
            taken = session.execute(select(Category.id).where(Category.name == new_name)).first()
            if taken is not None and taken[0] != category.id:
                raise CategoryExists(f"category {new_name!r} exists already")
            category.name = new_name[:255]
        if position is not None:
            category.position = position
        for lang, text in (translations or {}).items():
            row = session.get(CategoryTranslation, (category.id, lang))
            if text is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(CategoryTranslation(category_id=category.id, lang=lang, name=text))
            else:
                row.name = text
        session.flush()
        old, new = changed_fields(before, _audited(category, translations or {}, session))
        if new:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.CATEGORY_CHANGED,
                subject=subject("category", category.id),
                before=old,
                after=new,
            )


def create_category(db: Database, *, name: str, actor: Actor) -> int:
    """A new, empty category listed last; returns its id."""
    name = (name or "").strip()
    if len(name) > 255:
        raise InvalidService("a category name is at most 255 characters")
    with db.write() as session:
        if session.execute(select(Category.id).where(Category.name == name)).first():
            raise CategoryExists(f"category {name!r} exists already")
        return ensure_category(session, name, actor=actor).id


def move_category(db: Database, *, category_id: int, offset: int, actor: Actor) -> None:
    """Swap a category with its neighbour above (offset -1) or below (+1).
    Positions are first renumbered 1..n in the shown order, since several
    categories may share one; every position that changes is audited."""
    if offset not in (-1, 1):
        raise InvalidService("a category moves one place up or down")
    with db.write() as session:
        ordered = list(session.scalars(select(Category).order_by(Category.position, Category.id)))
        index = next((i for i, c in enumerate(ordered) if c.id == category_id), None)
        if index is None:
            raise CategoryNotFound(f"no category {category_id}")
        target = index + offset
        if 0 <= target < len(ordered):
            ordered[index], ordered[target] = ordered[target], ordered[index]
        for position, category in enumerate(ordered, start=1):
            if category.position != position:
                record_audit(
                    session,
                    actor=actor,
                    action=AuditAction.CATEGORY_CHANGED,
                    subject=subject("category", category.id),
                    before={"position": category.position},
                    after={"position": position},
                )
                category.position = position


def _audited(
    category: Category, translations: dict[str, str | None], session: Session
) -> dict[str, object]:
    """The category's name, position and the translations being changed."""
    fields: dict[str, object] = {"name": category.name, "position": category.position}
    for lang in sorted(translations):
        row = session.get(CategoryTranslation, (category.id, lang))
        fields[f"name_{lang}"] = None if row is None else row.name
    return fields
