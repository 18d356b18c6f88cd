"""The admin's first page, the dashboard (every role), and the staff list (owners only).

The figures are read-only queries (dashboard.py, dashboard_watch.py); the
chart's data travels in a data attribute of its canvas, drawn by our own
static/js/dashboard.js with the vendored Chart.js (the CSP runs no inline script)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.db import Database
from smmpanel.money import format_units
from smmpanel.orders.models import ORDER_STATUSES
from smmpanel.staff.roles import ROLE_PERMISSIONS, Permission, Role
from smmpanel.staff.service import list_staff
from smmpanel.timeutil import utcnow
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.dashboard import (
    CHART_DAYS,
    PERIODS,
    ChartDay,
    Converter,
    Figures,
    chart_of,
    figures_of,
    read_daily,
)
from smmpanel.web.admin.dashboard_watch import (
    STUCK_AFTER,
    OpenAlert,
    ProviderHealth,
    Waiting,
    open_alerts,
    provider_health,
    waiting,
)

DEFAULT_PERIOD = "today"

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


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows, read in one transaction."""

    base_currency: str
    figures: Figures
    chart: list[ChartDay]
    providers: list[ProviderHealth]
    waiting: Waiting
    alerts: list[OpenAlert]
    alert_count: int


def load_dashboard(db: Database, *, now: datetime, days: int) -> Dashboard:
    """One read: the days' totals once (a grouped query a table), sliced for the
    period and the chart."""
    with db.read() as session:
        alerts, alert_count = open_alerts(session)
        daily = read_daily(session, now=now, days=max(days, CHART_DAYS))
        money = Converter(session)
        return Dashboard(
            base_currency=money.base,
            figures=figures_of(daily, money, days=days),
            chart=chart_of(daily, money)[-CHART_DAYS:],
            providers=provider_health(session, now=now),
            waiting=waiting(session, now=now),
            alerts=alerts,
            alert_count=alert_count,
        )


def chart_json(days: list[ChartDay]) -> str:
    """The chart's series as JSON for a data attribute (the page escapes it):
    money as exact decimal strings; the script reads them as numbers."""
    return json.dumps(
        {
            "days": [day.day.isoformat() for day in days],
            "orders": [day.orders for day in days],
            "revenue": [format_units(day.revenue) for day in days],
            "profit": [format_units(day.profit) for day in days],
        },
        separators=(",", ":"),
    )


async def home(request: Request) -> Response:
    user = require_staff(request, Permission.VIEW_DASHBOARD)
    chosen = request.query_params.get("period", DEFAULT_PERIOD)
    period = chosen if chosen in PERIODS else DEFAULT_PERIOD
    now = utcnow()
    board = await run_in_threadpool(
        load_dashboard, admin_context(request).db, now=now, days=PERIODS[period]
    )
    granted = ROLE_PERMISSIONS[Role(user.role)]
    context: dict[str, Any] = {
        "member": user,
        "permissions": [label for p, label in PERMISSION_LABELS.items() if p in granted],
        "period": period,
        "periods": list(PERIODS),
        "board": board,
        "statuses": ORDER_STATUSES,
        "chart": chart_json(board.chart),
        "stuck_hours": int(STUCK_AFTER.total_seconds() // 3600),
        # The orders list filters by the day placed: the stuck ones are among
        # those placed up to this day (an active order changes when it moves).
        "stuck_before": (now - STUCK_AFTER).date().isoformat(),
    }
    return admin_page(request, "admin/home.html", context)


async def staff(request: Request) -> Response:
    require_staff(request, Permission.MANAGE_STAFF)
    members = await run_in_threadpool(list_staff, admin_context(request).db)
    return admin_page(request, "admin/staff.html", {"members": members})


def routes() -> list[Route]:
    return [Route("/", home), Route("/staff", staff)]
