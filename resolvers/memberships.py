"""Who belongs where: registry members and roles, organization members, teams, service accounts
and API keys. Every change is authorized, validated, done in one transaction, and audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import audit, organizations, registries
from db.pool import Connection
from db.records import ApiKey, Organization, Registry, Team, User
from resolvers import accounts, reads
from resolvers.authorization import (
    ORGANIZATION_ROLES,
    REGISTRY_ROLES,
    require_organization_role,
    require_registry_role,
)
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.mutations import transaction
from resolvers.validation import invalid, label, user_name

MAX_MEMBERS_AT_ONCE = 100


async def _event(
    conn: Connection,
    ctx: Context,
    action: str,
    *,
    organization_id: int,
    registry_id: int | None = None,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.insert_audit_event(
        conn,
        organization_id=organization_id,
        registry_id=registry_id,
        collection_id=None,
        actor_id=ctx.principal.user.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


def _role(role: str, allowed: Sequence[str], field: str) -> str:
    if role not in allowed:
        raise invalid(f"role must be one of {', '.join(allowed)}, got {role!r}", field)
    return role


async def _organization(ctx: Context, name: str) -> Organization:
    org = await reads.organization_by_name(ctx, name)
    if org is None:
        raise not_found(f"organization '{name}' not found", ("organization",))
    return org


async def _registry(ctx: Context, registry_id: int) -> Registry:
    found = await reads.registry(ctx, registry_id)
    if found is None:
        raise not_found("registry not found", ("registryId",))
    return found


async def _members(ctx: Context, organization_id: int, user_ids: Sequence[int], field: str) -> None:
    """Refuses user ids that are not members of the organization (as not found)."""
    found = await organizations.members_among(ctx.pool, organization_id, user_ids)
    if missing := [u for u in user_ids if u not in found]:
        raise not_found(
            f"{len(missing)} of the users are not members of the organization", (field,)
        )


async def _team(ctx: Context, team_id: int, field: str = "teamId") -> Team:
    team = await ctx.loaders.team_by_id.load(team_id)
    if team is None or team.organization_id not in ctx.principal.organization_roles:
        raise not_found("team not found", (field,))
    return team


# Registry members


async def add_registry_members(
    ctx: Context, registry_id: int, members: Sequence[tuple[int | None, int | None, str]]
) -> Registry:
    """Gives each (user, team, role) its role in the registry; an existing role is replaced."""
    if not members or len(members) > MAX_MEMBERS_AT_ONCE:
        raise invalid(f"give 1 to {MAX_MEMBERS_AT_ONCE} members", "members")
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "ADMIN", "managing registry members")
    for user_id, team_id, role in members:
        if (user_id is None) == (team_id is None):
            raise invalid("each member names exactly one of `userId` and `teamId`", "members")
        _role(role, REGISTRY_ROLES, "members")
    user_ids = [u for u, _, _ in members if u is not None]
    await _members(ctx, registry.organization_id, user_ids, "members")
    for _, team_id, _ in members:
        if team_id is not None:
            team = await _team(ctx, team_id, "members")
            if team.organization_id != registry.organization_id:
                raise not_found("team not found", ("members",))
    async with transaction(ctx) as conn:
        for user_id, team_id, role in members:
            await _set_registry_role(conn, ctx, registry, user_id, team_id, role)
    return registry


async def _set_registry_role(
    conn: Connection,
    ctx: Context,
    registry: Registry,
    user_id: int | None,
    team_id: int | None,
    role: str,
) -> None:
    before = await registries.direct_role(conn, registry.id, user_id=user_id, team_id=team_id)
    if user_id is not None:
        await registries.set_registry_user_role(conn, registry.id, user_id, role)
    else:
        assert team_id is not None
        await registries.set_registry_team_role(conn, registry.id, team_id, role)
    if before != role:
        await _event(
            conn,
            ctx,
            "ADD_REGISTRY_MEMBER" if before is None else "UPDATE_REGISTRY_MEMBER_ROLE",
            organization_id=registry.organization_id,
            registry_id=registry.id,
            target_type="User" if user_id is not None else "Team",
            target_id=user_id if user_id is not None else team_id,
            before=None if before is None else {"role": before},
            after={"role": role},
        )


async def update_registry_member_role(
    ctx: Context, registry_id: int, user_id: int | None, team_id: int | None, role: str
) -> Registry:
    if (user_id is None) == (team_id is None):
        raise invalid("give exactly one of `userId` and `teamId`", "userId")
    _role(role, REGISTRY_ROLES, "role")
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "ADMIN", "managing registry members")
    current = await registries.direct_role(ctx.pool, registry.id, user_id=user_id, team_id=team_id)
    if current is None:
        raise not_found("that user or team has no role in this registry", ("userId",))
    async with transaction(ctx) as conn:
        await _set_registry_role(conn, ctx, registry, user_id, team_id, role)
    return registry


async def remove_registry_members(
    ctx: Context, registry_id: int, user_ids: Sequence[int], team_ids: Sequence[int]
) -> Registry:
    if not user_ids and not team_ids:
        raise invalid("give at least one user or team", "userIds")
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "ADMIN", "managing registry members")
    async with transaction(ctx) as conn:
        befores = {
            ("User", u): await registries.direct_role(conn, registry.id, user_id=u)
            for u in user_ids
        } | {
            ("Team", t): await registries.direct_role(conn, registry.id, team_id=t)
            for t in team_ids
        }
        await registries.remove_registry_members(conn, registry.id, user_ids, team_ids)
        for (kind, member_id), before in befores.items():
            if before is not None:
                await _event(
                    conn,
                    ctx,
                    "REMOVE_REGISTRY_MEMBER",
                    organization_id=registry.organization_id,
                    registry_id=registry.id,
                    target_type=kind,
                    target_id=member_id,
                    before={"role": before},
                )
    return registry


# Organization members


async def add_organization_member(
    ctx: Context, organization: str, user_name: str, role: str
) -> tuple[Organization, User]:
    _role(role, ORGANIZATION_ROLES, "role")
    org = await _organization(ctx, organization)
    require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    user = await organizations.user_by_name(ctx.pool, user_name)
    if user is None:
        raise not_found(f"user '{user_name}' not found", ("userName",))
    async with transaction(ctx) as conn:
        await organizations.lock_organization(conn, org.id)
        if await organizations.member_role(conn, org.id, user.id) is not None:
            raise DomainError(
                ErrorCode.ALREADY_MEMBER,
                f"'{user.name}' is already a member of '{org.name}'",
                ("userName",),
            )
        await organizations.set_organization_member(conn, org.id, user.id, role)
        await _event(
            conn,
            ctx,
            "ADD_ORGANIZATION_MEMBER",
            organization_id=org.id,
            target_type="User",
            target_id=user.id,
            after={"user": user.name, "role": role},
        )
    return org, user


async def _check_last_admin(
    conn: Connection, org: Organization, current: str, new: str | None
) -> None:
    if (
        current == "ADMIN"
        and new != "ADMIN"
        and await organizations.count_admins(conn, org.id) <= 1
    ):
        raise DomainError(
            ErrorCode.LAST_ADMIN,
            f"'{org.name}' needs at least one admin: make another member ADMIN first",
            ("userId",),
        )


async def update_organization_member_role(
    ctx: Context, organization: str, user_id: int, role: str
) -> tuple[Organization, User]:
    _role(role, ORGANIZATION_ROLES, "role")
    org = await _organization(ctx, organization)
    require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    # Only users who share an organization with the caller: others answer as missing.
    (user,) = await reads.nodes_of_kind(ctx, "User", [user_id])
    if user is None:
        raise not_found("user not found", ("userId",))
    async with transaction(ctx) as conn:
        # The lock makes two admins demoting each other at once take turns: one stays.
        await organizations.lock_organization(conn, org.id)
        current = await organizations.member_role(conn, org.id, user.id)
        if current is None:
            raise not_found(f"'{user.name}' is not a member of '{org.name}'", ("userId",))
        await _check_last_admin(conn, org, current, role)
        await organizations.set_organization_member(conn, org.id, user.id, role)
        if current != role:
            await _event(
                conn,
                ctx,
                "UPDATE_ORGANIZATION_MEMBER_ROLE",
                organization_id=org.id,
                target_type="User",
                target_id=user.id,
                before={"role": current},
                after={"role": role},
            )
    return org, user


async def remove_organization_member(ctx: Context, organization: str, user_id: int) -> Organization:
    org = await _organization(ctx, organization)
    require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    # Only users who share an organization with the caller: others answer as missing.
    (user,) = await reads.nodes_of_kind(ctx, "User", [user_id])
    if user is None:
        raise not_found("user not found", ("userId",))
    async with transaction(ctx) as conn:
        await organizations.lock_organization(conn, org.id)
        current = await organizations.member_role(conn, org.id, user.id)
        if current is None:
            raise not_found(f"'{user.name}' is not a member of '{org.name}'", ("userId",))
        await _check_last_admin(conn, org, current, None)
        await organizations.remove_organization_member(conn, org.id, user.id)
        await _event(
            conn,
            ctx,
            "REMOVE_ORGANIZATION_MEMBER",
            organization_id=org.id,
            target_type="User",
            target_id=user.id,
            before={"user": user.name, "role": current},
        )
    return org


# Teams


async def create_team(ctx: Context, organization: str, name: str) -> Team:
    label(name, "team name", "name")
    org = await _organization(ctx, organization)
    require_organization_role(ctx, org.id, "ADMIN", "managing teams")
    async with transaction(ctx) as conn:
        team = await organizations.insert_team(conn, org.id, name)
        if team is None:
            raise DomainError(
                ErrorCode.NAME_TAKEN, f"'{org.name}' already has a team '{name}'", ("name",)
            )
        await _event(
            conn,
            ctx,
            "CREATE_TEAM",
            organization_id=org.id,
            target_type="Team",
            target_id=team.id,
            after={"name": name},
        )
    return team


async def change_team_members(
    ctx: Context, team_id: int, user_ids: Sequence[int], *, add: bool
) -> Team:
    if not user_ids or len(user_ids) > MAX_MEMBERS_AT_ONCE:
        raise invalid(f"give 1 to {MAX_MEMBERS_AT_ONCE} users", "userIds")
    team = await _team(ctx, team_id)
    require_organization_role(ctx, team.organization_id, "ADMIN", "managing teams")
    if add:
        await _members(ctx, team.organization_id, user_ids, "userIds")
    async with transaction(ctx) as conn:
        await organizations.change_team_members(conn, team.id, user_ids, add=add)
        await _event(
            conn,
            ctx,
            "ADD_TEAM_MEMBERS" if add else "REMOVE_TEAM_MEMBERS",
            organization_id=team.organization_id,
            target_type="Team",
            target_id=team.id,
            after={"userIds": list(user_ids)},
        )
    return team


async def delete_team(ctx: Context, team_id: int) -> None:
    team = await _team(ctx, team_id)
    require_organization_role(ctx, team.organization_id, "ADMIN", "managing teams")
    async with transaction(ctx) as conn:
        await organizations.delete_team(conn, team.id)
        await _event(
            conn,
            ctx,
            "DELETE_TEAM",
            organization_id=team.organization_id,
            target_type="Team",
            target_id=team.id,
            before={"name": team.name},
        )


# Service accounts and API keys


async def create_service_account(
    ctx: Context, organization: str, name: str, display_name: str | None
) -> User:
    """A SERVICE user in the organization (as MEMBER): automation such as CI links with it."""
    user_name(name)
    label(display_name or "-", "display name", "displayName")
    org = await _organization(ctx, organization)
    require_organization_role(ctx, org.id, "ADMIN", "creating service accounts")
    if await organizations.user_by_name(ctx.pool, name) is not None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"user name '{name}' is taken", ("name",))
    async with transaction(ctx) as conn:
        user = await accounts.create_user(conn, name, display_name or "", "SERVICE")
        await organizations.set_organization_member(conn, org.id, user.id, "MEMBER")
        await _event(
            conn,
            ctx,
            "CREATE_SERVICE_ACCOUNT",
            organization_id=org.id,
            target_type="User",
            target_id=user.id,
            after={"name": name},
        )
    return user


async def _key_owner(ctx: Context, user_id: int | None, action: str) -> User:
    """The caller, or a service account in an organization the caller administers."""
    ctx.authorization_checked = True
    if user_id is None or user_id == ctx.principal.user.id:
        return ctx.principal.user
    user = await reads.user(ctx, user_id)
    if user is None or user.kind != "SERVICE":
        raise not_found("service account not found", ("userId",))
    organization_ids = await ctx.loaders.organization_ids_by_user.load(user.id)
    if not any(o in ctx.principal.organization_roles for o in organization_ids):
        # Users are visible to those who share an organization with them: to anyone else the
        # account answers exactly as a missing one.
        raise not_found("service account not found", ("userId",))
    if not any(ctx.principal.organization_roles.get(o) == "ADMIN" for o in organization_ids):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            f"{action} needs the ADMIN role in the service account's organization",
            ("userId",),
        )
    return user


async def _key_event(conn: Connection, ctx: Context, action: str, owner: User, key: ApiKey) -> None:
    """Key events go into the history of every organization the key's owner belongs to."""
    (organization_ids,) = await organizations.organization_ids_by_user(conn, [owner.id])
    for organization_id in organization_ids:
        await _event(
            conn,
            ctx,
            action,
            organization_id=organization_id,
            target_type="User",
            target_id=owner.id,
            after={"user": owner.name, "key": key.name},
        )


