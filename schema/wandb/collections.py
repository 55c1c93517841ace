"""Collections: a registry's collection is an `ArtifactPortfolio`, a project's logged artifact
an `ArtifactSequence`; the SDK tells them apart by `__typename`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError

from db import records
from resolvers import collections, mongo_filters, organizations, registries, versions
from resolvers.context import Context
from resolvers.soon import settled
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.wandb.connection import Connection, PageInfo, connection, listed
from schema.wandb.ids import number_of, wandb_id
from schema.wandb.mutations import ClientMutationId, SuccessPayload, mutation
from schema.wandb.organizations import After, Filters, First, Order

if TYPE_CHECKING:
    from schema.wandb.registries import ArtifactType, Project
    from schema.wandb.versions import (
        Artifact,
        ArtifactAlias,
        ArtifactCollectionMembership,
        Tag,
        TagInput,
    )

ProjectType = Annotated["Project", strawberry.lazy("schema.wandb.registries")]
ArtifactTypeType = Annotated["ArtifactType", strawberry.lazy("schema.wandb.registries")]
MembershipType = Annotated["ArtifactCollectionMembership", strawberry.lazy("schema.wandb.versions")]
AliasType = Annotated["ArtifactAlias", strawberry.lazy("schema.wandb.versions")]
TagType = Annotated["Tag", strawberry.lazy("schema.wandb.versions")]
ArtifactType_ = Annotated["Artifact", strawberry.lazy("schema.wandb.versions")]
TagInputType = Annotated["TagInput", strawberry.lazy("schema.wandb.versions")]


@strawberry.interface(description="A collection of versions: a portfolio or a sequence.")
class ArtifactCollection:
    record: strawberry.Private[records.Collection]

    @strawberry.field(description="The collection's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactCollection", self.record.id)

    @strawberry.field(description="The collection's name.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The collection's description (a registry collection's card).")
    def description(self) -> str:
        return self.record.description

    @strawberry.field(description="When the collection was made.")
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="Cairn keeps no last-change time for collections: null.")
    def updated_at(self) -> datetime | None:
        return None

    @strawberry.field(description="`READY`: deleted collections are gone at once.")
    def state(self) -> str:
        return "READY"

    @strawberry.field(description="The registry or project holding the collection.")
    async def project(self, info: Ctx) -> ProjectType | None:
        return await project_of(info, self.record)

    @strawberry.field(description="The collection's artifact type.")
    async def default_artifact_type(self, info: Ctx) -> ArtifactTypeType:
        from schema.wandb.registries import ArtifactType

        return ArtifactType(project=None, type_name=self.record.artifact_type)

    @strawberry.field(description="The collection's tags.")
    async def tags(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[TagType]:
        from schema.wandb.versions import Tag

        found = await settled(collections.collection_tags(info.context, self.record.id))
        return listed([Tag.of(self.record.id, t) for t in found])

    @strawberry.field(description="The aliases in use in the collection.")
    async def aliases(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[AliasType]:
        from schema.wandb.versions import ArtifactAlias

        held = await versions.aliases_in_collection(info.context, self.record.id)
        return listed([ArtifactAlias(alias=a, version=v) for a, v in held])

    @strawberry.field(description="A version of the collection by alias or `v<N>`.")
    async def artifact_membership(
        self,
        info: Ctx,
        alias_name: Annotated[str | None, arg("An alias or `v<N>`.")] = None,
    ) -> MembershipType | None:
        from schema.wandb.registries import selected_version
        from schema.wandb.versions import ArtifactCollectionMembership

        found = await selected_version(info, self.record, alias_name)
        return None if found is None else ArtifactCollectionMembership.of(found)

    @strawberry.field(description="The collection's versions, newest first.")
    async def artifacts(
        self,
        info: Ctx,
        after: After = None,
        first: First = None,
        order: Order = None,
        filters: Filters = None,
    ) -> VersionedConnection:
        from schema.wandb.versions import Artifact

        with raise_domain_errors():
            search = mongo_filters.version_search(filters, order)
        query = versions.versions_of(self.record, search)
        page = await connection(info, query, Artifact.of, first, after)
        return VersionedConnection(
            edges=[
                VersionedEdge(
                    cursor=e.cursor, version=f"v{e.node.record.version_index}", node=e.node
                )
                for e in page.edges
            ],
            page_info=page.page_info,
            count_total=page.count_total,
        )

    @strawberry.field(description="The collection's versions, newest first.")
    async def artifact_memberships(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[MembershipType]:
        from schema.wandb.versions import ArtifactCollectionMembership

        query = versions.versions_of(self.record)
        return await connection(info, query, ArtifactCollectionMembership.of, first, after)


@strawberry.type(description="A version with its label in the collection.")
class VersionedEdge:
    cursor: str = strawberry.field(description="The item's cursor.")
    version: str = strawberry.field(description="`v<N>`: its index in the collection.")
    node: ArtifactType_ = strawberry.field(description="The version.")


@strawberry.type(description="A page of a collection's versions.")
class VersionedConnection:
    edges: list[VersionedEdge] = strawberry.field(description="The versions of this page.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The number of versions in the collection.")
    async def total_count(self) -> int:
        return await self.count_total()


@strawberry.type(description="A registry's collection.")
class ArtifactPortfolio(ArtifactCollection):
    pass


@strawberry.type(description="A project's logged artifact: its versions as they were logged.")
class ArtifactSequence(ArtifactCollection):
    @strawberry.field(
        description="How the SDK digests this artifact's manifests: always `MANIFEST_MD5`."
    )
    def digest_algorithm(self) -> str:
        return "MANIFEST_MD5"


def collection_of(record: records.Collection) -> Any:
    if record.registry_id is not None:
        return ArtifactPortfolio(record=record)
    return ArtifactSequence(record=record)


async def project_of(info: Ctx, record: records.Collection) -> Any:
    from schema.wandb.registries import Project

    ctx = info.context
    with raise_domain_errors():
        if record.registry_id is not None:
            registry = await registries.registry(ctx, record.registry_id)
            return None if registry is None else Project(registry=registry)
        project = await organizations.project(ctx, record.project_id or 0)
        return None if project is None else Project(project=project)


@strawberry.input(description="A registry collection's new name or description.")
class UpdateArtifactPortfolioInput:
    artifact_portfolio_id: strawberry.ID = strawberry.field(
        name="artifactPortfolioID", description="The collection."
    )
    name: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = strawberry.field(
        default=None, description="A new description (its card, in Markdown)."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A project's logged artifact to rename or describe.")
class UpdateArtifactSequenceInput:
    artifact_sequence_id: strawberry.ID = strawberry.field(
        name="artifactSequenceID", description="The logged artifact."
    )
    name: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = strawberry.field(default=None, description="A new description.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Tags to add to or remove from a registry collection.")
class CreateArtifactCollectionTagAssignmentsInput:
    entity_name: str = strawberry.field(description="The organization.")
    project_name: str = strawberry.field(description="The registry, `wandb-registry-<name>`.")
    artifact_collection_name: str = strawberry.field(description="The collection.")
    tags: list[TagInputType] = strawberry.field(description="The tags.")
    client_mutation_id: str | None = strawberry.field(
        default=None, name="clientMutationID", description="The client's ID for the mutation."
    )


@strawberry.input(description="Tags to remove from a registry collection.")
class DeleteArtifactCollectionTagAssignmentsInput(CreateArtifactCollectionTagAssignmentsInput):
    pass


@strawberry.type(description="The collection after the change.")
class ArtifactCollectionPayload:
    artifact_collection: ArtifactCollection = strawberry.field(description="The collection.")


@strawberry.type(description="The collection's tags after the change.")
class TagsPayload:
    tags: list[TagType] = strawberry.field(description="The tags added.")


@strawberry.type(description="A deleted collection.")
class DeletedCollection:
    state: str = strawberry.field(description="`DELETED`.")


@strawberry.type(description="The deleted collection.")
class DeleteArtifactCollectionPayload:
    artifact_collection: DeletedCollection = strawberry.field(description="The collection.")


SEQUENCES_KEEP_TYPES = (
    "a project's logged artifact keeps the type it was logged with on this server; log the "
    "files again under the new type"
)
SEQUENCES_HOLD_NO_TAGS = (
    "a project's logged artifacts hold no tags on this server; tag its versions, or the "
    "registry collections it is linked into"
)


@strawberry.input(description="A project's logged artifact to give another type.")
class MoveArtifactSequenceInput:
    artifact_sequence_id: strawberry.ID = strawberry.field(
        name="artifactSequenceID", description="The logged artifact."
    )
    destination_artifact_type_name: str = strawberry.field(description="The new type.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A registry collection to delete.")
class DeleteArtifactPortfolioInput:
    artifact_portfolio_id: strawberry.ID = strawberry.field(
        name="artifactPortfolioID", description="The collection."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A project's logged artifact to delete.")
class DeleteArtifactSequenceInput:
    artifact_sequence_id: strawberry.ID = strawberry.field(
        name="artifactSequenceID", description="The logged artifact."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type
class CollectionsMutation:
    @strawberry.mutation(description="Renames or describes a registry collection.")
    async def update_artifact_portfolio(
        self, info: Ctx, input: Annotated[UpdateArtifactPortfolioInput, arg("The changes.")]
    ) -> ArtifactCollectionPayload:
        async with mutation(info.context) as ctx:
            collection_id = number_of(
                input.artifact_portfolio_id, "input.artifactPortfolioID", "ArtifactCollection"
            )
            updated = await collections.update_collection(
                ctx, collection_id=collection_id, name=input.name, description=input.description
            )
        return ArtifactCollectionPayload(artifact_collection=collection_of(updated))

    @strawberry.mutation(description="Renames or describes a project's logged artifact.")
    async def update_artifact_sequence(
        self, info: Ctx, input: Annotated[UpdateArtifactSequenceInput, arg("The changes.")]
    ) -> ArtifactCollectionPayload:
        async with mutation(info.context) as ctx:
            sequence_id = number_of(
                input.artifact_sequence_id, "input.artifactSequenceID", "ArtifactCollection"
            )
            updated = await collections.update_sequence(
                ctx, sequence_id=sequence_id, name=input.name, description=input.description
            )
        return ArtifactCollectionPayload(artifact_collection=collection_of(updated))

    @strawberry.mutation(description="Refused: logged artifacts keep their type.")
    async def move_artifact_sequence(
        self, info: Ctx, input: Annotated[MoveArtifactSequenceInput, arg("The new type.")]
    ) -> ArtifactCollectionPayload:
        raise GraphQLError(SEQUENCES_KEEP_TYPES, extensions={"code": "UNSUPPORTED"})

    @strawberry.mutation(description="Deletes a registry collection with its versions.")
    async def delete_artifact_portfolio(
        self, info: Ctx, input: Annotated[DeleteArtifactPortfolioInput, arg("The collection.")]
    ) -> DeleteArtifactCollectionPayload:
        async with mutation(info.context) as ctx:
            collection_id = number_of(
                input.artifact_portfolio_id, "input.artifactPortfolioID", "ArtifactCollection"
            )
            await collections.delete_collection(ctx, collection_id)
        return DeleteArtifactCollectionPayload(
            artifact_collection=DeletedCollection(state="DELETED")
        )

    @strawberry.mutation(
        description="Deletes a project's logged artifact with its versions and files, unless "
        "a registry links one of them."
    )
    async def delete_artifact_sequence(
        self, info: Ctx, input: Annotated[DeleteArtifactSequenceInput, arg("The artifact.")]
    ) -> DeleteArtifactCollectionPayload:
        async with mutation(info.context) as ctx:
            sequence_id = number_of(
                input.artifact_sequence_id, "input.artifactSequenceID", "ArtifactCollection"
            )
            await collections.delete_sequence(ctx, sequence_id=sequence_id)
        return DeleteArtifactCollectionPayload(
            artifact_collection=DeletedCollection(state="DELETED")
        )

    @strawberry.mutation(description="Tags a registry collection.")
    async def create_artifact_collection_tag_assignments(
        self,
        info: Ctx,
        input: Annotated[CreateArtifactCollectionTagAssignmentsInput, arg("Where and which.")],
    ) -> TagsPayload:
        from schema.wandb.versions import Tag

        async with mutation(info.context) as ctx:
            found = await named_collection(ctx, input)
            tags = [t.tag_name for t in input.tags]
            await versions.add_tags(ctx, target=("Collection", found.id), tags=tags)
        return TagsPayload(tags=[Tag.of(found.id, t) for t in tags])

    @strawberry.mutation(description="Removes tags from a registry collection.")
    async def delete_artifact_collection_tag_assignments(
        self,
        info: Ctx,
        input: Annotated[DeleteArtifactCollectionTagAssignmentsInput, arg("Where and which.")],
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            found = await named_collection(ctx, input)
            tags = [t.tag_name for t in input.tags]
            await versions.remove_tags(ctx, target=("Collection", found.id), tags=tags)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)


async def named_collection(
    ctx: Context, input: CreateArtifactCollectionTagAssignmentsInput
) -> records.Collection:
    """The registry collection an input names by organization, registry and name."""
    found = await versions.collection_named(
        ctx, input.entity_name, input.project_name, input.artifact_collection_name
    )
    if found.registry_id is None:
        raise GraphQLError(SEQUENCES_HOLD_NO_TAGS, extensions={"code": "UNSUPPORTED"})
    return found
