"""Commands on providers and on which upstream service backs a local service."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import money, record_audit, subject
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.jobs.queue import wake_jobs
from smmpanel.money import MoneyError, parse_decimal, to_units
from smmpanel.orders.fulfilment import forward_key
from smmpanel.orders.models import ACTIVE_STATUSES, Order
from smmpanel.providers.errors import InvalidProvider, ProviderExists, ProviderNotFound
from smmpanel.providers.gateway import check_provider_urls
from smmpanel.providers.models import PROVIDER_ACTIVE, PROVIDER_PAUSED, Provider
from smmpanel.secretbox import seal_secret

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
METHODS = ("post", "json", "get")
# Longer keys would not fit providers.api_key once encrypted (1024 characters).
MAX_KEY_LENGTH = 500


def add_provider(
    db: Database,
    *,
    name: str,
    api_url: str,
    api_key: str,
    method: str = "post",
    dialect: dict[str, Any] | None = None,
    actor: Actor = Actor.system(),
) -> int:
    if not NAME_RE.match(name or ""):
        raise InvalidProvider("a provider name is 1-64 letters, digits or . _ -")
    _check_settings(api_url, method, dialect)
    _check_key(api_key)
    stored_key = seal_secret(api_key.strip())
    with db.write() as session:
        if session.execute(select(Provider.id).where(Provider.name == name)).first():
            raise ProviderExists(f"provider {name!r} exists already")
        provider = Provider(
            name=name,
            api_url=api_url.strip(),
            api_key=stored_key,
            method=method,
            dialect=dialect or {},
            status=PROVIDER_ACTIVE,
        )
        session.add(provider)
        session.flush()
        # The key is stored encrypted and never audited, not even masked.
        record_audit(
            session,
            actor=actor,
            action=AuditAction.PROVIDER_ADDED,
            subject=subject("provider", provider.id),
            after={"name": name, "api_url": provider.api_url, "method": method, **(dialect or {})},
        )
        return provider.id


def _check_settings(api_url: str, method: str, dialect: dict[str, Any] | None) -> None:
    parsed = urlparse(api_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidProvider(
            "the API URL must be an http(s) URL, like https://panel.example/api/v2"
        )
    if method not in METHODS:
        raise InvalidProvider(f"method is one of {', '.join(METHODS)}")
    lookup_url = (dialect or {}).get("lookup_url")
    check_provider_urls(api_url.strip(), None if lookup_url is None else str(lookup_url))


def _check_key(api_key: str) -> None:
    if not (api_key or "").strip():
        raise InvalidProvider("the API key is required")
    if not _printable_text(api_key.strip()):
        raise InvalidProvider("the API key must be printable text, without spaces")
    if len(api_key.strip()) > MAX_KEY_LENGTH:
        raise InvalidProvider(f"the API key is longer than {MAX_KEY_LENGTH} characters")


def edit_provider(
    db: Database,
    *,
    name: str,
    api_url: str | None = None,
    method: str | None = None,
    dialect: dict[str, Any] | None = None,
    api_key: str | None = None,
    actor: Actor,
) -> None:
    """Change a provider's URL, method and options (None keeps one); `api_key`
    replaces the key when given (the old one is never shown, nor audited).  The
    options given replace those of the same name; the others are kept."""
    with db.read() as session:
        provider = provider_by_name(session, name)
        kept = dict(provider.dialect or {})
        api_url = provider.api_url if api_url is None else api_url
        method = provider.method if method is None else method
    dialect = dialect or {}
    # An option given as None or "" (an emptied look-up URL) is removed.
    merged = {k: v for k, v in {**kept, **dialect}.items() if v not in (None, "")}
    _check_settings(api_url, method, merged)
    stored_key = None
    if api_key is not None:
        _check_key(api_key)
        stored_key = seal_secret(api_key.strip())
    with db.write() as session:
        provider = provider_by_name(session, name)
        before = _audited_settings(provider)
        provider.api_url, provider.method, provider.dialect = api_url.strip(), method, merged
        if stored_key is not None:
            provider.api_key = stored_key
        after = _audited_settings(provider) | ({"new_key": True} if stored_key else {})
        record_audit(
            session,
            actor=actor,
            action=AuditAction.PROVIDER_CHANGED,
            subject=subject("provider", provider.id),
            before=before,
            after=after,
        )


def _audited_settings(provider: Provider) -> dict[str, Any]:
    return {"api_url": provider.api_url, "method": provider.method, **(provider.dialect or {})}


def _printable_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeError:  # lone surrogates
        return False
    return text.isprintable() and not any(ch.isspace() for ch in text)


def provider_by_name(session: Session, name: str) -> Provider:
    provider = session.execute(select(Provider).where(Provider.name == name)).scalar_one_or_none()
    if provider is None:
        raise ProviderNotFound(f"no provider {name!r}")
    return provider


def pause_provider(session: Session, provider_id: int, reason: str) -> bool:
    """Pause inside the caller's transaction; True when it was active before."""
    provider = session.get(Provider, provider_id)
    if provider is None or provider.status == PROVIDER_PAUSED:
        return False
    provider.status, provider.paused_reason = PROVIDER_PAUSED, reason[:1000]
    return True


