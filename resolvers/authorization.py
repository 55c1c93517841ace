"""The one place that decides what a caller may see and change.

Reads go through `can_view`: organization membership, and for anything in a registry an
effective role there, so a RESTRICTED registry is invisible, by any route, to anyone without one.
Lists filter the same way in SQL (`registry_filter`). Writes go through the `require_*` checks,
which also mark the request as checked, so a mutation that forgot to ask fails loudly instead of
writing unchecked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, TypeVar

from db.records import ApiKey, ArtifactVersion, Automation, Invitation, Registry, User
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.soon import Soon

ORGANIZATION_ROLES = ("VIEWER", "MEMBER", "ADMIN")
REGISTRY_ROLES = ("RESTRICTED_VIEWER", "VIEWER", "MEMBER", "ADMIN")


class OrganizationOwned(Protocol):
    @property
    def organization_id(self) -> int: ...


T = TypeVar("T", bound=OrganizationOwned)


# Seeing


def can_view_organization(ctx: Context, organization_id: int) -> bool:
    return organization_id in ctx.principal.organization_roles


def _registry_id(obj: OrganizationOwned) -> int | None:
    return obj.id if isinstance(obj, Registry) else getattr(obj, "registry_id", None)


async def can_view(ctx: Context, obj: OrganizationOwned | None) -> bool:
    """Whether the caller may see `obj` (None, a missing object, is never visible)."""
    if obj is None or not can_view_organization(ctx, obj.organization_id):
        return False
    registry_id = _registry_id(obj)
    if registry_id is None:
        return True
    return await registry_role_by_id(ctx, registry_id) is not None


async def visible(ctx: Context, obj: T | None) -> T | None:
    """`obj` if the caller may see it, else None: a hidden object answers as a missing one."""
    return obj if await can_view(ctx, obj) else None


def visible_soon(ctx: Context, obj: T | None) -> Soon[T | None]:
    """`visible`, at once for what belongs to no registry (it needs no role to load)."""
    if obj is None or not can_view_organization(ctx, obj.organization_id):
        return None
    if _registry_id(obj) is None:
        return obj
    return visible(ctx, obj)


async def visible_many(ctx: Context, objs: Sequence[T | None]) -> list[T | None]:
    """`visible` of each, gathered so that the checks of all the objects load in one batch."""
    return list(await asyncio.gather(*(visible(ctx, obj) for obj in objs)))


# One answer for an invitation that is not there and one that is not the caller's to see.
INVITATION_NOT_FOUND = "invitation not found (it expired, was used or withdrawn, or is not yours)"


def invitation_not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, INVITATION_NOT_FOUND, ("invitationId",))


def is_invitee(ctx: Context, invitation: Invitation) -> bool:
    return invitation.user_name.lower() == ctx.principal.user.name.lower()


def can_view_invitation(ctx: Context, invitation: Invitation | None) -> bool:
    """An invitation is seen by the person it names and by the organization's admins."""
    if invitation is None:
        return False
    admin = ctx.principal.organization_roles.get(invitation.organization_id) == "ADMIN"
    return admin or is_invitee(ctx, invitation)


def require_invitee(ctx: Context, invitation: Invitation) -> None:
    """Only the person an invitation names may accept it; to anyone else it does not exist."""
    ctx.authorization_checked = True
    if not is_invitee(ctx, invitation):
        raise invitation_not_found()


def require_invitee_or_admin(ctx: Context, invitation: Invitation) -> None:
    """The person an invitation names may decline it, and the organization's admins withdraw it."""
    ctx.authorization_checked = True
    if not can_view_invitation(ctx, invitation):
        raise invitation_not_found()


async def may_add_directly(ctx: Context, user: User) -> bool:
    """Joining an organization takes the person's consent (an invitation they accept), except
    for people the caller already administers: members of an organization where the caller is
    ADMIN, and accounts an operator made that belong to no organization yet."""
    organization_ids = await ctx.loaders.organization_ids_by_user.load(user.id)
    roles = ctx.principal.organization_roles
    return not organization_ids or any(roles.get(o) == "ADMIN" for o in organization_ids)


