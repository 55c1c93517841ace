"""Live registry events for subscriptions. One listening connection per process receives every
NOTIFY on the events channel (from this process or any other on the same database) and fans it
out to the process's subscribers, each of whom sees only what they may. The same connection
hears which users' keys, details or memberships changed, for the process's verified keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from db.accounts import PRINCIPALS_CHANNEL
from db.automations import EVENTS_CHANNEL
from resolvers.accounts import VerifiedKeys, refresh_principal
from resolvers.context import Context
from resolvers.errors import not_found
from resolvers.events import RegistryEvent
from resolvers.registries import registry

logger = logging.getLogger("cairn.live")

# A subscriber that falls this far behind loses its oldest events rather than memory.
QUEUE_SIZE = 1000
# Reconnecting after the listening connection is lost: the first wait, doubling up to the last.
RECONNECT_FIRST_WAIT = 0.1
RECONNECT_LONGEST_WAIT = 30.0
# A connection can die without a word (a network cut): it is asked to answer this often.
PROBE_EVERY = 10.0
# What a lost or dying connection raises; a pooled connection whose backend was just
# terminated can also fail mid-protocol with an InternalClientError before the pool notices.
_CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    TimeoutError,
)


class EventHub:
    """Holds one pooled connection that LISTENs for events. When it is lost (the database
    restarted, the backend was terminated, the network cut), the hub reconnects with backoff
    and listens again; subscribers stay subscribed, and miss only what was announced while
    nothing listened. `listening` says whether it listens now, for readiness. `verified` keys
    are trusted exactly while it listens."""

    def __init__(self, pool: asyncpg.Pool, verified: VerifiedKeys | None = None) -> None:
        self.pool = pool
        self.verified = verified
        self._subscribers: set[asyncio.Queue[RegistryEvent]] = set()
        self._connection: asyncpg.pool.PoolConnectionProxy | None = None
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._lost.is_set()

    async def start(self) -> None:
        """Listens, or raises when the database cannot be reached now."""
        await self._listen()
        self._supervisor = asyncio.create_task(self._keep_listening())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._drop()

    async def _listen(self) -> None:
        connection = await self.pool.acquire()
        lost = asyncio.Event()

        def on_lost(_connection: object) -> None:
            self._distrust()
            lost.set()

        try:
            connection.add_termination_listener(on_lost)
            await connection.add_listener(EVENTS_CHANNEL, self._on_notice)
            if self.verified is not None:
                await connection.add_listener(PRINCIPALS_CHANNEL, self._on_principal_notice)
        except BaseException:
            await self.pool.release(connection)
            raise
        self._connection, self._lost = connection, lost
        if self.verified is not None:
            self.verified.trust(True)

    def _distrust(self) -> None:
        if self.verified is not None:
            self.verified.trust(False)

    async def _drop(self) -> None:
        self._distrust()
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await connection.remove_listener(EVENTS_CHANNEL, self._on_notice)
        if self.verified is not None:
            with contextlib.suppress(Exception):
                await connection.remove_listener(PRINCIPALS_CHANNEL, self._on_principal_notice)
        with contextlib.suppress(Exception):
            await self.pool.release(connection)

    async def _keep_listening(self) -> None:
        while True:
            try:
                await self._until_lost()
            except Exception:
                logger.exception("the live-event listener failed; reconnecting")
            logger.warning("the live-event listener lost its connection; reconnecting")
            await self._drop()
            wait = RECONNECT_FIRST_WAIT
            while True:
                try:
                    await self._listen()
                except _CONNECTION_ERRORS as error:
                    logger.warning("the live-event listener cannot reconnect yet: %s", error)
                except Exception:
                    # Whatever it is, giving up would leave every subscriber without events.
                    logger.exception("the live-event listener cannot reconnect yet")
                else:
                    logger.info("the live-event listener listens again")
                    break
                await asyncio.sleep(wait)
                wait = min(wait * 2, RECONNECT_LONGEST_WAIT)

    async def _until_lost(self) -> None:
        """Returns once the listening connection is closed or stops answering."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), PROBE_EVERY)
                return
            connection = self._connection
            if connection is None:
                return
            try:
                await connection.execute("SELECT 1", timeout=PROBE_EVERY)
            except _CONNECTION_ERRORS:
                self._distrust()
                self._lost.set()
                return

    def _on_principal_notice(
        self, _conn: object, _pid: int, _channel: str, payload: object
    ) -> None:
        assert self.verified is not None
        self.verified.forget_user(str(payload))

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
    the registry: access is checked again on every event, so a role taken away stops them and a
    revoked key ends them."""
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
            # Roles and the key itself as they are now, not as they were when it started.
            ctx.loaders.clear_all()
            await refresh_principal(ctx)
            if await registry(ctx, registry_id) is None:
                continue
            yield event
