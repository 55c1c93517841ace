"""Artifact versions: the version in its collection, the content it shares, its files, links,
lineage fields, and the mutations on a version once it exists (aliases, tags, description)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from db import records
from resolvers import accounts, collections, files, history, lineage, runs, versions
from resolvers.context import Context
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from schema.accounts import User
from schema.collections import ArtifactCollection, Collection, collection_of
from schema.connection import connection_field
from schema.context import Ctx, arg, maybe, maybe_soon
from schema.errors import raise_domain_errors, still_there
from schema.files import ArtifactFile
from schema.history import AliasPeriod
from schema.lineage import (
    LineageDiff,
    LineageDirection,
    LineageDirectionArg,
    LineageGraph,
    LineageMaxDepth,
    LineageMaxNodes,
    graph_of,
)
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, decode_id, global_id, node
from schema.scalars import Int64

if TYPE_CHECKING:
    from schema.runs import Run

RunType = Annotated["Run", strawberry.lazy("schema.runs")]
VersionType = Annotated["ArtifactVersion", strawberry.lazy("schema.versions")]


@node(load=versions.versions_by_id)
@strawberry.type(
    description="A version inside a collection: its index and aliases there, and the immutable "
    "content it shares with every other version of the same content."
)
class ArtifactVersion(Node):
    record: strawberry.Private[records.ArtifactVersion]
    version_index: int = strawberry.field(description="Index in its collection, from 0.")
    version: str = strawberry.field(description="The index as a label, e.g. `v3`.")
    linked_at: datetime = strawberry.field(
        description="When the version entered this collection (logged or linked)."
    )
    digest: str = strawberry.field(description="SHA-256 of the content's file manifest.")
    size: Int64 = strawberry.field(description="Total size of the files in bytes.")
    type: str = strawberry.field(description="Artifact type, e.g. `model` or `dataset`.")
    metadata: JSON = strawberry.field(description="Metadata logged with the content.")
    description: str = strawberry.field(
        description="Description of this version in its collection; a new version starts with "
        "its source's."
    )
    created_at: datetime = strawberry.field(description="When the content was logged.")
    is_link: bool = strawberry.field(
        description="True for a version in a registry collection, false for a logged version."
    )
    ttl_seconds: Int64 | None = strawberry.field(
        description="The content's time to live in seconds, counted from `createdAt`; null "
        "for none. Every version of the content shows the same."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the time to live ends: the collector then lets go of the files' "
        "bytes, unless a protected alias holds a version of the content."
    )
    files_deleted_at: datetime | None = strawberry.field(
        description="When the files' bytes were let go at the end of the time to live; the "
        "manifest stays, with no `downloadUrl`. Logging the same files again brings them back."
    )

    @classmethod
    def of(cls, r: records.ArtifactVersion) -> ArtifactVersion:
        return cls(
            id=global_id("ArtifactVersion", r.id),
            record=r,
            version_index=r.version_index,
            version=f"v{r.version_index}",
            linked_at=r.linked_at,
            digest=r.digest,
            size=Int64(r.size),
            type=r.artifact_type,
            metadata=JSON(r.metadata),
            description=r.description,
            created_at=r.created_at,
            is_link=r.registry_id is not None,
            ttl_seconds=None if r.ttl_seconds is None else Int64(r.ttl_seconds),
            expires_at=r.expires_at,
            files_deleted_at=r.files_deleted_at,
        )

    @classmethod
    async def preload(
        cls, ctx: Context, found: list[records.ArtifactVersion], fields: set[str]
    ) -> None:
        """A page of versions loads what its selected fields read before they resolve."""
        await versions.preload(
            ctx,
            found,
            aliases="aliases" in fields,
            tags="tags" in fields,
            created_by="createdBy" in fields,
            linked_by="linkedBy" in fields,
        )

    @strawberry.field(
        description="Aliases this version holds in its collection, sorted.", graphql_type=list[str]
    )
    def aliases(self, info: Ctx) -> Soon[list[str]]:
        return versions.version_aliases(info.context, self.record.id)

    @strawberry.field(description="Tags on this version, sorted.", graphql_type=list[str])
    def tags(self, info: Ctx) -> Soon[list[str]]:
        return versions.version_tags(info.context, self.record.id)

    @strawberry.field(description="Every alias this version has held, when it came and went.")
    async def alias_history(self, info: Ctx) -> list[AliasPeriod]:
        periods = await history.alias_periods(info.context, self.record.id)
        return [AliasPeriod.of(p) for p in periods]

    @strawberry.field(
        description="Full path of this version, e.g. `acme/wandb-registry-model/churn:v3`."
    )
    async def path(self, info: Ctx) -> str:
        return await versions.version_path(info.context, self.record)

    @strawberry.field(description="The collection or artifact sequence the version is in.")
    async def collection(self, info: Ctx) -> ArtifactCollection:
        found = await collections.collection(info.context, self.record.collection_id)
        return collection_of(still_there(found, "collection"))

    @strawberry.field(
        description="Who put the version in this collection (logged or linked it).",
        graphql_type=User | None,
    )
    def linked_by(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.linked_by))

    @strawberry.field(
        description="The logged version this content came from; itself for a logged version."
    )
    async def source(self, info: Ctx) -> ArtifactVersion | None:
        found = await versions.source_version(info.context, self.record.content_id)
        return maybe(ArtifactVersion, found)

    @strawberry.field(
        description="The run that logged the content, when one did.", graphql_type=RunType | None
    )
    def created_by(self, info: Ctx) -> Soon[Run | None]:
        return maybe_soon(RunType, runs.run(info.context, self.record.created_by_run_id))

    @connection_field(
        ArtifactFile,
        "The content's file manifest, by path: names, sizes and digests for everyone who sees "
        "the version; each file's `downloadUrl` for those who may download it.",
    )
    async def files(self, info: Ctx) -> ListQuery[records.ArtifactFile]:
        return versions.files(self.record)

    @strawberry.field(
        description="A signed, expiring URL for all the version's files in one tar archive "
        "(paths as in the manifest), for a plain GET without an auth header. Null when files "
        "were logged before Cairn stored bytes; PERMISSION_DENIED for RESTRICTED_VIEWERs."
    )
    async def archive_url(self, info: Ctx) -> str | None:
        with raise_domain_errors():
            return await files.content_url(info.context, self.record, files.ARCHIVE)

    @strawberry.field(
        description="A signed, expiring URL for the version's manifest as JSON: each file's "
        "path, size, SHA-256 and MD5."
    )
    async def manifest_url(self, info: Ctx) -> str:
        url = await files.content_url(info.context, self.record, files.MANIFEST)
        assert url is not None
        return url

    @connection_field(RunType, "Runs that used this content, most recent use first.")
    async def used_by(self, info: Ctx) -> ListQuery[records.Run]:
        return runs.runs_using(self.record)

    @connection_field(
        VersionType, "The same content in registry collections, this version included if linked."
    )
    async def linked_versions(self, info: Ctx) -> ListQuery[records.ArtifactVersion]:
        return await versions.linked_versions(info.context, self.record)

    @strawberry.field(
        description="The lineage graph of this version's content (a linked version shows its "
        "source's): runs and artifact versions upstream, downstream or both."
    )
    async def lineage(
        self,
        info: Ctx,
        direction: LineageDirectionArg = LineageDirection.UPSTREAM,
        max_depth: LineageMaxDepth = None,
        max_nodes: LineageMaxNodes = None,
    ) -> LineageGraph:
        walk = lineage.version_graph(
            info.context, self.record, direction.name, max_depth, max_nodes
        )
        return await graph_of(walk)

    @strawberry.field(
        description="What changed upstream between this version and another: artifacts "
        "added, removed or at another version, and runs added or removed."
    )
    async def lineage_diff(
        self,
        info: Ctx,
        against: Annotated[strawberry.ID, arg("The ArtifactVersion to compare with.")],
        max_depth: LineageMaxDepth = None,
    ) -> LineageDiff:
        kind, against_id = decode_id(against)
        with raise_domain_errors():
            found = await lineage.diff(
                info.context,
                self.record,
                against_id if kind == "ArtifactVersion" else None,
                max_depth,
            )
        return LineageDiff.of(found)


@strawberry.type(description="Which version holds an alias in a collection.")
class AliasAssignment:
    alias: str = strawberry.field(description="The alias, e.g. `production`.")
    version: ArtifactVersion = strawberry.field(description="The version that holds it.")

    @classmethod
    def of(cls, pair: tuple[str, records.ArtifactVersion]) -> AliasAssignment:
        alias, held_by = pair
        return cls(alias=alias, version=ArtifactVersion.of(held_by))


@strawberry.type
class VersionsQuery:
    @strawberry.field(
        description="One version by path: `[org/]wandb-registry-<registry>/<collection>"
        "[:<alias>|:v<N>]` or `org/<project>/<artifact>[:<alias>|:v<N>]`; no selector means "
        "`latest`. A malformed path (INVALID_PATH) or a missing part (NOT_FOUND) is an error "
        "whose message names the part."
    )
    async def artifact_version(
        self,
        info: Ctx,
        path: Annotated[str, arg("The version's path.")],
        organization: Annotated[
            str | None,
            arg(
                "Organization for a path that names none; by default the caller's only "
                "organization."
            ),
        ] = None,
    ) -> ArtifactVersion | None:
        with raise_domain_errors():
            found = await versions.version_by_path(info.context, path, organization)
        return ArtifactVersion.of(found)


@strawberry.type(description="The result of `logArtifact` and `updateArtifactVersion`.")
class ArtifactVersionPayload:
    artifact_version: ArtifactVersion | None = strawberry.field(
        default=None,
        description="The version as it is now (for a manifest logged before, the existing one).",
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.ArtifactVersion | None) -> ArtifactVersionPayload:
        return cls(artifact_version=maybe(ArtifactVersion, changed))


@strawberry.input(description="Aliases to add to, or remove from, a version.")
class AliasesInput:
    version_id: strawberry.ID | None = id_input(
        "ArtifactVersion", default=None, description="The version (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The version's path.")
    aliases: list[str] = strawberry.field(
        description="Aliases; adding one another version holds moves it here."
    )


@strawberry.input(description="Tags to add to, or remove from, a collection or version.")
class TagsInput:
    target: strawberry.ID = id_input(
        "Collection",
        "ArtifactVersion",
        name="id",
        description="A Collection or ArtifactVersion ID.",
    )
    tags: list[str] = strawberry.field(description="Tags.")


@strawberry.type(description="The result of `addTags` and `removeTags`.")
class TagsPayload:
    collection: Collection | None = strawberry.field(
        default=None, description="The collection, when the tags were on one."
    )
    artifact_version: ArtifactVersion | None = strawberry.field(
        default=None, description="The version, when the tags were on one."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, tagged: records.Collection | records.ArtifactVersion) -> TagsPayload:
        if isinstance(tagged, records.Collection):
            return cls(collection=Collection.of(tagged))
        return cls(artifact_version=ArtifactVersion.of(tagged))


@strawberry.input(description="Changes to a version's description.")
class UpdateArtifactVersionInput:
    version_id: strawberry.ID = id_input("ArtifactVersion", description="The version.")
    description: str = strawberry.field(
        description="New description of this version only (its content's other versions keep "
        "theirs)."
    )


@strawberry.input(description="A version logged in a project, to delete.")
class DeleteArtifactVersionInput:
    version_id: strawberry.ID = id_input("ArtifactVersion", description="The logged version.")
    delete_aliases: bool = strawberry.field(
        default=False,
        description="Delete its aliases with it; without this, a version holding aliases (other "
        "than `latest`) is refused.",
    )


@strawberry.type(description="The result of `deleteArtifactVersion`.")
class DeleteArtifactVersionPayload:
    deleted_version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted version."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.ArtifactVersion) -> DeleteArtifactVersionPayload:
        return cls(deleted_version_id=global_id("ArtifactVersion", deleted.id))


@strawberry.input(description="New metadata for a version's content.")
class SetArtifactMetadataInput:
    version_id: strawberry.ID = id_input(
        "ArtifactVersion", description="The version (any version of the content)."
    )
    metadata: JSON = strawberry.field(
        description="The new metadata, a JSON object; it replaces the old one for every version "
        "of the content."
    )


@strawberry.input(description="A time to live for a version's content.")
class SetArtifactTtlInput:
    version_id: strawberry.ID = id_input(
        "ArtifactVersion", description="The version (any version of the content)."
    )
    ttl_seconds: Int64 | None = strawberry.field(
        description="Seconds from when the content was logged, from 1 to 100 years; null "
        "removes the time to live."
    )


@strawberry.type
class VersionsMutation:
    @strawberry.mutation(
        description="Gives a version aliases, moving each from the version that held it."
    )
    async def add_aliases(
        self, info: Ctx, input: Annotated[AliasesInput, arg("The aliases.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, versions.add_aliases, input)

    @strawberry.mutation(description="Takes aliases off a version.")
    async def remove_aliases(
        self, info: Ctx, input: Annotated[AliasesInput, arg("The aliases.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, versions.remove_aliases, input)

    @strawberry.mutation(description="Adds tags to a collection or a version.")
    async def add_tags(
        self, info: Ctx, input: Annotated[TagsInput, arg("The tags.")]
    ) -> TagsPayload:
        return await mutate(info, TagsPayload, versions.add_tags, input)

    @strawberry.mutation(description="Removes tags from a collection or a version.")
    async def remove_tags(
        self, info: Ctx, input: Annotated[TagsInput, arg("The tags.")]
    ) -> TagsPayload:
        return await mutate(info, TagsPayload, versions.remove_tags, input)

    @strawberry.mutation(
        description="Gives a version's content a time to live: when it ends, the bytes of its "
        "files are let go for every version of the content (the manifest stays), unless a "
        "protected alias holds one of them. Needs what editing the version needs."
    )
    async def set_artifact_ttl(
        self, info: Ctx, input: Annotated[SetArtifactTtlInput, arg("The time to live.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, versions.set_artifact_ttl, input)

    @strawberry.mutation(
        description="Replaces the metadata of a version's content, shared by every version of "
        "it (in every collection); recorded in the history of the registries it is in."
    )
    async def set_artifact_metadata(
        self, info: Ctx, input: Annotated[SetArtifactMetadataInput, arg("The change.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, versions.set_artifact_metadata, input)

    @strawberry.mutation(
        description="Deletes a version logged in a project, with its content and files (whose "
        "bytes go once nothing refers to them). Refused while the content is linked into a "
        "registry: unlink it there first. `latest` moves to the newest remaining version."
    )
    async def delete_artifact_version(
        self, info: Ctx, input: Annotated[DeleteArtifactVersionInput, arg("The version.")]
    ) -> DeleteArtifactVersionPayload:
        return await mutate(
            info, DeleteArtifactVersionPayload, versions.delete_logged_version, input
        )

    @strawberry.mutation(description="Changes a version's description.")
    async def update_artifact_version(
        self, info: Ctx, input: Annotated[UpdateArtifactVersionInput, arg("The change.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, versions.update_artifact_version, input)
