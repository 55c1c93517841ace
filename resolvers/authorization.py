"""The one place that decides what a caller may see and change.

Reads go through `can_view`: organization membership, and for anything in a registry an
effective role there, so a RESTRICTED registry is invisible, by any route, to anyone without one.
Lists filter the same way in SQL (`registry_filter`). Writes go through
`require_organization_role` or `require_registry_role`, which also mark the request as checked,
so a mutation that forgot to ask fails loudly instead of writing unchecked.
"""

from __future__ import annotations

from typing import Protocol

from db.records import Registry
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode

ORGANIZATION_ROLES = ("VIEWER", "MEMBER", "ADMIN")
REGISTRY_ROLES = ("RESTRICTED_VIEWER", "VIEWER", "MEMBER", "ADMIN")


class OrganizationOwned(Protocol):
    @property
    def organization_id(self) -> int: ...


def can_view_organization(ctx: Context, organization_id: int) -> bool:
    return organization_id in ctx.principal.organization_roles


async def can_view(ctx: Context, obj: OrganizationOwned | None) -> bool:
    """Whether the caller may see `obj` (None, a missing object, is never visible)."""
    if obj is None or not can_view_organization(ctx, obj.organization_id):
        return False
    registry_id = obj.id if isinstance(obj, Registry) else getattr(obj, "registry_id", None)
    if registry_id is None:
        return True
    return await registry_role_by_id(ctx, registry_id) is not None


async def registry_role_by_id(ctx: Context, registry_id: int) -> str | None:
    registry = await ctx.loaders.registry_by_id.load(registry_id)
    return None if registry is None else await registry_role(ctx, registry)


async def registry_filter(ctx: Context, organization_id: int) -> tuple[int, ...] | None:
    """For lists: None when the caller sees every registry of the organization (an admin), else
    the ids of the registries they hold a role in, which they see besides ORGANIZATION ones."""
    if ctx.principal.organization_roles.get(organization_id) == "ADMIN":
        return None
    return tuple(await ctx.loaders.registry_ids_with_role.load(ctx.principal.user.id))


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


async def can_download(ctx: Context, registry_id: int | None) -> bool:
    """Files and anything that downloads content need VIEWER; RESTRICTED_VIEWER sees metadata."""
    if registry_id is None:
        return True
    role = await registry_role_by_id(ctx, registry_id)
    return role is not None and REGISTRY_ROLES.index(role) >= REGISTRY_ROLES.index("VIEWER")


async def require_registry_role(ctx: Context, registry: Registry, minimum: str, action: str) -> str:
    """Refuses unless the caller's effective role on `registry` is at least `minimum`.

    Without any role, a restricted registry answers exactly as a missing one.
    """
    ctx.authorization_checked = True
    role = await registry_role(ctx, registry)
    if role is None:
        raise DomainError(ErrorCode.NOT_FOUND, "registry not found", ("registry",))
    if REGISTRY_ROLES.index(role) < REGISTRY_ROLES.index(minimum):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            f"{action} needs the role {minimum} or higher in registry '{registry.name}'; "
            f"you are {role}",
        )
    return role
