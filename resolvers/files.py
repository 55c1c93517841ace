"""Files: signed URLs that move bytes in and out of the blob store around the GraphQL layer,
receiving uploads, and the check that a manifest's bytes are all stored before a version refers
to them.

A URL's signature covers everything it grants (the method, the blob, the size or the name, and
when it expires) under a key every server process shares, so a URL cannot be stretched to other
bytes, another size or a later time, and works on whichever process answers it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import asyncpg

from db import blobs, runs
from db.blobs import BlobStore, Digests, Parts, Staged
from db.pool import Connection
from db.records import ArtifactFile, ArtifactVersion, Run, RunFile
from resolvers import authorization, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.versions import FileEntry, FileSpec, collection_named

SIGNING_SECRET = "transfer-urls"
KEEPING_AT_ONCE = 16
# The largest file one upload takes, unless the deployment says otherwise.
DEFAULT_MAX_FILE_BYTES = 64 * 2**30
# Files larger than this are sent in parts of this size (larger for files of more than
# MAX_PARTS parts), so that a dropped connection costs one part and a retry, even from another
# process, sends only the parts that are missing.
PART_BYTES = 64 * 2**20
MIN_PART_BYTES = 2**20
# An object store takes at most 5 GiB in one PUT.
MAX_PART_BYTES = 5 * 2**30
MAX_PARTS = 10_000
# Upload URLs for at most this many parts in one prepareArtifactFiles, all files together.
MAX_PARTS_AT_ONCE = 10_000


class TransferRefused(Exception):
    """A transfer the server will not make: an HTTP status and a message naming why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Transfers:
    """The blob store and the signing key of a process, shared by its requests."""

    store: BlobStore
    pool: asyncpg.Pool
    url_seconds: int = 3600
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    part_bytes: int = PART_BYTES
    _secret: bytes | None = field(default=None, repr=False)

    async def secret(self) -> bytes:
        if self._secret is None:
            self._secret = await blobs.shared_secret(self.pool, SIGNING_SECRET)
        return self._secret

    async def upload_id(self, organization_id: int, sha256: str, size: int, part_bytes: int) -> str:
        """The name of the parts of one file sent by one organization: the same for every
        prepare of it, so that a retry finds the parts already sent, and impossible to guess."""
        grant = f"parts\n{organization_id}\n{sha256}\n{size}\n{part_bytes}".encode()
        return hmac.new(await self.secret(), grant, hashlib.sha256).hexdigest()[:32]

    def expiry(self) -> int:
        return int(time.time()) + self.url_seconds

    async def sign(self, *grant: str) -> str:
        mac = hmac.new(await self.secret(), "\n".join(grant).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    async def signed_url(
        self, base: str, path: str, grant: Sequence[str], expires: int, **params: str | int
    ) -> str:
        """`base` + `path` with `params`, `expires` and the signature of `grant` and `expires`
        in its query."""
        signature = await self.sign(*grant, str(expires))
        query = urlencode({**params, "expires": expires, "signature": signature})
        return f"{base}{path}?{query}"

    async def check(self, grant: Sequence[str], expires: str, signature: str) -> None:
        """Refuses a URL whose signature is not the one for `grant` and `expires`, or that
        has expired."""
        if not expires.isdigit():
            raise TransferRefused(403, "this URL has no valid `expires`; ask for a new one")
        expected = await self.sign(*grant, expires)
        if not hmac.compare_digest(expected, signature):
            raise TransferRefused(
                403, "this URL's signature does not match it: it was changed or not issued here"
            )
        if int(expires) < time.time():
            when = datetime.fromtimestamp(int(expires), UTC).isoformat()
            raise TransferRefused(403, f"this URL expired at {when}; ask for a new one")


@dataclass(frozen=True, slots=True)
class UploadPart:
    """One part of a file sent in parts: where it goes, unless it is there already."""

    number: int
    offset: int
    size: int
    stored: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class FileUpload:
    """Where one file of a manifest goes: nowhere when its bytes are stored already."""

    path: str
    digest: str
    size: int
    stored: bool
    url: str | None
    expires_at: datetime | None
    # With an object store, or for a file sent in parts, the bytes are not checked as they
    # arrive; this URL then has the server read them back and keep them if they match.
    complete_url: str | None = None
    parts: list[UploadPart] | None = None


def part_bytes_for(size: int, part_bytes: int) -> int:
    """The size of each part of a file of `size` bytes: `part_bytes`, or whole mebibytes
    enough to stay within MAX_PARTS."""
    fewest = -(-size // MAX_PARTS)
    return max(part_bytes, -(-fewest // 2**20) * 2**20)


def _transfers(ctx: Context) -> Transfers:
    if ctx.transfers is None:
        raise RuntimeError("this context has no blob store")
    transfers: Transfers = ctx.transfers
    return transfers


# Uploading. Every upload grant names the organization the bytes are for: they become its own.


def upload_grant(sha256: str, size: int, organization_id: int) -> tuple[str, ...]:
    return ("PUT", sha256, str(size), str(organization_id))


def complete_grant(sha256: str, size: int, key: str, organization_id: int) -> tuple[str, ...]:
    return ("POST", "complete", sha256, str(size), key, str(organization_id))


def parts_key(part_bytes: int) -> str:
    """What a completion URL names instead of a staging key, for a file sent in parts."""
    return f"parts/{part_bytes}"


def part_grant(
    upload_id: str, number: int, offset: int, size: int, organization_id: int
) -> tuple[str, ...]:
    return ("PUT", "part", upload_id, str(number), str(offset), str(size), str(organization_id))


def batch_grant(total_bytes: int, organization_id: int) -> tuple[str, ...]:
    return ("PUT", "batch", str(total_bytes), str(organization_id))


async def complete_upload(
    transfers: Transfers, sha256: str, size: int, key: str, organization_id: int
) -> Digests:
    """Reads back bytes a client put straight into the object store under `key`, and keeps
    them when they are the ones declared; deletes them otherwise."""
    staged = await transfers.store.adopt(key, limit=size)
    return await _keep_if_declared(transfers, staged, sha256, size, organization_id)


class PartsMissing(Exception):
    """Parts of a file are not all there yet, when its completion is asked for."""

    def __init__(self, missing: list[int], count: int) -> None:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        super().__init__(
            f"{len(missing)} of the {count} parts are not uploaded whole yet (parts {shown}); "
            "PUT them to their URLs, then POST here again"
        )


async def complete_parts(
    transfers: Transfers, sha256: str, size: int, part_bytes: int, organization_id: int
) -> Digests:
    """Puts a file sent in parts together once every part is there, and keeps it when it is
    the file declared; its parts are deleted either way (once put together, or here on a
    failure). Completing a file the organization already holds changes nothing."""
    held = await blobs.held_blobs(transfers.pool, [sha256], organization_id)
    if sha256 in held and held[sha256].size == size:
        return held[sha256]
    upload_id = await transfers.upload_id(organization_id, sha256, size, part_bytes)
    parts = Parts(upload_id, -(-size // part_bytes), part_bytes)
    stored = await transfers.store.stored_parts(upload_id)
    missing = [n for n in range(1, parts.count + 1) if stored.get(n) != parts.size(n, size)]
    if missing:
        raise PartsMissing(missing, parts.count)
    try:
        staged = await transfers.store.assemble(parts, limit=size)
        return await _keep_if_declared(transfers, staged, sha256, size, organization_id)
    except BaseException:
        await transfers.store.discard_parts(parts)
        raise


@dataclass(frozen=True, slots=True)
class PreparedFiles:
    uploads: list[FileUpload]
    # One URL for all the missing files at once, as a tar archive of members named by their
    # SHA-256 and holding at most the missing files' bytes in all; None when nothing is missing.
    batch_url: str | None


async def prepare_artifact_files(
    ctx: Context, run_id: int | None, project_id: int | None, files: Sequence[FileSpec]
) -> PreparedFiles:
    """For each file of a manifest, a signed URL to upload its bytes to, or none when the
    store holds them already (from any version, of any artifact); and one URL for them all."""
    validation.exactly_one(run_id, project_id, ("runId", "projectId"))
    entries = [(f.path, f.digest, f.size) for f in files]
    validation.manifest(entries)
    transfers = _transfers(ctx)
    for position, (path, _, size) in enumerate(entries):
        if size > transfers.max_file_bytes:
            raise validation.invalid(
                f"files[{position}]: {path!r} is {size} bytes; this server takes files of up "
                f"to {transfers.max_file_bytes} bytes",
                "files",
            )
    if run_id is not None:
        logging_run = await ctx.loaders.run_by_id.load(run_id)
        if logging_run is None or not authorization.can_view_organization(
            ctx, logging_run.organization_id
        ):
            raise not_found("run not found", ("runId",))
        organization_id = logging_run.organization_id
    else:
        assert project_id is not None
        found = await ctx.loaders.project_by_id.load(project_id)
        if found is None or not authorization.can_view_organization(ctx, found.organization_id):
            raise not_found("project not found", ("projectId",))
        organization_id = found.organization_id
    authorization.require_organization_role(ctx, organization_id, "MEMBER", "uploading files")
    # Only the organization's own bytes count: knowing a digest reaches no one else's.
    stored = await blobs.held_blobs(ctx.reads, [d for _, d, _ in entries], organization_id)
    part_count = sum(
        -(-size // part_bytes_for(size, transfers.part_bytes))
        for _, digest, size in entries
        if size > transfers.part_bytes and digest not in stored
    )
    if part_count > MAX_PARTS_AT_ONCE:
        raise validation.invalid(
            f"these files go in {part_count} parts; at most {MAX_PARTS_AT_ONCE} parts are "
            "prepared at once: prepare the largest files in calls of their own",
            "files",
        )
    expires = transfers.expiry()
    expires_at = datetime.fromtimestamp(expires, UTC)
    uploads = []
    for path, digest, size in entries:
        if digest in stored and stored[digest].size == size:
            uploads.append(FileUpload(path, digest, size, True, None, None))
            continue
        if size > transfers.part_bytes:
            uploads.append(
                await _parted_upload(ctx, transfers, path, digest, size, organization_id, expires)
            )
            continue
        direct = await transfers.store.presigned_put(transfers.url_seconds)
        if direct is not None:
            key, url = direct
            complete = await transfers.signed_url(
                ctx.base_url,
                f"/files/complete/{digest}",
                complete_grant(digest, size, key, organization_id),
                expires,
                size=size,
                key=key,
                org=organization_id,
            )
            uploads.append(FileUpload(path, digest, size, False, url, expires_at, complete))
            continue
        url = await transfers.signed_url(
            ctx.base_url,
            f"/files/upload/{digest}",
            upload_grant(digest, size, organization_id),
            expires,
            size=size,
            org=organization_id,
        )
        uploads.append(FileUpload(path, digest, size, False, url, expires_at))
    missing = sum(u.size for u in uploads if not u.stored and u.parts is None)
    if missing == 0:
        return PreparedFiles(uploads, None)
    batch = await transfers.signed_url(
        ctx.base_url,
        "/files/batch",
        batch_grant(missing, organization_id),
        expires,
        bytes=missing,
        org=organization_id,
    )
    return PreparedFiles(uploads, batch)


async def _parted_upload(
    ctx: Context,
    transfers: Transfers,
    path: str,
    digest: str,
    size: int,
    organization_id: int,
    expires: int,
) -> FileUpload:
    """A file in parts: a URL for each part not yet there, and the URL that completes it."""
    part_bytes = part_bytes_for(size, transfers.part_bytes)
    upload_id = await transfers.upload_id(organization_id, digest, size, part_bytes)
    parts = Parts(upload_id, -(-size // part_bytes), part_bytes)
    there = await transfers.store.stored_parts(upload_id)
    numbers = range(1, parts.count + 1)
    wanted = [n for n in numbers if there.get(n) != parts.size(n, size)]
    urls = await transfers.store.presigned_part_puts(parts, wanted, transfers.url_seconds)
    if urls is None:
        urls = [
            await transfers.signed_url(
                ctx.base_url,
                f"/files/parts/{upload_id}/{n}",
                part_grant(upload_id, n, parts.offset(n), parts.size(n, size), organization_id),
                expires,
                offset=parts.offset(n),
                size=parts.size(n, size),
                org=organization_id,
            )
            for n in wanted
        ]
    url_of = dict(zip(wanted, urls, strict=True))
    complete = await transfers.signed_url(
        ctx.base_url,
        f"/files/complete/{digest}",
        complete_grant(digest, size, parts_key(part_bytes), organization_id),
        expires,
        size=size,
        parts=part_bytes,
        org=organization_id,
    )
    return FileUpload(
        path,
        digest,
        size,
        False,
        None,
        datetime.fromtimestamp(expires, UTC),
        complete,
        [
            UploadPart(n, (n - 1) * part_bytes, parts.size(n, size), n not in url_of, url_of.get(n))
            for n in numbers
        ],
    )


async def receive_upload(
    transfers: Transfers,
    sha256: str,
    size: int,
    chunks: AsyncIterable[bytes],
    organization_id: int,
) -> Digests:
    """Stores uploaded bytes when they are the ones declared, and records them as stored and
    held by the organization."""
    staged = await transfers.store.stage(chunks, limit=size)
    return await _keep_if_declared(transfers, staged, sha256, size, organization_id)


async def _keep_if_declared(
    transfers: Transfers, staged: Staged, sha256: str, size: int, organization_id: int
) -> Digests:
    """Keeps staged bytes that are the ones declared (BlobMismatch otherwise); staged bytes
    that are not kept are deleted."""
    try:
        received = staged.check(sha256, size)
        await keep_verified(transfers, [staged], organization_id)
    except BaseException:
        await transfers.store.discard(staged)
        raise
    return received


async def keep_verified(
    transfers: Transfers, staged: Sequence[Staged], organization_id: int
) -> None:
    """Records staged bytes whose digests were checked, and moves them under their digests."""
    async with transfers.pool.acquire() as conn, conn.transaction():
        await keep_verified_txn(conn, transfers, staged, organization_id)


async def keep_verified_txn(
    conn: Connection, transfers: Transfers, staged: Sequence[Staged], organization_id: int
) -> None:
    """The same, in a transaction that may record what refers to the bytes. The rows are
    written before the bytes move and in the same transaction, so the collector, which deletes
    a row before its bytes, waits for the upload or goes first."""
    received = [s.digests for s in staged if s.digests is not None]
    await blobs.record_blobs_txn(conn, received, organization_id)
    # Several at once: with an object store, each is a request of its own.
    limit = asyncio.Semaphore(KEEPING_AT_ONCE)

    async def keep(each: Staged) -> None:
        async with limit:
            await transfers.store.keep(each)

    await asyncio.gather(*(keep(each) for each in staged))


# The wandb SDK's uploads: it declares no SHA-256, so the bytes are hashed as they arrive and
# kept under whatever digest they have; a run's file is recorded under its name.


def run_file_grant(run_id: int, name: str, organization_id: int) -> tuple[str, ...]:
    return ("PUT", "run-file", str(run_id), name, str(organization_id))


async def run_file_upload_url(ctx: Context, run: Run, name: str) -> str:
    transfers = _transfers(ctx)
    return await transfers.signed_url(
        ctx.base_url,
        f"/files/runs/{run.id}/{quote(name)}",
        run_file_grant(run.id, name, run.organization_id),
        transfers.expiry(),
        org=run.organization_id,
    )


async def receive_run_file(
    transfers: Transfers,
    run_id: int,
    name: str,
    organization_id: int,
    chunks: AsyncIterable[bytes],
) -> Digests:
    """Stores a run file's bytes under its name, replacing what the name held."""
    staged = await transfers.store.stage(chunks, limit=transfers.max_file_bytes)
    try:
        received = staged.digests
        assert received is not None
        async with transfers.pool.acquire() as conn, conn.transaction():
            await keep_verified_txn(conn, transfers, [staged], organization_id)
            await runs.upsert_run_file(conn, run_id, name, received.sha256, received.size)
    except BaseException:
        await transfers.store.discard(staged)
        raise
    return received


def some_paths(paths: Sequence[str], shown: int = 10) -> str:
    """The first `shown` paths, quoted, and how many more there are."""
    listed = ", ".join(repr(p) for p in paths[:shown])
    return listed + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


async def require_stored_txn(
    conn: Connection, files: Sequence[FileEntry], organization_id: int
) -> None:
    """Refuses a manifest whose bytes are not all stored and held by the organization, naming
    the files that are missing (references have no bytes here). The rows found stay locked
    until the transaction ends, so that the collector cannot take the bytes between this check
    and the files that refer to them."""
    files = [f for f in files if f.ref is None]
    stored = await blobs.held_blobs(conn, [f.digest for f in files], organization_id, hold=True)
    missing = [f.path for f in files if f.digest not in stored]
    if missing:
        raise DomainError(
            ErrorCode.FILES_NOT_STORED,
            f"{len(missing)} of {len(files)} files have no stored bytes: {some_paths(missing)}; "
            "upload them through the URLs that prepareArtifactFiles gives, then log again",
            ("files",),
        )
    for f in files:
        if stored[f.digest].size != f.size:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"{f.path!r} is declared as {f.size} bytes, but the bytes stored under its "
                f"digest are {stored[f.digest].size} bytes",
                ("files",),
            )


# Downloading


def download_grant(sha256: str, name: str) -> tuple[str, ...]:
    return ("GET", sha256, name)


async def download_url(ctx: Context, file: ArtifactFile) -> str | None:
    """A signed, expiring URL for the file's bytes (no auth header needed); None for files
    logged before Cairn stored bytes. Refused to RESTRICTED_VIEWERs of a registry holding it."""
    await authorization.require_download(ctx, file.content_id)
    if file.sha256 is None:
        return None
    return await _blob_url(ctx, file.sha256, file.path)


async def run_file_download_url(ctx: Context, file: RunFile) -> str:
    """A signed, expiring URL for a run's file; whoever may see the run may download it."""
    return await _blob_url(ctx, file.sha256, file.name)


async def _blob_url(ctx: Context, sha256: str, path: str) -> str:
    """A signed URL serving the blob under the last part of `path` as its name."""
    transfers = _transfers(ctx)
    name = path.rsplit("/", 1)[-1]
    return await transfers.signed_url(
        ctx.base_url,
        f"/files/{sha256}/{quote(name)}",
        download_grant(sha256, name),
        transfers.expiry(),
    )


# A whole version: its files in one tar archive, or its manifest as JSON (Cairn's, or the wandb
# SDK's format), each kind named by the end of the URL's file name.

ARCHIVE = "tar"
MANIFEST = "manifest.json"
WANDB_MANIFEST = "wandb-manifest.json"


def content_grant(content_id: int, name: str) -> tuple[str, ...]:
    return ("GET", "content", str(content_id), name)


async def content_url(ctx: Context, version: ArtifactVersion, kind: str) -> str | None:
    """A signed URL for the version's whole content as `kind` (ARCHIVE, which needs the right
    to download, MANIFEST or WANDB_MANIFEST); None for an archive of files logged before Cairn
    stored bytes."""
    if kind == ARCHIVE:
        await authorization.require_download(ctx, version.content_id)
        if not await ctx.loaders.content_fully_stored.load(version.content_id):
            return None
    transfers = _transfers(ctx)
    collection = await ctx.loaders.collection_by_id.load(version.collection_id)
    stem = "artifact" if collection is None else collection.name
    name = f"{stem}-v{version.version_index}.{kind}"
    return await transfers.signed_url(
        ctx.base_url,
        f"/files/contents/{version.content_id}/{quote(name)}",
        content_grant(version.content_id, name),
        transfers.expiry(),
    )


_MD5 = re.compile(r"^[0-9a-f]{32}$")


def md5_in_base64(md5: str) -> str:
    """An MD5 kept in hex, as the wandb SDK's manifests write it."""
    return base64.b64encode(bytes.fromhex(md5)).decode()


async def download_url_by_md5(
    ctx: Context, organization: str, project: str, collection: str, md5: str, name: str
) -> str:
    """A signed URL for the file named `name` whose bytes have this MD5 (hex), in a version of
    the collection named by organization, registry (`wandb-registry-<name>`) or project, and
    name: how the wandb SDK asks for a file it holds no URL for."""
    if not _MD5.fullmatch(md5):
        raise not_found(f"{md5[:40]!r} is not the MD5 of a file", ("md5",))
    found = await collection_named(ctx, organization, project, collection)
    file = await blobs.file_in_collection_by_md5(ctx.reads, found.id, md5, name)
    if file is None:
        raise not_found(f"no file {name[:200]!r} with these bytes in '{found.name}'", ("md5",))
    url = await download_url(ctx, file)
    assert url is not None
    return url
