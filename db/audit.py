"""Audit events: written in the same transaction as the change they record."""

from __future__ import annotations

from typing import Any

from db.pool import Connection

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
