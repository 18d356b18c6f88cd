"""The root of every domain error.  Edges (API, CLI, pages) map these to their
own messages; domain code never knows about HTTP or JSON."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a human-readable reason."""


class InvalidValue(DomainError):
    """A value the domain cannot take at all: not a number, out of its range,
    more decimal places than money has.  The request is malformed, whatever the
    state of the panel (the command line exits 2 for it, as for wrong usage;
    a refusal by the panel's state, such as too little balance, exits 1)."""
