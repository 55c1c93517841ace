"""Prometheus metrics at /metrics: GraphQL requests by operation and outcome, their latency,
file transfers by route and status, the database pool, the webhook outbox and delivery
outcomes, the live-event listener, and the execution budget's points in use and operations
waiting. Each process reports its own; a scrape reads the pool,
the outbox and the listener as they are then.
"""

from __future__ import annotations

import re

import asyncpg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

from db.automations import outbox_depth
from resolvers.live import EventHub
from resolvers.throttle import ExecutionBudget

REQUESTS = Counter(
    "cairn_graphql_requests_total",
    "GraphQL requests over HTTP, by operation name and outcome.",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "cairn_graphql_request_seconds",
    "Time to answer a GraphQL request over HTTP, by outcome.",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TRANSFERS = Counter(
    "cairn_transfer_requests_total",
    "Requests to the file transfer routes (uploads, parts, batches, completions, downloads), "
    "by route and HTTP status.",
    ["route", "status"],
)
POOL = Gauge("cairn_db_pool_connections", "Database pool connections, by state.", ["state"])
OUTBOX = Gauge("cairn_webhook_outbox_depth", "Webhook deliveries waiting to be sent or retried.")
LISTENER = Gauge("cairn_live_listener_up", "1 while the live-event listener listens, else 0.")
EXECUTING = Gauge(
    "cairn_executing_cost_points",
    "Query-cost points of the operations running at once, and the most there may be.",
    ["state"],
)
WAITING = Gauge("cairn_operations_waiting", "Operations waiting for the execution budget to run.")

# Operation names are the client's to choose: the first MAX_OPERATIONS distinct ones get a
# series of their own, later ones count as `other`, so that no client can grow the metrics.
MAX_OPERATIONS = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if name is None:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "other"
    if name not in _operations:
        if len(_operations) >= MAX_OPERATIONS:
            return "other"
        _operations.add(name)
    return name


def outcome_of(status: int) -> str:
    """ok, partial (data and errors), refused (a client error), throttled, or error."""
    if status == 429:
        return "throttled"
    if status == 294:
        return "partial"
    if status < 400:
        return "ok"
    return "refused" if status < 500 else "error"


def observe(operation: str | None, status: int, seconds: float) -> None:
    outcome = outcome_of(status)
    REQUESTS.labels(operation_label(operation), outcome).inc()
    LATENCY.labels(outcome).observe(seconds)


async def render(
    pool: asyncpg.Pool, events: EventHub | None, budget: ExecutionBudget | None
) -> Response:
    POOL.labels("max").set(pool.get_max_size())
    POOL.labels("open").set(pool.get_size())
    POOL.labels("idle").set(pool.get_idle_size())
    POOL.labels("in_use").set(pool.get_size() - pool.get_idle_size())
    LISTENER.set(1 if events is not None and events.listening else 0)
    if budget is not None:
        EXECUTING.labels("in_use").set(budget.in_use)
        EXECUTING.labels("capacity").set(budget.capacity)
        WAITING.set(budget.waiting)
    try:
        async with pool.acquire(timeout=2) as conn:
            OUTBOX.set(await outbox_depth(conn))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        OUTBOX.set(float("nan"))  # unknown while the database is unreachable
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