async def can_view_user(ctx: Context, user: User | None) -> bool:
    """A user is visible to people who share an organization with them."""
    if user is None:
        return False
    organization_ids = await ctx.loaders.organization_ids_by_user.load(user.id)
    return any(can_view_organization(ctx, o) for o in organization_ids)


async def registry_role(ctx: Context, registry: Registry) -> str | None:
    """The caller's effective role: the highest of org admin → ADMIN, org member or viewer →
    VIEWER on ORGANIZATION registries, the direct registry role, and their teams' roles."""
    org_role = ctx.principal.organization_roles.get(registry.organization_id)
    if org_role is None:
        return None
    if org_role == "ADMIN":
        return "ADMIN"
    candidates = ["VIEWER"] if registry.visibility == "ORGANIZATION" else []
    direct = await ctx.loaders.registry_role.load((registry.id, ctx.principal.user.id))
    if direct is not None:
        candidates.append(direct)
    if candidates and ctx.principal.user.kind == "SERVICE":
        # Service accounts exist to automate linking: where they may look, they may also link.
        candidates.append("MEMBER")
    return max(candidates, key=REGISTRY_ROLES.index) if candidates else None


async def registry_role_by_id(ctx: Context, registry_id: int) -> str | None:
    registry = await ctx.loaders.registry_by_id.load(registry_id)
    return None if registry is None else await registry_role(ctx, registry)


def _at_least(role: str | None, minimum: str) -> bool:
    return role is not None and REGISTRY_ROLES.index(role) >= REGISTRY_ROLES.index(minimum)


async def registry_filter(ctx: Context, organization_id: int) -> tuple[int, ...] | None:
    """For lists: None when the caller sees every registry of the organization (an admin), else
    the ids of the registries they hold a role in, which they see besides ORGANIZATION ones."""
    if ctx.principal.organization_roles.get(organization_id) == "ADMIN":
        return None
    return await registries_with_role(ctx)


async def registries_with_role(ctx: Context) -> tuple[int, ...]:
    """The registries where the caller holds a role, directly or through a team."""
    return tuple(await ctx.loaders.registry_ids_with_role.load(ctx.principal.user.id))


async def require_download(ctx: Context, content_id: int) -> None:
    """Files belong to content, and a RESTRICTED_VIEWER of a registry sees the names and sizes
    of what it holds, not its bytes: by no route, neither through this registry nor through the
    same content logged in a project or linked into another registry. Registries the caller has
    no role in do not exist for them, and restrict nothing."""
    registry_ids = await ctx.loaders.registry_ids_by_content.load(content_id)
    roles = await asyncio.gather(*(registry_role_by_id(ctx, r) for r in registry_ids))
    if "RESTRICTED_VIEWER" in roles:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "these files are in a registry where you are RESTRICTED_VIEWER, which shows their "
            "names and sizes only; downloading them needs the VIEWER role there",
            ("downloadUrl",),
        )


async def can_see_automations(ctx: Context, registry_id: int) -> bool:
    """Automations (their URLs and deliveries may be sensitive) are for those who may change
    things in the registry."""
    return _at_least(await registry_role_by_id(ctx, registry_id), "MEMBER")


async def require_automations_visible(ctx: Context, registry_id: int) -> None:
    if not await can_see_automations(ctx, registry_id):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "automations are visible to registry members and admins only",
        )


def require_organization_admin_to_see(ctx: Context, organization_id: int, what: str) -> None:
    if ctx.principal.organization_roles.get(organization_id) != "ADMIN":
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, f"{what} is visible to organization admins only"
        )


