"""Artifact versions, the content they point at and its files, aliases and version tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import ArtifactFile, ArtifactVersion, from_record, records_by_id, records_by_pair
from db.registries import VISIBLE_REGISTRY

VERSION_COLUMNS = """v.id, col.organization_id, v.collection_id, col.registry_id, v.content_id,
v.version_index, v.linked_by, v.linked_at, c.sequence_id, col.artifact_type, c.digest, c.size,
c.metadata, v.description, c.created_by_run_id, c.created_at, c.ttl_seconds, c.expires_at,
c.files_deleted_at, c.wandb_digest"""

VERSION_SOURCE = """FROM artifact_versions v
JOIN artifact_contents c ON c.id = v.content_id
JOIN collections col ON col.id = v.collection_id"""


def _version(row: asyncpg.Record) -> ArtifactVersion:
    return from_record(ArtifactVersion, row)


SELECT_VERSIONS_BY_ID = f"SELECT {VERSION_COLUMNS} {VERSION_SOURCE} WHERE v.id = ANY($1::bigint[])"


async def versions_by_id(conn: Executor, ids: Sequence[int]) -> list[ArtifactVersion | None]:
    return await records_by_id(conn, SELECT_VERSIONS_BY_ID, ids, ArtifactVersion)


SELECT_VERSIONS_BY_COLLECTION_INDEX = f"""
SELECT k.collection_id AS key_collection_id, k.version_index AS key_index, {VERSION_COLUMNS}
FROM unnest($1::bigint[], $2::integer[]) AS k(collection_id, version_index)
JOIN artifact_versions v ON v.collection_id = k.collection_id AND v.version_index = k.version_index
JOIN artifact_contents c ON c.id = v.content_id
JOIN collections col ON col.id = v.collection_id
"""


async def versions_by_collection_index(
    conn: Executor, keys: Sequence[tuple[int, int]]
) -> list[ArtifactVersion | None]:
    key_columns = ("key_collection_id", "key_index")
    sql = SELECT_VERSIONS_BY_COLLECTION_INDEX
    return await records_by_pair(conn, sql, keys, key_columns, ArtifactVersion)


SELECT_VERSIONS_BY_COLLECTION_ALIAS = f"""
SELECT k.collection_id AS key_collection_id, k.alias AS key_alias, {VERSION_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(collection_id, alias)
JOIN aliases a ON a.collection_id = k.collection_id AND a.alias = k.alias
JOIN artifact_versions v ON v.id = a.version_id
JOIN artifact_contents c ON c.id = v.content_id
JOIN collections col ON col.id = v.collection_id
"""


async def versions_by_collection_alias(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[ArtifactVersion | None]:
    key_columns = ("key_collection_id", "key_alias")
    sql = SELECT_VERSIONS_BY_COLLECTION_ALIAS
    return await records_by_pair(conn, sql, keys, key_columns, ArtifactVersion)


SELECT_SOURCE_VERSIONS_BY_CONTENT = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE}
WHERE v.content_id = ANY($1::bigint[]) AND v.collection_id = c.sequence_id
"""


async def source_versions_by_content(
    conn: Executor, content_ids: Sequence[int]
) -> list[ArtifactVersion | None]:
    """The logged version (in its artifact sequence) of each content."""
    rows = await conn.fetch(SELECT_SOURCE_VERSIONS_BY_CONTENT, list(content_ids))
    found = {row["content_id"]: _version(row) for row in rows}
    return [found.get(i) for i in content_ids]


SELECT_VERSIONS_BY_COLLECTION_CONTENT = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE}
JOIN unnest($1::bigint[], $2::bigint[]) AS k(collection_id, content_id)
  ON v.collection_id = k.collection_id AND v.content_id = k.content_id
