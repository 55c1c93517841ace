"""History: the audit events every change writes, and the lists and alias time travel that read
them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db import history
from db.history import HISTORY_BY_COLLECTION, HISTORY_BY_ORGANIZATION, HISTORY_BY_REGISTRY
from db.pool import Connection
from db.records import AliasPeriod, ArtifactVersion, AuditEvent, Automation, Collection, Registry
from resolvers import authorization, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode
from resolvers.pages import ListQuery
from resolvers.validation import storable


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """What an event is about, and the histories it shows in: its organization's, and its
    registry's and collection's when it is in one."""

    organization_id: int
    registry_id: int | None
    collection_id: int | None
    type: str
    id: int | None

    @classmethod
    def version(cls, version: ArtifactVersion) -> AuditTarget:
        return cls(
            version.organization_id,
            version.registry_id,
            version.collection_id,
            "ArtifactVersion",
            version.id,
        )

    @classmethod
    def collection(cls, collection: Collection) -> AuditTarget:
        return cls(
            collection.organization_id,
            collection.registry_id,
            collection.id,
            "Collection",
            collection.id,
        )

    @classmethod
    def registry(cls, registry: Registry) -> AuditTarget:
        return cls(registry.organization_id, registry.id, None, "Registry", registry.id)

    @classmethod
    def automation(cls, automation: Automation) -> AuditTarget:
        return cls(
            automation.organization_id,
            automation.registry_id,
            automation.collection_id,
            "Automation",
            automation.id,
        )

    @classmethod
    def member(
        cls, organization_id: int, kind: str, member_id: int | None, registry_id: int | None = None
    ) -> AuditTarget:
        """A user or team whose membership or role changed, in the organization's history or,
        for a registry role, in the registry's."""
        return cls(organization_id, registry_id, None, kind, member_id)


async def audit_txn(
    conn: Connection,
    actor_id: int | None,
    action: str,
    target: AuditTarget,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Records a change in the transaction that makes it: both commit or neither does. The
    actor is None for changes an operator made from the command line."""
    await history.insert_audit_event(
        conn,
        organization_id=target.organization_id,
        registry_id=target.registry_id,
        collection_id=target.collection_id,
        actor_id=actor_id,
        action=action,
        target_type=target.type,
        target_id=target.id,
        before=before,
        after=after,
    )


def changed_values(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entries of two states that differ: what an update event shows."""
    return (
        {k: v for k, v in before.items() if after[k] != v},
        {k: v for k, v in after.items() if before[k] != v},
    )


def _actions(actions: list[str] | None) -> tuple[str, ...] | None:
    return None if actions is None else tuple(sorted(set(actions)))


def registry_history(registry: Registry, actions: list[str] | None) -> ListQuery[AuditEvent]:
    return ListQuery(HISTORY_BY_REGISTRY, registry.id, _actions(actions))


def collection_history(collection: Collection, actions: list[str] | None) -> ListQuery[AuditEvent]:
    return ListQuery(HISTORY_BY_COLLECTION, collection.id, _actions(actions))


def organization_history(
    ctx: Context, organization_id: int, actions: list[str] | None
) -> ListQuery[AuditEvent]:
    authorization.require_organization_admin_to_see(ctx, organization_id, "the history")
    return ListQuery(HISTORY_BY_ORGANIZATION, organization_id, _actions(actions))


async def alias_periods(ctx: Context, version_id: int) -> list[AliasPeriod]:
    return await ctx.loaders.alias_periods_by_version.load(version_id)


async def version_as_of(
    ctx: Context, collection_id: int, alias: str | None, index: int | None, as_of: datetime
) -> ArtifactVersion | None:
    """The version that held `alias` at `as_of` (None if none did, or it was since unlinked)."""
    if alias is None or index is not None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "`asOf` resolves an `alias`; give no `index`", ("asOf",)
        )
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    if not storable(alias):
        return None
    key = (collection_id, validation.folded(alias), as_of)
    version_id = await ctx.loaders.alias_holder_as_of.load(key)
    if version_id is None:
        return None
    return await authorization.visible(ctx, await ctx.loaders.version_by_id.load(version_id))
