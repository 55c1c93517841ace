"""Connection pool: JSON codecs, a statement timeout, and an optional per-statement hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

StatementHook = Callable[[str], None]


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
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
