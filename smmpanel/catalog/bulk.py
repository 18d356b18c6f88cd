"""One change to many services at once (the admin's bulk enable, disable, move)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from smmpanel.audit.models import Actor
from smmpanel.catalog.errors import InvalidService
from smmpanel.catalog.service import change_service
from smmpanel.db import Database

# A page of the catalog at most: a bigger batch is a script's job, not a click.
MAX_BULK = 1000
# What a bulk change may set: the same value suits every service selected.
BULK_FIELDS = frozenset({"enabled", "category"})


def update_services(
    db: Database, *, service_ids: Collection[int], changes: Mapping[str, Any], actor: Actor
) -> int:
    """Apply `changes` to every service of `service_ids` in one transaction (all
    or none; an unknown id refuses the whole batch), each change audited on its
    service.  Returns how many services actually changed."""
    if not service_ids:
        raise InvalidService("choose at least one service")
    if len(service_ids) > MAX_BULK:
        raise InvalidService(f"at most {MAX_BULK} services at once")
    unknown = set(changes) - BULK_FIELDS
    if unknown or not changes:
        raise InvalidService(f"a bulk change sets {', '.join(sorted(BULK_FIELDS))}")
    with db.write() as session:
        return sum(
            change_service(session, service_id, changes, actor=actor)
            for service_id in sorted(set(service_ids))
        )
