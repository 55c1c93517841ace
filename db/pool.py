"""Connection pool: JSON codecs, a statement timeout, and an optional per-statement hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import json_values

StatementHook = Callable[[str], None]
# Read functions run on a pool (loaders) or on a transaction's connection (writes).
# A connection of one's own or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy
Executor = Connection | asyncpg.Pool


def _encode_json(value: Any) -> str:
    return json_values.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=json_values.loads, schema="pg_catalog"
        )


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
        server_settings={
            "statement_timeout": str(statement_timeout_ms),
            "application_name": "cairn",
        },
    )
    assert pool is not None
    return pool


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
