"""Registries: creating, changing and deleting them, and who holds which role in them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from db import registries
from db.pool import Connection
from db.records import Organization, Registry, RegistryMember, User
from db.registries import MEMBERS_BY_REGISTRY, REGISTRIES_BY_ORGANIZATION
from db.search import Search
from resolvers import authorization, validation
from resolvers.authorization import REGISTRY_ROLES
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn, changed_values
from resolvers.organizations import (
    MAX_MEMBERS_AT_ONCE,
    organization_by_name,
    require_members,
    require_organization,
    team,
)
from resolvers.pages import ListQuery
from resolvers.validation import invalid, storable

# Reading


async def registry(ctx: Context, registry_id: int) -> Registry | None:
    return await authorization.visible(ctx, await ctx.loaders.registry_by_id.load(registry_id))


async def registries_by_id(ctx: Context, ids: Sequence[int]) -> list[Registry | None]:
    found = await ctx.loaders.registry_by_id.load_many(ids)
    return await authorization.visible_many(ctx, found)


async def registry_in_organization(
    ctx: Context, organization_id: int, name: str
) -> Registry | None:
    """A registry by name, matched case-insensitively."""
    if not authorization.can_view_organization(ctx, organization_id) or not storable(name):
        return None
    found = await ctx.loaders.registry_by_organization_name.load((organization_id, name))
    return await authorization.visible(ctx, found)


async def registry_by_name(ctx: Context, organization_name: str, name: str) -> Registry | None:
    org = await organization_by_name(ctx, organization_name)
    return None if org is None else await registry_in_organization(ctx, org.id, name)


async def require_registry(ctx: Context, registry_id: int, field: str = "registryId") -> Registry:
    """The registry an input names, or a refusal naming `field`: a registry the caller may not
    see answers as a missing one."""
    found = await registry(ctx, registry_id)
    if found is None:
        raise not_found("registry not found", (field,))
    return found


async def registries_of(
    ctx: Context, organization: Organization, search: Search | None = None
) -> ListQuery[Registry]:
    """The organization's registries the caller may see."""
    visible = await authorization.registry_filter(ctx, organization.id)
    return ListQuery(REGISTRIES_BY_ORGANIZATION, organization.id, visible, search)


async def viewer_role(ctx: Context, found: Registry) -> str | None:
    return await authorization.registry_role(ctx, found)


def members_of(found: Registry) -> ListQuery[RegistryMember]:
    return ListQuery(MEMBERS_BY_REGISTRY, found.id)


def accepts(found: Registry, artifact_type: str) -> bool:
    return found.accepts_all_types or artifact_type in found.accepted_types


# Registries


async def create_registry(
    ctx: Context,
    *,
    organization: str,
    name: str,
    description: str | None,
    visibility: str,
    accepted_types: Sequence[str],
    protected_aliases: Sequence[str],
) -> Registry:
    validation.registry_name(name)
    validation.description(description)
    for artifact_type in accepted_types:
        validation.artifact_type(artifact_type, "acceptedTypes")
    protected = [validation.alias(a, "protectedAliases") for a in protected_aliases]
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "MEMBER", "creating a registry")
    async with ctx.transaction() as conn:
        return await create_registry_txn(
            conn,
            ctx.principal.user,
            org.id,
            name=name,
            description=description or "",
            visibility=visibility,
            accepted_types=list(dict.fromkeys(accepted_types)),
            protected_aliases=list(dict.fromkeys(protected)),
        )


def _state(found: Registry) -> dict[str, Any]:
    return {
        "name": found.name,
        "description": found.description,
        "visibility": found.visibility,
        "acceptsAllTypes": found.accepts_all_types,
        "acceptedTypes": found.accepted_types,
        "protectedAliases": found.protected_aliases,
    }