async def create_api_key(ctx: Context, name: str, user_id: int | None) -> tuple[ApiKey, str]:
    """A new key; its secret is returned this once and stored only as a hash."""
    label(name, "key name", "name")
    owner = await _key_owner(ctx, user_id, "making keys for a service account")
    secret = accounts.generate_key()
    async with transaction(ctx) as conn:
        key_id = await organizations.insert_api_key(conn, owner.id, name, accounts.hash_key(secret))
        key = await organizations.api_key_by_id(conn, key_id)
        assert key is not None
        await _key_event(conn, ctx, "CREATE_API_KEY", owner, key)
    return key, secret


async def revoke_api_key(ctx: Context, key_id: int) -> ApiKey:
    """Revokes a key at once: the next request with it is refused."""
    key = await organizations.api_key_by_id(ctx.pool, key_id)
    if key is None:
        raise not_found("API key not found", ("keyId",))
    try:
        owner = await _key_owner(ctx, key.user_id, "revoking a service account's key")
    except DomainError:
        raise not_found("API key not found", ("keyId",)) from None
    async with transaction(ctx) as conn:
        revoked = await organizations.revoke_api_key(conn, key.id)
        await _key_event(conn, ctx, "REVOKE_API_KEY", owner, revoked)
    return revoked


async def viewer_api_keys(ctx: Context) -> list[ApiKey]:
    return await organizations.api_keys_of_user(ctx.pool, ctx.principal.user.id)
