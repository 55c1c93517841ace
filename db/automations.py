"""Automations, the delivery outbox, and the NOTIFY channels that wake workers and subscribers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import Automation, Delivery, DeliveryAttempt, from_record, records_by_id

EVENTS_CHANNEL = "cairn_events"
DELIVERIES_CHANNEL = "cairn_deliveries"


AUTOMATION_COLUMNS = """a.id, a.organization_id, a.registry_id, a.collection_id, a.name,
a.description, a.enabled, a.events::text[] AS events, a.filter_regex, a.webhook_url, a.headers,
a.secret, a.payload_template, a.created_by, a.created_at, a.updated_at"""
DELIVERY_COLUMNS = """d.id, d.automation_id, d.event_type::text AS event_type, d.body,
d.status::text AS status, d.attempt_count, d.next_attempt_at, d.created_at, d.finished_at"""
ATTEMPT_COLUMNS = """t.id, t.delivery_id, t.attempted_at, t.status_code, t.latency_ms,
t.response_excerpt, t.error"""


def _automation(row: object) -> Automation:
    return from_record(Automation, row)  # type: ignore[arg-type]


INSERT_AUTOMATION = f"""
INSERT INTO automations AS a (organization_id, registry_id, collection_id, name, description,
    enabled, events, filter_regex, webhook_url, headers, secret, payload_template, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7::automation_event[], $8, $9, $10, $11, $12, $13)
ON CONFLICT DO NOTHING
RETURNING {AUTOMATION_COLUMNS}
"""


async def insert_automation(
    conn: Connection,
    *,
    organization_id: int,
    registry_id: int,
    collection_id: int | None,
    name: str,
    description: str,
    enabled: bool,
    events: Sequence[str],
    filter_regex: str | None,
    webhook_url: str,
    headers: bytes | None,
    secret: bytes,
    payload_template: str,
    created_by: int,
) -> Automation | None:
    """The new automation, or None when the registry has one of that name."""
    row = await conn.fetchrow(
        INSERT_AUTOMATION,
        organization_id,
        registry_id,
        collection_id,
        name,
        description,
        enabled,
        list(events),
        filter_regex,
        webhook_url,
        headers,
        secret,
        payload_template,
        created_by,
    )
    return None if row is None else _automation(row)


UPDATE_AUTOMATION = f"""
UPDATE automations AS a SET
    name = coalesce($2, name), description = coalesce($3, description),
    enabled = coalesce($4, enabled), events = coalesce($5::automation_event[], events),
    filter_regex = CASE WHEN $6 THEN $7 ELSE filter_regex END,
    webhook_url = coalesce($8, webhook_url), headers = CASE WHEN $9 THEN $10 ELSE headers END,
    secret = coalesce($11, secret), payload_template = coalesce($12, payload_template),
    updated_at = clock_timestamp()
