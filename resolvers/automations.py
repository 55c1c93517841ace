"""Automations: webhooks that registry events trigger, their deliveries, and replays."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from db import audit, automations
from db.automations import Automation, Delivery
from db.pool import Connection
from db.records import Collection, Registry
from resolvers import reads, secrets, webhooks
from resolvers.authorization import require_registry_role
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.mutations import transaction
from resolvers.validation import description as check_description
from resolvers.validation import invalid, label

EVENTS = (
    "LINK_ARTIFACT",
    "UNLINK_ARTIFACT",
    "ADD_ARTIFACT_ALIAS",
    "REMOVE_ARTIFACT_ALIAS",
    "ADD_TAG",
    "CREATE_ARTIFACT",
)
MAX_SECRET = 1024


@dataclass(frozen=True, slots=True)
class AutomationSpec:
    """The writable settings of an automation; None leaves a setting as it is on update."""

    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    events: Sequence[str] | None = None
    filter_regex: str | None = None
    clear_filter: bool = False
    webhook_url: str | None = None
    headers: Sequence[tuple[str, str]] | None = None
    secret: str | None = None
    payload_template: str | None = None


async def _check(ctx: Context, spec: AutomationSpec) -> None:
    if spec.name is not None:
        label(spec.name, "automation name", "name")
    check_description(spec.description)
    if spec.events is not None:
        if not spec.events:
            raise invalid("give at least one event", "events")
        for event in spec.events:
            if event not in EVENTS:
                raise invalid(f"unknown event {event!r}", "events")
    if spec.filter_regex is not None:
        try:
            re.compile(spec.filter_regex)
        except re.error as error:
            raise invalid(f"the filter is not a valid regex: {error}", "filterRegex") from None
        if len(spec.filter_regex) > 512:
            raise invalid("the filter is longer than 512 characters", "filterRegex")
    if spec.webhook_url is not None:
        if len(spec.webhook_url) > 2048:
            raise invalid("the webhook URL is longer than 2048 characters", "webhookUrl")
        await webhooks.check_destination(spec.webhook_url, ctx.webhook_policy)
    if spec.headers is not None:
        webhooks.parse_headers(spec.headers)
    if spec.secret is not None and not 1 <= len(spec.secret) <= MAX_SECRET:
        raise invalid(f"the secret must be 1 to {MAX_SECRET} characters", "secret")
    if spec.payload_template is not None:
        if len(spec.payload_template) > 65536:
            raise invalid("the payload template is longer than 65536 characters", "payloadTemplate")
        webhooks.check_template(spec.payload_template)


def _sealed_headers(headers: Sequence[tuple[str, str]]) -> bytes | None:
    parsed = webhooks.parse_headers(headers)
    return secrets.seal(orjson.dumps(parsed).decode()) if parsed else None


async def _scope(
    ctx: Context, registry_id: int | None, collection_id: int | None
) -> tuple[Registry, Collection | None]:
    if (registry_id is None) == (collection_id is None):
        raise invalid("give exactly one of `registryId` and `collectionId`", "registryId")
    collection = None
    if collection_id is not None:
        collection = await reads.collection(ctx, collection_id)
        if collection is None or collection.registry_id is None:
            raise not_found("collection not found", ("collectionId",))
        registry_id = collection.registry_id
    assert registry_id is not None
    registry = await reads.registry(ctx, registry_id)
    if registry is None:
        raise not_found("registry not found", ("registryId",))
    return registry, collection


async def create_automation(
    ctx: Context, registry_id: int | None, collection_id: int | None, spec: AutomationSpec
) -> Automation:
    registry, collection = await _scope(ctx, registry_id, collection_id)
    await require_registry_role(ctx, registry, "MEMBER", "creating an automation")
    if spec.name is None or spec.events is None or spec.webhook_url is None:
        raise invalid("an automation needs a name, events and a webhook URL", "name")
    if spec.secret is None:
        raise invalid("an automation needs a secret to sign its requests with", "secret")
    await _check(ctx, spec)
    async with transaction(ctx) as conn:
        created = await automations.insert_automation(
            conn,
            organization_id=registry.organization_id,
            registry_id=registry.id,
            collection_id=None if collection is None else collection.id,
            name=spec.name,
            description=spec.description or "",
            enabled=True if spec.enabled is None else spec.enabled,
            events=list(dict.fromkeys(spec.events)),
            filter_regex=spec.filter_regex,
            webhook_url=spec.webhook_url,
            headers=_sealed_headers(spec.headers or ()),
            secret=secrets.seal(spec.secret),
            payload_template=spec.payload_template or webhooks.DEFAULT_TEMPLATE,
            created_by=ctx.principal.user.id,
        )
        if created is None:
            raise DomainError(
                ErrorCode.NAME_TAKEN,
                f"registry '{registry.name}' already has an automation '{spec.name}'",
                ("name",),
            )
        await _audit(conn, ctx, "CREATE_AUTOMATION", created, after=_state(created))
    return created


def _state(automation: Automation) -> dict[str, Any]:
    """What the history shows of an automation: never its URL, headers or secret."""
    return {
        "name": automation.name,
        "enabled": automation.enabled,
        "events": automation.events,
        "filterRegex": automation.filter_regex,
    }


async def _audit(
    conn: Connection,
    ctx: Context,
    action: str,
    automation: Automation,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.insert_audit_event(
        conn,
        organization_id=automation.organization_id,
        registry_id=automation.registry_id,
        collection_id=automation.collection_id,
        actor_id=ctx.principal.user.id,
        action=action,
        target_type="Automation",
        target_id=automation.id,
        before=before,
        after=after,
    )


async def _own_or_admin(ctx: Context, automation_id: int, action: str) -> Automation:
    """MEMBERs may change their own automations; others' need the registry's ADMIN."""
    (found,) = await automations.automations_by_id(ctx.pool, [automation_id])
    registry = None if found is None else await reads.registry(ctx, found.registry_id)
    if found is None or registry is None:
        raise not_found("automation not found", ("automationId",))
    minimum = "MEMBER" if found.created_by == ctx.principal.user.id else "ADMIN"
    await require_registry_role(ctx, registry, minimum, action)
    return found


async def automation(ctx: Context, automation_id: int) -> Automation | None:
    (found,) = await automations.automations_by_id(ctx.pool, [automation_id])
    if found is None or await reads.registry(ctx, found.registry_id) is None:
        return None
    return found


async def update_automation(ctx: Context, automation_id: int, spec: AutomationSpec) -> Automation:
    current = await _own_or_admin(ctx, automation_id, "changing another's automation")
    await _check(ctx, spec)
    try:
        return await _update(ctx, current, spec)
    except asyncpg.UniqueViolationError:
        raise DomainError(
            ErrorCode.NAME_TAKEN,
            f"the registry already has an automation '{spec.name}'",
            ("name",),
        ) from None


async def _update(ctx: Context, current: Automation, spec: AutomationSpec) -> Automation:
    async with transaction(ctx) as conn:
        updated = await automations.update_automation(
            conn,
            current.id,
            name=spec.name,
            description=spec.description,
            enabled=spec.enabled,
            events=None if spec.events is None else list(dict.fromkeys(spec.events)),
            set_filter=spec.filter_regex is not None or spec.clear_filter,
            filter_regex=spec.filter_regex,
            webhook_url=spec.webhook_url,
            set_headers=spec.headers is not None,
            headers=None if spec.headers is None else _sealed_headers(spec.headers),
            secret=None if spec.secret is None else secrets.seal(spec.secret),
            payload_template=spec.payload_template,
        )
        before, after = _state(current), _state(updated)
        changed = [
            name
            for name, value in (
                ("webhookUrl", spec.webhook_url),
                ("headers", spec.headers),
                ("secret", spec.secret),
                ("payloadTemplate", spec.payload_template),
            )
            if value is not None
        ]
        await _audit(
            conn,
            ctx,
            "UPDATE_AUTOMATION",
            updated,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v} | {"changed": changed},
        )
    return updated


async def delete_automation(ctx: Context, automation_id: int) -> Automation:
    current = await _own_or_admin(ctx, automation_id, "deleting another's automation")
    async with transaction(ctx) as conn:
        await automations.delete_automation(conn, current.id)
        await _audit(conn, ctx, "DELETE_AUTOMATION", current, before=_state(current))
    return current


def header_names(automation: Automation) -> list[str]:
    if automation.headers is None:
        return []
    try:
        return sorted(orjson.loads(secrets.unseal(automation.headers)))
    except secrets.SecretKeyError:
        return []


def request_for(
    automation: Automation, body: str, event_type: str, delivery_id: int | None
) -> webhooks.Request:
    headers = orjson.loads(secrets.unseal(automation.headers)) if automation.headers else {}
    return webhooks.Request(
        url=automation.webhook_url,
        body=body,
        secret=secrets.unseal(automation.secret),
        event_type=event_type,
        delivery_id=delivery_id,
        headers=headers,
    )


SAMPLE_VALUES = {
    "event_type": "LINK_ARTIFACT",
    "event_author": "cairn",
    "organization": "example",
    "registry": "model",
    "collection": "example-model",
    "artifact_version": "example/wandb-registry-model/example-model:v0",
    "version": "v0",
    "version_index": 0,
    "artifact_type": "model",
    "digest": "0" * 64,
    "alias": "production",
    "tag": "example",
    "metadata": {"example": True},
}


async def send_test_event(ctx: Context, automation_id: int) -> webhooks.AttemptResult:
    """Sends a sample event to the webhook now and returns what it answered."""
    current = await _own_or_admin(ctx, automation_id, "testing another's automation")
    values = {**SAMPLE_VALUES, "timestamp": datetime.now(UTC).isoformat()}
    body = webhooks.render(current.payload_template, values)
    return await webhooks.send(request_for(current, body, "TEST", None), ctx.webhook_policy)


async def redeliver(ctx: Context, delivery_id: int) -> Delivery:
    found = await automations.delivery_by_id(ctx.pool, delivery_id)
    if found is None:
        raise not_found("delivery not found", ("deliveryId",))
    owner = await automation(ctx, found.automation_id)
    if owner is None:
        raise not_found("delivery not found", ("deliveryId",))
    registry = await reads.registry(ctx, owner.registry_id)
    assert registry is not None
    await require_registry_role(ctx, registry, "MEMBER", "redelivering")
    async with transaction(ctx) as conn:
        queued = await automations.redeliver(conn, found.id)
    if queued is None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"delivery {found.id} is still {found.status.lower()}; redeliver it once it ends",
            ("deliveryId",),
        )
    return queued
