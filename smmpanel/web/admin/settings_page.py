"""What every settings handler shares: the owner's check and the page, shown
again with a refused change's message in its section."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.config import current_settings
from smmpanel.staff.logins import StaffUser
from smmpanel.staff.roles import Permission
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.settings_view import environment, settings_state


def owner(request: Request) -> StaffUser:
    return require_staff(request, Permission.MANAGE_SETTINGS)


async def settings_page(
    request: Request, *, problem: tuple[str, str] | None = None, status_code: int = 200
) -> Response:
    """The page; `problem` is (section, message) for a refused change, shown in its section."""
    state = await run_in_threadpool(settings_state, admin_context(request).db)
    context: dict[str, Any] = {
        **state,
        "environment": environment(current_settings()),
        "problem": problem or ("", ""),
        "done": request.query_params.get("done", "")[:32],
    }
    return admin_page(request, "admin/settings.html", context, status_code=status_code)


async def refused(request: Request, section: str, message: str) -> Response:
    return await settings_page(request, problem=(section, message), status_code=400)


def form_problem(form: Any) -> str:
    """The first of a form's field errors, as one line."""
    for name, errors in form.errors.items():
        return f"{name}: {errors[0]}"
    return ""
