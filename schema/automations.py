"""Automations: webhooks that registry events trigger, their deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from db import records
from resolvers import accounts, automations, collections, registries
from resolvers.events import EventType
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from resolvers.webhooks import AttemptResult
from schema.accounts import User
from schema.collections import Collection
from schema.connection import connection_field
from schema.context import Ctx, arg, expose_enum, maybe, maybe_soon
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node
from schema.registries import Registry

expose_enum(
    EventType,
    name="AutomationEvent",
    description="Registry events that automations and subscriptions see.",
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

    @classmethod
    def of(cls, a: records.DeliveryAttempt) -> DeliveryAttempt:
        return cls(
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            response_excerpt=a.response_excerpt,
            error=a.error,
        )


@node(load=automations.deliveries_by_id)
@strawberry.type(description="A webhook request an automation owes a receiver, and its tries.")
class Delivery(Node):
    record: strawberry.Private[records.Delivery]
    id: strawberry.ID = strawberry.field(
        description="The delivery's ID, for `redeliver` and `node(id:)`."
    )
    event_type: EventType = strawberry.field(description="The event that caused it.")
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
            id=global_id("Delivery", r.id),
            event_type=EventType[r.event_type],
            status=DeliveryStatus[r.status],
            body=r.body,
            created_at=r.created_at,
            finished_at=r.finished_at,
            next_attempt_at=r.next_attempt_at if r.status == "PENDING" else None,
        )

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempts(self, info: Ctx) -> list[DeliveryAttempt]:
        found = await automations.attempts(info.context, self.record)
        return [DeliveryAttempt.of(a) for a in found]


@node(load=automations.automations_by_id)
@strawberry.type(description="A webhook that registry events trigger.")
class Automation(Node):
    record: strawberry.Private[records.Automation]
    id: strawberry.ID = strawberry.field(description="The automation's ID.")
    name: str = strawberry.field(description="Name, unique in the registry.")
    description: str = strawberry.field(description="What it is for.")
    enabled: bool = strawberry.field(description="Disabled automations send nothing.")
    events: list[EventType] = strawberry.field(description="Events that trigger it.")
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
            id=global_id("Automation", r.id),
            name=r.name,
            description=r.description,
            enabled=r.enabled,
            events=[EventType[e] for e in r.events],
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
        return maybe(Registry, await registries.registry(info.context, self.record.registry_id))

    @strawberry.field(description="The one collection it watches; null for the whole registry.")
    async def collection(self, info: Ctx) -> Collection | None:
        if self.record.collection_id is None:
            return None
        found = await collections.collection(info.context, self.record.collection_id)
        return maybe(Collection, found)

    @strawberry.field(description="Who made it.", graphql_type=User | None)
    def created_by(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.created_by))

    @connection_field(Delivery, "Its deliveries, newest first.")
    async def deliveries(self, info: Ctx) -> ListQuery[records.Delivery]:
        return automations.deliveries_of(self.record)


@strawberry.input(description="A custom header sent with each request.")
class HeaderInput:
    name: str = strawberry.field(description="Header name.")
    value: str = strawberry.field(description="Header value (write-only).")


@strawberry.input(description="A new automation, on a registry or on one collection.")
class CreateAutomationInput:
    registry_id: strawberry.ID | None = id_input(
        "Registry",
        default=None,
        description="Watch every collection of this registry (or collectionId).",
    )
    collection_id: strawberry.ID | None = id_input(
        "Collection", default=None, description="Watch this collection only."
    )
    name: str = strawberry.field(description="Name, unique in the registry.")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    enabled: bool = strawberry.field(default=True, description="Whether it sends.")
    events: list[EventType] = strawberry.field(description="Events that trigger it.")
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
    automation_id: strawberry.ID = id_input("Automation", description="The automation.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    enabled: bool | None = strawberry.field(default=None, description="Enable or disable.")
    events: list[EventType] | None = strawberry.field(default=None, description="Events.")
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
    automation: Automation | None = strawberry.field(default=None, description="The automation.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Automation) -> AutomationPayload:
        return cls(automation=Automation.of(changed))


@strawberry.input(description="An automation to delete, with its deliveries.")
class DeleteAutomationInput:
    automation_id: strawberry.ID = id_input("Automation", description="The automation.")


@strawberry.type(description="The result of `deleteAutomation`.")
class DeleteAutomationPayload:
    deleted_automation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its ID."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.Automation) -> DeleteAutomationPayload:
        return cls(deleted_automation_id=global_id("Automation", deleted.id))


@strawberry.input(description="An automation to send a sample event with, now.")
class TestAutomationInput:
    automation_id: strawberry.ID = id_input("Automation", description="The automation.")


@strawberry.type(description="What the webhook answered to a sample event.")
class TestAutomationPayload:
    status_code: int | None = strawberry.field(default=None, description="The HTTP status, if any.")
    latency_ms: int | None = strawberry.field(default=None, description="How long it took.")
    response_excerpt: str | None = strawberry.field(
        default=None, description="The start of the response."
    )
    error: str | None = strawberry.field(
        default=None, description="Why no response came, if none did."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, answered: AttemptResult) -> TestAutomationPayload:
        return cls(
            status_code=answered.status_code,
            latency_ms=answered.latency_ms,
            response_excerpt=answered.response_excerpt,
            error=answered.error,
        )


@strawberry.input(description="A finished delivery to send again.")
class RedeliverInput:
    delivery_id: strawberry.ID = id_input("Delivery", description="The delivery.")


@strawberry.type(description="The result of `redeliver`.")
class RedeliverPayload:
    delivery: Delivery | None = strawberry.field(
        default=None, description="The delivery, queued again."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, queued: records.Delivery) -> RedeliverPayload:
        return cls(delivery=Delivery.of(queued))


@strawberry.type
class AutomationsMutation:
    @strawberry.mutation(
        description="Creates a webhook automation (registry MEMBER). The URL must not reach "
        "private networks unless the operator allowed them; the template must render to JSON."
    )
    async def create_automation(
        self, info: Ctx, input: Annotated[CreateAutomationInput, arg("The automation.")]
    ) -> AutomationPayload:
        return await mutate(info, AutomationPayload, automations.create_automation, input)

    @strawberry.mutation(
        description="Changes an automation: yours with registry MEMBER, another's with ADMIN."
    )
    async def update_automation(
        self, info: Ctx, input: Annotated[UpdateAutomationInput, arg("The changes.")]
    ) -> AutomationPayload:
        return await mutate(info, AutomationPayload, automations.update_automation, input)

    @strawberry.mutation(
        description="Deletes an automation and its deliveries: yours with MEMBER, another's "
        "with ADMIN."
    )
    async def delete_automation(
        self, info: Ctx, input: Annotated[DeleteAutomationInput, arg("The automation.")]
    ) -> DeleteAutomationPayload:
        return await mutate(info, DeleteAutomationPayload, automations.delete_automation, input)

    @strawberry.mutation(description="Sends a sample event to the webhook now.")
    async def test_automation(
        self, info: Ctx, input: Annotated[TestAutomationInput, arg("The automation.")]
    ) -> TestAutomationPayload:
        return await mutate(info, TestAutomationPayload, automations.test_automation, input)

    @strawberry.mutation(description="Sends a finished delivery again (registry MEMBER).")
    async def redeliver(
        self, info: Ctx, input: Annotated[RedeliverInput, arg("The delivery.")]
    ) -> RedeliverPayload:
        return await mutate(info, RedeliverPayload, automations.redeliver, input)
