"""What the panel shows to Prometheus and to health probes: `/metrics` and
`/healthz` (docs/operations.md, "Metrics and health").

Counts that happen in a server process (API calls, payment webhooks) are
recorded in that process, aggregated over every process of `serve --workers N`
by prometheus_client's multiprocess mode; what lives in the database (orders,
jobs, deposits, provider calls, the worker's heartbeat) is read at scrape time.
"""
