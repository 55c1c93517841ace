"""Collections: a registry's collections and a project's artifact sequences share one table, with
their tags, the lock that serialises changes to one collection, and its next version index."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import Collection, from_record, records_by_id, records_by_pair

COLLECTION_COLUMNS = """col.id, col.organization_id, col.registry_id, col.project_id, col.name,
col.artifact_type, col.description, col.created_at"""

SELECT_COLLECTIONS_BY_ID = f"""
SELECT {COLLECTION_COLUMNS} FROM collections col WHERE col.id = ANY($1::bigint[])
"""


async def collections_by_id(conn: Executor, ids: Sequence[int]) -> list[Collection | None]:
    return await records_by_id(conn, SELECT_COLLECTIONS_BY_ID, ids, Collection)


PARENT_AND_NAME = ("key_parent_id", "key_name")
SELECT_COLLECTIONS_BY_REGISTRY_NAME = f"""
SELECT k.parent_id AS key_parent_id, k.name AS key_name, {COLLECTION_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(parent_id, name)
JOIN collections col ON col.registry_id = k.parent_id AND col.name = k.name
"""

SELECT_SEQUENCES_BY_PROJECT_NAME = f"""
SELECT k.parent_id AS key_parent_id, k.name AS key_name, {COLLECTION_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(parent_id, name)
JOIN collections col ON col.project_id = k.parent_id AND col.name = k.name
"""


async def collections_by_registry_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Collection | None]:
    return await records_by_pair(
        conn, SELECT_COLLECTIONS_BY_REGISTRY_NAME, keys, PARENT_AND_NAME, Collection
    )


async def sequences_by_project_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Collection | None]:
    return await records_by_pair(
        conn, SELECT_SEQUENCES_BY_PROJECT_NAME, keys, PARENT_AND_NAME, Collection
    )


SELECT_TAGS_BY_COLLECTION = """
SELECT collection_id, array_agg(tag ORDER BY tag) AS tags FROM collection_tags
WHERE collection_id = ANY($1::bigint[]) GROUP BY collection_id
"""


async def tags_by_collection(conn: Executor, ids: Sequence[int]) -> list[list[str]]:
    rows = await conn.fetch(SELECT_TAGS_BY_COLLECTION, list(ids))
    found = {row["collection_id"]: row["tags"] for row in rows}
    return [found.get(i, []) for i in ids]


COLLECTIONS_BY_REGISTRY: ListSpec[Collection] = ListSpec(
    name="registry.collections",
    columns=COLLECTION_COLUMNS,
    source="FROM collections col WHERE col.registry_id = p.parent_id",
    keys=(SortKey("col.created_at", "timestamptz"), SortKey("col.id", "bigint")),
    descending=True,
    record=lambda row: from_record(Collection, row),
)

# Collections across registries (a search scopes them to the registries the caller may see).
REGISTRY_COLLECTIONS: ListSpec[Collection] = ListSpec(
    name="collections",
    columns=COLLECTION_COLUMNS,
    source="FROM collections col JOIN registries r ON r.id = col.registry_id "
    "WHERE col.registry_id IS NOT NULL",
    keys=(SortKey("col.created_at", "timestamptz"), SortKey("col.id", "bigint")),
    descending=True,
    record=lambda row: from_record(Collection, row),
)

SEQUENCES_BY_PROJECT: ListSpec[Collection] = ListSpec(
    name="project.artifactSequences",
    columns=COLLECTION_COLUMNS,
    source="FROM collections col WHERE col.project_id = p.parent_id",
    keys=(SortKey("col.name", "text"),),
    descending=False,
    record=lambda row: from_record(Collection, row),
    # Only those of one artifact type, when given.
    filter="col.artifact_type = $filter::text",
)

SELECT_SEQUENCE_TYPES = """
SELECT DISTINCT col.artifact_type FROM collections col WHERE col.project_id = $1 ORDER BY 1
"""


async def sequence_types(conn: Executor, project_id: int) -> list[str]:
    """The artifact types a project has logged."""
    return [row["artifact_type"] for row in await conn.fetch(SELECT_SEQUENCE_TYPES, project_id)]


INSERT_COLLECTION = f"""
INSERT INTO collections AS col (organization_id, registry_id, project_id, name, artifact_type,
                                description)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING {COLLECTION_COLUMNS}
"""


async def insert_collection(
    conn: Connection,
    *,
    organization_id: int,
    registry_id: int | None,
    project_id: int | None,
    name: str,
    artifact_type: str,
    description: str,
) -> Collection | None:
    """The new collection, or None when the name is taken in that registry or project."""
    row = await conn.fetchrow(
        INSERT_COLLECTION,
        organization_id,
        registry_id,
        project_id,
        name,
        artifact_type,
        description,
    )
    return None if row is None else from_record(Collection, row)


SELECT_REGISTRY_COLLECTION = f"""
SELECT {COLLECTION_COLUMNS} FROM collections col WHERE col.registry_id = $1 AND col.name = $2
"""
SELECT_PROJECT_SEQUENCE = f"""
SELECT {COLLECTION_COLUMNS} FROM collections col WHERE col.project_id = $1 AND col.name = $2
"""


async def collection_in_registry(
    conn: Connection, registry_id: int, name: str
) -> Collection | None:
    row = await conn.fetchrow(SELECT_REGISTRY_COLLECTION, registry_id, name)
    return None if row is None else from_record(Collection, row)


async def sequence_in_project(conn: Connection, project_id: int, name: str) -> Collection | None:
    row = await conn.fetchrow(SELECT_PROJECT_SEQUENCE, project_id, name)
    return None if row is None else from_record(Collection, row)


TAKE_NEXT_INDEX = """
UPDATE collections SET next_index = next_index + 1 WHERE id = $1 RETURNING next_index - 1
"""


async def take_next_index(conn: Connection, collection_id: int) -> int:
    """The collection's next version index. The row lock it takes serialises concurrent links
    to one collection until the transaction ends, so no two can share an index."""
    index: int = await conn.fetchval(TAKE_NEXT_INDEX, collection_id)
    return index


INSERT_COLLECTION_TAGS = """
INSERT INTO collection_tags (collection_id, tag)
SELECT $1, t FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING
RETURNING tag
"""


async def add_collection_tags(
    conn: Connection, collection_id: int, tags: Sequence[str]
) -> list[str]:
    """The tags that were not there yet."""
    rows = await conn.fetch(INSERT_COLLECTION_TAGS, collection_id, list(tags))
    return [r["tag"] for r in rows]


LOCK_COLLECTION = "SELECT id FROM collections WHERE id = $1 FOR NO KEY UPDATE"


async def lock_collection(conn: Connection, collection_id: int) -> bool:
    """Serialises changes to one collection's versions and aliases until the transaction ends;
    statements after it see every change committed before. False when the collection is gone
    (a concurrent delete committed while this waited)."""
    locked = await conn.fetchval(LOCK_COLLECTION, collection_id)
    return locked is not None


UPDATE_COLLECTION = f"""
UPDATE collections AS col SET name = coalesce($2, name), description = coalesce($3, description)
WHERE id = $1
RETURNING {COLLECTION_COLUMNS}
"""


async def update_collection(
    conn: Connection, collection_id: int, *, name: str | None, description: str | None
) -> Collection | None:
    """The updated collection, or None when the new name is taken (nothing is changed)."""
    try:
        async with conn.transaction():
            row = await fetch_one(conn, UPDATE_COLLECTION, collection_id, name, description)
    except asyncpg.UniqueViolationError:
        return None
    return from_record(Collection, row)


LOCK_SEQUENCE_CONTENTS = """
SELECT id FROM artifact_contents WHERE sequence_id = $1 ORDER BY id FOR UPDATE
"""


async def lock_sequence_contents(conn: Connection, sequence_id: int) -> list[int]:
    """The contents logged to a sequence, locked for its deletion: a link of any of them waits
    for the deletion, or the deletion for it."""
    return [row["id"] for row in await conn.fetch(LOCK_SEQUENCE_CONTENTS, sequence_id)]


DELETE_COLLECTION = "DELETE FROM collections WHERE id = $1 RETURNING id"


async def delete_collection(conn: Connection, collection_id: int) -> bool:
    """False when there was nothing to delete (a concurrent delete came first)."""
    return await conn.fetchval(DELETE_COLLECTION, collection_id) is not None


DELETE_COLLECTION_TAGS = """
DELETE FROM collection_tags WHERE collection_id = $1 AND tag = ANY($2::text[]) RETURNING tag
"""


async def remove_collection_tags(
    conn: Connection, collection_id: int, tags: Sequence[str]
) -> list[str]:
    """The tags that were there."""
    rows = await conn.fetch(DELETE_COLLECTION_TAGS, collection_id, list(tags))
    return [r["tag"] for r in rows]


# The names an event's webhook payload shows for a registry collection.
SELECT_COLLECTION_NAMES = """
SELECT o.name AS organization, r.name AS registry, col.name AS collection
FROM collections AS col
JOIN registries AS r ON r.id = col.registry_id
JOIN organizations AS o ON o.id = col.organization_id
WHERE col.id = $1
"""


async def collection_names(conn: Executor, collection_id: int) -> tuple[str, str, str]:
    """(organization, registry, collection) names of a registry collection."""
    row = await fetch_one(conn, SELECT_COLLECTION_NAMES, collection_id)
    return row["organization"], row["registry"], row["collection"]
