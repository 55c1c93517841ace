"""Delivering the outbox: claim due deliveries, send each once per attempt, record the outcome,
and retry with exponential backoff and jitter until the attempts run out."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from prometheus_client import Counter

from db import automations
from db.records import Automation, Delivery
from resolvers import secrets, webhooks
from resolvers.automations import request_for

logger = logging.getLogger("cairn.deliveries")
# Attempts by what became of their delivery: SUCCEEDED, PENDING (to be retried) or FAILED.
DELIVERY_ATTEMPTS = Counter(
    "cairn_webhook_delivery_attempts_total",
    "Webhook delivery attempts, by what became of the delivery.",
    ["outcome"],
)

# A claim is held this much longer than a request may take; a worker that dies mid-delivery
# lets its lease run out, and the delivery is claimed again.
LEASE_MARGIN_SECONDS = 30.0


async def deliver_due(
    pool: asyncpg.Pool,
    policy: webhooks.WebhookPolicy,
    client: httpx.AsyncClient,
    *,
    batch: int = 10,
    rng: random.Random | None = None,
) -> int:
    """Sends one attempt of each claimed delivery; returns how many were attempted."""
    claimed = await automations.claim_due(
        pool, batch, policy.timeout_seconds + LEASE_MARGIN_SECONDS
    )
    if not claimed:
        return 0
    found = await automations.automations_by_id(pool, sorted({d.automation_id for d in claimed}))
    by_id = {a.id: a for a in found if a is not None}
    await asyncio.gather(
        *(_attempt(pool, policy, client, d, by_id.get(d.automation_id), rng) for d in claimed)
    )
    return len(claimed)


async def _attempt(
    pool: asyncpg.Pool,
    policy: webhooks.WebhookPolicy,
    client: httpx.AsyncClient,
    delivery: Delivery,
    automation: Automation | None,
    rng: random.Random | None,
) -> None:
    if automation is None:  # deleted meanwhile: its deliveries went with it
        return
    try:
        request = request_for(automation, delivery.body, delivery.event_type, delivery.id)
        result = await webhooks.send(request, policy, client)
    except secrets.SecretKeyError as error:
        result = webhooks.AttemptResult(None, 0, None, str(error), succeeded=False, retryable=False)
    except Exception as error:  # one bad delivery must not stop the worker
        logger.exception("delivery %s: unexpected failure", delivery.id)
        message = f"internal error: {type(error).__name__}"
        result = webhooks.AttemptResult(None, 0, None, message, succeeded=False, retryable=False)
    if result.succeeded:
        outcome, retry_at = "SUCCEEDED", None
    elif result.retryable and delivery.attempt_count < policy.max_attempts:
        jitter = (rng or random).uniform(0.5, 1.5)
        delay = webhooks.retry_delay(delivery.attempt_count, policy, jitter)
        outcome, retry_at = "PENDING", datetime.now(UTC) + timedelta(seconds=delay)
    else:
        outcome, retry_at = "FAILED", None
    DELIVERY_ATTEMPTS.labels(outcome).inc()
    logger.info(
        "delivery %s attempt %s: %s (%s)",
        delivery.id,
        delivery.attempt_count,
        outcome,
        result.status_code if result.status_code is not None else result.error,
    )
    async with pool.acquire() as conn:
        await automations.record_attempt(
            conn,
            delivery,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt,
            error=result.error,
            outcome=outcome,
            retry_at=retry_at,
        )