"""


async def versions_by_collection_content(
    conn: Executor, keys: Sequence[tuple[int, int]]
) -> list[ArtifactVersion | None]:
    """The version of each (collection, content), if the content is in that collection."""
    rows = await conn.fetch(
        SELECT_VERSIONS_BY_COLLECTION_CONTENT, [k[0] for k in keys], [k[1] for k in keys]
    )
    found = {(row["collection_id"], row["content_id"]): _version(row) for row in rows}
    return [found.get(key) for key in keys]


SELECT_ALIASES_BY_VERSION = """
SELECT version_id, array_agg(alias ORDER BY alias) AS aliases FROM aliases
WHERE version_id = ANY($1::bigint[]) GROUP BY version_id
"""


async def aliases_by_version(conn: Executor, ids: Sequence[int]) -> list[list[str]]:
    rows = await conn.fetch(SELECT_ALIASES_BY_VERSION, list(ids))
    found = {row["version_id"]: row["aliases"] for row in rows}
    return [found.get(i, []) for i in ids]


SELECT_TAGS_BY_VERSION = """
SELECT version_id, array_agg(tag ORDER BY tag) AS tags FROM version_tags
WHERE version_id = ANY($1::bigint[]) GROUP BY version_id
"""


async def tags_by_version(conn: Executor, ids: Sequence[int]) -> list[list[str]]:
    rows = await conn.fetch(SELECT_TAGS_BY_VERSION, list(ids))
    found = {row["version_id"]: row["tags"] for row in rows}
    return [found.get(i, []) for i in ids]


SELECT_REGISTRY_IDS_BY_CONTENT = """
SELECT v.content_id, array_agg(DISTINCT col.registry_id ORDER BY col.registry_id) AS registry_ids
FROM artifact_versions v JOIN collections col ON col.id = v.collection_id
WHERE v.content_id = ANY($1::bigint[]) AND col.registry_id IS NOT NULL
GROUP BY v.content_id
"""


async def registry_ids_by_content(conn: Executor, ids: Sequence[int]) -> list[list[int]]:
    """The registries each content is linked into."""
    rows = await conn.fetch(SELECT_REGISTRY_IDS_BY_CONTENT, list(ids))
    found = {row["content_id"]: row["registry_ids"] for row in rows}
    return [found.get(i, []) for i in ids]


SELECT_ALIASES_BY_COLLECTION = """
SELECT collection_id, alias, version_id, assigned_at FROM aliases
WHERE collection_id = ANY($1::bigint[]) ORDER BY collection_id, alias
"""


async def aliases_by_collection(conn: Executor, ids: Sequence[int]) -> list[list[tuple[str, int]]]:
    """Each collection's (alias, version id) pairs, by alias."""
    rows = await conn.fetch(SELECT_ALIASES_BY_COLLECTION, list(ids))
    found: dict[int, list[tuple[str, int]]] = {}
    for row in rows:
        found.setdefault(row["collection_id"], []).append((row["alias"], row["version_id"]))
    return [found.get(i, []) for i in ids]


VERSIONS_BY_COLLECTION: ListSpec[ArtifactVersion] = ListSpec(
    name="collection.versions",
    columns=VERSION_COLUMNS,
    source=f"{VERSION_SOURCE} WHERE v.collection_id = p.parent_id",
    keys=(SortKey("v.version_index", "integer"),),
    descending=True,
    record=_version,
    count_source="FROM artifact_versions v WHERE v.collection_id = p.parent_id",
)

# Versions across registries (a search scopes them to the registries the caller may see).
REGISTRY_VERSIONS: ListSpec[ArtifactVersion] = ListSpec(
    name="artifactVersions",
    columns=VERSION_COLUMNS,
    source=f"{VERSION_SOURCE} JOIN registries r ON r.id = col.registry_id "
    "WHERE col.registry_id IS NOT NULL",
    keys=(SortKey("c.created_at", "timestamptz"), SortKey("v.id", "bigint")),
    descending=True,
    record=_version,
)

# The same content in every other collection: registry links and the logged version alike.
VERSIONS_BY_CONTENT: ListSpec[ArtifactVersion] = ListSpec(
    name="artifactVersion.linkedVersions",
    columns=VERSION_COLUMNS,
    source=f"{VERSION_SOURCE} JOIN registries r ON r.id = col.registry_id "
    "WHERE v.content_id = p.parent_id",
    keys=(SortKey("v.id", "bigint"),),
    descending=False,
    record=_version,
    filter=VISIBLE_REGISTRY,
)

