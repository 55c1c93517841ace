"""Registry events: announced to live subscribers and turned into webhook deliveries (the outbox),
inside the transaction of the change, so a change that rolls back announces and sends nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from db import automations, collections
from db.pool import Connection
from db.records import ArtifactVersion, Collection, User
from resolvers import patterns, webhooks
from resolvers.enums import DescribedEnum


class EventType(DescribedEnum):
    """What happened in a registry: what automations and subscriptions react to."""

    LINK_ARTIFACT = "LINK_ARTIFACT", "A version was linked into a collection."
    UNLINK_ARTIFACT = "UNLINK_ARTIFACT", "A version was removed from a collection."
    ADD_ARTIFACT_ALIAS = "ADD_ARTIFACT_ALIAS", "A version got an alias (new, or moved to it)."
    REMOVE_ARTIFACT_ALIAS = "REMOVE_ARTIFACT_ALIAS", "An alias was taken off a version."
    ADD_TAG = "ADD_TAG", "A version or collection was tagged."
    CREATE_ARTIFACT = (
        "CREATE_ARTIFACT",
        "A collection (a new artifact) appeared in the registry.",
    )


ALIAS_EVENTS = (EventType.ADD_ARTIFACT_ALIAS.name, EventType.REMOVE_ARTIFACT_ALIAS.name)
TAG_EVENTS = (EventType.ADD_TAG.name,)


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """What subscribers receive (through NOTIFY) about one change."""

    type: str
    organization_id: int
    registry_id: int
    collection_id: int
    version_id: int | None
    alias: str | None
    tag: str | None
    actor_id: int
    at: datetime

    def notice(self) -> str:
        return orjson.dumps(
            {
                "type": self.type,
                "organizationId": self.organization_id,
                "registryId": self.registry_id,
                "collectionId": self.collection_id,
                "versionId": self.version_id,
                "alias": self.alias,
                "tag": self.tag,
                "actorId": self.actor_id,
                "at": self.at.isoformat(),
            }
        ).decode()

    @classmethod
    def from_notice(cls, payload: str) -> RegistryEvent:
        data = orjson.loads(payload)
        return cls(
            type=data["type"],
            organization_id=data["organizationId"],
            registry_id=data["registryId"],
            collection_id=data["collectionId"],
            version_id=data["versionId"],
            alias=data["alias"],
            tag=data["tag"],
            actor_id=data["actorId"],
            at=datetime.fromisoformat(data["at"]),
        )


def filter_matches(pattern: str | None, event: RegistryEvent) -> bool:
    """The regex applies to the alias of alias events and the tag of tag events, and must match
    all of it; other events are not filtered."""
    if pattern is None:
        return True
    if event.type in ALIAS_EVENTS:
        return event.alias is not None and patterns.matches(pattern, event.alias)
    if event.type in TAG_EVENTS:
        return event.tag is not None and patterns.matches(pattern, event.tag)
    return True


async def template_values(
    conn: Connection, event: RegistryEvent, actor: User, version: ArtifactVersion | None
) -> dict[str, Any]:
    organization, registry, collection = await collections.collection_names(
        conn, event.collection_id
    )
    path = None
    if version is not None:
        path = f"{organization}/wandb-registry-{registry}/{collection}:v{version.version_index}"
    return {
        "event_type": event.type,
        "event_author": actor.name,
        "organization": organization,
        "registry": registry,
        "collection": collection,
        "artifact_version": path,
        "version": None if version is None else f"v{version.version_index}",
        "version_index": None if version is None else version.version_index,
        "artifact_type": None if version is None else version.artifact_type,
        "digest": None if version is None else version.digest,
        "alias": event.alias,
        "tag": event.tag,
        "metadata": None if version is None else version.metadata,
        "timestamp": event.at.isoformat(),
    }


async def emit_for_version_txn(
    conn: Connection,
    event_type: str,
    actor: User,
    version: ArtifactVersion,
    *,
    alias: str | None = None,
    tag: str | None = None,
) -> None:
    """Announces a change to a registry version (logged versions have no events)."""
    if version.registry_id is not None:
        await _emit_txn(
            conn, event_type, actor, version, version.collection_id, version, alias=alias, tag=tag
        )


async def emit_for_collection_txn(
    conn: Connection,
    event_type: str,
    actor: User,
    collection: Collection,
    *,
    tag: str | None = None,
) -> None:
    """Announces a change to a registry collection itself."""
    if collection.registry_id is not None:
        await _emit_txn(conn, event_type, actor, collection, collection.id, None, tag=tag)


async def _emit_txn(
    conn: Connection,
    event_type: str,
    actor: User,
    where: ArtifactVersion | Collection,
    collection_id: int,
    version: ArtifactVersion | None,
    *,
    alias: str | None = None,
    tag: str | None = None,
) -> None:
    """Announces a change in a registry collection and queues the webhooks it triggers."""
    assert where.registry_id is not None
    event = RegistryEvent(
        type=event_type,
        organization_id=where.organization_id,
        registry_id=where.registry_id,
        collection_id=collection_id,
        version_id=None if version is None else version.id,
        alias=alias,
        tag=tag,
        actor_id=actor.id,
        at=datetime.now(UTC),
    )
    candidates = await automations.notify_and_match(
        conn, event.registry_id, event.collection_id, event_type, event.notice()
    )
    matched = [a for a in candidates if filter_matches(a.filter_regex, event)]
    if matched:
        # An automation sends its creator's URL what happens in the registry: it stops when the
        # creator may no longer see the registry (out of the organization, or of a RESTRICTED
        # registry).
        allowed = await automations.creators_see_registry(conn, [a.id for a in matched])
        matched = [a for a in matched if a.id in allowed]
    if not matched:
        return
    values = await template_values(conn, event, actor, version)
    await automations.insert_deliveries(
        conn,
        [a.id for a in matched],
        event_type,
        None,
        [webhooks.render(a.payload_template, values) for a in matched],
    )
