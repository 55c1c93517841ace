"""Files: a manifest's entries with their download URLs, and the mutation that hands out upload
URLs for the bytes the store does not hold yet."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db import records
from resolvers import files
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.mutations import Errors, UserError, id_input, mutate
from schema.scalars import Int64

DIGEST = "SHA-256 of the file's bytes, in lower-case hex."


@strawberry.type(description="One file in an artifact version's manifest.")
class ArtifactFile:
    path: str = strawberry.field(description="Path inside the artifact.")
    digest: str = strawberry.field(description=DIGEST)
    size: Int64 = strawberry.field(description="Size in bytes.")
    md5: str | None = strawberry.field(
        description="MD5 of the bytes in hex, computed by the server as they arrived; null for "
        "references and files logged before Cairn stored bytes."
    )
    reference: str | None = strawberry.field(
        description="For a reference, the URI of the file where it lives (s3://, gs://, "
        "https://, file://): its bytes were never uploaded, and its digest is the one the "
        "client computed. Null for a stored file."
    )
    record: strawberry.Private[records.ArtifactFile]

    @classmethod
    def of(cls, r: records.ArtifactFile) -> ArtifactFile:
        return cls(
            path=r.path, digest=r.digest, size=Int64(r.size), md5=r.md5, reference=r.ref, record=r
        )

    @strawberry.field(
        description="A signed URL that serves the bytes to a plain GET, without an auth header, "
        "with range requests, until it expires (an hour by default). Null for references and "
        "files logged before Cairn stored bytes. RESTRICTED_VIEWERs of a registry holding the "
        "file get PERMISSION_DENIED."
    )
    async def download_url(self, info: Ctx) -> str | None:
        with raise_domain_errors():
            return await files.download_url(info.context, self.record)


@strawberry.input(description="One file of an artifact version's manifest.")
class ArtifactFileInput:
    path: str = strawberry.field(
        description="Path inside the artifact, relative, with `/` between parts; no `.` or `..` "
        "parts."
    )
    digest: str = strawberry.field(description=DIGEST)
    size: Int64 = strawberry.field(description="Size in bytes.")


@strawberry.type(description="One part of a file sent in parts.")
class UploadPart:
    number: int = strawberry.field(description="The part's number, from 1.")
    offset: Int64 = strawberry.field(description="Where the part starts in the file.")
    size: Int64 = strawberry.field(description="How many bytes it holds.")
    stored: bool = strawberry.field(
        description="True when the server holds this part already (from an earlier try)."
    )
    upload_url: str | None = strawberry.field(
        description="For a part not stored yet: PUT exactly its bytes here (no auth header)."
    )

    @classmethod
    def of(cls, r: files.UploadPart) -> UploadPart:
        return cls(
            number=r.number,
            offset=Int64(r.offset),
            size=Int64(r.size),
            stored=r.stored,
            upload_url=r.url,
        )


@strawberry.type(description="Where to send one file's bytes, unless the server holds them.")
class FileUpload:
    path: str = strawberry.field(description="The file's path in the manifest.")
    digest: str = strawberry.field(description=DIGEST)
    size: Int64 = strawberry.field(description="Size in bytes.")
    stored: bool = strawberry.field(
        description="True when the server already holds these bytes (from any version): "
        "nothing to send."
    )
    upload_url: str | None = strawberry.field(
        description="For bytes not stored yet: PUT the file's bytes, exactly `size` of them, "
        "to this URL (no auth header). The server computes their digests and keeps them only "
        "when they match."
    )
    expires_at: datetime | None = strawberry.field(
        description="When `uploadUrl` stops working; ask again for a new one."
    )
    complete_url: str | None = strawberry.field(
        description="After the PUT to `uploadUrl` when it is an object store's own presigned "
        "URL (S3), or after every part is in: POST to this URL (no body, no auth header) so "
        "that the server reads the bytes back, checks their digests and keeps them. A part "
        "that is missing gets 409 naming it. Null when the PUT itself is checked."
    )
    parts: list[UploadPart] | None = strawberry.field(
        description="For a large file not stored yet (over 64 MiB): it goes in these parts, "
        "each PUT to its own URL, in any order and at once if you like; `uploadUrl` is null. "
        "A part cut off is not kept; PUT it again. Preparing the same file again (from any "
        "machine of the organization) marks the parts already sent as stored."
    )

    @classmethod
    def of(cls, r: files.FileUpload) -> FileUpload:
        return cls(
            path=r.path,
            digest=r.digest,
            size=Int64(r.size),
            stored=r.stored,
            upload_url=r.url,
            expires_at=r.expires_at,
            complete_url=r.complete_url,
            parts=None if r.parts is None else [UploadPart.of(p) for p in r.parts],
        )


@strawberry.input(description="A manifest whose bytes are about to be uploaded.")
class PrepareArtifactFilesInput:
    run_id: strawberry.ID | None = id_input(
        "Run", default=None, description="The run that will log it (give this or projectId)."
    )
    project_id: strawberry.ID | None = id_input(
        "Project", default=None, description="The project it will be logged in."
    )
    files: list[ArtifactFileInput] = strawberry.field(description="The manifest.")


@strawberry.type(description="The result of `prepareArtifactFiles`.")
class PrepareArtifactFilesPayload:
    uploads: list[FileUpload] | None = strawberry.field(
        default=None, description="One entry per file of the manifest, in its order."
    )
    batch_upload_url: str | None = strawberry.field(
        default=None,
        description="For many small files, instead of a PUT each: PUT one tar archive (ustar) "
        "whose members are the missing files, each named by its SHA-256 in lower-case hex. "
        "The server checks and keeps each member as it arrives, up to the missing files' total "
        "size. Null when nothing is missing; expires with the other URLs.",
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, prepared: files.PreparedFiles) -> PrepareArtifactFilesPayload:
        return cls(
            uploads=[FileUpload.of(u) for u in prepared.uploads],
            batch_upload_url=prepared.batch_url,
        )


@strawberry.type
class FilesMutation:
    @strawberry.mutation(
        description="The first step of logging a version with files: for each file whose bytes "
        "the server does not hold, a signed URL to PUT them to. Then `logArtifact` the same "
        "manifest; it refuses files whose bytes have not arrived, naming them."
    )
    async def prepare_artifact_files(
        self, info: Ctx, input: Annotated[PrepareArtifactFilesInput, arg("The manifest.")]
    ) -> PrepareArtifactFilesPayload:
        return await mutate(info, PrepareArtifactFilesPayload, files.prepare_artifact_files, input)
