"""Numbered SQL migrations: applied in order, one transaction per file, under an advisory lock.

Each applied file's SHA-256 is recorded; a file edited after it was applied is refused rather than
silently diverging. Migrations only go forward.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from db.pool import Connection

# An arbitrary constant that every Cairn process agrees on; pg_advisory_lock takes a bigint.
MIGRATION_LOCK_KEY = 0x43_61_69_72_6E_4D_69_67  # "CairnMig"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database's schema history does not match the migration files."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files, ordered by number; gaps and duplicate numbers are errors."""
    if directory is None:
        files = [
            (entry.name, entry.read_text(encoding="utf-8"))
            for entry in resources.files("db").joinpath("migrations").iterdir()
            if entry.name.endswith(".sql")
        ]
    else:
        files = [(p.name, p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")]
    migrations = []
    for file_name, sql in files:
        match = _FILE_NAME.match(file_name)
        if match is None:
            raise MigrationError(f"migration file name {file_name!r} is not NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], sql))
    migrations.sort(key=lambda m: m.version)
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration numbers must run 1, 2, 3, …; found {migration.version:04d} "
                f"where {expected:04d} was expected"
            )
    return migrations


CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""

SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"

SELECT_HISTORY_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"

INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


async def _applied(conn: Connection) -> dict[int, tuple[str, str]]:
    if not await conn.fetchval(SELECT_HISTORY_EXISTS):
        return {}
    rows = await conn.fetch(SELECT_APPLIED)
    return {row["version"]: (row["name"], row["checksum"]) for row in rows}


def _verify(applied: dict[int, tuple[str, str]], migrations: list[Migration]) -> list[Migration]:
    """Checks applied history against the files and returns the migrations still to apply."""
    known = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{name} that this Cairn does not "
                "know: it was migrated by a newer Cairn"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name}.sql was edited after it was applied "
                f"(recorded checksum {checksum[:12]}…, file {migration.checksum[:12]}…); "
                "migrations are forward-only: add a new file instead"
            )
    return [m for m in migrations if m.version not in applied]


async def pending_migrations(
    conn: Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """The migrations not yet applied; raises MigrationError when the history is inconsistent."""
    migrations = load_migrations() if migrations is None else migrations
    return _verify(await _applied(conn), migrations)


async def migrate(conn: Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Applies every pending migration, each in its own transaction; returns those applied.

    The advisory lock makes concurrent runners (several processes starting at once) take turns:
    the second one finds nothing left to do.
    """
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(CREATE_HISTORY)
        todo = _verify(await _applied(conn), migrations)
        for migration in todo:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    INSERT_APPLIED, migration.version, migration.name, migration.checksum
                )
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
