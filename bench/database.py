"""The benchmark's database: made fresh on a PostgreSQL server, migrated, dropped at the end.

Every benchmark creates `cairn_bench_<random>` on `--database-url`'s server
(`benchmark_database`), migrates and seeds it over one connection of the app's kind
(`migrated`), and drops it when done unless `--keep-database` says otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from db.migrate import migrate
from db.pool import Connection, create_pool

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    name: str  # cairn_bench_<random>
    url: str  # the benchmark database's URL
    server_url: str  # the server's URL as given (its own database, not this one)
    # A connection to the server's own database, open for the whole benchmark: it creates and
    # drops the benchmark database and samples pg_stat_activity.
    admin: asyncpg.Connection
    postgres_version: str


@asynccontextmanager
async def benchmark_database(server_url: str, *, keep: bool) -> AsyncIterator[BenchDatabase]:
    """Creates a fresh, empty database on the server and drops it on the way out (`keep`: keeps
    it and says so)."""
    name = f"cairn_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        postgres_version = await admin.fetchval("SHOW server_version")
        print(f"database {name} on PostgreSQL {postgres_version}", flush=True)
        yield BenchDatabase(
            name=name,
            url=with_database(server_url, name),
            server_url=server_url,
            admin=admin,
            postgres_version=postgres_version,
        )
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[Connection]:
    """A connection of the app's pool to the database at `url`, once migrated: its connections
    have the JSON codecs the resolver functions rely on, and a statement timeout of 10 minutes
    for the bulk seeding."""
    pool = await create_pool(url, max_size=1, statement_timeout_ms=600_000)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            yield conn
    finally:
        await pool.close()


async def count_rows(conn: Connection, tables: Iterable[str]) -> dict[str, int]:
    """Rows in each table; `tables` are the seeding code's own names, never input."""
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in tables}
