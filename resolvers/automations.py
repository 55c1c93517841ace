"""Automations: webhooks that registry events trigger, their deliveries, and replays."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from db import automations
from db.automations import (
    AUTOMATIONS_BY_COLLECTION,
    AUTOMATIONS_BY_REGISTRY,
    DELIVERIES_BY_AUTOMATION,
)
from db.records import Automation, Collection, Delivery, DeliveryAttempt, Registry
from resolvers import authorization, patterns, secrets, validation, webhooks
from resolvers.collections import collection
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.events import EventType
from resolvers.history import AuditTarget, audit_txn, changed_values
from resolvers.pages import ListQuery
from resolvers.registries import registry
from resolvers.validation import invalid, label

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
    validation.description(spec.description)
    if spec.events is not None:
        if not spec.events:
            raise invalid("give at least one event", "events")
        for event in spec.events:
            if event not in EventType.__members__:
                raise invalid(f"unknown event {event!r}", "events")
    if spec.filter_regex is not None:
        patterns.check(spec.filter_regex)
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


# Reading


async def automation(ctx: Context, automation_id: int) -> Automation | None:
    """An automation of a registry the caller may see (changing it takes a role there)."""
    found = await ctx.loaders.automation_by_id.load(automation_id)
    if found is None or await registry(ctx, found.registry_id) is None:
        return None
    return found


async def automations_by_id(ctx: Context, ids: Sequence[int]) -> list[Automation | None]:
    """Automations looked up by ID, each for its registry's members and admins only."""
    found = await ctx.loaders.automation_by_id.load_many(ids)
    seen = await asyncio.gather(
        *(authorization.can_see_automations(ctx, a.registry_id) for a in found if a is not None)
    )
    shown = iter(seen)
    return [a if a is not None and next(shown) else None for a in found]


async def deliveries_by_id(ctx: Context, ids: Sequence[int]) -> list[Delivery | None]:
    """Deliveries looked up by ID: seen by whoever may see their automation."""
    found = await ctx.loaders.delivery_by_id.load_many(ids)
    owners = await automations_by_id(ctx, [d.automation_id for d in found if d is not None])
    shown = iter(owners)
    return [d if d is not None and next(shown) is not None else None for d in found]


async def registry_automations(ctx: Context, found: Registry) -> ListQuery[Automation]:
    await authorization.require_automations_visible(ctx, found.id)
    return ListQuery(AUTOMATIONS_BY_REGISTRY, found.id)


async def collection_automations(ctx: Context, found: Collection) -> ListQuery[Automation]:
    await authorization.require_automations_visible(ctx, found.registry_id or 0)
    return ListQuery(AUTOMATIONS_BY_COLLECTION, found.id)


def deliveries_of(found: Automation) -> ListQuery[Delivery]:
    return ListQuery(DELIVERIES_BY_AUTOMATION, found.id)


async def attempts(ctx: Context, delivery: Delivery) -> list[DeliveryAttempt]:
    return await ctx.loaders.attempts_by_delivery.load(delivery.id)


# Changes


async def _scope(
    ctx: Context, registry_id: int | None, collection_id: int | None
) -> tuple[Registry, Collection | None]:
    validation.exactly_one(registry_id, collection_id, ("registryId", "collectionId"))
    watched = None
    if collection_id is not None:
        watched = await collection(ctx, collection_id)
        if watched is None or watched.registry_id is None:
            raise not_found("collection not found", ("collectionId",))
        registry_id = watched.registry_id
    assert registry_id is not None
    owner = await registry(ctx, registry_id)
    if owner is None:
        raise not_found("registry not found", ("registryId",))
    return owner, watched


def _spec(settings: dict[str, Any]) -> AutomationSpec:
    """An input's settings, its headers as (name, value) pairs."""
    headers = settings.pop("headers", None)
    pairs = None if headers is None else [(h.name, h.value) for h in headers]
    return AutomationSpec(**settings, headers=pairs)


