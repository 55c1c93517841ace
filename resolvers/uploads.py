"""Artifacts the wandb SDK logs, the way it logs them: created first (pending), then its files
and its manifest uploaded, then committed, which makes it a version like any other logged one.

The SDK names bytes by MD5 and never by SHA-256: uploads are hashed as they arrive and kept
under their SHA-256 like every other blob, and a commit finds each file of the manifest among
the organization's blobs by MD5 and size. A manifest whose files did not all arrive is refused,
and an upload never committed is forgotten after a day."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from db import blobs, json_values, uploads, versions
from db.blobs import BlobMismatch, Digests
from db.pool import Executor
from db.records import ArtifactUpload, ArtifactVersion
from resolvers import authorization, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.files import (
    Transfers,
    _transfers,
    keep_verified,
    keep_verified_txn,
    some_paths,
)
from resolvers.organizations import project_by_name
from resolvers.runs import (
    log_artifact_txn,
    run_organization,
    sequence_txn,
    streamed_run,
)
from resolvers.versions import FileEntry

# Artifacts a run (or a user outside a run) may have on their way in at once.
MAX_PENDING_PER_RUN = 100
# 10,000 files with the longest paths and references allowed fit in this.
MAX_MANIFEST_BYTES = 32 * 2**20
# Pending artifacts one `createArtifactFiles` may name: the SDK names one.
MAX_ARTIFACTS_AT_ONCE = 10
# An upload not committed in this long was abandoned (its run died mid-upload).
ABANDONED_AFTER = timedelta(days=1)
STATE_PENDING = "PENDING"
STATE_COMMITTED = "COMMITTED"


@dataclass(frozen=True, slots=True)
class CreatedArtifact:
    """An artifact the SDK asked to log: pending, or a version already holding its content."""

    id: int
    state: str
    sequence_id: int


async def create_artifact(
    ctx: Context,
    *,
    entity: str,
    project: str,
    run_name: str | None,
    artifact_type: str,
    name: str,
    wandb_digest: str,
    description: str | None,
    metadata: Any,
    aliases: Sequence[str],
    ttl_seconds: int | None,
    client_id: str | None,
    deduplicate: bool,
) -> CreatedArtifact:
    """A pending artifact in the project (made when missing), or, when the artifact already
    has a version of the same content, that version (with `aliases` added)."""
    validation.collection_name(name, "artifactCollectionName")
    validation.artifact_type(artifact_type, "artifactTypeName")
    validation.project_name(project, "projectName")
    validation.description(description)
    metadata = validation.json_object(metadata, "metadata")
    aliases = validation.aliases([a for a in aliases if a.lower() != validation.LATEST])
    if not 1 <= len(wandb_digest) <= 128:
        raise validation.invalid("`digest` must be 1 to 128 characters", "digest")
    if client_id is not None and len(client_id) > 128:
        raise validation.invalid("`clientID` must be at most 128 characters", "clientID")
    if ttl_seconds is not None and ttl_seconds < 0:
        ttl_seconds = None  # the SDK's way of saying "none"
    logging_run = None
    if run_name:
        logging_run = await streamed_run(ctx, entity, project, run_name)
    org = await run_organization(ctx, entity)
    authorization.require_organization_role(ctx, org.id, "MEMBER", "logging an artifact")
    async with ctx.transaction() as conn:
        found = await project_by_name(ctx, org.id, project)
        if found is None:
            raise not_found(f"project '{project}' not found", ("projectName",))
        sequence = await sequence_txn(conn, found, name, artifact_type)
        if deduplicate:
            existing = await uploads.version_by_wandb_digest(conn, sequence.id, wandb_digest)
            if existing is not None:
                return CreatedArtifact(existing, STATE_COMMITTED, sequence.id)
        if logging_run is not None:
            pending = await uploads.pending_of_run(conn, logging_run.id)
            holder = f"run '{logging_run.name}'"
        else:
            pending = await uploads.pending_of_user(conn, ctx.principal.user.id)
            holder = "you (outside a run)"
        if pending >= MAX_PENDING_PER_RUN:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"{holder} already has {pending} artifacts on their way in; commit them before "
                "logging more",
                ("runName",),
            )
        created = await uploads.insert_upload(
            conn,
            sequence_id=sequence.id,
            run_id=None if logging_run is None else logging_run.id,
            user_id=ctx.principal.user.id,
            wandb_digest=wandb_digest,
            description=description or "",
            metadata=metadata,
            aliases=aliases,
            ttl_seconds=ttl_seconds,
            client_id=client_id,
        )
    return CreatedArtifact(created.id, STATE_PENDING, sequence.id)


async def pending_upload(ctx: Context, upload_id: int) -> ArtifactUpload:
    """A pending upload the caller may log to."""
    return _loggable(ctx, await uploads.upload(ctx.reads, upload_id))


def _loggable(ctx: Context, found: ArtifactUpload | None) -> ArtifactUpload:
    if found is None or not authorization.can_view_organization(ctx, found.organization_id):
        raise not_found("no artifact of this ID is being logged", ("artifactID",))
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "logging an artifact"
    )
    return found


# The manifest


def manifest_grant(upload_id: int) -> tuple[str, ...]:
    return ("PUT", "wandb-manifest", str(upload_id))


async def manifest_upload_url(ctx: Context, upload_id: int) -> str:
    """Where the SDK puts the pending artifact's manifest."""
    found = await pending_upload(ctx, upload_id)
    transfers = _transfers(ctx)
    return await transfers.signed_url(
        ctx.base_url,
        f"/files/wandb-manifests/{found.id}",
        manifest_grant(found.id),
        transfers.expiry(),
    )


