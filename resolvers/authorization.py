"""The one place that decides what a caller may see.

Every read of an organization-owned object goes through `can_view`. Today the rule is
organization membership; registry roles plug in here.
"""

from __future__ import annotations

from typing import Protocol

from resolvers.context import Context


class OrganizationOwned(Protocol):
    @property
    def organization_id(self) -> int: ...


def can_view_organization(ctx: Context, organization_id: int) -> bool:
    return organization_id in ctx.principal.organization_roles


def can_view(ctx: Context, obj: OrganizationOwned | None) -> bool:
    """Whether the caller may see `obj` (None, a missing object, is never visible)."""
    return obj is not None and can_view_organization(ctx, obj.organization_id)
