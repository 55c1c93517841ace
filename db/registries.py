"""Registries: their settings, accepted types, protected aliases, and the roles users and teams
hold in them."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import Registry, RegistryMember, from_record, records_by_id, records_by_pair

REGISTRY_COLUMNS = """r.id, r.organization_id, r.name, r.description,
r.visibility::text AS visibility, r.accepts_all_types, r.is_core, r.created_at,
ARRAY(SELECT t.artifact_type FROM registry_accepted_types t
      WHERE t.registry_id = r.id ORDER BY t.artifact_type) AS accepted_types,
ARRAY(SELECT a.alias FROM registry_protected_aliases a
      WHERE a.registry_id = r.id ORDER BY a.alias) AS protected_aliases"""

SELECT_REGISTRIES_BY_ID = f"""
SELECT {REGISTRY_COLUMNS} FROM registries r WHERE r.id = ANY($1::bigint[])
"""


async def registries_by_id(conn: Executor, ids: Sequence[int]) -> list[Registry | None]:
    return await records_by_id(conn, SELECT_REGISTRIES_BY_ID, ids, Registry)


SELECT_REGISTRIES_BY_ORGANIZATION_NAME = f"""
SELECT k.organization_id AS key_organization_id, k.name AS key_name, {REGISTRY_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(organization_id, name)
JOIN registries r ON r.organization_id = k.organization_id AND lower(r.name) = lower(k.name)
"""


async def registries_by_organization_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Registry | None]:
    """Registries by (organization id, name); names match case-insensitively."""
    key_columns = ("key_organization_id", "key_name")
    sql = SELECT_REGISTRIES_BY_ORGANIZATION_NAME
    return await records_by_pair(conn, sql, keys, key_columns, Registry)


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
SELECT_REGISTRY = f"SELECT {REGISTRY_COLUMNS} FROM registries r WHERE r.id = $1"


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
    row = await fetch_one(conn, SELECT_REGISTRY, registry_id)
    return from_record(Registry, row)


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
    return from_record(Registry, await fetch_one(conn, SELECT_REGISTRY, registry_id))


RENAME_REGISTRY = "UPDATE registries SET name = $2 WHERE id = $1"


async def rename_registry(conn: Connection, registry_id: int, name: str) -> bool:
    """False when the organization has another registry of that name (in any case)."""
    try:
        # A savepoint: a name taken by a concurrent rename fails this step alone.
        async with conn.transaction():
            await conn.execute(RENAME_REGISTRY, registry_id, name)
    except asyncpg.UniqueViolationError:
        return False
    return True


# The counts read the registry as it was before the delete (one snapshot for the statement).
DELETE_REGISTRY = """
WITH deleted AS (DELETE FROM registries WHERE id = $1 RETURNING id)
SELECT (SELECT count(*) FROM collections WHERE registry_id = $1) AS collections,
       (SELECT count(*) FROM artifact_versions v JOIN collections c ON c.id = v.collection_id
        WHERE c.registry_id = $1) AS versions
FROM deleted
"""


async def delete_registry(conn: Connection, registry_id: int) -> tuple[int, int] | None:
    """How many collections and versions went with the registry; None when there was nothing
    to delete (a concurrent delete came first)."""
    row = await conn.fetchrow(DELETE_REGISTRY, registry_id)
    return None if row is None else (row["collections"], row["versions"])


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
def given_role_sql(registry_id: str, user_id: str) -> str:
    """SQL for a user's role given in a registry, directly or through a team (the highest), or
    null: of the SQL expressions for the registry's and the user's ids."""
    return f"""greatest(
    (SELECT ur.role FROM registry_user_roles ur
     WHERE ur.registry_id = {registry_id} AND ur.user_id = {user_id}),
    (SELECT max(tr.role) FROM registry_team_roles tr
     JOIN team_members tm ON tm.team_id = tr.team_id
     WHERE tr.registry_id = {registry_id} AND tm.user_id = {user_id})
)::text"""


SELECT_REGISTRY_ROLES = f"""
SELECT k.registry_id, k.user_id, {given_role_sql("k.registry_id", "k.user_id")} AS role
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

UPSERT_REGISTRY_USER_ROLE = """
INSERT INTO registry_user_roles (registry_id, user_id, role) VALUES ($1, $2, $3::registry_role)
ON CONFLICT (registry_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""


async def set_registry_user_role(
    conn: Connection, registry_id: int, user_id: int, role: str
) -> None:
    await conn.execute(UPSERT_REGISTRY_USER_ROLE, registry_id, user_id, role)


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
