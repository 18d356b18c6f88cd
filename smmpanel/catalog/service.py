"""Commands that change the catalog: services, categories, translations, import."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import changed_fields, money, record_audit, subject
from smmpanel.catalog.errors import (
    CatalogImportError,
    InvalidService,
    ServiceIdTaken,
    ServiceNotFound,
)
from smmpanel.catalog.models import Category, CategoryTranslation, Service, ServiceTranslation
from smmpanel.catalog.types import service_type
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import from_units, parse_rate, to_units

# Limits (docs/operations.md): the quantity bounds of a service, the ids of the
# 32-bit id column, a refill window.  With MAX_RATE (smmpanel.money) the charge
# of one order at a service's max stays below MAX_BALANCE (10^12).
MAX_QUANTITY = 10**9
MAX_SERVICE_ID = 2**31 - 1
MAX_REFILL_DAYS = 3650


@dataclass
class ServiceSpec:
    """Everything that defines a service, as the owner or an import gives it."""

    name: str
    type: str
    category: str
    rate: Decimal | str | int
    min_quantity: int
    max_quantity: int
    dripfeed: bool = False
    refill: bool = False
    refill_days: int | None = None
    cancel: bool = False
    link_required: bool = True
    enabled: bool = True
    description: str = ""
    name_lang: dict[str, str] = field(default_factory=dict)
    category_lang: dict[str, str] = field(default_factory=dict)
    description_lang: dict[str, str] = field(default_factory=dict)


def create_service(
    db: Database,
    *,
    spec: ServiceSpec,
    service_id: int | None = None,
    actor: Actor = Actor.system(),
) -> int:
    """Add a service (with the given id when it is free); returns its id."""
    with db.write() as session:
        return _insert_service(session, spec, service_id, actor=actor).id


def update_service(
    db: Database,
    *,
    service_id: int,
    changes: Mapping[str, Any],
    actor: Actor = Actor.system(),
) -> None:
    """Change some fields of a service (rate, bounds, flags, name, ...)."""
    with db.write() as session:
        change_service(session, service_id, changes, actor=actor)


def change_service(
    session: Session, service_id: int, changes: Mapping[str, Any], *, actor: Actor
) -> bool:
    """`update_service` inside a transaction (bulk changes make several);
    returns whether anything audited changed."""
    service = session.get(Service, service_id)
    if service is None:
        raise ServiceNotFound(f"no service {service_id}")
    current = _spec_of(session, service)
    before = audited_fields(current)
    for key, value in changes.items():
        if not hasattr(current, key):
            raise InvalidService(f"unknown service field {key!r}")
        setattr(current, key, value)
    _apply_spec(session, service, current, actor=actor)
    session.flush()
    _store_translations(session, service, current)
    return audit_service_change(session, service, before, actor=actor)


def audited_fields(spec: ServiceSpec) -> dict[str, Any]:
    """What the trail keeps of a service (its price as a Decimal string)."""
    return {
        "name": spec.name.strip(),
        "type": service_type(spec.type).name,
        "category": spec.category.strip(),
        "rate": money(to_units(parse_rate(spec.rate))),
        "min": int(spec.min_quantity),
        "max": int(spec.max_quantity),
        "dripfeed": bool(spec.dripfeed),
        "refill": bool(spec.refill),
        "refill_days": spec.refill_days,
        "cancel": bool(spec.cancel),
        "link_required": bool(spec.link_required),
        "enabled": bool(spec.enabled),
        "description": spec.description or "",
    }


def audit_service_change(
    session: Session, service: Service, before: dict[str, Any], *, actor: Actor
) -> bool:
    """Record what changed of a stored service since `before`; False when nothing did."""
    old, new = changed_fields(before, audited_fields(_spec_of(session, service)))
    if new:
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_CHANGED,
            subject=subject("service", service.id),
            before=old,
            after=new,
        )
    return bool(new)


def _insert_service(
    session: Session, spec: ServiceSpec, service_id: int | None, *, actor: Actor
) -> Service:
    if service_id is not None:
        if not 1 <= service_id <= MAX_SERVICE_ID:
            raise InvalidService(f"a service id is 1 to {MAX_SERVICE_ID}, not {service_id}")
        if session.get(Service, service_id) is not None:
            raise ServiceIdTaken(f"service id {service_id} is taken")
    service = Service(id=service_id)
    _apply_spec(session, service, spec, actor=actor)
    session.add(service)
    session.flush()
    if service_id is not None:
        _advance_id_sequence(session)
    _store_translations(session, service, spec)
    record_audit(
        session,
        actor=actor,
        action=AuditAction.SERVICE_CREATED,
        subject=subject("service", service.id),
        after=audited_fields(_spec_of(session, service)),
    )
    return service


def _advance_id_sequence(session: Session) -> None:
    """PostgreSQL: an explicit id does not move the serial sequence, so the next
    service without an id would collide with it; move the sequence past it
    (never back)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        sql(
            "SELECT setval(seq, GREATEST((SELECT MAX(id) FROM services), "
            "COALESCE(pg_sequence_last_value(seq::regclass), 1))) "
            "FROM pg_get_serial_sequence('services', 'id') AS seq"
        )
    )