# What a run logged: the logged (sequence) version of each content it created.
OUTPUTS_BY_RUN: ListSpec[ArtifactVersion] = ListSpec(
    name="run.outputs",
    columns=VERSION_COLUMNS,
    source=f"{VERSION_SOURCE} WHERE c.created_by_run_id = p.parent_id "
    "AND v.collection_id = c.sequence_id",
    keys=(SortKey("c.created_at", "timestamptz"), SortKey("c.id", "bigint")),
    descending=True,
    record=_version,
)

# What a run used: the version it named, or the logged version if that one was unlinked since.
INPUTS_BY_RUN: ListSpec[ArtifactVersion] = ListSpec(
    name="run.inputs",
    columns=VERSION_COLUMNS,
    source="""FROM run_inputs ri
JOIN artifact_contents c ON c.id = ri.content_id
JOIN artifact_versions v ON v.id = coalesce(ri.version_id,
    (SELECT sv.id FROM artifact_versions sv
     WHERE sv.content_id = c.id AND sv.collection_id = c.sequence_id))
JOIN collections col ON col.id = v.collection_id
LEFT JOIN registries r ON r.id = col.registry_id
WHERE ri.run_id = p.parent_id""",
    keys=(SortKey("ri.used_at", "timestamptz"), SortKey("ri.content_id", "bigint")),
    descending=True,
    record=_version,
    filter=f"(col.registry_id IS NULL OR {VISIBLE_REGISTRY})",
)

FILES_BY_CONTENT: ListSpec[ArtifactFile] = ListSpec(
    name="artifactVersion.files",
    columns="f.content_id, f.path, f.digest, f.size, f.sha256, b.md5, f.ref",
    source="FROM artifact_files f LEFT JOIN blobs b ON b.sha256 = f.sha256 "
    "WHERE f.content_id = p.parent_id",
    keys=(SortKey("f.path", "text"),),
    descending=False,
    record=lambda row: from_record(ArtifactFile, row),
    # Only the files of these paths, when given.
    filter="f.path = ANY($filter::text[])",
)


SELECT_CONTENT_BY_DIGEST = "SELECT id FROM artifact_contents WHERE sequence_id = $1 AND digest = $2"
INSERT_CONTENT = """
INSERT INTO artifact_contents
    (sequence_id, digest, size, metadata, description, created_by_run_id, wandb_digest, client_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (sequence_id, digest) DO NOTHING
RETURNING id
"""
# A file's digest is the SHA-256 of its stored bytes, except for a reference, which has none.
INSERT_FILES = """
INSERT INTO artifact_files (content_id, path, digest, size, sha256, ref)
SELECT $1, f.path, f.digest, f.size, CASE WHEN f.ref IS NULL THEN f.digest END, f.ref
FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS f(path, digest, size, ref)
"""


async def insert_content(
    conn: Connection,
    *,
    sequence_id: int,
    digest: str,
    files: Sequence[tuple[str, str, int, str | None]],
    metadata: dict[str, object],
    description: str,
    created_by_run_id: int | None,
    wandb_digest: str | None = None,
    client_id: str | None = None,
) -> int | None:
    """The new content's id, or None when the sequence already holds this digest. Each file is
    (path, digest, size, reference URI or None)."""
    size = sum(f[2] for f in files)
    content_id: int | None = await conn.fetchval(
        INSERT_CONTENT,
        sequence_id,
        digest,
        size,
        metadata,
        description,
        created_by_run_id,
        wandb_digest,
        client_id,
    )
    if content_id is not None:
        await conn.execute(
            INSERT_FILES,
            content_id,
            [f[0] for f in files],
            [f[1] for f in files],
            [f[2] for f in files],
            [f[3] for f in files],
        )
    return content_id


async def content_by_digest(conn: Connection, sequence_id: int, digest: str) -> int | None:
    content_id: int | None = await conn.fetchval(SELECT_CONTENT_BY_DIGEST, sequence_id, digest)
    return content_id


# A time to live counts from when the content was logged; NULL removes it.
SET_CONTENT_TTL = """
UPDATE artifact_contents
SET ttl_seconds = $2, expires_at = created_at + $2::bigint * interval '1 second'
WHERE id = $1
"""


async def set_content_ttl(conn: Connection, content_id: int, ttl_seconds: int | None) -> None:
    await conn.execute(SET_CONTENT_TTL, content_id, ttl_seconds)


