"""Links: `linkArtifact` and `unlinkArtifact`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import records
from resolvers import links
from schema.collections import Collection
from schema.context import Ctx, arg
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import global_id
from schema.versions import ArtifactVersion


@strawberry.input(description="Links a version into a registry collection.")
class LinkArtifactInput:
    version_id: strawberry.ID | None = id_input(
        "ArtifactVersion",
        default=None,
        description="The version to link (give this or sourcePath).",
    )
    source_path: str | None = strawberry.field(
        default=None, description="The version's path, e.g. `acme/churn/churn-model:v3`."
    )
    target_path: str | None = strawberry.field(
        default=None,
        description="`[org/]wandb-registry-<registry>/<collection>`; a missing collection is "
        "created with the version's type (give this or collectionId).",
    )
    collection_id: strawberry.ID | None = id_input(
        "Collection", default=None, description="The target collection."
    )
    aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases to give the linked version."
    )


@strawberry.type(description="The result of `linkArtifact`.")
class LinkArtifactPayload:
    artifact_version: ArtifactVersion | None = strawberry.field(
        default=None,
        description="The version in the collection (the existing one if already linked).",
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, linked: records.ArtifactVersion) -> LinkArtifactPayload:
        return cls(artifact_version=ArtifactVersion.of(linked))


@strawberry.input(description="Removes a version from its registry collection.")
class UnlinkArtifactInput:
    version_id: strawberry.ID | None = id_input(
        "ArtifactVersion", default=None, description="The linked version (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The linked version's path.")


@strawberry.type(description="The result of `unlinkArtifact`.")
class UnlinkArtifactPayload:
    collection: Collection | None = strawberry.field(
        default=None, description="The collection now."
    )
    unlinked_version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the removed version."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(
        cls, unlinked: tuple[records.Collection, records.ArtifactVersion]
    ) -> UnlinkArtifactPayload:
        collection, version = unlinked
        # The version's own ID, also when it was named by path.
        return cls(
            collection=Collection.of(collection),
            unlinked_version_id=global_id("ArtifactVersion", version.id),
        )


@strawberry.type
class LinksMutation:
    @strawberry.mutation(
        description="Links a version into a registry collection (registry MEMBER). The new "
        "version gets the collection's next index and `latest`; content already there returns "
        "the existing version; linking a linked version links its source."
    )
    async def link_artifact(
        self, info: Ctx, input: Annotated[LinkArtifactInput, arg("The link.")]
    ) -> LinkArtifactPayload:
        return await mutate(info, LinkArtifactPayload, links.link_artifact, input)

    @strawberry.mutation(
        description="Removes a version from its registry collection; its index is not reused "
        "and `latest` moves to the newest remaining version (registry MEMBER)."
    )
    async def unlink_artifact(
        self, info: Ctx, input: Annotated[UnlinkArtifactInput, arg("The version.")]
    ) -> UnlinkArtifactPayload:
        return await mutate(info, UnlinkArtifactPayload, links.unlink_artifact, input)
