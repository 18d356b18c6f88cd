"""The root of every domain error.  Edges (API, CLI, pages) map these to their
own messages; domain code never knows about HTTP or JSON."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a human-readable reason."""
