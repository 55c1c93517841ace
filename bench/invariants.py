"""The invariants the resolvers keep, which the seeding code must keep too: checked by every
benchmark's seeding, and by `bench.writes` again after its load."""

from __future__ import annotations

from typing import Any

from db.pool import Connection
from resolvers.versions import FileEntry, manifest_digest

# Each counts the rows of an organization (`$1`) that break the invariant.
CHECKS = {
    "next_index is one past the highest version index": """
        SELECT count(*) FROM collections col
        WHERE col.organization_id = $1 AND col.next_index <> 1 + (
            SELECT max(version_index) FROM artifact_versions v WHERE v.collection_id = col.id)""",
    "`latest` is on the newest version": """
        SELECT count(*) FROM collections col
        LEFT JOIN aliases a ON a.collection_id = col.id AND a.alias = 'latest'
        LEFT JOIN artifact_versions v ON v.id = a.version_id
        WHERE col.organization_id = $1 AND (v.version_index IS DISTINCT FROM col.next_index - 1)""",
    "one open history row per alias holder": """
        SELECT count(*) FROM aliases a JOIN collections col ON col.id = a.collection_id
        WHERE col.organization_id = $1 AND 1 <> (
            SELECT count(*) FROM alias_history h WHERE h.collection_id = a.collection_id
              AND h.alias = a.alias AND h.removed_at IS NULL AND h.version_id = a.version_id
              AND h.assigned_at = a.assigned_at)""",
}


async def broken_invariants(conn: Connection, organization_id: int) -> dict[str, int]:
    """The rows breaking each invariant of `CHECKS` (all 0 when they hold)."""
    return {check: await conn.fetchval(sql, organization_id) for check, sql in CHECKS.items()}


async def assert_invariants(conn: Connection, organization_id: int, what: str) -> None:
    """Fails if `what` (the rows just written) broke an invariant."""
    for check, broken in (await broken_invariants(conn, organization_id)).items():
        assert broken == 0, f"{what}: an invariant is broken ({check}): {broken} rows"


async def check_manifest_digest(conn: Connection, organization_id: int) -> None:
    """The digest SQL computed is the one `log_artifact` would have: logging the same files again
    returns the seeded version."""
    row: Any = await conn.fetchrow(
        "SELECT c.id, c.digest FROM artifact_contents c JOIN collections col "
        "ON col.id = c.sequence_id WHERE col.organization_id = $1 ORDER BY c.id DESC LIMIT 1",
        organization_id,
    )
    files = await conn.fetch(
        "SELECT path, digest, size FROM artifact_files WHERE content_id = $1", row["id"]
    )
    entries = [FileEntry(f["path"], f["digest"], f["size"]) for f in files]
    assert manifest_digest(entries) == row["digest"], "manifest digests disagree"


class RolledBack(Exception):
    """Raised to roll back a transaction that only checked something with the resolvers."""
