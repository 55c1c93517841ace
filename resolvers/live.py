"""Live registry events for subscriptions. One listening connection per process receives every
NOTIFY on the events channel (from this process or any other on the same database) and fans it
out to the process's subscribers, each of whom sees only what they may."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from db.automations import EVENTS_CHANNEL
from resolvers.context import Context
from resolvers.errors import not_found
from resolvers.events import RegistryEvent
from resolvers.registries import registry

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


async def registry_events(
    ctx: Context, registry_id: int, collection_id: int | None
) -> AsyncIterator[RegistryEvent]:
    """Changes in a registry (or one of its collections) from now on, while the caller may see
    the registry: access is checked again on every event, so a role taken away stops them."""
    if await registry(ctx, registry_id) is None:
        raise not_found("registry not found")
    if ctx.events is None:
        raise RuntimeError("live events are not available on this server")
    async with ctx.events.subscribe() as queue:
        while True:
            event: RegistryEvent = await queue.get()
            if event.registry_id != registry_id:
                continue
            if collection_id is not None and event.collection_id != collection_id:
                continue
            ctx.loaders.clear_all()
            if await registry(ctx, registry_id) is None:
                continue
            yield event
