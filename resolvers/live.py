"""Live registry events for subscriptions. One listening connection per process receives every
NOTIFY on the events channel (from this process or any other on the same database) and fans it
out to the process's subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from db.automations import EVENTS_CHANNEL
from resolvers.events import RegistryEvent

logger = logging.getLogger("cairn.live")

# A subscriber that falls this far behind loses its oldest events rather than memory.
QUEUE_SIZE = 1000


class EventHub:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._subscribers: set[asyncio.Queue[RegistryEvent]] = set()
        self._connection: asyncpg.pool.PoolConnectionProxy | None = None

    async def start(self) -> None:
        self._connection = await self.pool.acquire()
        await self._connection.add_listener(EVENTS_CHANNEL, self._on_notice)

    async def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.remove_listener(EVENTS_CHANNEL, self._on_notice)
            await self.pool.release(self._connection)
            self._connection = None

    def _on_notice(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event = RegistryEvent.from_notice(str(payload))
        except (ValueError, KeyError) as error:
            logger.warning("ignoring a malformed event notice: %s", error)
            return
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[RegistryEvent]]:
        queue: asyncio.Queue[RegistryEvent] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
