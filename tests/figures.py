"""Figures measured by the reliability suites (fuzzing, faults, isolation),
printed in a section at the end of the run, so that `pytest -q` shows them.

A line recorded during a test travels with that test's report (its
`user_properties`), so the figures reach the end of the run from pytest-xdist's
worker processes too (tests/conftest.py collects them)."""

from __future__ import annotations

from typing import Any

from smmpanel.db import Database

_FIGURES: list[str] = []


def report(suite: str, **figures: Any) -> None:
    """Record one line: `suite: name=value, ...` (dict values are spelled out)."""
    shown = ", ".join(f"{name}={_show(value)}" for name, value in figures.items())
    _FIGURES.append(f"{suite}: {shown}")


def backend(db: Database) -> str:
    return "sqlite" if db.is_sqlite else "postgresql"


def take() -> list[str]:
    """The lines recorded since the last call (by the test now being reported)."""
    lines = list(_FIGURES)
    _FIGURES.clear()
    return lines


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}:{v}" for k, v in sorted(value.items(), key=str)) + "}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
