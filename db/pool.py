"""Connection pool: JSON codecs, a statement timeout, and an optional per-statement hook; and a
request's one connection, borrowed from the pool at its first statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import json_values

StatementHook = Callable[[str], None]
# A connection of one's own or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy


def _encode_json(value: Any) -> str:
    return json_values.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=json_values.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection going back to the pool needs: nothing. Cairn sets no session state
    (settings are fixed when a connection opens, locks are held by transactions, and the one
    listener unlistens itself), so asyncpg's default reset query would be a round trip that
    does nothing, on every release."""


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 10_000,
    on_statement: StatementHook | None = None,
) -> asyncpg.Pool:
    """A pool whose connections decode JSON to Python values.

    `on_statement` is called with the text of every statement a connection runs; tests and the
    benchmark count statements per request with it.
    """

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if on_statement is not None:
            hook = on_statement
            conn.add_query_logger(lambda record: hook(record.query))

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        server_settings={
            "statement_timeout": str(statement_timeout_ms),
            "application_name": "cairn",
        },
    )
    assert pool is not None
    return pool


class RequestConnection:
    """One request's reads on one pooled connection, taken at the first statement and given
    back by `release`. Statements run one after another on it: loader batches that would start
    together wait their turn rather than take more connections. A write releases it first and
    takes a connection for its transaction, so a request never holds two at once."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._connection: PoolConnectionProxy | None = None
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[PoolConnectionProxy]:
        async with self._turn:
            if self._connection is None:
                self._connection = await self.pool.acquire()
            yield self._connection

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._connected() as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._connected() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._connected() as conn:
            return await conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self._connected() as conn:
            return await conn.execute(sql, *args)

    async def release(self) -> None:
        """Gives the connection back, once the statement running on it (if any) is done."""
        async with self._turn:
            connection, self._connection = self._connection, None
            if connection is not None:
                await self.pool.release(connection)


# Reads run on a request's connection, on a pool, or on a transaction's connection.
Executor = Connection | asyncpg.Pool | RequestConnection


async def fetch_one(conn: Executor, sql: str, *args: Any) -> asyncpg.Record:
    """The one row a statement must return (an INSERT … RETURNING, a lookup by a known id)."""
    row = await conn.fetchrow(sql, *args)
    if row is None:
        raise LookupError(f"expected a row from: {sql.strip().splitlines()[0]}")
    return row


ADVISORY_XACT_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"


async def advisory_xact_lock(conn: Connection, name: str) -> None:
    """Holds a lock named `name` until the transaction ends: one holder at a time, across
    processes."""
    await conn.execute(ADVISORY_XACT_LOCK, name)