def set_provider_status(
    db: Database, *, name: str, active: bool, actor: Actor = Actor.system()
) -> int:
    """The owner pauses or resumes a provider (e.g. after topping it up).  On
    resume, the orders waiting for a provider of its services are sent at once;
    returns how many were woken."""
    with db.write() as session:
        provider = provider_by_name(session, name)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.PROVIDER_RESUMED if active else AuditAction.PROVIDER_PAUSED,
            subject=subject("provider", provider.id),
            before={"status": provider.status, "paused_reason": provider.paused_reason},
            after={"status": PROVIDER_ACTIVE if active else PROVIDER_PAUSED},
        )
        provider.status = PROVIDER_ACTIVE if active else PROVIDER_PAUSED
        provider.paused_reason = "" if active else "paused by the owner"
        return wake_waiting_orders(session, provider.id) if active else 0


def wake_waiting_orders(session: Session, provider_id: int) -> int:
    """Make the forward jobs of the orders waiting on a provider's services due now."""
    services = select(ServiceSource.service_id).where(ServiceSource.provider_id == provider_id)
    waiting = session.scalars(
        select(Order.id).where(
            Order.waiting_since.is_not(None),
            Order.status.in_(ACTIVE_STATUSES),
            Order.service_id.in_(services),
        )
    )
    return wake_jobs(session, [forward_key(order_id) for order_id in waiting])


def map_service(
    db: Database,
    *,
    service_id: int,
    provider_name: str,
    upstream_service_id: str,
    priority: int | None = None,
    markup_percent: Decimal | str | None = None,
    markup_fixed: Decimal | str = "0",
    round_places: int = 5,
    actor: Actor = Actor.system(),
) -> int:
    """Back a local service with an upstream service (added after the existing
    ones unless a priority is given; 1 is tried first).  Returns the priority."""
    upstream_service_id = str(upstream_service_id).strip()
    if not upstream_service_id:
        raise InvalidProvider("the upstream service id is required")
    if not 0 <= round_places <= 5:
        raise InvalidProvider("round places is 0 to 5")
    percent = _optional_decimal(markup_percent, "markup percent")
    fixed = _units(markup_fixed, "fixed markup")
    with db.write() as session:
        if session.get(Service, service_id) is None:
            raise ServiceNotFound(f"no service {service_id}")
        provider = provider_by_name(session, provider_name)
        sources = session.scalars(
            select(ServiceSource).where(ServiceSource.service_id == service_id)
        ).all()
        source = next((s for s in sources if s.provider_id == provider.id), None)
        before = None if source is None else audited_source(source)
        if source is None:
            source = ServiceSource(service_id=service_id, provider_id=provider.id)
            session.add(source)
        source.upstream_service_id = upstream_service_id
        others = [s.priority for s in sources if s is not source]
        source.priority = priority or (source.priority or max(others, default=0) + 1)
        source.markup_percent = None if percent is None else str(percent)
        source.markup_fixed = fixed
        source.round_places = round_places
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_MAPPED,
            subject=subject("service", service_id),
            before=before,
            after=audited_source(source),
        )
        return source.priority


def unmap_service(db: Database, *, service_id: int, provider_name: str, actor: Actor) -> bool:
    with db.write() as session:
        provider = provider_by_name(session, provider_name)
        source = session.execute(
            select(ServiceSource).where(
                ServiceSource.service_id == service_id, ServiceSource.provider_id == provider.id
            )
        ).scalar_one_or_none()
        if source is None:
            return False
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SERVICE_UNMAPPED,
            subject=subject("service", service_id),
            before=audited_source(source),
        )
        session.delete(source)
        return True


def audited_source(source: ServiceSource) -> dict[str, Any]:
    """What the trail keeps of a mapping (its markup as Decimal strings)."""
    return {
        "provider": source.provider_id,
        "upstream_service": source.upstream_service_id,
        "priority": source.priority,
        "markup_percent": source.markup_percent,
        "markup_fixed": money(source.markup_fixed),
        "round_places": source.round_places,
    }


def _optional_decimal(value: Decimal | str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_decimal(str(value).strip().rstrip("%"))
    except MoneyError:
        raise InvalidProvider(f"{what}: not a number: {value!r}") from None


def _units(value: Decimal | str, what: str) -> int:
    number = _optional_decimal(value, what)
    return 0 if number is None else to_units(number)
