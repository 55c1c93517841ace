"""The delivery worker: runs inside `cairn serve` by default, or alone as `cairn worker`. Any
number may run against one database; each wakes on NOTIFY when deliveries are queued and polls
in case a notice was missed or a retry came due."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import httpx

from db.automations import DELIVERIES_CHANNEL
from resolvers.deliveries import deliver_due
from resolvers.webhooks import WebhookPolicy

logger = logging.getLogger("cairn.worker")

POLL_SECONDS = 1.0


class DeliveryWorker:
    def __init__(self, pool: asyncpg.Pool, policy: WebhookPolicy) -> None:
        self.pool = pool
        self.policy = policy
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener = await self.pool.acquire()
        await listener.add_listener(DELIVERIES_CHANNEL, self._notified)
        try:
            async with httpx.AsyncClient(
                timeout=self.policy.timeout_seconds, follow_redirects=False
            ) as client:
                while True:
                    try:
                        while await deliver_due(self.pool, self.policy, client):
                            pass
                    except (OSError, asyncpg.PostgresError) as error:
                        logger.warning("delivery worker: %s; retrying", error)
                    except Exception:
                        # A bug must not silently end the worker: log it and keep delivering.
                        logger.exception("delivery worker: unexpected error; retrying")
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(DELIVERIES_CHANNEL, self._notified)
            await self.pool.release(listener)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="cairn-delivery-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