async def create_automation(
    ctx: Context, *, registry_id: int | None, collection_id: int | None, **settings: Any
) -> Automation:
    """A webhook on a registry or on one of its collections; `settings` as `AutomationSpec`."""
    spec = _spec(settings)
    owner, watched = await _scope(ctx, registry_id, collection_id)
    await authorization.require_registry_role(ctx, owner, "MEMBER", "creating an automation")
    if spec.name is None or spec.events is None or spec.webhook_url is None:
        raise invalid("an automation needs a name, events and a webhook URL", "name")
    if spec.secret is None:
        raise invalid("an automation needs a secret to sign its requests with", "secret")
    await _check(ctx, spec)
    async with ctx.transaction() as conn:
        created = await automations.insert_automation(
            conn,
            organization_id=owner.organization_id,
            registry_id=owner.id,
            collection_id=None if watched is None else watched.id,
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
                f"registry '{owner.name}' already has an automation '{spec.name}'",
                ("name",),
            )
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "CREATE_AUTOMATION",
            AuditTarget.automation(created),
            after=_state(created),
        )
    return created


def _state(found: Automation) -> dict[str, Any]:
    """What the history shows of an automation: never its URL, headers or secret."""
    return {
        "name": found.name,
        "enabled": found.enabled,
        "events": found.events,
        "filterRegex": found.filter_regex,
    }


async def _managed(ctx: Context, automation_id: int, action: str) -> Automation:
    """The automation, once the caller is known to be allowed to change it."""
    found = await automation(ctx, automation_id)
    owner = None if found is None else await registry(ctx, found.registry_id)
    if found is None or owner is None:
        raise not_found("automation not found", ("automationId",))
    await authorization.require_automation_manager(ctx, found, owner, action)
    return found


async def update_automation(ctx: Context, *, automation_id: int, **settings: Any) -> Automation:
    spec = _spec(settings)
    current = await _managed(ctx, automation_id, "changing another's automation")
    await _check(ctx, spec)
    try:
        async with ctx.transaction() as conn:
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
            # Secrets and the URL are never shown: the history says only that they changed.
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
            before, after = changed_values(_state(current), _state(updated))
            await audit_txn(
                conn,
                ctx.principal.user.id,
                "UPDATE_AUTOMATION",
                AuditTarget.automation(updated),
                before=before,
                after=after | {"changed": changed},
            )
    except asyncpg.UniqueViolationError:
        raise DomainError(
            ErrorCode.NAME_TAKEN,
            f"the registry already has an automation '{spec.name}'",
            ("name",),
        ) from None
    return updated


async def delete_automation(ctx: Context, *, automation_id: int) -> Automation:
    current = await _managed(ctx, automation_id, "deleting another's automation")
    async with ctx.transaction() as conn:
        await automations.delete_automation(conn, current.id)
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "DELETE_AUTOMATION",
            AuditTarget.automation(current),
            before=_state(current),
        )
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


async def test_automation(ctx: Context, *, automation_id: int) -> webhooks.AttemptResult:
    """Sends a sample event to the webhook now and returns what it answered."""
    current = await _managed(ctx, automation_id, "testing another's automation")
    values = {**SAMPLE_VALUES, "timestamp": datetime.now(UTC).isoformat()}
    body = webhooks.render(current.payload_template, values)
    return await webhooks.send(request_for(current, body, "TEST", None), ctx.webhook_policy)


async def redeliver(ctx: Context, *, delivery_id: int) -> Delivery:
    """Queues a finished delivery again (registry MEMBER)."""
    found = await ctx.loaders.delivery_by_id.load(delivery_id)
    owner = None if found is None else await automation(ctx, found.automation_id)
    if found is None or owner is None:
        raise not_found("delivery not found", ("deliveryId",))
    watched = await registry(ctx, owner.registry_id)
    assert watched is not None
    await authorization.require_registry_role(ctx, watched, "MEMBER", "redelivering")
    async with ctx.transaction() as conn:
        queued = await automations.redeliver(conn, found.id)
    if queued is None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"delivery {found.id} is still {found.status.lower()}; redeliver it once it ends",
            ("deliveryId",),
        )
    return queued
