"""Linking a version into a registry collection, and unlinking it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import collections, links, versions
from resolvers.errors import not_found
from schema.context import Ctx, arg
from schema.wandb.ids import artifact_number, number_of
from schema.wandb.mutations import ClientMutationId, SuccessPayload, mutation
from schema.wandb.versions import ArtifactAliasInput, ArtifactCollectionMembership


@strawberry.input(description="What to link, and where.")
class LinkArtifactInput:
    artifact_id: strawberry.ID | None = strawberry.field(
        default=None, name="artifactID", description="The version to link."
    )
    artifact_portfolio_id: strawberry.ID | None = strawberry.field(
        default=None, name="artifactPortfolioID", description="The collection, by ID."
    )
    artifact_portfolio_name: str | None = strawberry.field(
        default=None, description="The collection, by name; made when missing."
    )
    entity_name: str | None = strawberry.field(
        default=None, description="The organization holding the registry."
    )
    project_name: str | None = strawberry.field(
        default=None, description="The registry, as `wandb-registry-<name>`."
    )
    aliases: list[ArtifactAliasInput] | None = strawberry.field(
        default=None, description="Aliases to give the linked version."
    )
    client_id: strawberry.ID | None = strawberry.field(
        default=None, name="clientID", description="The client's ID for the link."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The linked version.")
class LinkArtifactPayload:
    version_index: int = strawberry.field(description="Its index in the collection.")
    artifact_membership: ArtifactCollectionMembership = strawberry.field(
        description="The version in the collection."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Which link to remove.")
class UnlinkArtifactInput:
    artifact_id: strawberry.ID = strawberry.field(
        name="artifactID", description="The version (any version of the same content)."
    )
    artifact_portfolio_id: strawberry.ID = strawberry.field(
        name="artifactPortfolioID", description="The collection to remove it from."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type
class LinksMutation:
    @strawberry.mutation(description="Links a version into a registry collection.")
    async def link_artifact(
        self, info: Ctx, input: Annotated[LinkArtifactInput, arg("What and where.")]
    ) -> LinkArtifactPayload:
        async with mutation(info.context) as ctx:
            version_id = await artifact_number(ctx, input.artifact_id, "input.artifactID")
            collection_id = None
            target_path = None
            if input.artifact_portfolio_id is not None:
                collection_id = number_of(
                    input.artifact_portfolio_id, "input.artifactPortfolioID", "ArtifactCollection"
                )
            else:
                target_path = "/".join(
                    part or ""
                    for part in (
                        input.entity_name,
                        input.project_name,
                        input.artifact_portfolio_name,
                    )
                )
            linked = await links.link_artifact(
                ctx,
                version_id=version_id,
                source_path=None,
                target_path=target_path,
                collection_id=collection_id,
                aliases=[a.alias for a in input.aliases or ()],
            )
        return LinkArtifactPayload(
            version_index=linked.version_index,
            artifact_membership=ArtifactCollectionMembership.of(linked),
            client_mutation_id=input.client_mutation_id,
        )

    @strawberry.mutation(description="Removes a version from a registry collection.")
    async def unlink_artifact(
        self, info: Ctx, input: Annotated[UnlinkArtifactInput, arg("Which link.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            version_id = await artifact_number(ctx, input.artifact_id, "input.artifactID")
            collection_id = number_of(
                input.artifact_portfolio_id, "input.artifactPortfolioID", "ArtifactCollection"
            )
            given = await versions.require_version(ctx, version_id, None, ("artifactID", ""))
            collection = await collections.require_collection(
                ctx, collection_id, "artifactPortfolioID"
            )
            found = await versions.version_of_content_in(ctx, collection.id, given.content_id)
            if found is None:
                raise not_found(
                    f"this artifact is not linked into '{collection.name}'",
                    ("artifactPortfolioID",),
                )
            await links.unlink_artifact(ctx, version_id=found.id, path=None)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)
