"""Users, memberships and API keys. Keys are random secrets shown once; only their SHA-256
is stored, so a leaked database does not leak working keys."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

from db import audit, organizations
from db.pool import Connection
from db.records import Organization, User
from resolvers import validation
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
    validation.label(key_name, "key name", "name")
    key = generate_key()
    await organizations.insert_api_key(conn, user.id, key_name, hash_key(key))
    await _operator_key_event(conn, user, key_name, "CREATE_API_KEY")
    return key


async def _operator_key_event(conn: Connection, user: User, key_name: str, action: str) -> None:
    """Key events made from the command line (no actor) go into each of the user's orgs."""
    (organization_ids,) = await organizations.organization_ids_by_user(conn, [user.id])
    for organization_id in organization_ids:
        await audit.insert_audit_event(
            conn,
            organization_id=organization_id,
            registry_id=None,
            collection_id=None,
            actor_id=None,
            action=action,
            target_type="User",
            target_id=user.id,
            after={"user": user.name, "key": key_name, "by": "cli"},
        )


async def create_user_with_membership(
    conn: Connection,
    name: str,
    *,
    display_name: str = "",
    service: bool = False,
    organization: str | None = None,
    role: str = "MEMBER",
) -> User:
    """An operator's `cairn users create`: a new user, optionally added to an organization."""
    validation.user_name(name, "name")
    if await organizations.user_by_name(conn, name) is not None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"user '{name}' already exists", ("name",))
    org = None
    if organization is not None:
        (org,) = await organizations.organizations_by_name(conn, [organization])
        if org is None:
            raise not_found(f"organization '{organization}' not found", ("organization",))
    user = await create_user(conn, name, display_name, "SERVICE" if service else "HUMAN")
    if org is not None:
        await add_organization_member(conn, org, user, role)
    return user


async def revoke_keys(
    conn: Connection,
    *,
    key: str | None = None,
    user_name: str | None = None,
    key_name: str | None = None,
) -> int:
    """Revokes one key by its secret, or every active key of a user with a given name."""
    if key is not None:
        revoked = await organizations.revoke_api_key_by_hash(conn, hash_key(key))
        return 0 if revoked is None else 1
    assert user_name is not None
    assert key_name is not None
    user = await organizations.user_by_name(conn, user_name)
    if user is None:
        raise not_found(f"user '{user_name}' not found", ("user",))
    ids = await organizations.revoke_api_keys_by_name(conn, user.id, key_name)
    if ids:
        await _operator_key_event(conn, user, key_name, "REVOKE_API_KEY")
    return len(ids)
