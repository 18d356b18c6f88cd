"""Fault injection: rules that make the simulated provider misbehave on purpose.

A rule names a fault `kind`, optionally a `service` id (then it only matches `add` requests
for that service), a `probability` and/or a `count` ("the next N matching requests").
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# Outcome faults decide how an accepted order ends.
OUTCOME_KINDS = ("partial", "cancel")
# Answer faults replace (or withhold) the normal answer; the first one firing wins.
ANSWER_KINDS = ("refuse", "no_funds", "timeout", "unreadable")
FAULT_KINDS = (*OUTCOME_KINDS, *ANSWER_KINDS, "slow", "dialect")

DIALECT_QUIRKS = (
    "cancelled",  # "Cancelled" instead of "Canceled"
    "numbers",  # numbers instead of strings for charge/start_count/remains
    "unknown_remains",  # "remains": "Unknown" for some orders (id divisible by 3)
    "success_key",  # an extra "status": "success" key on add answers
    "lowercase_types",  # lowercase type names in services
    "bare_errors",  # {"2": "Incorrect order ID"} in multi status
)

VARIANTS: dict[str, tuple[str, ...]] = {
    "refuse": ("service", "link"),
    "no_funds": ("key", "message"),
    "timeout": ("hold", "drop"),
    "unreadable": ("html", "empty", "truncated"),
}

ALL_ACTIONS = ("services", "add", "status", "refill", "refill_status", "cancel", "balance")
_ADD_ONLY = ("add",)
DEFAULT_ACTIONS: dict[str, tuple[str, ...]] = {
    "partial": _ADD_ONLY,
    "cancel": _ADD_ONLY,
    "refuse": _ADD_ONLY,
    "no_funds": _ADD_ONLY,
    "timeout": ALL_ACTIONS,
    "unreadable": ALL_ACTIONS,
    "slow": ALL_ACTIONS,
    "dialect": ALL_ACTIONS,
}

REFUSE_MESSAGES = {"service": "Incorrect service ID", "link": "Incorrect link"}
NO_FUNDS_MESSAGES = {
    "key": "neworder.error.not_enough_funds",
    "message": "Not enough funds on balance",
}


class FaultError(ValueError):
    """A fault rule or spec that cannot be understood."""


@dataclass(frozen=True)
class FaultRule:
    """One fault rule. See docs/simulator.md for every kind and option."""

    kind: str
    service: int | None = None
    probability: float = 1.0
    count: int | None = None  # fire on the next N matching requests, then expire
    actions: tuple[str, ...] | None = None  # None: the kind's default actions
    variant: str | None = None
    seconds: float | None = None  # slow: delay; timeout: how long to hold the answer
    record: bool | None = None  # timeout/unreadable: process the request first?
    error: str | None = None  # refuse: the exact error message
    fraction: float | None = None  # partial: remains as a fraction of the quantity
    quirks: tuple[str, ...] | None = None  # dialect: which quirks (None: all)

    def validate(self) -> FaultRule:
        if self.kind not in FAULT_KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultError("probability must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise FaultError("count must be >= 0")
        allowed = VARIANTS.get(self.kind, ())
        if self.variant is not None and self.variant not in allowed:
            raise FaultError(f"fault {self.kind!r} has no variant {self.variant!r}")
        for action in self.actions or ():
            if action not in ALL_ACTIONS:
                raise FaultError(f"unknown action {action!r}")
        for quirk in self.quirks or ():
            if quirk not in DIALECT_QUIRKS:
                raise FaultError(f"unknown dialect quirk {quirk!r}")
        if self.fraction is not None and not 0.0 < self.fraction <= 1.0:
            raise FaultError("fraction must be in (0, 1]")
        return self

    @property
    def effective_actions(self) -> tuple[str, ...]:
        return self.actions if self.actions is not None else DEFAULT_ACTIONS[self.kind]

    def matches(self, action: str, service: int | None) -> bool:
        if action not in self.effective_actions:
            return False
        return self.service is None or self.service == service

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        for key in ("actions", "quirks"):
            if key in data:
                data[key] = list(data[key])
        return data


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise FaultError(f"not a boolean: {value!r}")


def _to_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value)
    return tuple(v.strip() for v in str(value).replace("+", " ").replace("|", " ").split())


_ALIASES = {"p": "probability", "next": "count", "n": "count", "delay": "seconds"}


def rule_from_mapping(data: dict[str, Any]) -> FaultRule:
    """Build a rule from JSON-ish data (`{"kind": "partial", "probability": 0.5, ...}`)."""
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _ALIASES.get(raw_key, raw_key)
        if value is None:
            continue
        try:
            if key in ("kind", "variant", "error"):
                values[key] = str(value)
            elif key in ("service", "count"):
                values[key] = int(value)
            elif key in ("probability", "seconds", "fraction"):
                values[key] = float(value)
            elif key == "record":
                values[key] = _to_bool(value)
            elif key in ("actions", "quirks"):
                values[key] = _to_tuple(value)
            else:
                raise FaultError(f"unknown fault option {raw_key!r}")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FaultError):
                raise
            raise FaultError(f"bad value for {raw_key!r}: {value!r}") from exc
    if "kind" not in values:
        raise FaultError("a fault rule needs a kind")
    return FaultRule(**values).validate()


FAULT_SPEC_HELP = (
    "KIND[:option=value,...] with KIND one of partial, cancel, refuse, no_funds, slow, "
    "timeout, unreadable, dialect; options: p=PROBABILITY, next=N, service=ID, "
    "actions=add+status, variant=..., seconds=S, record=1, error=MESSAGE, fraction=F, "
    "quirks=cancelled+numbers. Examples: partial:p=0.2  timeout:next=1,seconds=30  "
    "unreadable:variant=truncated,record=1  refuse:variant=link,service=7"
)


def parse_fault_spec(spec: str) -> FaultRule:
    """Parse a command-line fault spec: `kind[:option=value,option=value...]`.

    Examples: `partial:p=0.2`, `timeout:next=1,seconds=30,variant=drop`,
    `refuse:variant=link,service=7`, `dialect:quirks=cancelled+numbers`.
    """
    kind, _, rest = spec.strip().partition(":")
    data: dict[str, Any] = {"kind": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise FaultError(f"expected option=value in {part!r}")
        data[name.strip()] = value.strip()
    return rule_from_mapping(data)


@dataclass
class FaultDecision:
    """The faults that fired for one request."""

    outcome: FaultRule | None = None
    answer: FaultRule | None = None
    slow: FaultRule | None = None
    dialect: FaultRule | None = None

    def quirk(self, name: str) -> bool:
        if self.dialect is None:
            return False
        return self.dialect.quirks is None or name in self.dialect.quirks


@dataclass
class _Slot:
    id: int
    rule: FaultRule
    remaining: int | None


@dataclass
class FaultSet:
    """The live fault rules, safe to use from several threads."""

    seed: int | None = None
    _slots: list[_Slot] = field(default_factory=list)
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fired: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, rule: FaultRule) -> int:
        rule.validate()
        with self._lock:
            slot = _Slot(self._next_id, rule, rule.count)
            self._next_id += 1
            self._slots.append(slot)
            return slot.id

    def clear(self, kind: str | None = None, rule_id: int | None = None) -> int:
        """Remove all rules, the rules of one kind, or one rule by id; returns how many."""
        with self._lock:
            before = len(self._slots)
            self._slots = [
                s
                for s in self._slots
                if not ((kind is None or s.rule.kind == kind) and (rule_id in (None, s.id)))
            ]
            return before - len(self._slots)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": s.id, **s.rule.to_json(), "remaining": s.remaining} for s in self._slots]

    def decide(self, action: str, service: int | None = None) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            for slot in list(self._slots):
                rule = slot.rule
                if not rule.matches(action, service):
                    continue
                category = _category(rule.kind)
                if getattr(decision, category) is not None:
                    continue
                if slot.remaining is not None and slot.remaining <= 0:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if slot.remaining is not None:
                    slot.remaining -= 1
                    if slot.remaining <= 0:
                        self._slots.remove(slot)
                setattr(decision, category, rule)
                self.fired[rule.kind] += 1
        return decision


def _category(kind: str) -> str:
    if kind in OUTCOME_KINDS:
        return "outcome"
    if kind in ANSWER_KINDS:
        return "answer"
    return kind  # "slow" or "dialect"


def with_defaults(rule: FaultRule) -> FaultRule:
    """The rule with its kind's default options filled in."""
    if rule.kind == "slow" and rule.seconds is None:
        return replace(rule, seconds=2.0)
    if rule.kind == "timeout" and rule.seconds is None:
        return replace(rule, seconds=30.0)
    return rule
