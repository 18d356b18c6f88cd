"""Who an admin request acts for, and what they may do.

The admin session is a cookie of its own (``smmpanel_admin``, path /admin,
SameSite=Strict) holding the staff member's id and auth epoch; a customer's
session never opens an admin page, and a stale epoch (password reset, role
changed, disabled) logs the member out at the next request.  A login waiting
for its two-factor code is kept as on the customers' side
(`smmpanel.web.session.await_code` / `pending_code_login`), in this cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.accounts.passwords import Throttle
from smmpanel.db import Database
from smmpanel.staff.logins import StaffUser, session_staff
from smmpanel.staff.roles import Permission, allowed
from smmpanel.web.pages import page

STAFF = "staff"
EPOCH = "epoch"
LOGIN_PATH = "/admin/login"
HOME = "/admin/"
SET_UP_TWO_FACTOR = "/admin/security?required=1"


@dataclass(frozen=True)
class AdminContext:
    """What every admin handler needs, kept on the admin app's state."""

    db: Database
    throttle: Throttle
    # Staff without two-factor authentication see only Security (SMMPANEL_STAFF_TWO_FACTOR).
    two_factor_required: bool = True


def admin_context(request: Request) -> AdminContext:
    context: AdminContext = request.app.state.admin
    return context


def admin_page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """An admin template, given the staff member of the request as `staff` and
    `can(permission_name)`, whether their role allows it (menus, buttons)."""
    return page(
        request, name, {**shell_context(request), **(context or {})}, status_code=status_code
    )


def shell_context(request: Request) -> dict[str, Any]:
    """What admin/base.html needs on every page, error pages included."""
    staff = staff_of(request)

    def can(permission: str) -> bool:
        return staff is not None and allowed(staff.role, Permission(permission))

    return {"staff": staff, "can": can}


async def current_staff(request: Request, db: Database) -> StaffUser | None:
    staff_id, epoch = request.session.get(STAFF), request.session.get(EPOCH)
    if not isinstance(staff_id, int) or not isinstance(epoch, int):
        return None
    user = await run_in_threadpool(session_staff, db, staff_id=staff_id, auth_epoch=epoch)
    if user is None:
        request.session.clear()
    return user


def staff_of(request: Request) -> StaffUser | None:
    user: StaffUser | None = getattr(request.state, "staff", None)
    return user


def require_staff(
    request: Request, permission: Permission | None = None, *, before_two_factor: bool = False
) -> StaffUser:
    """The logged-in member, allowed `permission`: otherwise a redirect to the
    login page (nobody logged in), to Security (two-factor authentication is
    required and not set up yet; `before_two_factor` is for Security's own
    pages) or a 403 (the role does not allow it)."""
    user = staff_of(request)
    if user is None:
        raise HTTPException(303, headers={"location": LOGIN_PATH})
    if not (before_two_factor or user.two_factor) and admin_context(request).two_factor_required:
        raise HTTPException(303, headers={"location": SET_UP_TWO_FACTOR})
    if permission is not None and not allowed(user.role, permission):
        raise HTTPException(403, "Your role does not allow this page.")
    return user


def log_in(request: Request, user: StaffUser) -> None:
    """A fresh session for the member (nothing of the anonymous one is kept)."""
    request.session.clear()
    request.session.update({STAFF: user.id, EPOCH: user.auth_epoch})
    request.state.staff = user


def log_out(request: Request) -> None:
    request.session.clear()
    request.state.staff = None
