"""Staff roles and what each may do: one table, asked by every admin page and
command through `allowed`."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Stored in staff.role: never change a value."""

    OWNER = "owner"  # everything
    MANAGER = "manager"  # catalog, orders, customers; not settings or staff
    SUPPORT = "support"  # tickets, orders read-only, refill and cancel requests


class Permission(StrEnum):
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_ORDERS = "view_orders"
    CHANGE_ORDERS = "change_orders"  # statuses, resends, cancels with refunds
    HANDLE_REQUESTS = "handle_requests"  # approve or reject refills and cancels
    VIEW_CUSTOMERS = "view_customers"
    CHANGE_CUSTOMERS = "change_customers"  # suspend, rates, currency, extended fields
    MOVE_MONEY = "move_money"  # fund or deduct, approve deposits
    MANAGE_CATALOG = "manage_catalog"
    MANAGE_PROVIDERS = "manage_providers"
    ANSWER_TICKETS = "answer_tickets"
    VIEW_AUDIT = "view_audit"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_STAFF = "manage_staff"


_SUPPORT = frozenset(
    {
        Permission.VIEW_DASHBOARD,
        Permission.VIEW_ORDERS,
        Permission.HANDLE_REQUESTS,
        Permission.VIEW_CUSTOMERS,
        Permission.ANSWER_TICKETS,
    }
)
_MANAGER = _SUPPORT | {
    Permission.CHANGE_ORDERS,
    Permission.CHANGE_CUSTOMERS,
    Permission.MOVE_MONEY,
    Permission.MANAGE_CATALOG,
    Permission.MANAGE_PROVIDERS,
    Permission.VIEW_AUDIT,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.MANAGER: frozenset(_MANAGER),
    Role.SUPPORT: _SUPPORT,
}


def allowed(role: str, permission: Permission) -> bool:
    """Whether a staff member of `role` may do `permission` (an unknown role may do nothing)."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
