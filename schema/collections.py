"""Collections: a registry's collections and a project's artifact sequences, both sets of versions
of one artifact type, and the mutations that create, change and delete registry collections."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import records
from db.search import VERSIONS
from resolvers import automations, collections, history, organizations, registries, versions
from resolvers.context import Context
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from schema.connection import connection_field
from schema.context import Ctx, arg, maybe, type_of
from schema.errors import raise_domain_errors, still_there
from schema.history import Actions, AuditEvent, action_names
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node
from schema.registries import Registry
from schema.search import Query, VersionFilterArgument, VersionOrderArgument, search_of

if TYPE_CHECKING:
    from schema.automations import Automation
    from schema.runs import Project
    from schema.versions import AliasAssignment, ArtifactVersion

VersionType = Annotated["ArtifactVersion", strawberry.lazy("schema.versions")]
AliasAssignmentType = Annotated["AliasAssignment", strawberry.lazy("schema.versions")]
ProjectType = Annotated["Project", strawberry.lazy("schema.runs")]
AutomationType = Annotated["Automation", strawberry.lazy("schema.automations")]

VersionAlias = Annotated[str | None, arg("Alias to resolve, e.g. `production` or `latest`.")]
VersionIndex = Annotated[int | None, arg("Version index, e.g. 3 for `v3`.")]


@strawberry.interface(
    description="A set of versions: a registry collection or a project's artifact sequence."
)
class ArtifactCollection(Node):
    record: strawberry.Private[records.Collection]
    name: str = strawberry.field(description="Name, unique in its registry or project.")
    type: str = strawberry.field(description="The artifact type every version has.")
    description: str = strawberry.field(description="Markdown description (the card).")
    created_at: datetime = strawberry.field(description="When it was created.")

    @connection_field(
        VersionType, "Its versions, newest (highest index) first unless `orderBy` says otherwise."
    )
    async def versions(
        self,
        info: Ctx,
        filter: VersionFilterArgument = None,
        query: Query = None,
        order_by: VersionOrderArgument = None,
    ) -> ListQuery[records.ArtifactVersion]:
        return versions.versions_of(self.record, search_of(VERSIONS, filter, order_by, query))

    @strawberry.field(
        description="One version, by alias or by index (give exactly one). With `asOf`, the "
        "version that held the alias at that time: null if none did, or it was since unlinked."
    )
    async def version(
        self,
        info: Ctx,
        alias: VersionAlias = None,
        index: VersionIndex = None,
        as_of: Annotated[datetime | None, arg("Resolve the alias as it was at this time.")] = None,
    ) -> VersionType | None:
        with raise_domain_errors():
            if as_of is not None:
                found = await history.version_as_of(
                    info.context, self.record.id, alias, index, as_of
                )
            else:
                found = await versions.version_in_collection(
                    info.context, self.record.id, alias=alias, index=index
                )
        return maybe(VersionType, found)

    @strawberry.field(description="Every alias in use, by name, with the version holding it.")
    async def aliases(self, info: Ctx) -> list[AliasAssignmentType]:
        pairs = await versions.aliases_in_collection(info.context, self.record.id)
        return [type_of(AliasAssignmentType).of(pair) for pair in pairs]


def _collection_fields(kind: str, r: records.Collection) -> dict[str, Any]:
    return {
        "id": global_id(kind, r.id),
        "record": r,
        "name": r.name,
        "type": r.artifact_type,
        "description": r.description,
        "created_at": r.created_at,
    }


@node(load=collections.collections_by_id)
@strawberry.type(description="A collection in a registry: linked versions of one artifact type.")
class Collection(ArtifactCollection):
    @classmethod
    def of(cls, r: records.Collection) -> Collection:
        return cls(**_collection_fields("Collection", r))

    @connection_field(
        AutomationType,
        "Webhook automations on this collection only, newest first (registry MEMBERs and "
        "ADMINs only).",
        nullable=True,
    )
    async def automations(self, info: Ctx) -> ListQuery[records.Automation]:
        return await automations.collection_automations(info.context, self.record)

    @connection_field(AuditEvent, "Changes to the collection and its versions, newest first.")
    async def history(self, info: Ctx, actions: Actions = None) -> ListQuery[records.AuditEvent]:
        return history.collection_history(self.record, action_names(actions))

    @classmethod
    async def preload(cls, ctx: Context, found: list[records.Collection], fields: set[str]) -> None:
        """A page of collections loads what its selected fields read before they resolve."""
        await collections.preload(ctx, found, tags="tags" in fields)

    @strawberry.field(description="Tags on the collection, sorted.", graphql_type=list[str])
    def tags(self, info: Ctx) -> Soon[list[str]]:
        return collections.collection_tags(info.context, self.record.id)

    @strawberry.field(description="The registry the collection is in.")
    async def registry(self, info: Ctx) -> Registry:
        assert self.record.registry_id is not None  # a Collection is a registry's
        found = await registries.registry(info.context, self.record.registry_id)
        return Registry.of(still_there(found, "registry"))


@node(load=collections.sequences_by_id)
@strawberry.type(description="The versions a project logged under one artifact name.")
class ArtifactSequence(ArtifactCollection):
    @classmethod
    def of(cls, r: records.Collection) -> ArtifactSequence:
        return cls(**_collection_fields("ArtifactSequence", r))

    @strawberry.field(description="The project the artifact was logged in.")
    async def project(self, info: Ctx) -> ProjectType:
        assert self.record.project_id is not None  # an ArtifactSequence is a project's
        found = await organizations.project(info.context, self.record.project_id)
        return type_of(ProjectType).of(still_there(found, "project"))


def collection_of(r: records.Collection) -> ArtifactCollection:
    """The type of a row of the collections table: a registry's collection or a sequence."""
    return Collection.of(r) if r.registry_id is not None else ArtifactSequence.of(r)


