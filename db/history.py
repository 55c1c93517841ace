"""Audit events and alias history: what changed, who changed it, and when each alias moved.

Audit events are written in the same transaction as the change they record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor
from db.records import AliasPeriod, AuditEvent, from_record

AUDIT_COLUMNS = """e.id, e.organization_id, e.registry_id, e.collection_id, e.actor_id, e.action,
e.target_type, e.target_id, e.before, e.after, e.created_at"""
ACTION_FILTER = "e.action = ANY($filter::text[])"

HISTORY_BY_REGISTRY: ListSpec[AuditEvent] = ListSpec(
    name="registry.history",
    columns=AUDIT_COLUMNS,
    source="FROM audit_events e WHERE e.registry_id = p.parent_id",
    keys=(SortKey("e.id", "bigint"),),
    descending=True,
    record=lambda row: from_record(AuditEvent, row),
    filter=ACTION_FILTER,
)

HISTORY_BY_COLLECTION: ListSpec[AuditEvent] = ListSpec(
    name="collection.history",
    columns=AUDIT_COLUMNS,
    source="FROM audit_events e WHERE e.collection_id = p.parent_id",
    keys=(SortKey("e.id", "bigint"),),
    descending=True,
    record=lambda row: from_record(AuditEvent, row),
    filter=ACTION_FILTER,
)

SELECT_ALIAS_PERIODS_BY_VERSION = """
SELECT version_id, alias, version_index, assigned_at, removed_at FROM alias_history
WHERE version_id = ANY($1::bigint[]) ORDER BY version_id, assigned_at, id
"""


async def alias_periods_by_version(
    conn: Executor, version_ids: Sequence[int]
) -> list[list[AliasPeriod]]:
    rows = await conn.fetch(SELECT_ALIAS_PERIODS_BY_VERSION, list(version_ids))
    found: dict[int, list[AliasPeriod]] = {}
    for row in rows:
        found.setdefault(row["version_id"], []).append(from_record(AliasPeriod, row))
    return [found.get(i, []) for i in version_ids]


# The holder at T: the assignment made at or before T that had not ended by T.
SELECT_ALIAS_HOLDERS_AS_OF = """
SELECT k.collection_id, k.alias, k.as_of, h.version_id
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS k(collection_id, alias, as_of)
CROSS JOIN LATERAL (
    SELECT version_id FROM alias_history
    WHERE collection_id = k.collection_id AND alias = k.alias AND assigned_at <= k.as_of
      AND (removed_at IS NULL OR removed_at > k.as_of)
    ORDER BY assigned_at DESC, id DESC LIMIT 1
) AS h
"""


async def alias_holders_as_of(
    conn: Executor, keys: Sequence[tuple[int, str, datetime]]
) -> list[int | None]:
    """The version id holding each (collection, alias) at each time, or None."""
    rows = await conn.fetch(
        SELECT_ALIAS_HOLDERS_AS_OF,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    found = {(r["collection_id"], r["alias"], r["as_of"]): r["version_id"] for r in rows}
    return [found.get(k) for k in keys]


CLOSE_ALIAS_PERIODS_OF_VERSION = """
UPDATE alias_history SET removed_at = clock_timestamp()
WHERE version_id = $1 AND removed_at IS NULL
RETURNING alias
"""


async def close_alias_periods_of_version(conn: Connection, version_id: int) -> list[str]:
    """Ends every open alias period of a version that is going away; returns the aliases."""
    rows = await conn.fetch(CLOSE_ALIAS_PERIODS_OF_VERSION, version_id)
    return sorted(row["alias"] for row in rows)


# Organization-level events (members, teams, service accounts and keys), and the whole history of
# registries that no longer exist, so that deleting a registry does not hide what happened in it.
HISTORY_BY_ORGANIZATION: ListSpec[AuditEvent] = ListSpec(
    name="organization.history",
    columns=AUDIT_COLUMNS,
    source="""FROM audit_events e WHERE e.organization_id = p.parent_id
AND (e.registry_id IS NULL
     OR NOT EXISTS (SELECT 1 FROM registries r WHERE r.id = e.registry_id))""",
    keys=(SortKey("e.id", "bigint"),),
    descending=True,
    record=lambda row: from_record(AuditEvent, row),
    filter=ACTION_FILTER,
)


INSERT_AUDIT_EVENT = """
INSERT INTO audit_events (organization_id, registry_id, collection_id, actor_id, action,
                          target_type, target_id, before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


async def insert_audit_event(
    conn: Connection,
    *,
    organization_id: int,
    registry_id: int | None,
    collection_id: int | None,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        INSERT_AUDIT_EVENT,
        organization_id,
        registry_id,
        collection_id,
        actor_id,
        action,
        target_type,
        target_id,
        before,
        after,
    )