WHERE a.id = $1
RETURNING {AUTOMATION_COLUMNS}
"""


async def update_automation(
    conn: Connection,
    automation_id: int,
    *,
    name: str | None,
    description: str | None,
    enabled: bool | None,
    events: Sequence[str] | None,
    set_filter: bool,
    filter_regex: str | None,
    webhook_url: str | None,
    set_headers: bool,
    headers: bytes | None,
    secret: bytes | None,
    payload_template: str | None,
) -> Automation:
    row = await fetch_one(
        conn,
        UPDATE_AUTOMATION,
        automation_id,
        name,
        description,
        enabled,
        None if events is None else list(events),
        set_filter,
        filter_regex,
        webhook_url,
        set_headers,
        headers,
        secret,
        payload_template,
    )
    return _automation(row)


DELETE_AUTOMATION = "DELETE FROM automations WHERE id = $1"


async def delete_automation(conn: Connection, automation_id: int) -> None:
    await conn.execute(DELETE_AUTOMATION, automation_id)


SELECT_AUTOMATIONS_BY_ID = f"""
SELECT {AUTOMATION_COLUMNS} FROM automations AS a WHERE a.id = ANY($1::bigint[])
"""


async def automations_by_id(conn: Executor, ids: Sequence[int]) -> list[Automation | None]:
    return await records_by_id(conn, SELECT_AUTOMATIONS_BY_ID, ids, Automation)


AUTOMATIONS_BY_REGISTRY: ListSpec[Automation] = ListSpec(
    name="registry.automations",
    columns=AUTOMATION_COLUMNS,
    source="FROM automations AS a WHERE a.registry_id = p.parent_id",
    keys=(SortKey("a.created_at", "timestamptz"), SortKey("a.id", "bigint")),
    descending=True,
    record=_automation,
)

AUTOMATIONS_BY_COLLECTION: ListSpec[Automation] = ListSpec(
    name="collection.automations",
    columns=AUTOMATION_COLUMNS,
    source="FROM automations AS a WHERE a.collection_id = p.parent_id",
    keys=(SortKey("a.created_at", "timestamptz"), SortKey("a.id", "bigint")),
    descending=True,
    record=_automation,
)

DELIVERIES_BY_AUTOMATION: ListSpec[Delivery] = ListSpec(
    name="automation.deliveries",
    columns=DELIVERY_COLUMNS,
    source="FROM deliveries AS d WHERE d.automation_id = p.parent_id",
    keys=(SortKey("d.id", "bigint"),),
    descending=True,
    record=lambda row: from_record(Delivery, row),
)

SELECT_ATTEMPTS_BY_DELIVERY = f"""
SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts AS t
WHERE t.delivery_id = ANY($1::bigint[]) ORDER BY t.delivery_id, t.id
"""


async def attempts_by_delivery(
    conn: Executor, delivery_ids: Sequence[int]
) -> list[list[DeliveryAttempt]]:
    rows = await conn.fetch(SELECT_ATTEMPTS_BY_DELIVERY, list(delivery_ids))
    found: dict[int, list[DeliveryAttempt]] = {}
    for row in rows:
        found.setdefault(row["delivery_id"], []).append(from_record(DeliveryAttempt, row))
    return [found.get(i, []) for i in delivery_ids]


# Announces the event to live subscribers (delivered on commit, dropped on rollback) and finds
# the enabled automations it may trigger: those of the registry, or of its collection.
NOTIFY_AND_MATCH = f"""
WITH notified AS (SELECT pg_notify('{EVENTS_CHANNEL}', $4) AS sent)
SELECT {AUTOMATION_COLUMNS}
FROM notified
JOIN automations AS a ON a.enabled AND a.registry_id = $1
    AND (a.collection_id IS NULL OR a.collection_id = $2)
    AND $3::automation_event = ANY(a.events)
"""

# Of some automations, those whose creator may still see their registry: an ADMIN of its
# organization, a member when it is ORGANIZATION-visible, or one with a role in it, directly or
# through a team.
CREATOR_SEES_REGISTRY = """
SELECT a.id FROM automations AS a
JOIN registries AS r ON r.id = a.registry_id
JOIN organization_members AS m ON m.organization_id = r.organization_id
    AND m.user_id = a.created_by
WHERE a.id = ANY($1::bigint[]) AND (
    m.role = 'ADMIN' OR r.visibility = 'ORGANIZATION'
    OR EXISTS (SELECT 1 FROM registry_user_roles ur
               WHERE ur.registry_id = r.id AND ur.user_id = a.created_by)
    OR EXISTS (SELECT 1 FROM registry_team_roles tr
               JOIN team_members tm ON tm.team_id = tr.team_id
               WHERE tr.registry_id = r.id AND tm.user_id = a.created_by))
