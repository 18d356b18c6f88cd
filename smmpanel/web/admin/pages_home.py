"""The admin's first page and the staff list (owners only)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.staff.roles import ROLE_PERMISSIONS, Permission, Role
from smmpanel.staff.service import list_staff
from smmpanel.web.admin.access import admin_context, admin_page, require_staff

# What each permission means, in words (English msgids, translated by the template).
PERMISSION_LABELS: dict[Permission, str] = {
    Permission.VIEW_DASHBOARD: "See the dashboard",
    Permission.VIEW_ORDERS: "See orders",
    Permission.CHANGE_ORDERS: "Change orders: statuses, resends, cancels with refunds",
    Permission.HANDLE_REQUESTS: "Approve or reject refills and cancels",
    Permission.VIEW_CUSTOMERS: "See customers",
    Permission.CHANGE_CUSTOMERS: "Change customers: suspend, rates, currency, API fields",
    Permission.MOVE_MONEY: "Fund or deduct balances, approve deposits",
    Permission.MANAGE_CATALOG: "Run the catalog: categories, services, imports",
    Permission.MANAGE_PROVIDERS: "Run providers",
    Permission.ANSWER_TICKETS: "Answer support tickets",
    Permission.VIEW_AUDIT: "Read the audit log",
    Permission.MANAGE_SETTINGS: "Change the panel's settings",
    Permission.MANAGE_STAFF: "Manage staff",
}


async def home(request: Request) -> Response:
    user = require_staff(request, Permission.VIEW_DASHBOARD)
    granted = ROLE_PERMISSIONS[Role(user.role)]
    permissions = [
        label for permission, label in PERMISSION_LABELS.items() if permission in granted
    ]
    return admin_page(request, "admin/home.html", {"member": user, "permissions": permissions})


async def staff(request: Request) -> Response:
    require_staff(request, Permission.MANAGE_STAFF)
    members = await run_in_threadpool(list_staff, admin_context(request).db)
    return admin_page(request, "admin/staff.html", {"members": members})


def routes() -> list[Route]:
    return [Route("/", home), Route("/staff", staff)]
