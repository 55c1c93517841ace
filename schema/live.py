"""Live registry events: the `registryEvents` subscription over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import accounts, collections, live, registries, versions
from resolvers.events import EventType
from resolvers.events import RegistryEvent as RegistryEventRecord
from resolvers.soon import Soon
from schema.accounts import User
from schema.collections import Collection
from schema.context import Ctx, arg, maybe, maybe_soon
from schema.errors import raise_domain_errors
from schema.nodes import row_id
from schema.registries import Registry
from schema.versions import ArtifactVersion


@strawberry.type(description="A change in a registry, as it happens.")
class RegistryEvent:
    record: strawberry.Private[RegistryEventRecord]
    type: EventType = strawberry.field(description="What happened.")
    alias: str | None = strawberry.field(description="The alias, for alias events.")
    tag: str | None = strawberry.field(description="The tag, for tag events.")
    at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def of(cls, event: RegistryEventRecord) -> RegistryEvent:
        return cls(
            record=event,
            type=EventType[event.type],
            alias=event.alias,
            tag=event.tag,
            at=event.at,
        )

    @strawberry.field(description="The registry.")
    async def registry(self, info: Ctx) -> Registry | None:
        found = await registries.registry(info.context, self.record.registry_id)
        return maybe(Registry, found)

    @strawberry.field(description="The collection.")
    async def collection(self, info: Ctx) -> Collection | None:
        found = await collections.collection(info.context, self.record.collection_id)
        return maybe(Collection, found)

    @strawberry.field(description="The version, unless the event has none or it is gone.")
    async def artifact_version(self, info: Ctx) -> ArtifactVersion | None:
        if self.record.version_id is None:
            return None
        found = await versions.version(info.context, self.record.version_id)
        return maybe(ArtifactVersion, found)

    @strawberry.field(description="Who made the change.", graphql_type=User | None)
    def actor(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.actor_id))


@strawberry.type(description="Live streams over graphql-transport-ws on /graphql.")
class Subscription:
    @strawberry.subscription(
        description="Changes in a registry (or one of its collections) as they happen, from "
        "any Cairn process on the same database, while you may see the registry."
    )
    async def registry_events(
        self,
        info: Ctx,
        registry: Annotated[strawberry.ID, arg("The registry to watch.")],
        collection: Annotated[strawberry.ID | None, arg("Only this collection of it.")] = None,
    ) -> AsyncGenerator[RegistryEvent, None]:
        registry_id = row_id(registry, "Registry")
        collection_id = None if collection is None else row_id(collection, "Collection")
        with raise_domain_errors():
            async for event in live.registry_events(info.context, registry_id, collection_id):
                yield RegistryEvent.of(event)
