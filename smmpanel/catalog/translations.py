"""A service's name and description in another language, set or removed."""

from __future__ import annotations

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import changed_fields, record_audit, subject
from smmpanel.catalog.errors import InvalidService, ServiceNotFound
from smmpanel.catalog.models import Service, ServiceTranslation
from smmpanel.db import Database

MAX_DESCRIPTION = 10_000


def set_service_translation(
    db: Database,
    *,
    service_id: int,
    lang: str,
    name: str | None,
    description: str | None,
    actor: Actor,
) -> bool:
    """The service's `lang` name and description; an empty or None text removes
    it (the customer then sees the original), both removed drops the row.
    Audited as a service change (name_<lang>, description_<lang>); returns
    whether anything changed."""
    lang = (lang or "").strip()
    if not 1 <= len(lang) <= 16:
        raise InvalidService("a language code is 1 to 16 characters")
    name = (name or "").strip() or None
    description = (description or "").strip() or None
    if name is not None and len(name) > 255:
        raise InvalidService("a name is at most 255 characters")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidService(f"a description is at most {MAX_DESCRIPTION} characters")
    with db.write() as session:
        if session.get(Service, service_id) is None:
            raise ServiceNotFound(f"no service {service_id}")
        row = session.get(ServiceTranslation, (service_id, lang))
        before = {
            f"name_{lang}": None if row is None else row.name,
            f"description_{lang}": None if row is None else row.description,
        }
        if name is None and description is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(
                ServiceTranslation(
                    service_id=service_id, lang=lang, name=name, description=description
                )
            )
        else:
            row.name, row.description = name, description
        old, new = changed_fields(
            before, {f"name_{lang}": name, f"description_{lang}": description}
        )
        if new:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.SERVICE_CHANGED,
                subject=subject("service", service_id),
                before=old,
                after=new,
            )
        return bool(new)