async def receive_manifest(
    transfers: Transfers, upload_id: int, chunks: AsyncIterable[bytes]
) -> bool:
    """Keeps the manifest of a pending upload; False when the upload is no longer pending."""
    staged = await transfers.store.stage(chunks, limit=MAX_MANIFEST_BYTES)
    try:
        async with transfers.pool.acquire() as conn, conn.transaction():
            found = await uploads.upload(conn, upload_id, lock=True)
            if found is None:
                await transfers.store.discard(staged)
                return False
            await keep_verified_txn(conn, transfers, [staged], found.organization_id)
            assert staged.digests is not None
            await uploads.set_manifest(conn, upload_id, staged.digests.sha256)
    except BaseException:
        await transfers.store.discard(staged)
        raise
    return True


# The files


@dataclass(frozen=True, slots=True)
class ArtifactFileSpec:
    """A file the SDK will upload for a pending artifact: its name and MD5 in base64."""

    artifact_id: int
    name: str
    md5: str


@dataclass(frozen=True, slots=True)
class FileUploadUrl:
    """Where one file goes: nowhere (None) when the organization holds its bytes already."""

    artifact_id: int
    name: str
    md5: str
    url: str | None


def md5_grant(md5: str, organization_id: int) -> tuple[str, ...]:
    return ("PUT", "md5", md5, str(organization_id))