def _apply_spec(session: Session, service: Service, spec: ServiceSpec, *, actor: Actor) -> None:
    name = (spec.name or "").strip()
    if not name:
        raise InvalidService("a service needs a name")
    rate = to_units(parse_rate(spec.rate))
    low, high = _bounds(spec.min_quantity, spec.max_quantity)
    if spec.refill_days is not None and not 1 <= spec.refill_days <= MAX_REFILL_DAYS:
        raise InvalidService(f"refill days are 1 to {MAX_REFILL_DAYS}, not {spec.refill_days}")
    service.name = name[:255]
    service.type = service_type(spec.type).name
    service.category_id = ensure_category(session, spec.category, actor=actor).id
    service.rate = rate
    service.min_quantity, service.max_quantity = low, high
    service.dripfeed = bool(spec.dripfeed)
    service.refill = bool(spec.refill)
    service.refill_days = spec.refill_days
    service.cancel = bool(spec.cancel)
    service.link_required = bool(spec.link_required)
    service.enabled = bool(spec.enabled)
    service.description = spec.description or ""


def _bounds(low: object, high: object) -> tuple[int, int]:
    try:
        low_i, high_i = int(str(low).strip()), int(str(high).strip())
    except ValueError:
        raise InvalidService("min and max are whole numbers") from None
    if low_i < 1 or high_i < low_i:
        raise InvalidService("min must be at least 1 and max at least min")
    if high_i > MAX_QUANTITY:
        raise InvalidService(f"max is at most {MAX_QUANTITY}, not {high_i}")
    return low_i, high_i


def ensure_category(session: Session, name: str, *, actor: Actor) -> Category:
    name = (name or "").strip()
    if not name:
        raise InvalidService("a service needs a category")
    category = session.execute(select(Category).where(Category.name == name)).scalar_one_or_none()
    if category is None:
        position = session.scalar(select(func.coalesce(func.max(Category.position), 0))) or 0
        category = Category(name=name[:255], position=position + 1)
        session.add(category)
        session.flush()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.CATEGORY_CREATED,
            subject=subject("category", category.id),
            after={"name": category.name, "position": category.position},
        )
    return category


def _store_translations(session: Session, service: Service, spec: ServiceSpec) -> bool:
    """Add or change the spec's translations (others are kept); returns whether
    anything changed."""
    changed = False
    langs = set(spec.name_lang) | set(spec.description_lang)
    for lang in sorted(langs):
        row = session.get(ServiceTranslation, (service.id, lang))
        if row is None:
            row = ServiceTranslation(service_id=service.id, lang=lang)
            session.add(row)
            changed = True
        wanted = (
            spec.name_lang.get(lang, row.name),
            spec.description_lang.get(lang, row.description),
        )
        changed = changed or (row.name, row.description) != wanted
        row.name, row.description = wanted
    for lang, text in sorted(spec.category_lang.items()):
        translation = session.get(CategoryTranslation, (service.category_id, lang))
        if translation is None:
            session.add(CategoryTranslation(category_id=service.category_id, lang=lang, name=text))
            changed = True
        elif translation.name != text:
            translation.name = text
            changed = True
    return changed


def _spec_of(session: Session, service: Service) -> ServiceSpec:
    category = session.get(Category, service.category_id)
    assert category is not None
    return ServiceSpec(
        name=service.name,
        type=service.type,
        category=category.name,
        rate=from_units(service.rate),
        min_quantity=service.min_quantity,
        max_quantity=service.max_quantity,
        dripfeed=service.dripfeed,
        refill=service.refill,
        refill_days=service.refill_days,
        cancel=service.cancel,
        link_required=service.link_required,
        enabled=service.enabled,
        description=service.description,
    )


# --- import -----------------------------------------------------------------

# The reference annotates some keys, e.g. "rate [Other currency Separate Ticket request]".
_ANNOTATION = re.compile(r"\s*\[[^\]]*\]\s*$")


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)  # same id, name and type, nothing new
    renumbered: dict[int, int] = field(default_factory=dict)  # wanted id -> given id