@strawberry.input(description="A new collection in a registry.")
class CreateCollectionInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")
    name: str = strawberry.field(description="Name, unique in the registry, at most 128.")
    artifact_type: str = strawberry.field(
        name="type", description="Artifact type; the registry must accept it."
    )
    description: str | None = strawberry.field(default=None, description="Markdown card.")
    tags: list[str] = strawberry.field(default_factory=list, description="Tags.")


@strawberry.type(description="The result of a mutation on a collection.")
class CollectionPayload:
    collection: Collection | None = strawberry.field(default=None, description="The collection.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Collection) -> CollectionPayload:
        return cls(collection=Collection.of(changed))


@strawberry.input(description="Changes to a collection.")
class UpdateCollectionInput:
    collection_id: strawberry.ID = id_input("Collection", description="The collection.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")


@strawberry.input(description="A collection to delete, with its versions.")
class DeleteCollectionInput:
    collection_id: strawberry.ID = id_input("Collection", description="The collection.")


@strawberry.type(description="The result of `deleteCollection`.")
class DeleteCollectionPayload:
    deleted_collection_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted collection."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.Collection) -> DeleteCollectionPayload:
        return cls(deleted_collection_id=global_id("Collection", deleted.id))


@strawberry.input(description="Changes to a project's logged artifact.")
class UpdateArtifactSequenceInput:
    sequence_id: strawberry.ID = id_input("ArtifactSequence", description="The logged artifact.")
    name: str | None = strawberry.field(
        default=None, description="New name; its paths (`org/project/name:…`) follow it."
    )
    description: str | None = strawberry.field(default=None, description="New description.")


@strawberry.type(description="The result of a change to a project's logged artifact.")
class ArtifactSequencePayload:
    artifact_sequence: ArtifactSequence | None = strawberry.field(
        default=None, description="The logged artifact."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Collection) -> ArtifactSequencePayload:
        return cls(artifact_sequence=ArtifactSequence.of(changed))


@strawberry.input(description="A project's logged artifact to delete, with every version.")
class DeleteArtifactSequenceInput:
    sequence_id: strawberry.ID = id_input("ArtifactSequence", description="The logged artifact.")


@strawberry.type(description="The result of `deleteArtifactSequence`.")
class DeleteArtifactSequencePayload:
    deleted_sequence_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted logged artifact."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.Collection) -> DeleteArtifactSequencePayload:
        return cls(deleted_sequence_id=global_id("ArtifactSequence", deleted.id))


@strawberry.type
class CollectionsMutation:
    @strawberry.mutation(description="Creates a collection in a registry (registry MEMBER).")
    async def create_collection(
        self, info: Ctx, input: Annotated[CreateCollectionInput, arg("The collection.")]
    ) -> CollectionPayload:
        return await mutate(info, CollectionPayload, collections.create_collection, input)

    @strawberry.mutation(description="Renames or re-describes a collection (registry MEMBER).")
    async def update_collection(
        self, info: Ctx, input: Annotated[UpdateCollectionInput, arg("The changes.")]
    ) -> CollectionPayload:
        return await mutate(info, CollectionPayload, collections.update_collection, input)

    @strawberry.mutation(description="Deletes a collection and its versions (registry MEMBER).")
    async def delete_collection(
        self, info: Ctx, input: Annotated[DeleteCollectionInput, arg("The collection.")]
    ) -> DeleteCollectionPayload:
        return await mutate(info, DeleteCollectionPayload, collections.delete_collection, input)

    @strawberry.mutation(
        description="Renames or re-describes a project's logged artifact (organization MEMBER)."
    )
    async def update_artifact_sequence(
        self, info: Ctx, input: Annotated[UpdateArtifactSequenceInput, arg("The changes.")]
    ) -> ArtifactSequencePayload:
        return await mutate(info, ArtifactSequencePayload, collections.update_sequence, input)

    @strawberry.mutation(
        description="Deletes a project's logged artifact with every version, file and use of "
        "it (organization MEMBER); refused while a registry links one of its versions."
    )
    async def delete_artifact_sequence(
        self, info: Ctx, input: Annotated[DeleteArtifactSequenceInput, arg("The artifact.")]
    ) -> DeleteArtifactSequencePayload:
        return await mutate(info, DeleteArtifactSequencePayload, collections.delete_sequence, input)