def hex_md5(md5_base64: str, where: str) -> str:
    """The MD5 the SDK sends in base64, in hex; refused when it is no MD5."""
    try:
        raw = base64.b64decode(md5_base64, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise validation.invalid(
            f"`{where}` must be an MD5 in base64 (24 characters), not {md5_base64[:40]!r}", "md5"
        )
    return raw.hex()


async def prepare_artifact_files(
    ctx: Context, specs: Sequence[ArtifactFileSpec]
) -> list[FileUploadUrl]:
    """A signed URL for each file whose bytes the organization does not hold yet."""
    if len(specs) > validation.MAX_FILES:
        raise validation.invalid(
            f"at most {validation.MAX_FILES} files at once, got {len(specs)}", "artifactFiles"
        )
    md5s = [hex_md5(s.md5, f"artifactFiles[{i}].md5") for i, s in enumerate(specs)]
    named = list(dict.fromkeys(s.artifact_id for s in specs))
    if len(named) > MAX_ARTIFACTS_AT_ONCE:
        raise validation.invalid(
            f"these files belong to {len(named)} artifacts; at most {MAX_ARTIFACTS_AT_ONCE} at "
            "once",
            "artifactFiles",
        )
    pending = {i: await pending_upload(ctx, i) for i in named}
    transfers = _transfers(ctx)
    expires = transfers.expiry()
    held_by: dict[int, set[str]] = {}
    for org_id in {p.organization_id for p in pending.values()}:
        held = await blobs.held_blobs_by_md5(ctx.reads, md5s, org_id)
        held_by[org_id] = {md5 for md5, _ in held}
    prepared = []
    for spec, md5 in zip(specs, md5s, strict=True):
        org_id = pending[spec.artifact_id].organization_id
        url = None
        if md5 not in held_by[org_id]:
            url = await transfers.signed_url(
                ctx.base_url,
                f"/files/wandb-uploads/{md5}/{quote(spec.name.rsplit('/', 1)[-1])}",
                md5_grant(md5, org_id),
                expires,
                org=org_id,
            )
        prepared.append(FileUploadUrl(spec.artifact_id, spec.name, spec.md5, url))
    return prepared


async def receive_by_md5(
    transfers: Transfers, md5: str, organization_id: int, chunks: AsyncIterable[bytes]
) -> Digests:
    """Keeps uploaded bytes when their MD5 is the one declared (BlobMismatch otherwise)."""
    staged = await transfers.store.stage(chunks, limit=transfers.max_file_bytes)
    try:
        assert staged.digests is not None
        if staged.digests.md5 != md5:
            raise BlobMismatch(
                f"received {staged.digests.size} bytes with MD5 {staged.digests.md5}; "
                f"this URL takes the bytes with MD5 {md5}"
            )
        await keep_verified(transfers, [staged], organization_id)
    except BaseException:
        await transfers.store.discard(staged)
        raise
    return staged.digests


# Committing


async def commit_artifact(ctx: Context, upload_id: int) -> ArtifactVersion:
    """Makes the pending artifact a version of its artifact, once its manifest and every file
    it lists have arrived; committing one that was committed already answers its version."""
    pending = await uploads.upload(ctx.reads, upload_id)
    if pending is None:
        return await _committed(ctx, upload_id)
    found = _loggable(ctx, pending)
    if found.manifest_sha256 is None:
        raise DomainError(
            ErrorCode.FILES_NOT_STORED,
            "this artifact's manifest was never uploaded; upload it before committing",
            ("artifactID",),
        )
    entries = await _manifest_entries(ctx, found.manifest_sha256)
    files = await _stored_files(ctx.reads, entries, found.organization_id)
    project = await ctx.loaders.project_by_id.load(found.project_id)
    sequence = await ctx.loaders.collection_by_id.load(found.sequence_id)
    run = None if found.run_id is None else await ctx.loaders.run_by_id.load(found.run_id)
    if project is None or sequence is None:
        raise not_found("the artifact's project was deleted", ("artifactID",))
    async with ctx.transaction() as conn:
        locked = await uploads.upload(conn, upload_id, lock=True)
        if locked is None:  # committed meanwhile, by a retry of the same commit
            return await _committed(ctx, upload_id)
        logged = await log_artifact_txn(
            conn,
            ctx.principal.user,
            project,
            name=sequence.name,
            artifact_type=sequence.artifact_type,
            files=files,
            run=run,
            metadata=found.metadata,
            description=found.description,
            aliases=found.aliases,
            ttl_seconds=found.ttl_seconds,
            upload=found,
        )
        await uploads.finish_upload(conn, upload_id, logged.id)
    return logged


async def _committed(ctx: Context, upload_id: int) -> ArtifactVersion:
    """The version an upload committed into (a commit answered again, or one that another
    request made meanwhile), read afresh; refused when there is none."""
    version_id = await uploads.committed_as(ctx.reads, upload_id) or upload_id
    [found] = await versions.versions_by_id(ctx.reads, [version_id])
    if found is None or not authorization.can_view_organization(ctx, found.organization_id):
        raise not_found("no artifact of this ID is being logged", ("artifactID",))
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "logging an artifact"
    )
    return found


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    digest: str
    size: int
    ref: str | None


