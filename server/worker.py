"""The delivery worker and the blob collector: they run inside `cairn serve` by default, or
alone as `cairn worker`. Any number may run against one database; the delivery worker wakes on
NOTIFY when deliveries are queued and polls in case a notice was missed or a retry came due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg
import httpx

from db.automations import DELIVERIES_CHANNEL
from db.blobs import BlobStore
from resolvers.collector import collect
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


class BlobCollector:
    """Runs the blob collector every `interval`, in `cairn serve` or `cairn worker`; several may
    run at once."""

    def __init__(
        self, pool: asyncpg.Pool, store: BlobStore, grace: timedelta, interval: float
    ) -> None:
        self.pool = pool
        self.store = store
        self.grace = grace
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            try:
                collected = await collect(self.pool, self.store, self.grace)
                logger.info("blob collector: deleted %s", collected.summary())
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning("blob collector: %s; trying again next time", error)
            except Exception:
                logger.exception("blob collector: unexpected error; trying again next time")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="cairn-blob-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
