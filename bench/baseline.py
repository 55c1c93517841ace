"""Another checkout of Cairn to measure beside this one, in the same run on the same data:
`--baseline REV` makes a git worktree of REV (the code before a change), serves it next to the
current code on a copy of the seeded database, and counts its statements with its own code.

A server refuses a database that has migrations it does not know, so the copy has the newer
migrations undone (`UNDO`, one entry per migration since the oldest baseline measured)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import asyncpg

from bench.database import BenchDatabase, with_database
from bench.scenario import Scenario
from bench.statements import StatementCount

ROOT = Path(__file__).resolve().parent.parent

# Run inside the baseline's checkout: its own app counts each request's statements.
_COUNT = """
import asyncio, json, sys
from bench.scenario import Scenario
from bench.statements import count_statements

url, key, requests = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
chosen = [Scenario(name, "", query, lambda rng, v=variables: v, endpoint=endpoint, key=own)
          for name, query, variables, endpoint, own in requests]
counts = asyncio.run(count_statements(url, key, chosen))
print(json.dumps({n: [c.statements, c.pool_resets, c.texts] for n, c in counts.items()}))
"""


# What undoes each migration newer than a baseline, by name.
UNDO = {
    "0011_principal_notices": """
DROP TRIGGER api_keys_principal_changed ON api_keys;
DROP TRIGGER users_principal_changed ON users;
DROP TRIGGER organization_members_principal_changed ON organization_members;
DROP FUNCTION notify_principal_changed();
""",
}


@asynccontextmanager
async def database_copy(database: BenchDatabase, root: Path) -> AsyncIterator[BenchDatabase]:
    """A copy of the seeded benchmark database with the migrations the checkout at `root` does
    not know undone; dropped on the way out. Nothing may be connected to the original."""
    name = f"{database.name}_before"
    await database.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{database.name}"')
    url = with_database(database.server_url, name)
    try:
        known = {
            p.stem
            for p in (root / "db" / "migrations").glob("*.sql")
            if re.match(r"\d{4}_", p.name)
        }
        conn = await asyncpg.connect(url)
        try:
            applied = [r["name"] for r in await conn.fetch(SELECT_APPLIED)]
            for migration in reversed(applied):
                if migration in known:
                    continue
                if migration not in UNDO:
                    raise RuntimeError(f"bench.baseline.UNDO does not know how to undo {migration}")
                async with conn.transaction():
                    await conn.execute(UNDO[migration])
                    await conn.execute(DELETE_APPLIED, migration)
        finally:
            await conn.close()
        yield replace(database, name=name, url=url)
    finally:
        await database.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_NAME = "lpad(version::text, 4, '0') || '_' || name"
SELECT_APPLIED = f"SELECT {_NAME} AS name FROM schema_migrations ORDER BY version"
DELETE_APPLIED = f"DELETE FROM schema_migrations WHERE {_NAME} = $1"


def checkout(revision: str) -> Path:
    """A worktree of `revision` (made once, kept for later runs)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"cairn-baseline-{commit[:12]}"
    if not path.is_dir():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
    return path


def count_baseline_statements(
    root: Path, url: str, key: str, chosen: list[Scenario]
) -> dict[str, StatementCount]:
    """Each scenario's statements as the baseline's code runs its first request (scenarios
    that send their own requests are left out)."""
    requests = [
        (s.name, s.query, s.variables(random.Random(1)), s.endpoint, s.key)
        for s in chosen
        if s.custom is None
    ]
    done = subprocess.run(
        [sys.executable, "-c", _COUNT, url, key, json.dumps(requests)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"counting the baseline's statements failed:\n{done.stderr}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        name: StatementCount(statements=n, pool_resets=resets, texts=texts)
        for name, (n, resets, texts) in found.items()
    }
