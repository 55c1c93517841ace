"""A version's files with signed download URLs: the SDK downloads them with no auth header."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from db import records
from resolvers import files, versions
from schema.context import Ctx
from schema.errors import raise_domain_errors
from schema.scalars import Int64
from schema.wandb.connection import Connection, connection
from schema.wandb.ids import opaque_id

MAX_FILE_NAMES = 100


@strawberry.type(description="A file of a version, or a version's manifest.")
class File:
    name: str = strawberry.field(description="The file's path inside the version.")
    size_bytes: Int64 = strawberry.field(description="Its size in bytes.")
    digest: str | None = strawberry.field(
        description="Its MD5 in base64, as the SDK's manifests hold it."
    )
    md5: str | None = strawberry.field(description="Its MD5 in base64.")
    record: strawberry.Private[records.ArtifactFile | None] = None
    signed_url: strawberry.Private[str | None] = None
    content_id: strawberry.Private[int] = 0

    @classmethod
    def of(cls, record: records.ArtifactFile) -> File:
        md5 = None if record.md5 is None else files.md5_in_base64(record.md5)
        return cls(
            name=record.path,
            size_bytes=Int64(record.size),
            digest=md5 or record.digest,
            md5=md5,
            record=record,
            content_id=record.content_id,
        )

    @classmethod
    def manifest(cls, version: records.ArtifactVersion, url: str) -> File:
        return cls(
            name="wandb_manifest.json",
            size_bytes=Int64(0),
            digest=None,
            md5=None,
            signed_url=url,
            content_id=version.content_id,
        )

    @strawberry.field(description="The file's ID.")
    def id(self) -> strawberry.ID:
        return opaque_id("File", self.content_id, self.name)

    @strawberry.field(description="The same path.")
    def display_name(self) -> str:
        return self.name

    @strawberry.field(description="Where the bytes are kept: not told.")
    def storage_path(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def mimetype(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def updated_at(self) -> datetime | None:
        return None

    @strawberry.field(description="A signed URL for the bytes, valid without an auth header.")
    async def direct_url(self, info: Ctx) -> str:
        return await self._url(info)

    @strawberry.field(description="The same signed URL.")
    async def url(self, info: Ctx) -> str | None:
        return await self._url(info)

    async def _url(self, info: Ctx) -> str:
        if self.signed_url is not None:
            return self.signed_url
        assert self.record is not None
        with raise_domain_errors():
            found = await files.download_url(info.context, self.record)
        if found is None:
            raise GraphQLError(
                f"{self.name!r} was logged without its bytes: there is nothing to download",
                extensions={"code": "NOT_FOUND"},
            )
        return found


async def files_of(
    info: Ctx,
    version: records.ArtifactVersion,
    names: list[str] | None,
    first: int | None,
    after: str | None,
) -> Connection[File]:
    """The version's files (those at `names`, when given), a page at a time."""
    if names is not None and len(names) > MAX_FILE_NAMES:
        raise GraphQLError(
            f"`names` may hold at most {MAX_FILE_NAMES} paths, got {len(names)}",
            extensions={"code": "INVALID_ARGUMENT"},
        )
    return await connection(info, versions.files(version, names), File.of, first, after)
