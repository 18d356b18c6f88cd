"""Errors of the panel context."""

from __future__ import annotations

from smmpanel.errors import InvalidValue


class InvalidSetting(InvalidValue):
    """An unknown setting, or a value the setting cannot take."""