# Logged again after its files were let go: the files refer to their bytes again (which the
# caller has checked are stored), and the time to live that let them go is gone.
RESTORE_CONTENT_FILES = """
WITH restored AS (UPDATE artifact_files SET sha256 = digest WHERE content_id = $1)
UPDATE artifact_contents SET files_deleted_at = NULL, ttl_seconds = NULL, expires_at = NULL
WHERE id = $1
"""


async def restore_content_files(conn: Connection, content_id: int) -> None:
    await conn.execute(RESTORE_CONTENT_FILES, content_id)


# Contents whose time to live has passed and that no protected alias holds.
_EXPIRED = """
SELECT c.id FROM artifact_contents c
WHERE c.expires_at <= clock_timestamp() AND c.files_deleted_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM artifact_versions v
    JOIN aliases a ON a.version_id = v.id
    JOIN collections col ON col.id = v.collection_id
    JOIN registry_protected_aliases p ON p.registry_id = col.registry_id AND p.alias = a.alias
    WHERE v.content_id = c.id)
"""
SELECT_EXPIRED = f"{_EXPIRED} ORDER BY c.expires_at LIMIT $1"
# Locked, skipping those a transaction giving one of their versions an alias holds.
LOCK_EXPIRED = f"{SELECT_EXPIRED} FOR UPDATE OF c SKIP LOCKED"
# The registries holding versions of them, so that no alias becomes protected meanwhile (a
# change of protected aliases updates its registry's row).
LOCK_HOLDING_REGISTRIES = """
SELECT r.id FROM registries r WHERE r.id IN (
    SELECT col.registry_id FROM artifact_versions v
    JOIN collections col ON col.id = v.collection_id
    WHERE v.content_id = ANY($1::bigint[]) AND col.registry_id IS NOT NULL)
ORDER BY r.id FOR SHARE OF r
"""
# Checked again after the locks, in a statement of its own (which sees everything committed
# before them): the files let go of their bytes, the contents marked.
LET_GO_OF_FILES = f"""
WITH expiring AS ({_EXPIRED} AND c.id = ANY($1::bigint[])),
cleared AS (UPDATE artifact_files f SET sha256 = NULL FROM expiring e WHERE f.content_id = e.id)
UPDATE artifact_contents c SET files_deleted_at = clock_timestamp()
FROM expiring e WHERE c.id = e.id
RETURNING c.id
"""
SELECT_REGISTRY_VERSIONS_OF = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE}
WHERE v.content_id = ANY($1::bigint[]) AND col.registry_id IS NOT NULL ORDER BY v.id
"""


async def expired_contents(conn: Executor, limit: int) -> list[int]:
    return [row["id"] for row in await conn.fetch(SELECT_EXPIRED, limit)]


@dataclass(frozen=True, slots=True)
class Expired:
    candidates: int  # contents considered (`limit` of them when there may be more)
    contents: list[int]  # those whose files were let go
    registry_versions: list[ArtifactVersion]  # their versions in registries, for the histories


async def expire_contents_txn(conn: Connection, limit: int) -> Expired:
    """Lets go of the files of up to `limit` contents whose time to live has passed."""
    candidates = [row["id"] for row in await conn.fetch(LOCK_EXPIRED, limit)]
    if not candidates:
        return Expired(0, [], [])
    await conn.execute(LOCK_HOLDING_REGISTRIES, candidates)
    expired = [row["id"] for row in await conn.fetch(LET_GO_OF_FILES, candidates)]
    rows = await conn.fetch(SELECT_REGISTRY_VERSIONS_OF, expired)
    return Expired(len(candidates), expired, [_version(row) for row in rows])


INSERT_VERSION = """
INSERT INTO artifact_versions
    (id, collection_id, content_id, version_index, linked_by, description)
VALUES (coalesce($6, nextval('artifact_versions_id_seq')), $1, $2, $3, $4, $5) RETURNING id
"""
SELECT_VERSION_BY_CONTENT = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE} WHERE v.collection_id = $1 AND v.content_id = $2
"""
SELECT_VERSION = f"SELECT {VERSION_COLUMNS} {VERSION_SOURCE} WHERE v.id = $1"


