"""Figures measured by the reliability suites (fuzzing, faults, isolation),
printed in a section at the end of the run, so that `pytest -q` shows them."""

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


def recorded() -> list[str]:
    return list(_FIGURES)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}:{v}" for k, v in sorted(value.items(), key=str)) + "}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
