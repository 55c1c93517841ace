"""Versions. W&B splits a version in two: the `Artifact` (its content, description, tags and
metadata) and the `ArtifactCollectionMembership` (its place in one collection: index and
aliases). Both are built here from a Cairn version; an `Artifact`'s ID names the version it
was reached through, so that changes made through it (tags, aliases, links) land on that
version, while its `artifactSequence` and `versionIndex` are those of the logged original."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import orjson
import strawberry

from db import records
from resolvers import collections, files, links, pages, runs, versions
from resolvers.context import Context
from resolvers.soon import settled
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors, still_there
from schema.scalars import Int64
from schema.wandb.collections import ArtifactCollection, ArtifactSequence, collection_of
from schema.wandb.connection import Connection, connection
from schema.wandb.files import File, files_of
from schema.wandb.ids import artifact_number, number_of, opaque_id, wandb_id
from schema.wandb.mutations import ClientMutationId, SuccessPayload, mutation
from schema.wandb.organizations import After, First
from schema.wandb.runs import Run

if TYPE_CHECKING:
    from schema.wandb.registries import ArtifactType

ArtifactTypeType = Annotated["ArtifactType", strawberry.lazy("schema.wandb.registries")]

# A time to live of -2 tells the SDK that none is set.
NO_TTL = -2


@strawberry.type(description="A tag on a collection or a version.")
class Tag:
    owner: strawberry.Private[int]
    tag: strawberry.Private[str]

    @classmethod
    def of(cls, owner: int, tag: str) -> Tag:
        return cls(owner=owner, tag=tag)

    @strawberry.field(description="The tag's ID.")
    def id(self) -> strawberry.ID:
        return opaque_id("Tag", self.owner, self.tag)

    @strawberry.field(description="The tag.")
    def name(self) -> str:
        return self.tag


@strawberry.type(description="An alias, held by one version of a collection.")
class ArtifactAlias:
    alias: str = strawberry.field(description="The alias, e.g. `production`.")
    version: strawberry.Private[records.ArtifactVersion]

    @strawberry.field(description="The alias's ID.")
    def id(self) -> strawberry.ID:
        return opaque_id("ArtifactAlias", self.version.collection_id, self.alias)

    @strawberry.field(description="The collection the alias is in.")
    async def artifact_collection(self, info: Ctx) -> ArtifactCollection | None:
        found = await collections.collection(info.context, self.version.collection_id)
        return None if found is None else collection_of(found)


@strawberry.type(description="The manifest of a version's files.")
class ArtifactManifest:
    version: strawberry.Private[records.ArtifactVersion]

    @strawberry.field(description="The manifest's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactManifest", self.version.id)

    @strawberry.field(description="The manifest as a file, in the SDK's format.")
    async def file(self, info: Ctx) -> File:
        with raise_domain_errors():
            url = await files.content_url(info.context, self.version, files.WANDB_MANIFEST)
        assert url is not None
        return File.manifest(self.version, url)


async def aliases_of(info: Ctx, found: records.ArtifactVersion) -> list[ArtifactAlias]:
    return [
        ArtifactAlias(alias=a, version=found)
        for a in await settled(versions.version_aliases(info.context, found.id))
    ]


@strawberry.type(description="A version's content, and what is said about it.")
class Artifact:
    record: strawberry.Private[records.ArtifactVersion]

    @classmethod
    def of(cls, record: records.ArtifactVersion) -> Artifact:
        return cls(record=record)

    async def source(self, info: Ctx) -> records.ArtifactVersion:
        if self.record.collection_id == self.record.sequence_id:
            return self.record
        found = await versions.source_version(info.context, self.record.content_id)
        return still_there(found, "logged version")

    @strawberry.field(description="The version's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("Artifact", self.record.id)

    @strawberry.field(description="The project's artifact this content was logged as.")
    async def artifact_sequence(self, info: Ctx) -> ArtifactSequence:
        found = await collections.collection(info.context, self.record.sequence_id)
        return ArtifactSequence(record=still_there(found, "logged artifact"))

    @strawberry.field(description="The index the content was logged at.")
    async def version_index(self, info: Ctx) -> int:
        return (await self.source(info)).version_index

    @strawberry.field(description="The artifact's type.")
    def artifact_type(self) -> ArtifactTypeType:
        from schema.wandb.registries import ArtifactType

        return ArtifactType(project=None, type_name=self.record.artifact_type)

    @strawberry.field(description="The version's description.")
    def description(self) -> str:
        return self.record.description

    @strawberry.field(description="The content's metadata, as JSON text.")
    def metadata(self) -> str:
        return orjson.dumps(self.record.metadata).decode()

    @strawberry.field(description="The time to live in seconds, or -2 when none is set.")
    def ttl_duration_seconds(self) -> int:
        return self.record.ttl_seconds or NO_TTL

    @strawberry.field(description="Whether the time to live comes from elsewhere: never here.")
    def ttl_is_inherited(self) -> bool:
        return False

    @strawberry.field(description="The version's tags.")
    async def tags(self, info: Ctx) -> list[Tag]:
        found = await settled(versions.version_tags(info.context, self.record.id))
        return [Tag.of(self.record.id, t) for t in found]

    @strawberry.field(description="The run step it was logged at: not kept, null.")
    def history_step(self) -> int | None:
        return None

    @strawberry.field(description="`COMMITTED`: Cairn holds only committed versions.")
    def state(self) -> str:
        return "COMMITTED"

    @strawberry.field(description="The files' total size in bytes.")
    def size(self) -> Int64:
        return Int64(self.record.size)

    @strawberry.field(
        description="The digest the SDK computed for content it logged; else the SHA-256 of "
        "the content's manifest."
    )
    def digest(self) -> str:
        return self.record.wandb_digest or self.record.digest

    @strawberry.field(description="Not kept: null.")
    def commit_hash(self) -> str | None:
        return None

    @strawberry.field(description="How many files the content holds.")
    async def file_count(self, info: Ctx) -> int:
        with raise_domain_errors():
            return await pages.total_count(info.context, versions.files(self.record))

    @strawberry.field(description="When the content was logged.")
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="Not kept: null.")
    def updated_at(self) -> datetime | None:
        return None

    @strawberry.field(
        description="The aliases of this version and of the logged original, each with its "
        "index as `v<N>` in its collection, as W&B lists them."
    )
    async def aliases(self, info: Ctx) -> list[ArtifactAlias]:
        source = await self.source(info)
        held = (self.record, source) if source.id != self.record.id else (source,)
        # Both versions' aliases in one batch.
        found = await asyncio.gather(*(aliases_of(info, version) for version in held))
        return [
            alias
            for version, aliases in zip(held, found, strict=True)
            for alias in (
                ArtifactAlias(alias=f"v{version.version_index}", version=version),
                *aliases,
            )
        ]

    @strawberry.field(description="The run that logged the content.")
    async def created_by(self, info: Ctx) -> Run | None:
        found = await settled(runs.run(info.context, self.record.created_by_run_id))
        return None if found is None else Run.of(found)

    @strawberry.field(description="The runs that used the content, most recent first.")
    async def used_by(self, info: Ctx, after: After = None, first: First = None) -> Connection[Run]:
        return await connection(info, runs.runs_using(self.record), Run.of, first, after)

    @strawberry.field(description="The content's manifest.")
    def current_manifest(self) -> ArtifactManifest:
        return ArtifactManifest(version=self.record)

    @strawberry.field(description="The same content in the registry collections the caller sees.")
    async def artifact_memberships(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[ArtifactCollectionMembership]:
        with raise_domain_errors():
            query = await versions.linked_versions(info.context, self.record)
        return await connection(info, query, ArtifactCollectionMembership.of, first, after)


@strawberry.type(description="A version in one collection: its index and aliases there.")
class ArtifactCollectionMembership:
    record: strawberry.Private[records.ArtifactVersion]

    @classmethod
    def of(cls, record: records.ArtifactVersion) -> ArtifactCollectionMembership:
        return cls(record=record)

    @strawberry.field(description="The membership's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactCollectionMembership", self.record.id)

    @strawberry.field(description="The version's index in the collection.")
    def version_index(self) -> int:
        return self.record.version_index

    @strawberry.field(description="When the version entered the collection.")
    def created_at(self) -> datetime:
        return self.record.linked_at

    @strawberry.field(description="The aliases the version holds in the collection.")
    async def aliases(self, info: Ctx) -> list[ArtifactAlias]:
        return await aliases_of(info, self.record)

    @strawberry.field(description="The collection.")
    async def artifact_collection(self, info: Ctx) -> ArtifactCollection | None:
        found = await collections.collection(info.context, self.record.collection_id)
        return None if found is None else collection_of(found)

    @strawberry.field(description="The version's content.")
    def artifact(self) -> Artifact:
        return Artifact.of(self.record)

    @strawberry.field(description="The version's files, by path.")
    async def files(
        self,
        info: Ctx,
        names: Annotated[list[str] | None, arg("Only the files at these paths.")] = None,
        after: After = None,
        first: First = None,
    ) -> Connection[File]:
        return await files_of(info, self.record, names, first, after)


@strawberry.input(description="An alias to give a version in a collection.")
class ArtifactAliasInput:
    alias: str = strawberry.field(description="The alias.")
    artifact_collection_name: str | None = strawberry.field(
        default=None, description="The collection it is in."
    )


@strawberry.input(description="An alias of a version in a named collection.")
class ArtifactCollectionAliasInput:
    alias: str = strawberry.field(description="The alias.")
    artifact_collection_name: str | None = strawberry.field(
        default=None, description="The collection it is in; the version's own when null."
    )
    entity_name: str | None = strawberry.field(
        default=None, description="The organization holding the collection."
    )
    project_name: str | None = strawberry.field(
        default=None, description="The registry (`wandb-registry-<name>`) or project."
    )


@strawberry.input(name="AddAliasesInput", description="Aliases to add to a version.")
class AliasesInput:
    artifact_id: strawberry.ID = strawberry.field(
        name="artifactID", description="The version (any version of the same content)."
    )
    aliases: list[ArtifactCollectionAliasInput] = strawberry.field(
        description="The aliases, each with its collection."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Aliases to remove from a version.")
class DeleteAliasesInput(AliasesInput):
    pass


@strawberry.input(description="A tag.")
class TagInput:
    tag_name: str = strawberry.field(description="The tag.")
    tag_category_name: str | None = strawberry.field(
        default=None, description="Not kept: tags have no categories here."
    )
    attributes: str | None = strawberry.field(
        default=None, description="Not kept: tags have no attributes here."
    )


@strawberry.input(description="Changes to a version.")
class UpdateArtifactInput:
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The version.")
    description: str | None = strawberry.field(default=None, description="A new description.")
    metadata: str | None = strawberry.field(
        default=None, description="The metadata as JSON text; it cannot change once logged."
    )
    ttl_duration_seconds: int | None = strawberry.field(
        default=None, description="A time to live in seconds; -2 removes it; -1 keeps it."
    )
    tags_to_add: list[TagInput] | None = strawberry.field(default=None, description="Tags to add.")
    tags_to_delete: list[TagInput] | None = strawberry.field(
        default=None, description="Tags to remove."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A logged version to delete.")
class DeleteArtifactInput:
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The version.")
    delete_aliases: bool | None = strawberry.field(
        default=False, description="Whether to delete its aliases too."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The version after the change.")
class UpdateArtifactPayload:
    artifact: Artifact = strawberry.field(description="The version.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type
class VersionsQuery:
    @strawberry.field(description="A version by ID.")
    async def artifact(
        self, info: Ctx, id: Annotated[strawberry.ID, arg("The version's ID.")]
    ) -> Artifact | None:
        found = await versions.version(info.context, await artifact_number(info.context, id, "id"))
        return None if found is None else Artifact.of(found)

    @strawberry.field(description="A collection by ID.")
    async def artifact_collection(
        self, info: Ctx, id: Annotated[strawberry.ID, arg("The collection's ID.")]
    ) -> ArtifactCollection | None:
        found = await collections.collection(
            info.context, number_of(id, "id", "ArtifactCollection")
        )
        return None if found is None else collection_of(found)


@strawberry.type
class VersionsMutation:
    @strawberry.mutation(description="Gives a version aliases, in the collections named.")
    async def add_aliases(
        self, info: Ctx, input: Annotated[AliasesInput, arg("The version and aliases.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            for version_id, aliases in await _aliases_by_version(ctx, input):
                await versions.add_aliases(ctx, version_id=version_id, path=None, aliases=aliases)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Removes aliases from a version, in the collections named.")
    async def delete_aliases(
        self, info: Ctx, input: Annotated[DeleteAliasesInput, arg("The version and aliases.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            for version_id, aliases in await _aliases_by_version(ctx, input):
                await versions.remove_aliases(
                    ctx, version_id=version_id, path=None, aliases=aliases
                )
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(
        description="Deletes a logged version with its files (refused while it is linked into a "
        "registry), or unlinks a linked one."
    )
    async def delete_artifact(
        self, info: Ctx, input: Annotated[DeleteArtifactInput, arg("The version.")]
    ) -> UpdateArtifactPayload:
        async with mutation(info.context) as ctx:
            version_id = await artifact_number(ctx, input.artifact_id, "input.artifactID")
            given = await versions.require_version(ctx, version_id, None, ("artifactID", ""))
            if given.registry_id is not None:
                await links.unlink_artifact(ctx, version_id=given.id, path=None)
            else:
                await versions.delete_logged_version(
                    ctx, version_id=given.id, delete_aliases=bool(input.delete_aliases)
                )
        return UpdateArtifactPayload(
            artifact=Artifact.of(given), client_mutation_id=input.client_mutation_id
        )

    @strawberry.mutation(description="Changes a version's description, tags and time to live.")
    async def update_artifact(
        self, info: Ctx, input: Annotated[UpdateArtifactInput, arg("The changes.")]
    ) -> UpdateArtifactPayload:
        async with mutation(info.context) as ctx:
            changed = await versions.update_version_as_given(
                ctx,
                version_id=await artifact_number(ctx, input.artifact_id, "input.artifactID"),
                description=input.description,
                metadata=input.metadata,
                ttl_seconds=input.ttl_duration_seconds,
                tags_to_add=[t.tag_name for t in input.tags_to_add or ()],
                tags_to_remove=[t.tag_name for t in input.tags_to_delete or ()],
            )
        return UpdateArtifactPayload(
            artifact=Artifact.of(changed), client_mutation_id=input.client_mutation_id
        )


async def _aliases_by_version(ctx: Context, input: AliasesInput) -> list[tuple[int, list[str]]]:
    """The version of the given content in each collection the aliases name, with its aliases;
    a collection that does not hold the content is refused before anything changes."""
    given = await versions.require_version(
        ctx,
        await artifact_number(ctx, input.artifact_id, "input.artifactID"),
        None,
        ("artifactID", ""),
    )
    grouped: dict[tuple[str | None, str | None, str | None], list[str]] = {}
    for each in input.aliases:
        key = (each.entity_name, each.project_name, each.artifact_collection_name)
        grouped.setdefault(key, []).append(each.alias)
    found: list[tuple[int, list[str]]] = []
    for (entity, project, collection), aliases in grouped.items():
        version = await versions.version_of_content_named(ctx, given, entity, project, collection)
        found.append((version.id, aliases))
    return found