async def insert_version(
    conn: Connection,
    collection_id: int,
    content_id: int,
    index: int,
    linked_by: int | None,
    description: str,
    version_id: int | None = None,
) -> ArtifactVersion | None:
    """The new version (with `version_id` when given, an id taken from the versions' own
    sequence); None when the content was deleted meanwhile, after which the transaction cannot
    go on. The foreign key's check share-locks the content's row, so a
    concurrent deletion (which locks it for update) either waits for this insert and then sees
    the version, or commits first and fails it."""
    try:
        version_id = await conn.fetchval(
            INSERT_VERSION, collection_id, content_id, index, linked_by, description, version_id
        )
    except asyncpg.ForeignKeyViolationError:
        return None
    row = await fetch_one(conn, SELECT_VERSION, version_id)
    return _version(row)


async def version_of_content(
    conn: Connection, collection_id: int, content_id: int
) -> ArtifactVersion | None:
    row = await conn.fetchrow(SELECT_VERSION_BY_CONTENT, collection_id, content_id)
    return None if row is None else _version(row)


async def version_for_write(conn: Connection, version_id: int) -> ArtifactVersion | None:
    row = await conn.fetchrow(SELECT_VERSION, version_id)
    return None if row is None else _version(row)


# Moves (or adds) an alias to a version, closing the previous holder's history entry. Returns the
# previous holder, NULL when the alias was free. The upsert takes the alias row's lock, so
# concurrent moves of one alias apply one after another.
ASSIGN_ALIAS = """
WITH previous AS (
    SELECT a.version_id, v.version_index FROM aliases a
    JOIN artifact_versions v ON v.id = a.version_id
    WHERE a.collection_id = $1 AND a.alias = $2 FOR UPDATE OF a
), upsert AS (
    INSERT INTO aliases (collection_id, alias, version_id, assigned_at)
    VALUES ($1, $2, $3, clock_timestamp())
    ON CONFLICT (collection_id, alias)
    DO UPDATE SET version_id = EXCLUDED.version_id, assigned_at = EXCLUDED.assigned_at
    WHERE aliases.version_id <> EXCLUDED.version_id
    RETURNING assigned_at
), closed AS (
    UPDATE alias_history SET removed_at = (SELECT assigned_at FROM upsert)
    WHERE collection_id = $1 AND alias = $2 AND removed_at IS NULL
      AND EXISTS (SELECT 1 FROM upsert)
), opened AS (
    INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at)
    SELECT $1, $2, $3, (SELECT version_index FROM artifact_versions WHERE id = $3), assigned_at
    FROM upsert
), content AS (
    -- Held until the transaction ends, so that the content's files are not let go at the end
    -- of a time to live while a protected alias arrives.
    SELECT c.id FROM artifact_contents c JOIN artifact_versions v ON v.content_id = c.id
    WHERE v.id = $3 FOR KEY SHARE OF c
)
SELECT (SELECT version_index FROM previous) AS previous_index,
       EXISTS (SELECT 1 FROM upsert) AS changed,
       EXISTS (SELECT 1 FROM content) AS held
"""


async def assign_alias(
    conn: Connection, collection_id: int, alias: str, version_id: int
) -> tuple[int | None, bool]:
    """(the previous holder's version index, whether anything changed)."""
    row = await fetch_one(conn, ASSIGN_ALIAS, collection_id, alias, version_id)
    return row["previous_index"], row["changed"]


INSERT_VERSION_TAGS = """
INSERT INTO version_tags (version_id, tag)
SELECT $1, t FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING
RETURNING tag
"""


async def add_version_tags(conn: Connection, version_id: int, tags: Sequence[str]) -> list[str]:
    """The tags that were not there yet."""
    return [r["tag"] for r in await conn.fetch(INSERT_VERSION_TAGS, version_id, list(tags))]


REMOVE_ALIAS = """
WITH removed AS (
    DELETE FROM aliases WHERE collection_id = $1 AND alias = $2 AND version_id = $3
    RETURNING alias
), closed AS (
    UPDATE alias_history SET removed_at = clock_timestamp()
    WHERE collection_id = $1 AND alias = $2 AND version_id = $3 AND removed_at IS NULL
      AND EXISTS (SELECT 1 FROM removed)
)
SELECT EXISTS (SELECT 1 FROM removed)
"""


