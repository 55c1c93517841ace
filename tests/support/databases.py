"""Databases of a test's own on the test server, and snapshots that show whether a request wrote
anything at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from db.migrate import migrate
from db.pool import create_pool
from server.demo import seed_demo
from server.settings import Settings, blob_store


def with_database(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(server: str) -> str:
    """A new, empty database on `server` (a URL naming any database there); returns its URL."""
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server, name)


async def drop_database(server: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seed(url: str, *, demo: bool) -> None:
    """Migrates the database at `url`, and with `demo` adds the demo organization `acme`."""
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        if demo:
            await seed_demo(pool, blob_store(Settings()))
    finally:
        await pool.close()


@asynccontextmanager
async def new_database(
    server: str, *, migrated: bool = False, demo: bool = False
) -> AsyncIterator[str]:
    """A database of its own on `server`, dropped on the way out: empty, migrated, or (`demo`)
    migrated and holding the demo organization. Yields its URL."""
    url = await create_database(server)
    try:
        if migrated or demo:
            await seed(url, demo=demo)
        yield url
    finally:
        await drop_database(server, url)


# --- snapshots -----------------------------------------------------------------------------------

# api_keys.last_used_at is touched by authentication (at most once a minute per key), not by the
# requests under test: it is left out so that a snapshot only sees what a request writes.
VOLATILE_COLUMNS = {"api_keys": ("last_used_at",)}

DatabaseState = dict[str, tuple[int, str]]


async def database_state(pool: asyncpg.Pool) -> DatabaseState:
    """Every table of the public schema: (row count, md5 of all its rows in a stable order)."""
    async with pool.acquire() as conn:
        tables = [
            row["tablename"]
            for row in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        parts = []
        for table in tables:
            row_text = "to_jsonb(t)"
            for column in VOLATILE_COLUMNS.get(table, ()):
                row_text = f"({row_text} - '{column}')"
            parts.append(
                f"SELECT '{table}' AS name, count(*) AS rows, "
                f"md5(coalesce(string_agg({row_text}::text, ',' ORDER BY {row_text}::text), '')) "
                f'AS digest FROM "{table}" t'
            )
        rows = await conn.fetch(" UNION ALL ".join(parts))
    return {row["name"]: (row["rows"], row["digest"]) for row in rows}


def changed_tables(
    before: Mapping[str, tuple[int, str]], after: Mapping[str, tuple[int, str]]
) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
