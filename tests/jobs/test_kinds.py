"""Job kinds: the name a job is queued under and the handler the worker runs
come from one table (JobKind), so they cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

import smmpanel
from smmpanel.config import Settings
from smmpanel.jobs.kinds import JobKind
from smmpanel.worker import failure_hooks, handlers, schedules

PANEL = Path(smmpanel.__file__).parent


def test_every_kind_has_exactly_one_handler_and_every_handler_a_kind() -> None:
    table = handlers()
    assert all(isinstance(kind, JobKind) for kind in table)
    assert sorted(table) == sorted(JobKind)  # a dict: one handler per kind


def test_schedules_and_failure_hooks_name_job_kinds() -> None:
    assert all(isinstance(spec.kind, JobKind) for spec in schedules(Settings()))
    assert all(isinstance(kind, JobKind) for kind in failure_hooks())


def _enqueued_kinds(tree: ast.AST) -> list[ast.expr]:
    return [
        node.args[1]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "enqueue"
        and len(node.args) > 1
    ]


def test_the_panel_enqueues_only_job_kinds() -> None:
    """Every `enqueue(session, KIND, ...)` in the panel names a JobKind member
    (or a variable the module sets from one): no literal, no f-string.  The
    queue itself (smmpanel/jobs) enqueues what a stored schedule names."""
    offenders = []
    for path in sorted(PANEL.rglob("*.py")):
        if {"migrations", "jobs"} & set(path.relative_to(PANEL).parts[:-1]):
            continue
        for kind in _enqueued_kinds(ast.parse(path.read_text(), str(path))):
            named = isinstance(kind, ast.Attribute) and ast.unparse(kind).startswith("JobKind.")
            if not (named or isinstance(kind, ast.Name)):
                offenders.append(f"{path.relative_to(PANEL)}:{kind.lineno}: {ast.unparse(kind)}")
    assert offenders == []