"""


async def creators_see_registry(conn: Executor, automation_ids: Sequence[int]) -> set[int]:
    rows = await conn.fetch(CREATOR_SEES_REGISTRY, list(automation_ids))
    return {row["id"] for row in rows}


async def notify_and_match(
    conn: Connection, registry_id: int, collection_id: int | None, event_type: str, notice: str
) -> list[Automation]:
    rows = await conn.fetch(NOTIFY_AND_MATCH, registry_id, collection_id, event_type, notice)
    return [_automation(row) for row in rows]


INSERT_DELIVERIES = f"""
WITH inserted AS (
    INSERT INTO deliveries (automation_id, event_type, audit_event_id, body)
    SELECT a, $2::automation_event, $3, b FROM unnest($1::bigint[], $4::text[]) AS x(a, b)
    RETURNING id
)
SELECT count(*) AS inserted, pg_notify('{DELIVERIES_CHANNEL}', '') FROM inserted
"""


async def insert_deliveries(
    conn: Connection,
    automation_ids: Sequence[int],
    event_type: str,
    audit_event_id: int | None,
    bodies: Sequence[str],
) -> None:
    """Queues one delivery per automation; workers are woken when the transaction commits."""
    await conn.execute(
        INSERT_DELIVERIES, list(automation_ids), event_type, audit_event_id, list(bodies)
    )


CLAIM_DUE = f"""
UPDATE deliveries AS d SET status = 'IN_PROGRESS', attempt_count = d.attempt_count + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2)
FROM (
    SELECT id FROM deliveries
    WHERE (status = 'PENDING' AND next_attempt_at <= clock_timestamp())
       OR (status = 'IN_PROGRESS' AND lease_until < clock_timestamp())
    ORDER BY next_attempt_at, id
    FOR UPDATE SKIP LOCKED
    LIMIT $1
) AS due
WHERE d.id = due.id
RETURNING {DELIVERY_COLUMNS}
"""


async def claim_due(conn: Executor, limit: int, lease_seconds: float) -> list[Delivery]:
    """Takes up to `limit` due deliveries for one attempt each. SKIP LOCKED lets any number of
    workers claim at once without taking the same one; an expired lease (a dead worker) makes a
    delivery due again."""
    rows = await conn.fetch(CLAIM_DUE, limit, lease_seconds)
    return [from_record(Delivery, row) for row in rows]


INSERT_ATTEMPT = """
INSERT INTO delivery_attempts (delivery_id, status_code, latency_ms, response_excerpt, error)
VALUES ($1, $2, $3, $4, $5)
"""
# Only the worker holding this attempt may settle it (its lease may have expired and another
# worker taken the delivery since).
SETTLE_DELIVERY = """
UPDATE deliveries SET status = $3::delivery_status, lease_until = NULL,
    next_attempt_at = coalesce($4, next_attempt_at),
    finished_at = CASE WHEN $3 IN ('SUCCEEDED', 'FAILED') THEN clock_timestamp() END
WHERE id = $1 AND status = 'IN_PROGRESS' AND attempt_count = $2
"""


async def record_attempt(
    conn: Connection,
    delivery: Delivery,
    *,
    status_code: int | None,
    latency_ms: int,
    response_excerpt: str | None,
    error: str | None,
    outcome: str,
    retry_at: datetime | None,
) -> None:
    async with conn.transaction():
        await conn.execute(
            INSERT_ATTEMPT, delivery.id, status_code, latency_ms, response_excerpt, error
        )
        await conn.execute(SETTLE_DELIVERY, delivery.id, delivery.attempt_count, outcome, retry_at)


REDELIVER = f"""
WITH updated AS (
    UPDATE deliveries AS d SET status = 'PENDING', attempt_count = 0, lease_until = NULL,
        next_attempt_at = clock_timestamp(), finished_at = NULL
    WHERE d.id = $1 AND d.status IN ('SUCCEEDED', 'FAILED')
    RETURNING {DELIVERY_COLUMNS}
)
SELECT updated.*, pg_notify('{DELIVERIES_CHANNEL}', '') FROM updated
"""


async def redeliver(conn: Connection, delivery_id: int) -> Delivery | None:
    """Queues a finished delivery again (None while it is still pending or in progress)."""
    row = await conn.fetchrow(REDELIVER, delivery_id)
    return None if row is None else from_record(Delivery, row)


SELECT_DELIVERIES_BY_ID = f"""
SELECT {DELIVERY_COLUMNS} FROM deliveries AS d WHERE d.id = ANY($1::bigint[])
"""


async def deliveries_by_id(conn: Executor, ids: Sequence[int]) -> list[Delivery | None]:
    return await records_by_id(conn, SELECT_DELIVERIES_BY_ID, ids, Delivery)


OUTBOX_DEPTH = "SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'IN_PROGRESS')"


async def outbox_depth(conn: Executor) -> int:
    """Deliveries waiting to be sent or retried, or being sent."""
    return int(await conn.fetchval(OUTBOX_DEPTH))
