"""Which PostgreSQL to use: `DATABASE_URL` when set, else the embedded one (pgserver) in a data
directory that survives restarts."""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from pathlib import Path

import asyncpg

from db.migrate import MigrationError, migrate, pending_migrations


def database_url_from_env() -> str | None:
    return os.environ.get("DATABASE_URL") or None


def start_embedded(data_dir: Path) -> str:
    """Starts (or joins) the embedded PostgreSQL in `data_dir` and returns its URL.

    Several Cairn processes may share one data directory: the server keeps running until the
    last of them exits.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR pgserver keeps its lock file in /tmp, which is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def resolve_database(data_dir: Path) -> tuple[str, bool]:
    """(URL, whether it is the embedded database)."""
    url = database_url_from_env()
    if url is not None:
        return url, False
    return start_embedded(data_dir), True


async def _migrate(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await migrate(conn)]
    finally:
        await conn.close()


async def _pending(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await pending_migrations(conn)]
    finally:
        await conn.close()


def apply_migrations(url: str) -> list[str]:
    return asyncio.run(_migrate(url))


def pending(url: str) -> list[str]:
    return asyncio.run(_pending(url))


def require_current_schema(url: str) -> None:
    """Exits with a clear message when the database is behind (or ahead of) this Cairn."""
    try:
        todo = pending(url)
    except MigrationError as error:
        sys.exit(f"cairn: the database schema cannot be used: {error}")
    if todo:
        sys.exit(
            f"cairn: the database has {len(todo)} pending migration(s) ({', '.join(todo)}); "
            "run `cairn migrate` first. Refusing to serve on a schema that is behind."
        )
