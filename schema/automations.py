"""Automations (webhooks on registry events), their deliveries, and live registry events."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from db import automations as records
from resolvers import automations, reads
from resolvers.context import Context
from resolvers.events import RegistryEvent as RegistryEventRecord
from schema.connection import After, Before, Connection, First, Last, resolve_connection
from schema.ids import decode_id, encode_id
from schema.mutations import Errors, UserError, input_id, maybe, run_mutation
from schema.types import ArtifactVersion, Collection, Ctx, Registry, User


@strawberry.enum(description="Registry events that automations and subscriptions see.")
class AutomationEvent(Enum):
    LINK_ARTIFACT = strawberry.enum_value(
        "LINK_ARTIFACT", description="A version was linked into a collection."
    )
    UNLINK_ARTIFACT = strawberry.enum_value(
        "UNLINK_ARTIFACT", description="A version was removed from a collection."
    )
    ADD_ARTIFACT_ALIAS = strawberry.enum_value(
        "ADD_ARTIFACT_ALIAS", description="A version got an alias (new, or moved to it)."
    )
    REMOVE_ARTIFACT_ALIAS = strawberry.enum_value(
        "REMOVE_ARTIFACT_ALIAS", description="An alias was taken off a version."
    )
    ADD_TAG = strawberry.enum_value("ADD_TAG", description="A version or collection was tagged.")
    CREATE_ARTIFACT = strawberry.enum_value(
        "CREATE_ARTIFACT", description="A collection (a new artifact) appeared in the registry."
    )


@strawberry.enum(description="Where a delivery stands.")
class DeliveryStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for its (next) attempt.")
    IN_PROGRESS = strawberry.enum_value("IN_PROGRESS", description="A worker is sending it.")
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="The receiver answered 2xx.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Refused by the receiver, or out of attempts."
    )


@strawberry.type(description="One try at sending a delivery.")
class DeliveryAttempt:
    attempted_at: datetime = strawberry.field(description="When it was sent.")
    status_code: int | None = strawberry.field(description="The HTTP status, if any came back.")
    latency_ms: int = strawberry.field(description="How long it took, in milliseconds.")
    response_excerpt: str | None = strawberry.field(
        description="The start of the response body (at most 1024 characters)."
    )
    error: str | None = strawberry.field(description="Why no response came, if none did.")


@strawberry.type(description="A webhook request an automation owes a receiver, and its tries.")
class Delivery:
    record: strawberry.Private[records.Delivery]
    id: strawberry.ID = strawberry.field(description="The delivery's ID, for `redeliver`.")
    event_type: AutomationEvent = strawberry.field(description="The event that caused it.")
    status: DeliveryStatus = strawberry.field(description="Where it stands.")
    body: str = strawberry.field(description="The JSON body sent (the rendered template).")
    created_at: datetime = strawberry.field(description="When the event happened.")
    finished_at: datetime | None = strawberry.field(description="When it succeeded or failed.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due, while pending."
    )

    @classmethod
    def of(cls, r: records.Delivery) -> Delivery:
        return cls(
            record=r,
            id=strawberry.ID(encode_id("Delivery", r.id)),
            event_type=AutomationEvent[r.event_type],
            status=DeliveryStatus[r.status],
            body=r.body,
            created_at=r.created_at,
            finished_at=r.finished_at,
            next_attempt_at=r.next_attempt_at if r.status == "PENDING" else None,
        )

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempts(self, info: Ctx) -> list[DeliveryAttempt]:
        found = await info.context.loaders.attempts_by_delivery.load(self.record.id)
        return [
            DeliveryAttempt(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_excerpt=a.response_excerpt,
                error=a.error,
            )
            for a in found
        ]


@strawberry.type(description="A webhook that registry events trigger.")
class Automation:
    record: strawberry.Private[records.Automation]
    id: strawberry.ID = strawberry.field(description="The automation's ID.")
    name: str = strawberry.field(description="Name, unique in the registry.")
    description: str = strawberry.field(description="What it is for.")
    enabled: bool = strawberry.field(description="Disabled automations send nothing.")
    events: list[AutomationEvent] = strawberry.field(description="Events that trigger it.")
    filter_regex: str | None = strawberry.field(
        description="A regex the whole alias (alias events) or tag (tag events) must match."
    )
    webhook_url: str = strawberry.field(description="Where requests go.")
    payload_template: str = strawberry.field(description="The JSON body template.")
    created_at: datetime = strawberry.field(description="When it was made.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, r: records.Automation) -> Automation:
        return cls(
            record=r,
            id=strawberry.ID(encode_id("Automation", r.id)),
            name=r.name,
            description=r.description,
            enabled=r.enabled,
            events=[AutomationEvent[e] for e in r.events],
            filter_regex=r.filter_regex,
            webhook_url=r.webhook_url,
            payload_template=r.payload_template,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )

    @strawberry.field(description="Names of the custom headers sent (their values are secret).")
    def header_names(self) -> list[str]:
        return automations.header_names(self.record)

    @strawberry.field(description="The registry it belongs to.")
    async def registry(self, info: Ctx) -> Registry | None:
        found = await reads.registry(info.context, self.record.registry_id)
        return maybe(Registry.of, found)

    @strawberry.field(description="The one collection it watches; null for the whole registry.")
    async def collection(self, info: Ctx) -> Collection | None:
        if self.record.collection_id is None:
            return None
        return maybe(Collection.of, await reads.collection(info.context, self.record.collection_id))

    @strawberry.field(description="Who made it.")
    async def created_by(self, info: Ctx) -> User | None:
        return maybe(User.of, await reads.user(info.context, self.record.created_by))

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Delivery]:
        return await resolve_connection(
            info,
            records.DELIVERIES_BY_AUTOMATION,
            self.record.id,
            Delivery.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )


@strawberry.input(description="A custom header sent with each request.")
class HeaderInput:
    name: str = strawberry.field(description="Header name.")
    value: str = strawberry.field(description="Header value (write-only).")


@strawberry.input(description="A new automation, on a registry or on one collection.")
class CreateAutomationInput:
    registry_id: strawberry.ID | None = strawberry.field(
        default=None, description="Watch every collection of this registry (or collectionId)."
    )
    collection_id: strawberry.ID | None = strawberry.field(
        default=None, description="Watch this collection only."
    )
    name: str = strawberry.field(description="Name, unique in the registry.")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    enabled: bool = strawberry.field(default=True, description="Whether it sends.")
    events: list[AutomationEvent] = strawberry.field(description="Events that trigger it.")
    filter_regex: str | None = strawberry.field(
        default=None, description="A regex the whole alias or tag must match."
    )
    webhook_url: str = strawberry.field(description="Where to POST.")
    headers: list[HeaderInput] = strawberry.field(
        default_factory=list, description="Custom headers (their values are write-only)."
    )
    secret: str = strawberry.field(description="The HMAC signing secret (write-only).")
    payload_template: str | None = strawberry.field(
        default=None,
        description="A JSON body with ${variables}: event_type, event_author, organization, "
        "registry, collection, artifact_version, version, version_index, artifact_type, "
        "digest, alias, tag, metadata, metadata.<key>, timestamp. A string that is exactly one "
        "variable becomes its value. Default: all of them.",
    )


@strawberry.input(description="Changes to an automation; omitted fields stay as they are.")
class UpdateAutomationInput:
    automation_id: strawberry.ID = strawberry.field(description="The automation.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    enabled: bool | None = strawberry.field(default=None, description="Enable or disable.")
    events: list[AutomationEvent] | None = strawberry.field(default=None, description="Events.")
    filter_regex: str | None = strawberry.field(default=None, description="New filter.")
    clear_filter: bool = strawberry.field(default=False, description="Remove the filter.")
    webhook_url: str | None = strawberry.field(default=None, description="New URL.")
    headers: list[HeaderInput] | None = strawberry.field(
        default=None, description="New headers (replace the old ones)."
    )
    secret: str | None = strawberry.field(default=None, description="New signing secret.")
    payload_template: str | None = strawberry.field(default=None, description="New template.")


@strawberry.type(description="The result of a change to an automation.")
class AutomationPayload:
    automation: Automation | None = strawberry.field(description="The automation.")
    errors: list[UserError] = Errors


@strawberry.input(description="An automation to delete, with its deliveries.")
class DeleteAutomationInput:
    automation_id: strawberry.ID = strawberry.field(description="The automation.")


@strawberry.type(description="The result of `deleteAutomation`.")
class DeleteAutomationPayload:
    deleted_automation_id: strawberry.ID | None = strawberry.field(description="Its ID.")
    errors: list[UserError] = Errors


@strawberry.input(description="An automation to send a sample event with, now.")
class TestAutomationInput:
    automation_id: strawberry.ID = strawberry.field(description="The automation.")


@strawberry.type(description="What the webhook answered to a sample event.")
class TestAutomationPayload:
    status_code: int | None = strawberry.field(description="The HTTP status, if any.")
    latency_ms: int | None = strawberry.field(description="How long it took.")
    response_excerpt: str | None = strawberry.field(description="The start of the response.")
    error: str | None = strawberry.field(description="Why no response came, if none did.")
    errors: list[UserError] = Errors


@strawberry.input(description="A finished delivery to send again.")
class RedeliverInput:
    delivery_id: strawberry.ID = strawberry.field(description="The delivery.")


@strawberry.type(description="The result of `redeliver`.")
class RedeliverPayload:
    delivery: Delivery | None = strawberry.field(description="The delivery, queued again.")
    errors: list[UserError] = Errors


def _spec(input: CreateAutomationInput | UpdateAutomationInput) -> automations.AutomationSpec:
    return automations.AutomationSpec(
        name=input.name,
        description=input.description,
        enabled=input.enabled,
        events=None if input.events is None else [e.name for e in input.events],
        filter_regex=input.filter_regex,
        clear_filter=getattr(input, "clear_filter", False),
        webhook_url=input.webhook_url,
        headers=None if input.headers is None else [(h.name, h.value) for h in input.headers],
        secret=input.secret,
        payload_template=input.payload_template,
    )


AUTOMATION = ("Automation",)


def _arg(description: str) -> Any:
    return strawberry.argument(description=description)


@strawberry.type(description="Changes to automations.")
class AutomationMutation:
    @strawberry.mutation(
        description="Creates a webhook automation (registry MEMBER). The URL must not reach "
        "private networks unless the operator allowed them; the template must render to JSON."
    )
    async def create_automation(
        self, info: Ctx, input: Annotated[CreateAutomationInput, _arg("The automation.")]
    ) -> AutomationPayload:
        async def action() -> Any:
            return await automations.create_automation(
                info.context,
                input_id(input.registry_id, ("Registry",), "registryId"),
                input_id(input.collection_id, ("Collection",), "collectionId"),
                _spec(input),
            )

        result, errors = await run_mutation(info, action)
        return AutomationPayload(automation=maybe(Automation.of, result), errors=errors)

    @strawberry.mutation(
        description="Changes an automation: yours with registry MEMBER, another's with ADMIN."
    )
    async def update_automation(
        self, info: Ctx, input: Annotated[UpdateAutomationInput, _arg("The changes.")]
    ) -> AutomationPayload:
        async def action() -> Any:
            automation_id = input_id(input.automation_id, AUTOMATION, "automationId")
            assert automation_id is not None
            return await automations.update_automation(info.context, automation_id, _spec(input))

        result, errors = await run_mutation(info, action)
        return AutomationPayload(automation=maybe(Automation.of, result), errors=errors)

    @strawberry.mutation(
        description="Deletes an automation and its deliveries: yours with MEMBER, another's "
        "with ADMIN."
    )
    async def delete_automation(
        self, info: Ctx, input: Annotated[DeleteAutomationInput, _arg("The automation.")]
    ) -> DeleteAutomationPayload:
        async def action() -> Any:
            automation_id = input_id(input.automation_id, AUTOMATION, "automationId")
            assert automation_id is not None
            await automations.delete_automation(info.context, automation_id)
            return input.automation_id

        result, errors = await run_mutation(info, action)
        return DeleteAutomationPayload(deleted_automation_id=result, errors=errors)

    @strawberry.mutation(description="Sends a sample event to the webhook now.")
    async def test_automation(
        self, info: Ctx, input: Annotated[TestAutomationInput, _arg("The automation.")]
    ) -> TestAutomationPayload:
        async def action() -> Any:
            automation_id = input_id(input.automation_id, AUTOMATION, "automationId")
            assert automation_id is not None
            return await automations.send_test_event(info.context, automation_id)

        result, errors = await run_mutation(info, action)
        if result is None:
            return TestAutomationPayload(
                status_code=None, latency_ms=None, response_excerpt=None, error=None, errors=errors
            )
        return TestAutomationPayload(
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt,
            error=result.error,
            errors=errors,
        )

    @strawberry.mutation(description="Sends a finished delivery again (registry MEMBER).")
    async def redeliver(
        self, info: Ctx, input: Annotated[RedeliverInput, _arg("The delivery.")]
    ) -> RedeliverPayload:
        async def action() -> Any:
            delivery_id = input_id(input.delivery_id, ("Delivery",), "deliveryId")
            assert delivery_id is not None
            return await automations.redeliver(info.context, delivery_id)

        result, errors = await run_mutation(info, action)
        return RedeliverPayload(delivery=maybe(Delivery.of, result), errors=errors)


@strawberry.type(description="A change in a registry, as it happens.")
class RegistryEvent:
    record: strawberry.Private[RegistryEventRecord]
    type: AutomationEvent = strawberry.field(description="What happened.")
    alias: str | None = strawberry.field(description="The alias, for alias events.")
    tag: str | None = strawberry.field(description="The tag, for tag events.")
    at: datetime = strawberry.field(description="When it happened.")

    @strawberry.field(description="The registry.")
    async def registry(self, info: Ctx) -> Registry | None:
        return maybe(Registry.of, await reads.registry(_context(info), self.record.registry_id))

    @strawberry.field(description="The collection.")
    async def collection(self, info: Ctx) -> Collection | None:
        found = await reads.collection(_context(info), self.record.collection_id)
        return maybe(Collection.of, found)

    @strawberry.field(description="The version, unless the event has none or it is gone.")
    async def artifact_version(self, info: Ctx) -> ArtifactVersion | None:
        if self.record.version_id is None:
            return None
        found = await reads.version(_context(info), self.record.version_id)
        return maybe(ArtifactVersion.of, found)

    @strawberry.field(description="Who made the change.")
    async def actor(self, info: Ctx) -> User | None:
        return maybe(User.of, await reads.user(_context(info), self.record.actor_id))


def _context(info: Any) -> Context:
    """Subscriptions run in a WebSocket session that holds the authenticated context."""
    context = info.context
    return context if isinstance(context, Context) else context.context


@strawberry.type(description="Live streams over graphql-transport-ws on /graphql.")
class Subscription:
    @strawberry.subscription(
        description="Changes in a registry (or one of its collections) as they happen, from "
        "any Cairn process on the same database, while you may see the registry."
    )
    async def registry_events(
        self,
        info: Ctx,
        registry: Annotated[strawberry.ID, _arg("The registry to watch.")],
        collection: Annotated[strawberry.ID | None, _arg("Only this collection of it.")] = None,
    ) -> AsyncGenerator[RegistryEvent, None]:
        ctx = _context(info)
        registry_id = _id_of(registry, "Registry")
        collection_id = None if collection is None else _id_of(collection, "Collection")
        if await reads.registry(ctx, registry_id) is None:
            raise GraphQLError("registry not found", extensions={"code": "NOT_FOUND"})
        if ctx.events is None:
            raise GraphQLError("live events are not available on this server")
        async with ctx.events.subscribe() as queue:
            while True:
                event: RegistryEventRecord = await queue.get()
                if event.registry_id != registry_id:
                    continue
                if collection_id is not None and event.collection_id != collection_id:
                    continue
                # Access is checked on every event: a role taken away stops the stream's flow.
                ctx.loaders.clear_all()
                if await reads.registry(ctx, registry_id) is None:
                    continue
                yield RegistryEvent(
                    record=event,
                    type=AutomationEvent[event.type],
                    alias=event.alias,
                    tag=event.tag,
                    at=event.at,
                )


def _id_of(global_id: str, kind: str) -> int:
    found_kind, row_id = decode_id(global_id)
    if found_kind != kind:
        raise GraphQLError(f"expected the ID of a {kind}", extensions={"code": "INVALID_ID"})
    return row_id
