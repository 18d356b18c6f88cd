"""The installed gateways: classes named in the ``smmpanel.gateways`` entry-point
group, by this package (pyproject.toml) or any other installed one.

A plug-in that fails to import (a missing dependency, a bug) is logged and
left out: it must never stop the panel, the worker or the command line."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from smmpanel.config import Settings, current_settings
from smmpanel.payments.errors import UnknownGateway
from smmpanel.payments.gateway import Gateway

log = logging.getLogger("smmpanel.payments")

GROUP = "smmpanel.gateways"
CODE = re.compile(r"^[a-z0-9_]{1,32}$")


@lru_cache(maxsize=1)
def installed_gateways() -> dict[str, type[Gateway]]:
    """Gateway classes by code (read once per process; `clear_registry_cache`
    reads the entry points again)."""
    found: dict[str, type[Gateway]] = {}
    for point in entry_points(group=GROUP):
        if point.name in found:
            log.warning("gateway plug-in %r is installed twice; the first one is used", point.name)
            continue
        gateway = _load(point)
        if gateway is not None:
            found[point.name] = gateway
    return found


def _load(point: EntryPoint) -> type[Gateway] | None:
    if not CODE.match(point.name):
        log.warning("gateway plug-in %r skipped: a code is a-z, 0-9 and _, 32 at most", point.name)
        return None
    try:
        gateway = point.load()
    except Exception as exc:  # any failure of someone else's code: skip it, say why
        log.warning(
            "gateway plug-in %r (%s) skipped: it failed to load: %s: %s",
            point.name,
            point.value,
            type(exc).__name__,
            exc,
        )
        return None
    if getattr(gateway, "code", None) != point.name:
        log.warning(
            "gateway plug-in %r (%s) skipped: its class says code %r",
            point.name,
            point.value,
            getattr(gateway, "code", None),
        )
        return None
    return gateway


def clear_registry_cache() -> None:
    """Forget the gateways found (tests that install a plug-in on the fly)."""
    installed_gateways.cache_clear()


def gateway_class(code: str, settings: Settings | None = None) -> type[Gateway]:
    """The class of the gateway `code`; UnknownGateway when none is installed
    under it, or when it is offered only in demo mode and this panel is not one."""
    settings = settings or current_settings()
    gateway = installed_gateways().get(code)
    if gateway is None or (gateway.demo_only and not settings.demo_payments):
        raise UnknownGateway(f"no payment gateway {code[:40]!r} is installed")
    return gateway


def gateway_for(code: str, settings: Settings | None = None) -> Gateway:
    """An instance of the gateway `code` (see `gateway_class`)."""
    return gateway_class(code, settings)()