async def create_registry_txn(
    conn: Connection,
    actor: User,
    organization_id: int,
    *,
    name: str,
    description: str = "",
    visibility: str = "ORGANIZATION",
    accepted_types: Sequence[str] = (),
    protected_aliases: Sequence[str] = (),
) -> Registry:
    """A custom registry; no accepted types means it accepts every type."""
    (existing,) = await registries.registries_by_organization_name(conn, [(organization_id, name)])
    if existing is not None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"a registry named '{existing.name}' already exists", ("name",)
        )
    created = await registries.insert_registry(
        conn,
        organization_id=organization_id,
        name=name,
        description=description,
        visibility=visibility,
        accepted_types=accepted_types,
        accepts_all_types=not accepted_types,
        protected_aliases=protected_aliases,
        is_core=False,
        created_by=actor.id,
    )
    if created is None:
        # A concurrent request created it between the check above and the insert.
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"a registry named '{name}' already exists", ("name",)
        )
    # The creator administers the registry: of a restricted one, nobody else can see it yet, and
    # of an organization-wide one, members would otherwise only view what they made.
    await registries.set_registry_user_role(conn, created.id, actor.id, "ADMIN")
    await audit_txn(
        conn, actor.id, "CREATE_REGISTRY", AuditTarget.registry(created), after=_state(created)
    )
    return created


async def update_registry(
    ctx: Context,
    *,
    registry_id: int,
    name: str | None = None,
    description: str | None,
    visibility: str | None,
    add_accepted_types: Sequence[str],
    accept_all_types: bool,
    protected_aliases: Sequence[str] | None,
) -> Registry:
    if name is not None:
        validation.registry_name(name)
    validation.description(description)
    for artifact_type in add_accepted_types:
        validation.artifact_type(artifact_type, "addAcceptedTypes")
    if protected_aliases is not None:
        protected_aliases = [validation.alias(a, "protectedAliases") for a in protected_aliases]
    found = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, found, "ADMIN", "changing a registry's settings")
    if found.is_core and visibility not in (None, "ORGANIZATION"):
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"core registry '{found.name}' keeps ORGANIZATION visibility",
            ("visibility",),
        )
    renamed = name is not None and name != found.name
    if renamed and found.is_core:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, f"core registry '{found.name}' keeps its name", ("name",)
        )
    async with ctx.transaction() as conn:
        if renamed:
            assert name is not None
            if not await registries.rename_registry(conn, found.id, name):
                raise DomainError(
                    ErrorCode.NAME_TAKEN, f"a registry named '{name}' already exists", ("name",)
                )
        updated = await registries.update_registry(
            conn,
            found.id,
            description=description,
            visibility=visibility,
            accept_all_types=accept_all_types,
            add_accepted_types=add_accepted_types,
            protected_aliases=protected_aliases,
        )
        if _state(found) != _state(updated):
            before, after = changed_values(_state(found), _state(updated))
            await audit_txn(
                conn,
                ctx.principal.user.id,
                "UPDATE_REGISTRY",
                AuditTarget.registry(found),
                before=before,
                after=after,
            )
    return updated


async def delete_registry(ctx: Context, registry_id: int) -> Registry:
    """Deletes the registry with its collections and links; logged content and runs stay."""
    found = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, found, "ADMIN", "deleting a registry")
    if found.is_core:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"core registry '{found.name}' cannot be deleted",
            ("registryId",),
        )
    async with ctx.transaction() as conn:
        await delete_registry_txn(conn, ctx.principal.user, found)
    return found


async def delete_registry_txn(conn: Connection, actor: User, found: Registry) -> None:
    """Deletes the registry; the event says what went with it. The registry's history stays,
    and shows in its organization's."""
    deleted = await registries.delete_registry(conn, found.id)
    if deleted is None:
        raise not_found("registry not found", ("registryId",))
    collections, versions = deleted
    state = _state(found) | {"collections": collections, "versions": versions}
    await audit_txn(conn, actor.id, "DELETE_REGISTRY", AuditTarget.registry(found), before=state)


# Members and roles


