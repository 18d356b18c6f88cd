"""The counters and histograms of one server process.

Recording is on the path of every /api/v2 call, so it is kept to a dictionary
lookup and two increments: label children are made once per (action, outcome)
and reused (`labels()` alone costs more than the increments, measured in
bench/bench_metrics.py).  Labels are bounded: an action that is not the API's
is recorded as "other", a payment gateway that is not installed as "unknown".

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before prometheus_client is
first imported: `serve --workers N` does it for its processes) the values live
in files of that directory, one per process, and a scrape sums them all; else
they live in this object's own registry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Outcomes of an /api/v2 call, by what its client sees.
OK = "ok"  # the action's answer
ERROR = "error"  # HTTP 200 with {"error": ...}: a refusal of the action
RATE_LIMITED = "rate_limited"  # 429
CLIENT_ERROR = "client_error"  # another 4xx (405, 413)
UNAVAILABLE = "unavailable"  # 503: the database was busy or unreachable
SERVER_ERROR = "server_error"  # 500: a bug
OTHER_ACTION = "other"

# /api/v2 answers in about a millisecond when all is well, up to the busy timeout
# (3 s) when the database is not.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# Orders per group commit: 1 when calls come one at a time, up to 256 (the cap).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def outcome_of(status: int, answer: object) -> str:
    if status == 200:
        return ERROR if isinstance(answer, dict) and "error" in answer else OK
    if status == 429:
        return RATE_LIMITED
    if status == 503:
        return UNAVAILABLE
    return CLIENT_ERROR if status < 500 else SERVER_ERROR


class PanelMetrics:
    """The process's metrics and the registry a scrape reads (`registry`), to
    which the database collector is added by whoever serves /metrics."""

    def __init__(self, actions: Iterable[str] = ()) -> None:
        self.multiprocess = multiprocess_mode()
        self.registry = CollectorRegistry()
        # In multiprocess mode the metrics belong to no registry: the collector
        # reads every process's files, this one's included.
        own = None if self.multiprocess else self.registry
        if self.multiprocess:
            MultiProcessCollector(self.registry)
        else:
            # Resident memory, CPU and open files of this process (of the one
            # that answered, in multiprocess mode: so not there).
            ProcessCollector(registry=self.registry)
        self.actions = frozenset(actions)
        self._requests = Counter(
            "smmpanel_api_requests",
            "/api/v2 calls by action and outcome",
            ["action", "outcome"],
            registry=own,
        )
        self._latency = Histogram(
            "smmpanel_api_request_duration_seconds",
            "Time /api/v2 took to answer, by action",
            ["action"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._webhooks = Counter(
            "smmpanel_payment_webhooks",
            "Webhooks posted by payment gateways to /payments/webhook, by outcome",
            ["gateway", "outcome"],
            registry=own,
        )
        self._batches = Histogram(
            "smmpanel_add_batch_size",
            "Orders placed by one commit of the add group committer",
            buckets=BATCH_BUCKETS,
            registry=own,
        )
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def api_call(self, action: str | None, status: int, answer: object, seconds: float) -> None:
        """One /api/v2 call: `action` as the client named it (None before it was
        read), the HTTP status, the answer's body and how long it took."""
        name = action if action in self.actions else OTHER_ACTION
        key = (name, outcome_of(status, answer))
        children = self._children.get(key)
        if children is None:
            children = self._children.setdefault(
                key, (self._requests.labels(*key), self._latency.labels(name))
            )
        children[0].inc()
        children[1].observe(seconds)

    def add_batch(self, size: int) -> None:
        """One committed batch of `add` calls and how many it held."""
        self._batches.observe(size)

    def payment_webhook(self, gateway: str, status: int) -> None:
        """One webhook at /payments/webhook/CODE and its answer's status; a code
        that names no installed gateway (404) is recorded as "unknown"."""
        outcome = WEBHOOK_OUTCOMES.get(status, "failed")
        self._webhooks.labels("unknown" if status == 404 else gateway, outcome).inc()


WEBHOOK_OUTCOMES = {
    200: "ok",
    400: "refused",  # a wrong signature or an unreadable body: the owner should look
    404: "no_gateway",
    405: "refused",
    413: "too_large",
    503: "retry",  # the gateway or the database could not be reached; it will retry
}
