"""Users and their API keys, and the principal behind a key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from db.pool import Connection, Executor, fetch_one
from db.records import ApiKey, User, from_record, records_by_id

USER_COLUMNS = "u.id, u.name, u.display_name, u.kind::text AS kind, u.created_at"
API_KEY_COLUMNS = "k.id, k.user_id, k.name, k.created_at, k.last_used_at, k.revoked_at"

SELECT_USERS_BY_ID = f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = ANY($1::bigint[])"


async def users_by_id(conn: Executor, ids: Sequence[int]) -> list[User | None]:
    return await records_by_id(conn, SELECT_USERS_BY_ID, ids, User)


INSERT_USER = """
INSERT INTO users (name, display_name, kind) VALUES ($1, $2, $3::user_kind)
RETURNING id, name, display_name, kind::text AS kind, created_at
"""


async def insert_user(conn: Connection, name: str, display_name: str, kind: str) -> User:
    row = await fetch_one(conn, INSERT_USER, name, display_name, kind)
    return from_record(User, row)


SELECT_USER_BY_NAME = f"SELECT {USER_COLUMNS} FROM users u WHERE lower(u.name) = lower($1)"


async def user_by_name(conn: Executor, name: str) -> User | None:
    row = await conn.fetchrow(SELECT_USER_BY_NAME, name)
    return None if row is None else from_record(User, row)


# Members of these organizations whose name starts with the text given; the exact name first.
SELECT_USERS_MATCHING = f"""
SELECT {USER_COLUMNS} FROM users u
WHERE lower(u.name) LIKE $2 ESCAPE '\\'
  AND EXISTS (SELECT 1 FROM organization_members m
              WHERE m.user_id = u.id AND m.organization_id = ANY($3::bigint[]))
ORDER BY lower(u.name) <> lower($1), lower(u.name), u.id
LIMIT $4
"""


async def users_matching(
    conn: Executor, text: str, organization_ids: Sequence[int], limit: int
) -> list[User]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await conn.fetch(
        SELECT_USERS_MATCHING, text, escaped + "%", list(organization_ids), limit
    )
    return [from_record(User, row) for row in rows]


# Where the triggers of migration 0011 announce that a user's keys, details or memberships
# changed (the payload: the user's id), for processes that keep verified keys.
PRINCIPALS_CHANNEL = "cairn_principals"

_SELECT_PRINCIPAL = f"""
SELECT k.id AS key_id, {USER_COLUMNS},
       (k.last_used_at IS NULL
        OR k.last_used_at < clock_timestamp() - interval '1 minute') AS needs_touch,
       coalesce((SELECT jsonb_object_agg(m.organization_id::text, m.role)
                 FROM organization_members m WHERE m.user_id = u.id), '{{}}') AS org_roles
FROM api_keys k JOIN users u ON u.id = k.user_id
"""
SELECT_PRINCIPAL_BY_KEY_HASH = _SELECT_PRINCIPAL + "WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
SELECT_PRINCIPAL_BY_KEY_ID = _SELECT_PRINCIPAL + "WHERE k.id = $1 AND k.revoked_at IS NULL"

TOUCH_API_KEY = "UPDATE api_keys SET last_used_at = clock_timestamp() WHERE id = $1"


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """A valid key, its user, and the user's role in each organization."""

    key_id: int
    user: User
    organization_roles: dict[int, str]


async def principal_by_key_hash(conn: Executor, key_hash: bytes) -> KeyHolder | None:
    """The key, its user and their roles, or None for an unknown or revoked key.

    `last_used_at` is written at most once a minute per key, so reads stay read-only.
    """
    row = await conn.fetchrow(SELECT_PRINCIPAL_BY_KEY_HASH, key_hash)
    if row is None:
        return None
    if row["needs_touch"]:
        await conn.execute(TOUCH_API_KEY, row["key_id"])
    return _key_holder(row)


async def principal_by_key_id(conn: Executor, key_id: int) -> KeyHolder | None:
    """As `principal_by_key_hash`, for a key already presented: its user's roles as they are
    now, or None once it is revoked. Leaves `last_used_at` alone."""
    row = await conn.fetchrow(SELECT_PRINCIPAL_BY_KEY_ID, key_id)
    return None if row is None else _key_holder(row)


def _key_holder(row: asyncpg.Record) -> KeyHolder:
    roles = {int(org_id): role for org_id, role in row["org_roles"].items()}
    return KeyHolder(row["key_id"], from_record(User, row), roles)


INSERT_API_KEY = """
INSERT INTO api_keys (user_id, name, key_hash) VALUES ($1, $2, $3) RETURNING id
"""


async def insert_api_key(conn: Connection, user_id: int, name: str, key_hash: bytes) -> int:
    key_id: int = await conn.fetchval(INSERT_API_KEY, user_id, name, key_hash)
    return key_id


SELECT_API_KEYS_OF_USER = f"""
SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 ORDER BY k.created_at DESC, k.id DESC
"""


async def api_keys_of_user(conn: Executor, user_id: int) -> list[ApiKey]:
    return [from_record(ApiKey, r) for r in await conn.fetch(SELECT_API_KEYS_OF_USER, user_id)]


SELECT_API_KEYS_BY_ID = f"SELECT {API_KEY_COLUMNS} FROM api_keys k WHERE k.id = ANY($1::bigint[])"


async def api_keys_by_id(conn: Executor, ids: Sequence[int]) -> list[ApiKey | None]:
    return await records_by_id(conn, SELECT_API_KEYS_BY_ID, ids, ApiKey)


REVOKE_API_KEY = f"""
UPDATE api_keys k SET revoked_at = coalesce(revoked_at, clock_timestamp()) WHERE k.id = $1
RETURNING {API_KEY_COLUMNS}
"""


async def revoke_api_key(conn: Connection, key_id: int) -> ApiKey:
    return from_record(ApiKey, await fetch_one(conn, REVOKE_API_KEY, key_id))


REVOKE_API_KEYS_BY_NAME = """
UPDATE api_keys SET revoked_at = clock_timestamp()
WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL RETURNING id
"""


async def revoke_api_keys_by_name(conn: Connection, user_id: int, name: str) -> list[int]:
    return [r["id"] for r in await conn.fetch(REVOKE_API_KEYS_BY_NAME, user_id, name)]


REVOKE_API_KEY_BY_HASH = """
UPDATE api_keys SET revoked_at = clock_timestamp()
WHERE key_hash = $1 AND revoked_at IS NULL RETURNING id
"""


async def revoke_api_key_by_hash(conn: Connection, key_hash: bytes) -> int | None:
    key_id: int | None = await conn.fetchval(REVOKE_API_KEY_BY_HASH, key_hash)
    return key_id
