"""Registries, their collections, and projects' artifact sequences (collections of a project)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import Collection, Registry, RegistryMember, from_record

REGISTRY_COLUMNS = """r.id, r.organization_id, r.name, r.description,
r.visibility::text AS visibility, r.accepts_all_types, r.is_core, r.created_at,
ARRAY(SELECT t.artifact_type FROM registry_accepted_types t
      WHERE t.registry_id = r.id ORDER BY t.artifact_type) AS accepted_types,
ARRAY(SELECT a.alias FROM registry_protected_aliases a
      WHERE a.registry_id = r.id ORDER BY a.alias) AS protected_aliases"""

COLLECTION_COLUMNS = """col.id, col.organization_id, col.registry_id, col.project_id, col.name,
col.artifact_type, col.description, col.created_at"""

SELECT_REGISTRIES_BY_ID = f"""
SELECT {REGISTRY_COLUMNS} FROM registries r WHERE r.id = ANY($1::bigint[])
"""


async def registries_by_id(conn: Executor, ids: Sequence[int]) -> list[Registry | None]:
    rows = await conn.fetch(SELECT_REGISTRIES_BY_ID, list(ids))
    found = {row["id"]: from_record(Registry, row) for row in rows}
    return [found.get(i) for i in ids]


SELECT_REGISTRIES_BY_ORGANIZATION_NAME = f"""
SELECT k.organization_id AS key_organization_id, k.name AS key_name, {REGISTRY_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(organization_id, name)
JOIN registries r ON r.organization_id = k.organization_id AND lower(r.name) = lower(k.name)
"""


async def registries_by_organization_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Registry | None]:
    """Registries by (organization id, name); names match case-insensitively."""
    rows = await conn.fetch(
        SELECT_REGISTRIES_BY_ORGANIZATION_NAME, [k[0] for k in keys], [k[1] for k in keys]
    )
    found = {(r["key_organization_id"], r["key_name"]): from_record(Registry, r) for r in rows}
    return [found.get(k) for k in keys]


SELECT_COLLECTIONS_BY_ID = f"""
SELECT {COLLECTION_COLUMNS} FROM collections col WHERE col.id = ANY($1::bigint[])
"""


async def collections_by_id(conn: Executor, ids: Sequence[int]) -> list[Collection | None]:
    rows = await conn.fetch(SELECT_COLLECTIONS_BY_ID, list(ids))
    found = {row["id"]: from_record(Collection, row) for row in rows}
    return [found.get(i) for i in ids]


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


async def _collections_by_parent_name(
    conn: Executor, sql: str, keys: Sequence[tuple[int, str]]
) -> list[Collection | None]:
    rows = await conn.fetch(sql, [k[0] for k in keys], [k[1] for k in keys])
    found = {(r["key_parent_id"], r["key_name"]): from_record(Collection, r) for r in rows}
    return [found.get(k) for k in keys]


async def collections_by_registry_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Collection | None]:
    return await _collections_by_parent_name(conn, SELECT_COLLECTIONS_BY_REGISTRY_NAME, keys)


async def sequences_by_project_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Collection | None]:
    return await _collections_by_parent_name(conn, SELECT_SEQUENCES_BY_PROJECT_NAME, keys)


SELECT_TAGS_BY_COLLECTION = """
SELECT collection_id, array_agg(tag ORDER BY tag) AS tags FROM collection_tags
WHERE collection_id = ANY($1::bigint[]) GROUP BY collection_id
"""


async def tags_by_collection(conn: Executor, ids: Sequence[int]) -> list[list[str]]:
    rows = await conn.fetch(SELECT_TAGS_BY_COLLECTION, list(ids))
    found = {row["collection_id"]: row["tags"] for row in rows}
    return [found.get(i, []) for i in ids]


# Restricted registries are listed only to those with a role in them: `$filter` holds the ids of
# the registries where the caller has one (no filter at all for organization admins).
VISIBLE_REGISTRY = "(r.visibility = 'ORGANIZATION' OR r.id = ANY($filter::bigint[]))"

REGISTRIES_BY_ORGANIZATION: ListSpec[Registry] = ListSpec(
    name="organization.registries",
    columns=REGISTRY_COLUMNS,
    source="FROM registries r WHERE r.organization_id = p.parent_id",
    keys=(SortKey("lower(r.name)", "text"),),
    descending=False,
    record=lambda row: from_record(Registry, row),
    filter=VISIBLE_REGISTRY,
)

COLLECTIONS_BY_REGISTRY: ListSpec[Collection] = ListSpec(
    name="registry.collections",
    columns=COLLECTION_COLUMNS,
    source="FROM collections col WHERE col.registry_id = p.parent_id",
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
)


INSERT_REGISTRY = """
INSERT INTO registries (organization_id, name, description, visibility, accepts_all_types,
                        is_core, created_by)
VALUES ($1, $2, $3, $4::registry_visibility, $5, $6, $7)
ON CONFLICT DO NOTHING
RETURNING id
"""
INSERT_ACCEPTED_TYPES = """
INSERT INTO registry_accepted_types (registry_id, artifact_type)
SELECT $1, t FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING
"""
INSERT_PROTECTED_ALIASES = """
INSERT INTO registry_protected_aliases (registry_id, alias)
SELECT $1, a FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING
"""
SELECT_REGISTRY_FOR_UPDATE = f"SELECT {REGISTRY_COLUMNS} FROM registries r WHERE r.id = $1"


async def insert_registry(
    conn: Connection,
    *,
    organization_id: int,
    name: str,
    description: str,
    visibility: str,
    accepted_types: Sequence[str],
    accepts_all_types: bool,
    protected_aliases: Sequence[str],
    is_core: bool,
    created_by: int | None,
) -> Registry | None:
    """The new registry, or None when the organization has one of that name (in any case):
    concurrent creators of one name then get None instead of a unique violation."""
    registry_id = await conn.fetchval(
        INSERT_REGISTRY,
        organization_id,
        name,
        description,
        visibility,
        accepts_all_types,
        is_core,
        created_by,
    )
    if registry_id is None:
        return None
    await conn.execute(INSERT_ACCEPTED_TYPES, registry_id, list(accepted_types))
    await conn.execute(INSERT_PROTECTED_ALIASES, registry_id, list(protected_aliases))
    row = await fetch_one(conn, SELECT_REGISTRY_FOR_UPDATE, registry_id)
    return from_record(Registry, row)


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


UPSERT_REGISTRY_USER_ROLE = """
INSERT INTO registry_user_roles (registry_id, user_id, role) VALUES ($1, $2, $3::registry_role)
ON CONFLICT (registry_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""


async def set_registry_user_role(
    conn: Connection, registry_id: int, user_id: int, role: str
) -> None:
    await conn.execute(UPSERT_REGISTRY_USER_ROLE, registry_id, user_id, role)


UPDATE_REGISTRY = """
UPDATE registries SET description = coalesce($2, description),
    visibility = coalesce($3::registry_visibility, visibility),
    accepts_all_types = accepts_all_types OR $4
WHERE id = $1
"""
REPLACE_PROTECTED_ALIASES = """
WITH gone AS (
    DELETE FROM registry_protected_aliases WHERE registry_id = $1 AND alias <> ALL($2::text[])
)
INSERT INTO registry_protected_aliases (registry_id, alias)
SELECT $1, a FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING
"""


async def update_registry(
    conn: Connection,
    registry_id: int,
    *,
    description: str | None,
    visibility: str | None,
    accept_all_types: bool,
    add_accepted_types: Sequence[str],
    protected_aliases: Sequence[str] | None,
) -> Registry:
    await conn.execute(UPDATE_REGISTRY, registry_id, description, visibility, accept_all_types)
    await conn.execute(INSERT_ACCEPTED_TYPES, registry_id, list(add_accepted_types))
    if protected_aliases is not None:
        await conn.execute(REPLACE_PROTECTED_ALIASES, registry_id, list(protected_aliases))
    return from_record(Registry, await fetch_one(conn, SELECT_REGISTRY_FOR_UPDATE, registry_id))


async def registry_for_update(conn: Connection, registry_id: int) -> Registry | None:
    row = await conn.fetchrow(SELECT_REGISTRY_FOR_UPDATE + " FOR NO KEY UPDATE", registry_id)
    return None if row is None else from_record(Registry, row)


DELETE_REGISTRY = "DELETE FROM registries WHERE id = $1 RETURNING id"


async def delete_registry(conn: Connection, registry_id: int) -> bool:
    """False when there was nothing to delete (a concurrent delete came first)."""
    return await conn.fetchval(DELETE_REGISTRY, registry_id) is not None


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


SELECT_REGISTRY_IDS_WITH_ROLE = """
SELECT k.user_id, ARRAY(
    SELECT ur.registry_id FROM registry_user_roles ur WHERE ur.user_id = k.user_id
    UNION
    SELECT tr.registry_id FROM registry_team_roles tr
    JOIN team_members tm ON tm.team_id = tr.team_id WHERE tm.user_id = k.user_id
    ORDER BY 1
) AS registry_ids
FROM unnest($1::bigint[]) AS k(user_id)
"""


async def registry_ids_with_role(conn: Executor, user_ids: Sequence[int]) -> list[list[int]]:
    """For each user, the registries where they hold a role directly or through a team."""
    rows = await conn.fetch(SELECT_REGISTRY_IDS_WITH_ROLE, list(user_ids))
    found = {row["user_id"]: row["registry_ids"] for row in rows}
    return [found.get(i, []) for i in user_ids]


# The best role the user holds directly or through a team (the enum is ordered least to most).
SELECT_REGISTRY_ROLES = """
SELECT k.registry_id, k.user_id, greatest(
    (SELECT ur.role FROM registry_user_roles ur
     WHERE ur.registry_id = k.registry_id AND ur.user_id = k.user_id),
    (SELECT max(tr.role) FROM registry_team_roles tr
     JOIN team_members tm ON tm.team_id = tr.team_id
     WHERE tr.registry_id = k.registry_id AND tm.user_id = k.user_id)
)::text AS role
FROM unnest($1::bigint[], $2::bigint[]) AS k(registry_id, user_id)
"""


async def registry_roles(conn: Executor, keys: Sequence[tuple[int, int]]) -> list[str | None]:
    """The direct or team role of each (registry, user), or None."""
    rows = await conn.fetch(SELECT_REGISTRY_ROLES, [k[0] for k in keys], [k[1] for k in keys])
    found = {(r["registry_id"], r["user_id"]): r["role"] for r in rows}
    return [found.get(k) for k in keys]


MEMBERS_BY_REGISTRY: ListSpec[RegistryMember] = ListSpec(
    name="registry.members",
    columns="m.registry_id, m.user_id, m.team_id, m.role, m.created_at",
    source="""FROM (
    SELECT ur.registry_id, ur.user_id, NULL::bigint AS team_id, ur.role::text AS role,
           ur.created_at, 'USER' AS kind, lower(u.name) AS sort_name, u.id AS member_id
    FROM registry_user_roles ur JOIN users u ON u.id = ur.user_id
    UNION ALL
    SELECT tr.registry_id, NULL, tr.team_id, tr.role::text, tr.created_at, 'TEAM',
           lower(t.name), t.id
    FROM registry_team_roles tr JOIN teams t ON t.id = tr.team_id
) AS m WHERE m.registry_id = p.parent_id""",
    keys=(
        SortKey("m.kind", "text"),
        SortKey("m.sort_name", "text"),
        SortKey("m.member_id", "bigint"),
    ),
    descending=False,
    record=lambda row: from_record(RegistryMember, row),
)

UPSERT_REGISTRY_TEAM_ROLE = """
INSERT INTO registry_team_roles (registry_id, team_id, role) VALUES ($1, $2, $3::registry_role)
ON CONFLICT (registry_id, team_id) DO UPDATE SET role = EXCLUDED.role
"""


async def set_registry_team_role(
    conn: Connection, registry_id: int, team_id: int, role: str
) -> None:
    await conn.execute(UPSERT_REGISTRY_TEAM_ROLE, registry_id, team_id, role)


SELECT_DIRECT_ROLE = """
SELECT role::text FROM registry_user_roles WHERE registry_id = $1 AND user_id = $2
UNION ALL
SELECT role::text FROM registry_team_roles WHERE registry_id = $1 AND team_id = $3
"""


async def direct_role(
    conn: Executor, registry_id: int, *, user_id: int | None = None, team_id: int | None = None
) -> str | None:
    """The role given directly to this user or team in the registry, if any."""
    role: str | None = await conn.fetchval(SELECT_DIRECT_ROLE, registry_id, user_id, team_id)
    return role


DELETE_REGISTRY_MEMBERS = """
WITH users AS (
    DELETE FROM registry_user_roles WHERE registry_id = $1 AND user_id = ANY($2::bigint[])
    RETURNING user_id
), teams AS (
    DELETE FROM registry_team_roles WHERE registry_id = $1 AND team_id = ANY($3::bigint[])
    RETURNING team_id
)
SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM teams)
"""


async def remove_registry_members(
    conn: Connection, registry_id: int, user_ids: Sequence[int], team_ids: Sequence[int]
) -> int:
    removed: int = await conn.fetchval(
        DELETE_REGISTRY_MEMBERS, registry_id, list(user_ids), list(team_ids)
    )
    return removed
