"""The staff context's refusals."""

from __future__ import annotations

from smmpanel.errors import DomainError, InvalidValue


class StaffNotFound(DomainError):
    """No staff member of that name."""


class InvalidStaffInput(InvalidValue):
    """A bad username, role or password."""


class StaffExists(DomainError):
    """A staff member of that name exists already."""


class LastOwner(DomainError):
    """The change would leave the panel without an active owner."""


class NotAllowed(DomainError):
    """The staff member's role does not allow this."""