def import_catalog(
    db: Database, *, entries: Sequence[Mapping[str, Any]], actor: Actor = Actor.system()
) -> ImportReport:
    """Import services in the format of the `services` answer, in one transaction.
    A given id is kept when free; an id held by a service of the same name and
    type updates that service (reported as unchanged when nothing differs);
    otherwise the service gets a new id."""
    if not isinstance(entries, list):
        raise CatalogImportError("a catalog is a JSON array of services")
    report = ImportReport()
    with db.write() as session:
        for index, raw in enumerate(entries):
            try:
                wanted, spec = spec_from_entry(raw)
                _import_one(session, wanted, spec, report, actor=actor)
            except DomainError as exc:
                raise CatalogImportError(f"entry {index + 1}: {exc}") from None
    return report


def _import_one(
    session: Session, wanted: int | None, spec: ServiceSpec, report: ImportReport, *, actor: Actor
) -> None:
    # An id this panel cannot hold is not kept: the service is renumbered.
    keep = wanted if wanted is not None and 1 <= wanted <= MAX_SERVICE_ID else None
    existing = session.get(Service, keep) if keep else None
    if (
        existing is not None
        and existing.name == spec.name.strip()
        and existing.type == service_type(spec.type).name
    ):
        before = _stored_fields(existing)
        audited = audited_fields(_spec_of(session, existing))
        _apply_spec(session, existing, spec, actor=actor)
        session.flush()
        changed = _stored_fields(existing) != before
        changed = _store_translations(session, existing, spec) or changed
        audit_service_change(session, existing, audited, actor=actor)
        (report.updated if changed else report.unchanged).append(existing.id)
        return
    service = _insert_service(session, spec, keep if existing is None else None, actor=actor)
    report.created.append(service.id)
    if wanted and wanted != service.id:
        report.renumbered[wanted] = service.id


def _stored_fields(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, column.key) for column in Service.__table__.columns)


def spec_from_entry(raw: Mapping[str, Any]) -> tuple[int | None, ServiceSpec]:
    """Read one entry of a `services` answer (our export or another panel's)."""
    if not isinstance(raw, Mapping):
        raise CatalogImportError("each service is a JSON object")
    entry = {_ANNOTATION.sub("", str(k)).strip().lower(): v for k, v in raw.items()}
    for required in ("name", "rate", "min", "max"):
        if entry.get(required) in (None, ""):
            raise CatalogImportError(f"missing {required!r}")
    wanted = _optional_int(entry.get("service"))
    name = str(entry["name"])
    spec = ServiceSpec(
        name=name,
        type=str(entry.get("type") or "Default"),
        category=str(entry.get("category") or "Other"),
        rate=_decimal_text(entry["rate"]),
        min_quantity=_required_int(entry["min"], "min"),
        # Panels often list "unlimited" maxima (2147483647): this panel's is the ceiling.
        max_quantity=min(_required_int(entry["max"], "max"), MAX_QUANTITY),
        dripfeed=_flag(entry.get("dripfeed")),
        refill=_flag(entry.get("refill")),
        refill_days=_optional_int(entry.get("refill_days")),
        cancel=_flag(entry.get("cancel")),
        link_required=(
            _flag(entry["link_required"]) if "link_required" in entry else not takes_no_link(name)
        ),
        enabled=_flag(entry.get("enabled", True)),
        description=str(entry.get("description") or entry.get("desc") or ""),
        name_lang=_lang_map(entry.get("name_lang")),
        category_lang=_lang_map(entry.get("category_lang") or entry.get("cat_lang")),
        description_lang=_lang_map(entry.get("description_lang") or entry.get("desc_lang")),
    )
    return wanted, spec


# How panels mark a service that takes no link: the `services` answer has no
# field for it, so its name says so ("Panel Test Credits [No link]").
_NO_LINK = re.compile(r"\bno[\s_-]*links?\b", re.IGNORECASE)


def takes_no_link(name: str) -> bool:
    """Whether a service's name says its orders take no link ("[No link]")."""
    return _NO_LINK.search(name) is not None


def _decimal_text(value: object) -> str:
    if isinstance(value, float):
        # JSON read without parse_float=Decimal: go through repr, the shortest exact text.
        return repr(value)
    return str(value)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _optional_int(value: object) -> int | None:
    if value in (None, ""):
        return None
    return _required_int(value, "id")


def _required_int(value: object, what: str) -> int:
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise CatalogImportError(f"{what} is not a number: {value!r}") from None
    # Magnitude before anything else: int() of 1e999999999 would never finish.
    if not number.is_finite() or number.adjusted() > 18:
        raise CatalogImportError(f"{what} is not a usable number: {value!r}")
    if number != number.to_integral_value():
        raise CatalogImportError(f"{what} is not a whole number: {value!r}")
    return int(number)


def _lang_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k).strip()[:16]: str(v) for k, v in value.items() if str(k).strip() and v is not None
    }