async def remove_alias(conn: Connection, collection_id: int, alias: str, version_id: int) -> bool:
    """Takes `alias` off the version; False when the version did not hold it."""
    removed: bool = await conn.fetchval(REMOVE_ALIAS, collection_id, alias, version_id)
    return removed


DELETE_VERSION = "DELETE FROM artifact_versions WHERE id = $1"


async def delete_version(conn: Connection, version_id: int) -> None:
    await conn.execute(DELETE_VERSION, version_id)


# A content row locked for its deletion: a concurrent link's insert share-locks it through the
# foreign key, so a link waits for the deletion or the deletion for it.
LOCK_CONTENT = "SELECT id FROM artifact_contents WHERE id = $1 FOR UPDATE"
DELETE_CONTENT = "DELETE FROM artifact_contents WHERE id = $1"


async def lock_content(conn: Connection, content_id: int) -> bool:
    """False when the content is gone."""
    return await conn.fetchval(LOCK_CONTENT, content_id) is not None


async def delete_content(conn: Connection, content_id: int) -> None:
    """Deletes logged content with its files and every version of it (only its logged one,
    when the caller checked it is linked nowhere) and the runs' uses of it; bytes no file
    refers to any more are collected later."""
    await conn.execute(DELETE_CONTENT, content_id)


SELECT_NEWEST_VERSION = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE}
WHERE v.collection_id = $1 ORDER BY v.version_index DESC LIMIT 1
"""


async def newest_version(conn: Connection, collection_id: int) -> ArtifactVersion | None:
    row = await conn.fetchrow(SELECT_NEWEST_VERSION, collection_id)
    return None if row is None else _version(row)


DELETE_VERSION_TAGS = """
DELETE FROM version_tags WHERE version_id = $1 AND tag = ANY($2::text[]) RETURNING tag
"""


async def remove_version_tags(conn: Connection, version_id: int, tags: Sequence[str]) -> list[str]:
    """The tags that were there."""
    return [r["tag"] for r in await conn.fetch(DELETE_VERSION_TAGS, version_id, list(tags))]


UPDATE_VERSION_DESCRIPTION = "UPDATE artifact_versions SET description = $2 WHERE id = $1"


async def update_version_description(conn: Connection, version_id: int, description: str) -> None:
    await conn.execute(UPDATE_VERSION_DESCRIPTION, version_id, description)


UPDATE_CONTENT_METADATA = "UPDATE artifact_contents SET metadata = $2 WHERE id = $1"


async def set_content_metadata(conn: Connection, content_id: int, metadata: dict[str, Any]) -> None:
    """Replaces a content's metadata, for every version of it."""
    await conn.execute(UPDATE_CONTENT_METADATA, content_id, metadata)


SELECT_REGISTRY_VERSIONS_OF_CONTENTS = f"""
SELECT {VERSION_COLUMNS} {VERSION_SOURCE}
WHERE v.content_id = ANY($1::bigint[]) AND col.registry_id IS NOT NULL
ORDER BY v.content_id, v.id
"""


async def registry_versions_of_contents(
    conn: Executor, content_ids: Sequence[int]
) -> list[ArtifactVersion]:
    """Every registry version pointing at any of the contents: what a bad input affects."""
    rows = await conn.fetch(SELECT_REGISTRY_VERSIONS_OF_CONTENTS, list(content_ids))
    return [_version(row) for row in rows]


SELECT_CONTENTS_FULLY_STORED = """
SELECT content_id, bool_and(sha256 IS NOT NULL) AS stored FROM artifact_files
WHERE content_id = ANY($1::bigint[]) GROUP BY content_id
"""


async def contents_fully_stored(conn: Executor, ids: Sequence[int]) -> list[bool]:
    """Whether the store holds the bytes of every file of each content (files logged before
    Cairn stored bytes have none)."""
    rows = await conn.fetch(SELECT_CONTENTS_FULLY_STORED, list(ids))
    found = {row["content_id"]: row["stored"] for row in rows}
    return [found.get(i, False) for i in ids]
