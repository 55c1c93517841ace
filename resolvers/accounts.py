"""Users, memberships and API keys. Keys are random secrets shown once; only their SHA-256
is stored, so a leaked database does not leak working keys."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

from db import organizations
from db.pool import Connection
from db.records import Organization, User
from resolvers.context import Principal
from resolvers.errors import DomainError, ErrorCode, not_found

KEY_PREFIX = "cairn_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    """The principal behind a bearer key, or None for an unknown or revoked one."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    found = await organizations.principal_by_key_hash(pool, hash_key(key))
    if found is None:
        return None
    user, roles = found
    return Principal(user=user, organization_roles=roles)


async def create_user(
    conn: Connection, name: str, display_name: str = "", kind: str = "HUMAN"
) -> User:
    return await organizations.insert_user(conn, name, display_name, kind)


async def add_organization_member(
    conn: Connection, organization: Organization, user: User, role: str
) -> None:
    await organizations.set_organization_member(conn, organization.id, user.id, role)


async def create_api_key(
    conn: Connection,
    user_name: str,
    *,
    organization: str | None = None,
    key_name: str = "cli",
) -> str:
    """A new key for `user_name`; with `organization`, the user must belong to it."""
    user = await organizations.user_by_name(conn, user_name)
    if user is None:
        raise not_found(f"user '{user_name}' not found", ("user",))
    if organization is not None:
        orgs = await organizations.organizations_of_user(conn, user.id)
        if organization not in {o.name for o in orgs}:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"user '{user.name}' is not a member of organization '{organization}'",
                ("organization",),
            )
    key = generate_key()
    await organizations.insert_api_key(conn, user.id, key_name, hash_key(key))
    return key
