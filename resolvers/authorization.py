"""The one place that decides what a caller may see and change.

Reads of organization-owned objects go through `can_view` (organization membership). Writes go
through `require_organization_role` or `require_registry_role`, which also mark the request as
checked, so a mutation that forgot to ask fails loudly instead of writing unchecked.
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


def can_view(ctx: Context, obj: OrganizationOwned | None) -> bool:
    """Whether the caller may see `obj` (None, a missing object, is never visible)."""
    return obj is not None and can_view_organization(ctx, obj.organization_id)


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
    return max(candidates, key=REGISTRY_ROLES.index) if candidates else None


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
