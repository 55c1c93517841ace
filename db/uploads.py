"""Artifacts the wandb SDK is logging: created before their files arrive, committed after.
An upload's id is taken from the versions' sequence, and becomes the version's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from db.pool import Connection, Executor, fetch_one
from db.records import ArtifactUpload, from_record

UPLOAD_COLUMNS = """u.id, col.organization_id, col.project_id, u.sequence_id, u.run_id, u.user_id,
u.wandb_digest, u.description, u.metadata, u.aliases, u.ttl_seconds, u.client_id,
u.manifest_sha256, u.created_at"""

INSERT_UPLOAD = f"""
WITH u AS (
    INSERT INTO artifact_uploads (sequence_id, run_id, user_id, wandb_digest, description,
                                  metadata, aliases, ttl_seconds, client_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING *
)
SELECT {UPLOAD_COLUMNS} FROM u JOIN collections col ON col.id = u.sequence_id
"""


async def insert_upload(
    conn: Connection,
    *,
    sequence_id: int,
    run_id: int | None,
    user_id: int,
    wandb_digest: str,
    description: str,
    metadata: dict[str, Any],
    aliases: Sequence[str],
    ttl_seconds: int | None,
    client_id: str | None,
) -> ArtifactUpload:
    row = await fetch_one(
        conn,
        INSERT_UPLOAD,
        sequence_id,
        run_id,
        user_id,
        wandb_digest,
        description,
        metadata,
        list(aliases),
        ttl_seconds,
        client_id,
    )
    return from_record(ArtifactUpload, row)


SELECT_UPLOAD = f"""
SELECT {UPLOAD_COLUMNS} FROM artifact_uploads u JOIN collections col ON col.id = u.sequence_id
WHERE u.id = $1 AND u.version_id IS NULL
"""
LOCK_UPLOAD = f"{SELECT_UPLOAD} FOR UPDATE OF u"


async def upload(conn: Executor, upload_id: int, *, lock: bool = False) -> ArtifactUpload | None:
    """The upload while it is pending; locked until the transaction ends when `lock` (a commit
    takes it once)."""
    row = await conn.fetchrow(LOCK_UPLOAD if lock else SELECT_UPLOAD, upload_id)
    return None if row is None else from_record(ArtifactUpload, row)


SET_MANIFEST = "UPDATE artifact_uploads SET manifest_sha256 = $2 WHERE id = $1"


async def set_manifest(conn: Connection, upload_id: int, sha256: str) -> None:
    await conn.execute(SET_MANIFEST, upload_id, sha256)


DELETE_UPLOAD = "DELETE FROM artifact_uploads WHERE id = $1"
# Its content was logged already: the upload's id names that version from now on.
SET_VERSION = "UPDATE artifact_uploads SET version_id = $2, manifest_sha256 = NULL WHERE id = $1"


async def finish_upload(conn: Connection, upload_id: int, version_id: int) -> None:
    """Ends a committed upload: gone when its id became the version's, else kept to name the
    version its content was found in."""
    if version_id == upload_id:
        await conn.execute(DELETE_UPLOAD, upload_id)
    else:
        await conn.execute(SET_VERSION, upload_id, version_id)


SELECT_COMMITTED_AS = "SELECT version_id FROM artifact_uploads WHERE id = $1"


async def committed_as(conn: Executor, upload_id: int) -> int | None:
    """The version an upload committed into under another id, if it did."""
    found: int | None = await conn.fetchval(SELECT_COMMITTED_AS, upload_id)
    return found


COUNT_RUN_UPLOADS = """
SELECT count(*) FROM artifact_uploads WHERE run_id = $1 AND version_id IS NULL
"""
COUNT_USER_UPLOADS = """
SELECT count(*) FROM artifact_uploads WHERE user_id = $1 AND run_id IS NULL AND version_id IS NULL
"""


async def pending_of_run(conn: Executor, run_id: int) -> int:
    count: int = await conn.fetchval(COUNT_RUN_UPLOADS, run_id)
    return count


async def pending_of_user(conn: Executor, user_id: int) -> int:
    """The user's pending uploads that no run logs."""
    count: int = await conn.fetchval(COUNT_USER_UPLOADS, user_id)
    return count


DELETE_ABANDONED = """
DELETE FROM artifact_uploads
WHERE created_at < clock_timestamp() - $1::interval AND version_id IS NULL
RETURNING id
"""


async def delete_abandoned(conn: Executor, older_than: timedelta) -> int:
    """Forgets uploads never committed: their bytes are then unreferenced like any others."""
    return len(await conn.fetch(DELETE_ABANDONED, older_than))


# The version the sequence holds for content the SDK logged with this digest.
SELECT_VERSION_BY_WANDB_DIGEST = """
SELECT v.id FROM artifact_contents c
JOIN artifact_versions v ON v.content_id = c.id AND v.collection_id = c.sequence_id
WHERE c.sequence_id = $1 AND c.wandb_digest = $2
"""


async def version_by_wandb_digest(conn: Executor, sequence_id: int, digest: str) -> int | None:
    version_id: int | None = await conn.fetchval(
        SELECT_VERSION_BY_WANDB_DIGEST, sequence_id, digest
    )
    return version_id


# A client ID names an upload while it is pending, then the version it became.
SELECT_BY_CLIENT_ID = """
SELECT coalesce(u.version_id, u.id) AS id, col.organization_id FROM artifact_uploads u
JOIN collections col ON col.id = u.sequence_id WHERE u.client_id = $1
UNION ALL
SELECT v.id, col.organization_id FROM artifact_contents c
JOIN artifact_versions v ON v.content_id = c.id AND v.collection_id = c.sequence_id
JOIN collections col ON col.id = c.sequence_id
WHERE c.client_id = $1
LIMIT 1
"""


async def id_by_client_id(conn: Executor, client_id: str) -> tuple[int, int] | None:
    """(id, organization id) of the upload or version made with this client ID."""
    row = await conn.fetchrow(SELECT_BY_CLIENT_ID, client_id)
    return None if row is None else (row["id"], row["organization_id"])
