"""Logging an artifact the SDK's way: `createArtifact` (pending), `createArtifactFiles` and
`createArtifactManifest` for upload URLs, then `commitArtifact`, which makes it a version."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from resolvers import uploads, validation
from resolvers.context import Context
from schema.context import Ctx, arg
from schema.scalars import Int64
from schema.wandb.ids import number_of, wandb_id
from schema.wandb.mutations import ClientMutationId, mutation
from schema.wandb.scalars import JSONString, parsed_json
from schema.wandb.versions import Artifact, ArtifactAliasInput

UPLOAD_KINDS = ("Artifact",)


@strawberry.enum(description="How a manifest relates to the artifact's earlier ones.")
class ArtifactManifestType(Enum):
    FULL = strawberry.enum_value("FULL", description="The whole manifest (the only one taken).")
    PATCH = strawberry.enum_value("PATCH", description="Changes to a base manifest: refused.")
    INCREMENTAL = strawberry.enum_value(
        "INCREMENTAL", description="New files over a base manifest: refused."
    )


@strawberry.enum(description="How uploaded files are laid out in storage.")
class ArtifactStorageLayout(Enum):
    V1 = strawberry.enum_value("V1", description="By path: stored by digest here all the same.")
    V2 = strawberry.enum_value("V2", description="By digest.")


@strawberry.input(description="An artifact to log.")
class CreateArtifactInput:
    artifact_type_name: str = strawberry.field(description="Its type, e.g. `model`.")
    artifact_collection_name: str | None = strawberry.field(
        default=None, description="The artifact's name in the project."
    )
    artifact_collection_names: list[str] | None = strawberry.field(
        default=None, description="The same, as a list of one."
    )
    entity_name: str = strawberry.field(description="The organization (or the caller's name).")
    project_name: str = strawberry.field(description="The project, made when missing.")
    run_name: str | None = strawberry.field(default=None, description="The run logging it.")
    description: str | None = strawberry.field(default=None, description="Its description.")
    digest: str = strawberry.field(description="The SDK's digest of its manifest.")
    digest_algorithm: str | None = strawberry.field(
        default=None, description="`MANIFEST_MD5`, the only one."
    )
    labels: JSONString | None = strawberry.field(default=None, description="Not kept.")
    aliases: list[ArtifactAliasInput] | None = strawberry.field(
        default=None, description="Aliases to give the version (`latest` is kept by the server)."
    )
    metadata: JSONString | None = strawberry.field(
        default=None, description="Its metadata, a JSON object as text."
    )
    history_step: Int64 | None = strawberry.field(default=None, description="Not kept.")
    enable_digest_deduplication: bool | None = strawberry.field(
        default=None, description="Answer the version already holding this digest, if any."
    )
    distributed_id: str | None = strawberry.field(
        default=None, name="distributedID", description="Not supported: must be null."
    )
    client_id: strawberry.ID | None = strawberry.field(
        default=None, name="clientID", description="The SDK's ID for the artifact."
    )
    sequence_client_id: strawberry.ID | None = strawberry.field(
        default=None, name="sequenceClientID", description="Not kept."
    )
    ttl_duration_seconds: Int64 | None = strawberry.field(
        default=None, description="A time to live in seconds; negative for none."
    )
    tags: list[str] | None = strawberry.field(default=None, description="Not kept here.")
    storage_region: str | None = strawberry.field(default=None, description="Ignored.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The artifact that contents are created under.")
class LatestArtifact:
    id: strawberry.ID = strawberry.field(description="Its ID.")


@strawberry.type(description="The project's artifact the new one is a version of.")
class CreatedArtifactSequence:
    sequence_id: strawberry.Private[int]

    @strawberry.field(description="Its ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactCollection", self.sequence_id)

    @strawberry.field(description="Not answered here: null.")
    def latest_artifact(self) -> LatestArtifact | None:
        return None


@strawberry.type(description="An artifact being logged, or the version holding its content.")
class CreatedArtifact:
    created: strawberry.Private[uploads.CreatedArtifact]

    @strawberry.field(description="Its ID, which the version keeps.")
    def id(self) -> strawberry.ID:
        return wandb_id("Artifact", self.created.id)

    @strawberry.field(description="`PENDING` until committed; `COMMITTED` when it exists.")
    def state(self) -> str:
        return self.created.state

    @strawberry.field(description="The project's artifact.")
    def artifact_sequence(self) -> CreatedArtifactSequence:
        return CreatedArtifactSequence(sequence_id=self.created.sequence_id)


@strawberry.type(description="The artifact created.")
class CreateArtifactPayload:
    artifact: CreatedArtifact = strawberry.field(description="It, pending or committed.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A manifest to upload for a pending artifact.")
class CreateArtifactManifestInput:
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The artifact.")
    base_artifact_id: strawberry.ID | None = strawberry.field(
        default=None, name="baseArtifactID", description="Not supported: must be null."
    )
    name: str = strawberry.field(description="The manifest's file name.")
    digest: str = strawberry.field(description="The artifact's digest.")
    entity_name: str = strawberry.field(description="The organization.")
    project_name: str = strawberry.field(description="The project.")
    run_name: str | None = strawberry.field(default=None, description="The run.")
    type: ArtifactManifestType = strawberry.field(
        default=ArtifactManifestType.FULL, description="Only `FULL`."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="The manifest again, for a new upload URL.")
class UpdateArtifactManifestInput:
    artifact_manifest_id: strawberry.ID = strawberry.field(
        name="artifactManifestID", description="The manifest."
    )
    digest: str | None = strawberry.field(default=None, description="The artifact's digest.")
    base_artifact_id: strawberry.ID | None = strawberry.field(
        default=None, name="baseArtifactID", description="Not supported: must be null."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="Where a manifest goes.")
class ManifestFileUpload:
    upload_id: strawberry.Private[int]
    url: strawberry.Private[str]

    @strawberry.field(description="The file's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("File", self.upload_id)

    @strawberry.field(description="A signed URL to PUT the manifest to.")
    def upload_url(self) -> str:
        return self.url

    @strawberry.field(description="Headers to send with it: none.")
    def upload_headers(self) -> list[str]:
        return []


@strawberry.type(description="A pending artifact's manifest.")
class ManifestUpload:
    upload_id: strawberry.Private[int]
    url: strawberry.Private[str]

    @strawberry.field(description="The manifest's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactManifest", self.upload_id)

    @strawberry.field(description="The manifest as a file to upload.")
    def file(self) -> ManifestFileUpload:
        return ManifestFileUpload(upload_id=self.upload_id, url=self.url)


@strawberry.type(description="The manifest and where to upload it.")
class ArtifactManifestPayload:
    artifact_manifest: ManifestUpload = strawberry.field(description="The manifest.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="One part of a file sent in parts.")
class UploadPartsInput:
    part_number: Int64 = strawberry.field(description="The part's number, from 1.")
    hex_md5: str = strawberry.field(name="hexMD5", description="The part's MD5 in hex.")


@strawberry.input(description="A file of a pending artifact.")
class CreateArtifactFileSpecInput:
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The artifact.")
    name: str = strawberry.field(description="The file's path in the artifact.")
    md5: str = strawberry.field(description="The MD5 of its bytes, in base64.")
    mimetype: str | None = strawberry.field(default=None, description="Ignored.")
    artifact_manifest_id: strawberry.ID | None = strawberry.field(
        default=None, name="artifactManifestID", description="Ignored."
    )
    upload_parts_input: list[UploadPartsInput] | None = strawberry.field(
        default=None,
        description="Parts the SDK would send: it is answered one URL for the whole file.",
    )


@strawberry.input(description="Files to upload for pending artifacts.")
class CreateArtifactFilesInput:
    artifact_files: list[CreateArtifactFileSpecInput] = strawberry.field(description="The files.")
    storage_layout: ArtifactStorageLayout = strawberry.field(
        default=ArtifactStorageLayout.V2, description="Ignored: bytes are kept by digest."
    )
    storage_region: str | None = strawberry.field(default=None, description="Ignored.")
    cloud_region_id: str | None = strawberry.field(
        default=None, name="cloudRegionID", description="Ignored."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The artifact a file belongs to.")
class UploadArtifact:
    artifact_id: strawberry.Private[int]

    @strawberry.field(description="Its ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("Artifact", self.artifact_id)


@strawberry.type(description="A part's upload URL: never given, files go whole.")
class UploadUrlPart:
    part_number: Int64 = strawberry.field(description="The part's number.")
    upload_url: str = strawberry.field(description="Its URL.")


@strawberry.type(description="URLs for a file sent in parts: never given, files go whole.")
class UploadMultipartUrls:
    upload_id: str = strawberry.field(name="uploadID", description="The upload.")
    upload_url_parts: list[UploadUrlPart] = strawberry.field(description="The parts.")


@strawberry.type(description="Where one file goes.")
class FileUpload:
    prepared: strawberry.Private[uploads.FileUploadUrl]

    @strawberry.field(description="The file's path in the artifact.")
    def name(self) -> str:
        return self.prepared.name

    @strawberry.field(description="Where the bytes are kept: by their digest.")
    def storage_path(self) -> str:
        return f"md5/{self.prepared.md5}"

    @strawberry.field(description="A signed URL to PUT the bytes to; null when already held.")
    def upload_url(self) -> str | None:
        return self.prepared.url

    @strawberry.field(description="Headers to send with it: none.")
    def upload_headers(self) -> list[str]:
        return []

    @strawberry.field(description="Null: files go in one request.")
    def upload_multipart_urls(self) -> UploadMultipartUrls | None:
        return None

    @strawberry.field(description="The artifact.")
    def artifact(self) -> UploadArtifact:
        return UploadArtifact(artifact_id=self.prepared.artifact_id)


@strawberry.type(description="One file.")
class FileUploadEdge:
    node: FileUpload = strawberry.field(description="The file.")


@strawberry.type(description="The files, in the order asked.")
class FileUploadConnection:
    edges: list[FileUploadEdge] = strawberry.field(description="The files.")


@strawberry.type(description="Where the files go.")
class CreateArtifactFilesPayload:
    files: FileUploadConnection = strawberry.field(description="The files.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="The artifact to commit.")
class CommitArtifactInput:
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The artifact.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The committed version.")
class CommitArtifactPayload:
    artifact: Artifact = strawberry.field(description="The version.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The server's ID for a client's.")
class ClientIDMappingType:
    server_id: strawberry.ID = strawberry.field(name="serverID", description="The artifact's ID.")


def _upload_id(value: str, field: str) -> int:
    return number_of(value, field, *UPLOAD_KINDS)


async def _manifest_payload(
    ctx: Context, upload_id: int, client_mutation_id: str | None
) -> ArtifactManifestPayload:
    url = await uploads.manifest_upload_url(ctx, upload_id)
    return ArtifactManifestPayload(
        artifact_manifest=ManifestUpload(upload_id=upload_id, url=url),
        client_mutation_id=client_mutation_id,
    )


@strawberry.type
class UploadsQuery:
    @strawberry.field(description="The artifact the SDK made with its client ID.")
    async def client_id_mapping(
        self,
        info: Ctx,
        client_id: Annotated[
            strawberry.ID, strawberry.argument(description="The client's ID.", name="clientID")
        ],
    ) -> ClientIDMappingType | None:
        found = await uploads.client_id_mapping(info.context, client_id)
        return None if found is None else ClientIDMappingType(server_id=wandb_id("Artifact", found))


@strawberry.type
class UploadsMutation:
    @strawberry.mutation(description="Starts logging an artifact.")
    async def create_artifact(
        self, info: Ctx, input: Annotated[CreateArtifactInput, arg("The artifact.")]
    ) -> CreateArtifactPayload:
        async with mutation(info.context) as ctx:
            names = [input.artifact_collection_name, *(input.artifact_collection_names or ())]
            name = next((n for n in names if n), None)
            if name is None:
                raise validation.invalid(
                    "`artifactCollectionName` is required", "artifactCollectionName"
                )
            if input.distributed_id:
                raise validation.invalid("distributed artifacts are not supported", "distributedID")
            created = await uploads.create_artifact(
                ctx,
                entity=input.entity_name,
                project=input.project_name,
                run_name=input.run_name,
                artifact_type=input.artifact_type_name,
                name=name,
                wandb_digest=input.digest,
                description=input.description,
                metadata=parsed_json(input.metadata, "metadata"),
                aliases=[a.alias for a in input.aliases or ()],
                ttl_seconds=input.ttl_duration_seconds,
                client_id=input.client_id,
                deduplicate=input.enable_digest_deduplication is not False,
            )
        return CreateArtifactPayload(
            artifact=CreatedArtifact(created=created), client_mutation_id=input.client_mutation_id
        )

    @strawberry.mutation(description="Where to upload a pending artifact's manifest.")
    async def create_artifact_manifest(
        self, info: Ctx, input: Annotated[CreateArtifactManifestInput, arg("The manifest.")]
    ) -> ArtifactManifestPayload:
        async with mutation(info.context) as ctx:
            if input.type is not ArtifactManifestType.FULL or input.base_artifact_id:
                raise validation.invalid(
                    "only whole manifests are taken (no base artifact)", "type"
                )
            upload_id = _upload_id(input.artifact_id, "input.artifactID")
            return await _manifest_payload(ctx, upload_id, input.client_mutation_id)

    @strawberry.mutation(description="A new URL to upload a pending artifact's manifest to.")
    async def update_artifact_manifest(
        self, info: Ctx, input: Annotated[UpdateArtifactManifestInput, arg("The manifest.")]
    ) -> ArtifactManifestPayload:
        async with mutation(info.context) as ctx:
            if input.base_artifact_id:
                raise validation.invalid(
                    "only whole manifests are taken (no base artifact)", "baseArtifactID"
                )
            upload_id = number_of(
                input.artifact_manifest_id, "input.artifactManifestID", "ArtifactManifest"
            )
            return await _manifest_payload(ctx, upload_id, input.client_mutation_id)

    @strawberry.mutation(description="Where to upload a pending artifact's files.")
    async def create_artifact_files(
        self, info: Ctx, input: Annotated[CreateArtifactFilesInput, arg("The files.")]
    ) -> CreateArtifactFilesPayload:
        async with mutation(info.context) as ctx:
            specs = [
                uploads.ArtifactFileSpec(
                    _upload_id(f.artifact_id, f"input.artifactFiles[{i}].artifactID"),
                    f.name,
                    f.md5,
                )
                for i, f in enumerate(input.artifact_files)
            ]
            prepared = await uploads.prepare_artifact_files(ctx, specs)
        edges = [FileUploadEdge(node=FileUpload(prepared=p)) for p in prepared]
        return CreateArtifactFilesPayload(
            files=FileUploadConnection(edges=edges), client_mutation_id=input.client_mutation_id
        )

    @strawberry.mutation(description="Makes a pending artifact a version, once its files are in.")
    async def commit_artifact(
        self, info: Ctx, input: Annotated[CommitArtifactInput, arg("The artifact.")]
    ) -> CommitArtifactPayload:
        async with mutation(info.context) as ctx:
            upload_id = _upload_id(input.artifact_id, "input.artifactID")
            committed = await uploads.commit_artifact(ctx, upload_id)
        return CommitArtifactPayload(
            artifact=Artifact.of(committed), client_mutation_id=input.client_mutation_id
        )