async def _manifest_entries(ctx: Context, sha256: str) -> list[ManifestEntry]:
    """The entries of an uploaded manifest in the SDK's format, checked."""
    transfers = _transfers(ctx)
    data = b"".join([chunk async for chunk in await transfers.store.read(sha256)])
    try:
        manifest = json_values.loads(data)
    except ValueError:
        raise _bad_manifest("it is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("version") != 1:
        raise _bad_manifest("it is not a version 1 manifest of the wandb SDK")
    contents = manifest.get("contents")
    if not isinstance(contents, dict):
        raise _bad_manifest("`contents` is not an object of files by path")
    if len(contents) > validation.MAX_FILES:
        raise _bad_manifest(f"it lists {len(contents)} files; at most {validation.MAX_FILES}")
    entries = []
    for path, entry in contents.items():
        problem = validation.path_problem(path)
        if problem is not None:
            raise _bad_manifest(f"the path {path[:80]!r} {problem}")
        if not isinstance(entry, dict):
            raise _bad_manifest(f"the entry of {path[:80]!r} is not an object")
        digest, size, ref = entry.get("digest"), entry.get("size", 0), entry.get("ref")
        if not isinstance(digest, str) or not 1 <= len(digest) <= 2048:
            raise _bad_manifest(f"the entry of {path[:80]!r} has no digest")
        if size is None:
            size = 0
        if type(size) is not int or not 0 <= size < 2**63:
            raise _bad_manifest(f"the entry of {path[:80]!r} has no size in bytes")
        if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= 2048):
            raise _bad_manifest(f"the reference of {path[:80]!r} is not a URI")
        entries.append(ManifestEntry(path, digest, size, ref))
    return entries


def _bad_manifest(problem: str) -> DomainError:
    return DomainError(
        ErrorCode.INVALID_ARGUMENT, f"the uploaded manifest is refused: {problem}", ("artifactID",)
    )


async def _stored_files(
    conn: Executor, entries: Sequence[ManifestEntry], organization_id: int
) -> list[FileEntry]:
    """The manifest's files with the SHA-256 of their stored bytes; refused, naming them, when
    any did not arrive."""
    uploaded = [e for e in entries if e.ref is None]
    md5s = [hex_md5(e.digest, f"contents[{e.path[:80]!r}].digest") for e in uploaded]
    held = await blobs.held_blobs_by_md5(conn, md5s, organization_id, [e.size for e in uploaded])
    missing = [e.path for e, md5 in zip(uploaded, md5s, strict=True) if (md5, e.size) not in held]
    if missing:
        raise DomainError(
            ErrorCode.FILES_NOT_STORED,
            f"{len(missing)} of the manifest's {len(entries)} files never arrived: "
            f"{some_paths(missing)}; upload them before committing",
            ("artifactID",),
        )
    files = [FileEntry(e.path, e.digest, e.size, e.ref) for e in entries if e.ref is not None]
    files += [
        FileEntry(e.path, held[(md5, e.size)].sha256, e.size)
        for e, md5 in zip(uploaded, md5s, strict=True)
    ]
    return files


async def artifact_version_id(ctx: Context, artifact_id: int) -> int:
    """The version an SDK artifact ID names: the version of that id, or, for an artifact whose
    content another run committed first, that run's version. A version's own id costs no
    statement beyond the lookup that follows it."""
    if await ctx.loaders.version_by_id.load(artifact_id) is not None:
        return artifact_id
    return await uploads.committed_as(ctx.reads, artifact_id) or artifact_id


async def client_id_mapping(ctx: Context, client_id: str) -> int | None:
    """The artifact (pending or committed) the SDK made with this client ID, if the caller
    may see it."""
    if not validation.storable(client_id) or len(client_id) > 128:
        return None
    found = await uploads.id_by_client_id(ctx.reads, client_id)
    if found is None:
        return None
    organization_id = found[1]
    return found[0] if authorization.can_view_organization(ctx, organization_id) else None


async def forget_abandoned(pool: Executor) -> int:
    """Forgets uploads never committed within ABANDONED_AFTER."""
    return await uploads.delete_abandoned(pool, ABANDONED_AFTER)
