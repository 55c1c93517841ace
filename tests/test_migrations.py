"""The migration runner against a real PostgreSQL: every test gets a fresh, empty database."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from db.migrate import (
    Migration,
    MigrationError,
    load_migrations,
    migrate,
    pending_migrations,
)

MIGRATIONS_DIR = Path(str(resources.files("db").joinpath("migrations")))


@pytest.fixture
async def conn(empty_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_url)
    try:
        yield connection
    finally:
        await connection.close()


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def history(conn: asyncpg.Connection) -> list[tuple[int, str, str]]:
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return [(row["version"], row["name"], row["checksum"]) for row in rows]


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def test_the_shipped_migrations_apply_to_a_fresh_database(
    conn: asyncpg.Connection,
) -> None:
    shipped = load_migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert shipped == load_migrations(MIGRATIONS_DIR)

    applied = await migrate(conn)

    assert applied == shipped
    expected = [
        (
            m.version,
            m.name,
            hashlib.sha256(
                (MIGRATIONS_DIR / f"{m.version:04d}_{m.name}.sql").read_bytes()
            ).hexdigest(),
        )
        for m in shipped
    ]
    assert await history(conn) == expected
    for table in ("organizations", "users", "organization_members", "teams"):
        assert await table_exists(conn, table), table
    assert await pending_migrations(conn) == []


async def test_files_are_applied_in_numeric_order_with_their_checksums(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    # Each file depends on the previous one, so any other order fails. Created in reverse so
    # that directory order cannot happen to be right.
    files = {
        "0003_third.sql": "INSERT INTO steps (n) VALUES (3);",
        "0002_second.sql": "INSERT INTO steps (n) VALUES (2);",
        "0001_first.sql": "CREATE TABLE steps (id serial PRIMARY KEY, n int NOT NULL);",
    }
    directory = write_migrations(tmp_path / "m", files)
    migrations = load_migrations(directory)
    assert [(m.version, m.name) for m in migrations] == [(1, "first"), (2, "second"), (3, "third")]

    applied = await migrate(conn, migrations)

    assert [m.version for m in applied] == [1, 2, 3]
    assert await conn.fetch("SELECT n FROM steps ORDER BY id") == [(2,), (3,)]
    assert await history(conn) == [
        (1, "first", hashlib.sha256(files["0001_first.sql"].encode()).hexdigest()),
        (2, "second", hashlib.sha256(files["0002_second.sql"].encode()).hexdigest()),
        (3, "third", hashlib.sha256(files["0003_third.sql"].encode()).hexdigest()),
    ]


async def test_a_second_run_is_a_no_op(conn: asyncpg.Connection) -> None:
    assert await migrate(conn) != []
    before = await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations")

    assert await migrate(conn) == []

    after = await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations")
    assert after == before


async def test_new_files_after_an_earlier_run_are_applied_alone(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id int);"})
    assert [m.version for m in await migrate(conn, load_migrations(directory))] == [1]

    write_migrations(directory, {"0002_b.sql": "CREATE TABLE b (id int);"})
    assert [m.version for m in await pending_migrations(conn, load_migrations(directory))] == [2]
    applied = await migrate(conn, load_migrations(directory))

    assert [(m.version, m.name) for m in applied] == [(2, "b")]
    assert [row[0] for row in await history(conn)] == [1, 2]
    assert await table_exists(conn, "b")


async def test_a_migration_edited_after_it_was_applied_is_refused(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    applied = await migrate(conn, load_migrations(directory))
    first = applied[0]
    path = directory / f"{first.version:04d}_{first.name}.sql"
    path.write_text(path.read_text(encoding="utf-8") + "\n-- an innocent comment\n")
    recorded = await history(conn)

    edited = load_migrations(directory)
    with pytest.raises(MigrationError) as refused:
        await migrate(conn, edited)
    message = str(refused.value)
    assert path.name in message
    assert "edited" in message
    with pytest.raises(MigrationError, match=path.name):
        await pending_migrations(conn, edited)
    # Nothing was recorded or changed by the refused run.
    assert await history(conn) == recorded


async def test_a_database_migrated_by_a_newer_cairn_is_refused(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    known = [
        Migration(1, "base", "CREATE TABLE base (id int);"),
    ]
    await migrate(conn, known)
    newer = Migration(2, "from_the_future", "CREATE TABLE future (id int);")
    await migrate(conn, [*known, newer])

    with pytest.raises(MigrationError) as refused:
        await migrate(conn, known)
    assert "0002_from_the_future" in str(refused.value)
    with pytest.raises(MigrationError, match="0002_from_the_future"):
        await pending_migrations(conn, known)


@pytest.mark.parametrize(
    "bad_name",
    ["1_init.sql", "0001-init.sql", "0001_Init.sql", "00001_init.sql", "0001_.sql", "init.sql"],
)
def test_bad_file_names_are_refused(tmp_path: Path, bad_name: str) -> None:
    directory = write_migrations(tmp_path, {"0001_ok.sql": "SELECT 1;", bad_name: "SELECT 1;"})
    with pytest.raises(MigrationError, match=bad_name.replace(".", r"\.")):
        load_migrations(directory)


def test_files_that_are_not_sql_are_ignored(tmp_path: Path) -> None:
    directory = write_migrations(
        tmp_path, {"0001_ok.sql": "SELECT 1;", "README.md": "notes", "0002_draft.sql~": "x"}
    )
    assert [(m.version, m.name) for m in load_migrations(directory)] == [(1, "ok")]


@pytest.mark.parametrize(
    ("names", "found", "expected"),
    [
        (["0001_a.sql", "0003_c.sql"], "0003", "0002"),
        (["0002_b.sql", "0003_c.sql"], "0002", "0001"),
        (["0001_a.sql", "0001_b.sql"], "0001", "0002"),
    ],
)
def test_gaps_and_duplicate_numbers_are_refused(
    tmp_path: Path, names: list[str], found: str, expected: str
) -> None:
    directory = write_migrations(tmp_path, dict.fromkeys(names, "SELECT 1;"))
    with pytest.raises(MigrationError) as refused:
        load_migrations(directory)
    assert f"found {found} where {expected} was expected" in str(refused.value)


async def test_two_runners_at_once_apply_each_migration_exactly_once(empty_url: str) -> None:
    first, second = await asyncpg.connect(empty_url), await asyncpg.connect(empty_url)
    try:
        results = await asyncio.wait_for(asyncio.gather(migrate(first), migrate(second)), 60)
        shipped = load_migrations()
        assert sorted(results, key=len) == [[], shipped]
        assert [row[0] for row in await history(first)] == [m.version for m in shipped]
        # Both released the advisory lock: a third runner does not block.
        assert await asyncio.wait_for(migrate(second), 10) == []
        held = await first.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert held == 0
    finally:
        await first.close()
        await second.close()


async def test_pending_migrations_on_an_empty_database(conn: asyncpg.Connection) -> None:
    pending = await pending_migrations(conn)

    assert pending == load_migrations()
    assert pending, "the shipped migrations are not empty"
    # Looking does not create anything.
    assert not await table_exists(conn, "schema_migrations")


async def test_a_failing_migration_leaves_nothing_of_itself_behind(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = write_migrations(
        tmp_path / "m",
        {
            "0001_valid.sql": "CREATE TABLE valid_one (id int);",
            "0002_broken.sql": (
                "CREATE TABLE half_done (id int);\n"
                "INSERT INTO valid_one VALUES (1);\n"
                "SELEC oops FROM nowhere;\n"
            ),
        },
    )
    migrations = load_migrations(directory)

    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate(conn, migrations)

    assert [row[:2] for row in await history(conn)] == [(1, "valid")]
    assert await table_exists(conn, "valid_one")
    assert not await table_exists(conn, "half_done")
    assert await conn.fetchval("SELECT count(*) FROM valid_one") == 0
    assert [m.version for m in await pending_migrations(conn, migrations)] == [2]
    # The lock was released despite the failure, and a fixed file then applies.
    fixed = write_migrations(directory, {"0002_broken.sql": "CREATE TABLE half_done (id int);"})
    applied = await asyncio.wait_for(migrate(conn, load_migrations(fixed)), 10)
    assert [m.version for m in applied] == [2]
    assert await table_exists(conn, "half_done")