class RoleGrant(Protocol):
    """A role for exactly one of a user and a team."""

    @property
    def user_id(self) -> int | None: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def role(self) -> str: ...


async def add_registry_members(
    ctx: Context, registry_id: int, members: Sequence[RoleGrant]
) -> Registry:
    """Gives each user or team its role in the registry; an existing role is replaced."""
    if not members or len(members) > MAX_MEMBERS_AT_ONCE:
        raise invalid(f"give 1 to {MAX_MEMBERS_AT_ONCE} members", "members")
    found = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, found, "ADMIN", "managing registry members")
    for member in members:
        if (member.user_id is None) == (member.team_id is None):
            raise invalid("each member names exactly one of `userId` and `teamId`", "members")
        validation.role_name(member.role, REGISTRY_ROLES, "members")
    user_ids = [m.user_id for m in members if m.user_id is not None]
    await require_members(ctx, found.organization_id, user_ids, "members")
    for member in members:
        if member.team_id is not None:
            given = await team(ctx, member.team_id)
            if given is None or given.organization_id != found.organization_id:
                raise not_found("team not found", ("members",))
    async with ctx.transaction() as conn:
        for member in members:
            await set_registry_role_txn(
                conn, ctx.principal.user.id, found, member.user_id, member.team_id, member.role
            )
    return found


async def set_registry_role_txn(
    conn: Connection,
    actor_id: int,
    found: Registry,
    user_id: int | None,
    team_id: int | None,
    role: str,
) -> None:
    """Gives a user or a team (exactly one) `role` in the registry, recorded in its history."""
    before = await registries.direct_role(conn, found.id, user_id=user_id, team_id=team_id)
    if user_id is not None:
        await registries.set_registry_user_role(conn, found.id, user_id, role)
    else:
        assert team_id is not None
        await registries.set_registry_team_role(conn, found.id, team_id, role)
    if before != role:
        kind, member_id = ("User", user_id) if user_id is not None else ("Team", team_id)
        await audit_txn(
            conn,
            actor_id,
            "ADD_REGISTRY_MEMBER" if before is None else "UPDATE_REGISTRY_MEMBER_ROLE",
            AuditTarget.member(found.organization_id, kind, member_id, found.id),
            before=None if before is None else {"role": before},
            after={"role": role},
        )


async def update_registry_member_role(
    ctx: Context, registry_id: int, user_id: int | None, team_id: int | None, role: str
) -> Registry:
    validation.exactly_one(user_id, team_id, ("userId", "teamId"))
    validation.role_name(role, REGISTRY_ROLES, "role")
    found = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, found, "ADMIN", "managing registry members")
    current = await registries.direct_role(ctx.reads, found.id, user_id=user_id, team_id=team_id)
    if current is None:
        raise not_found("that user or team has no role in this registry", ("userId",))
    async with ctx.transaction() as conn:
        await set_registry_role_txn(conn, ctx.principal.user.id, found, user_id, team_id, role)
    return found


async def remove_registry_members(
    ctx: Context, registry_id: int, user_ids: Sequence[int], team_ids: Sequence[int]
) -> Registry:
    if not user_ids and not team_ids:
        raise invalid("give at least one user or team", "userIds")
    found = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, found, "ADMIN", "managing registry members")
    async with ctx.transaction() as conn:
        befores = {
            ("User", u): await registries.direct_role(conn, found.id, user_id=u) for u in user_ids
        } | {("Team", t): await registries.direct_role(conn, found.id, team_id=t) for t in team_ids}
        await registries.remove_registry_members(conn, found.id, user_ids, team_ids)
        for (kind, member_id), before in befores.items():
            if before is not None:
                await audit_txn(
                    conn,
                    ctx.principal.user.id,
                    "REMOVE_REGISTRY_MEMBER",
                    AuditTarget.member(found.organization_id, kind, member_id, found.id),
                    before={"role": before},
                )
    return found