async def can_see_key(ctx: Context, key: ApiKey | None) -> bool:
    """A key is seen by its owner, and a service account's by its organizations' admins."""
    if key is None:
        return False
    if key.user_id == ctx.principal.user.id:
        return True
    owner = await ctx.loaders.user_by_id.load(key.user_id)
    if owner is None or owner.kind != "SERVICE":
        return False
    organization_ids = await ctx.loaders.organization_ids_by_user.load(owner.id)
    return any(ctx.principal.organization_roles.get(o) == "ADMIN" for o in organization_ids)


# Changing


def require_organization_role(
    ctx: Context, organization_id: int, minimum: str, action: str
) -> None:
    """Refuses unless the caller's organization role is at least `minimum`."""
    ctx.authorization_checked = True
    role = ctx.principal.organization_roles.get(organization_id)
    if role is None:
        raise DomainError(ErrorCode.NOT_FOUND, "organization not found", ("organization",))
    if ORGANIZATION_ROLES.index(role) < ORGANIZATION_ROLES.index(minimum):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            f"{action} needs the organization role {minimum} or higher; you are {role}",
        )


async def require_registry_role(ctx: Context, registry: Registry, minimum: str, action: str) -> str:
    """Refuses unless the caller's effective role on `registry` is at least `minimum`.

    Without any role, a restricted registry answers exactly as a missing one.
    """
    ctx.authorization_checked = True
    role = await registry_role(ctx, registry)
    if role is None:
        raise DomainError(ErrorCode.NOT_FOUND, "registry not found", ("registry",))
    if not _at_least(role, minimum):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            f"{action} needs the role {minimum} or higher in registry '{registry.name}'; "
            f"you are {role}",
        )
    return role


def require_protected_aliases_allowed(
    registry: Registry, role: str, aliases: Sequence[str], field: str
) -> None:
    """Protected aliases (e.g. `production`) are added, moved and removed by registry admins
    only; `field` names the input that holds them."""
    protected = sorted(set(aliases) & set(registry.protected_aliases))
    if protected and role != "ADMIN":
        raise DomainError(
            ErrorCode.PROTECTED_ALIAS,
            f"alias '{protected[0]}' is protected in registry '{registry.name}': only its "
            "admins may add, move or remove it",
            (field,),
        )


async def require_version_change(
    ctx: Context,
    version: ArtifactVersion,
    action: str,
    aliases: Sequence[str] = (),
    alias_field: str = "aliases",
) -> tuple[Registry, str] | None:
    """Registry versions need MEMBER, and ADMIN for protected aliases; logged versions need an
    organization MEMBER. The answer is the version's registry and the caller's role there, for
    a registry version."""
    if version.registry_id is None:
        require_organization_role(ctx, version.organization_id, "MEMBER", action)
        return None
    registry = await visible(ctx, await ctx.loaders.registry_by_id.load(version.registry_id))
    if registry is None:
        raise not_found("registry not found", ("versionId",))
    role = await require_registry_role(ctx, registry, "MEMBER", action)
    require_protected_aliases_allowed(registry, role, aliases, alias_field)
    return registry, role


async def require_automation_manager(
    ctx: Context, automation: Automation, registry: Registry, action: str
) -> None:
    """MEMBERs may change their own automations; others' need the registry's ADMIN."""
    minimum = "MEMBER" if automation.created_by == ctx.principal.user.id else "ADMIN"
    await require_registry_role(ctx, registry, minimum, action)


async def require_key_owner(ctx: Context, user_id: int | None, action: str) -> User:
    """Keys are made and revoked by their owner, or for a service account by an admin of its
    organization; the answer is the key's owner."""
    ctx.authorization_checked = True
    if user_id is None or user_id == ctx.principal.user.id:
        return ctx.principal.user
    user = await ctx.loaders.user_by_id.load(user_id)
    if user is None or user.kind != "SERVICE":
        raise not_found("service account not found", ("userId",))
    organization_ids = await ctx.loaders.organization_ids_by_user.load(user.id)
    if not any(can_view_organization(ctx, o) for o in organization_ids):
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
