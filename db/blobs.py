"""The content-addressed blob store: file bytes kept once under their SHA-256, on the local
filesystem (the default) or in an S3-compatible object store, behind one small interface.

Both backends are obstore stores: the same calls stream to and from a directory or a bucket, and
S3 uploads go in parts. Bytes arrive under a temporary name while their digests are computed;
only bytes that match what was declared are moved under their digest, so a reader never sees a
half-written or wrong blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from db.pool import Connection, Executor
from db.records import ArtifactFile, from_record

_HEX64 = frozenset("0123456789abcdef")
# Reads come in chunks of about this size: enough for speed, little enough to hold many at once.
CHUNK_BYTES = 1 << 20


class StorageConfigError(ValueError):
    """CAIRN_STORAGE names no backend Cairn has."""


class BlobMismatch(ValueError):
    """The bytes received are not the bytes that were declared; nothing was kept."""


class BlobTooLarge(BlobMismatch):
    """More bytes arrived than were declared; the rest was not read."""


@dataclass(frozen=True, slots=True)
class Digests:
    sha256: str
    md5: str
    size: int


@dataclass(slots=True)
class Staged:
    """Bytes under a temporary name (or, small, held in memory: `data`), with their digests
    once they have all arrived."""

    key: str | None
    digests: Digests | None = None
    data: bytes | None = None

    def check(self, sha256: str, size: int) -> Digests:
        """The digests, when the bytes are the ones declared; else BlobMismatch."""
        received = self.digests
        assert received is not None
        if received.size != size or received.sha256 != sha256:
            raise BlobMismatch(
                f"received {received.size} bytes with SHA-256 {received.sha256}; "
                f"declared {size} bytes with SHA-256 {sha256}"
            )
        return received


def blob_key(sha256: str) -> str:
    """Where a blob lives: fanned out by its first bytes, so no directory grows too large."""
    if len(sha256) != 64 or not set(sha256) <= _HEX64:
        raise ValueError(f"not a SHA-256 in lower-case hex: {sha256[:80]!r}")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore:
    def __init__(self, store: LocalStore | S3Store, description: str) -> None:
        self.store = store
        self.description = description
        # Local bytes stream through plain file reads and writes: measured on a 256 MiB file
        # through the server, obstore's local streams moved about 130 MB/s down and 240 up,
        # plain files on worker threads about 1,300 down.
        self.folder = Path(str(store.prefix)) if isinstance(store, LocalStore) else None

    @classmethod
    def from_setting(cls, setting: str | None, data_dir: Path) -> BlobStore:
        """`CAIRN_STORAGE`: empty for a `blobs` folder beside the data directory,
        `file:///path` for a folder of one's own, or `s3://bucket/prefix` for an S3-compatible
        store, whose endpoint, region and credentials come the standard AWS way (AWS_ENDPOINT_URL,
        AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
        if not setting:
            folder = data_dir.parent / "blobs"
            return cls(LocalStore(folder, mkdir=True), f"local folder {folder}")
        parts = urlsplit(setting)
        if parts.scheme == "file":
            folder = Path(parts.path)
            return cls(LocalStore(folder, mkdir=True), f"local folder {folder}")
        if parts.scheme == "s3" and parts.netloc:
            prefix = parts.path.strip("/") or None
            store = S3Store(
                parts.netloc,
                prefix=prefix,
                # A store that is down fails a request within seconds (five quick retries), not
                # the three minutes of obstore's defaults, so that clients hear of it and retry.
                # (Client options are left to the environment: given here, they would replace
                # AWS_ALLOW_HTTP and the like.)
                retry_config={"max_retries": 5, "retry_timeout": timedelta(seconds=60)},
            )
            return cls(store, f"s3://{parts.netloc}/{prefix or ''}")
        raise StorageConfigError(
            f"CAIRN_STORAGE={setting[:200]!r} names no storage Cairn has: give file:///path or "
            "s3://bucket/prefix, or leave it empty for the local default"
        )

    async def exists(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self.store, blob_key(sha256))
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    async def stage(self, chunks: AsyncIterable[bytes], *, limit: int) -> Staged:
        """Writes bytes under a temporary name, computing their SHA-256, MD5 and size as they
        stream past; more than `limit` bytes are refused (BlobTooLarge), keeping nothing."""
        key = f"incoming/{uuid.uuid4().hex}"
        staged = Staged(key)
        digests = _Digesting(chunks, limit)
        try:
            if self.folder is None:
                await obstore.put_async(self.store, key, digests)
            else:
                await digests.write_to(self.folder / key)
        except BaseException:
            await self.discard(staged)
            raise
        staged.digests = digests.result()
        return staged

    def stage_bytes(self, data: bytes) -> Staged:
        """Like `stage`, for bytes already in memory (small files): kept in memory until they
        are written once, under their digest (measured: with an S3 store, three requests a
        small file became one)."""
        return Staged(
            None,
            Digests(
                hashlib.sha256(data).hexdigest(),
                hashlib.md5(data, usedforsecurity=False).hexdigest(),
                len(data),
            ),
            data,
        )

    async def presigned_put(self, seconds: int) -> tuple[str, str] | None:
        """For an object store: a new staging key and a presigned URL to PUT bytes to it.
        None for a local folder, whose bytes come through the server."""
        if not isinstance(self.store, S3Store):
            return None
        key = f"incoming/{uuid.uuid4().hex}"
        url = await obstore.sign_async(self.store, "PUT", key, timedelta(seconds=seconds))
        return key, url

    async def adopt(self, key: str, *, limit: int) -> Staged:
        """Bytes a client put under a staging key, read back to compute their digests; more
        than `limit` bytes are refused (BlobTooLarge)."""
        if not key.startswith("incoming/") or ".." in key:
            raise ValueError(f"not a staging key: {key[:80]!r}")
        staged = Staged(key)
        result = await obstore.get_async(self.store, key)
        digests = _Digesting(_chunks(result.stream(min_chunk_size=CHUNK_BYTES)), limit)
        try:
            async for _ in digests:
                pass
        except BlobMismatch:
            await self.discard(staged)
            raise
        staged.digests = digests.result()
        return staged

    async def keep(self, staged: Staged) -> None:
        """Puts staged bytes under their digest, where readers find them."""
        assert staged.digests is not None
        final = blob_key(staged.digests.sha256)
        if staged.data is not None:
            await obstore.put_async(self.store, final, staged.data)
        else:
            assert staged.key is not None
            await obstore.rename_async(self.store, staged.key, final)

    async def discard(self, staged: Staged) -> None:
        if staged.key is not None:
            await self._discard(staged.key)

    async def put(self, chunks: AsyncIterable[bytes], *, sha256: str, size: int) -> Digests:
        """Stores bytes declared to have `sha256` and `size`; refuses them, keeping nothing,
        when they differ."""
        blob_key(sha256)
        staged = await self.stage(chunks, limit=size)
        try:
            received = staged.check(sha256, size)
            await self.keep(staged)
        except BaseException:
            await self.discard(staged)
            raise
        return received

    async def read(
        self, sha256: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes from `start` up to `end` (exclusive; the end when None), streamed.
        A missing blob raises here, before anything is streamed."""
        key = blob_key(sha256)
        if self.folder is not None:
            return await _read_file(self.folder / key, start, end)
        if start == 0 and end is None:
            result = await obstore.get_async(self.store, key)
        else:
            if end is None:
                end = (await obstore.head_async(self.store, key))["size"]
            result = await obstore.get_async(self.store, key, options={"range": (start, end)})
        return _chunks(result.stream(min_chunk_size=CHUNK_BYTES))

    async def listed(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        """Every object under `prefix`: its key and when it was last written."""
        async for batch in obstore.list(self.store, prefix=prefix):
            for entry in batch:
                yield str(entry["path"]), entry["last_modified"]

    async def delete_key(self, key: str) -> None:
        await self._discard(key)

    async def delete(self, sha256: str) -> None:
        await self._discard(blob_key(sha256))

    async def _discard(self, key: str) -> None:
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            await obstore.delete_async(self.store, key)


async def _read_file(path: Path, start: int, end: int | None) -> AsyncIterator[bytes]:
    """The bytes of a file from `start` to `end`; opened here, so that a missing file raises
    before anything is streamed."""
    handle = await asyncio.to_thread(path.open, "rb")
    return _file_chunks(handle, start, end)


async def _file_chunks(handle: BinaryIO, start: int, end: int | None) -> AsyncIterator[bytes]:
    try:
        handle.seek(start)
        left = None if end is None else end - start
        while left != 0:
            want = CHUNK_BYTES if left is None else min(CHUNK_BYTES, left)
            chunk = await asyncio.to_thread(handle.read, want)
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        handle.close()


async def _chunks(stream: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield bytes(chunk)


class _Digesting:
    """Passes chunks through while computing their SHA-256, MD5 and size."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0

    def _count(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise BlobTooLarge(f"more than the {self._limit} bytes declared arrived")

    def _digest(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._md5.update(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._count(chunk)
            self._digest(chunk)
            yield chunk

    async def write_to(self, path: Path) -> None:
        """Writes the bytes to a new file, a megabyte at a time, hashed and written on a worker
        thread while the event loop receives the next (hashlib lets go of the GIL)."""
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(path.open, "xb")

        def digest_and_write(pieces: list[bytes]) -> None:
            for piece in pieces:
                self._digest(piece)
            handle.writelines(pieces)

        # One megabyte is hashed and written while the next one arrives.
        writing: asyncio.Future[None] | None = None
        try:
            gathered: list[bytes] = []
            size = 0
            async for chunk in self._chunks:
                self._count(chunk)
                gathered.append(chunk)
                size += len(chunk)
                if size >= CHUNK_BYTES:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(digest_and_write, gathered))
                    gathered, size = [], 0
            if writing is not None:
                await writing
            await asyncio.to_thread(digest_and_write, gathered)
        finally:
            # A write under way finishes before the file closes (a thread cannot be stopped).
            if writing is not None and not writing.done():
                await asyncio.wait([writing])
            await asyncio.to_thread(handle.close)

    def result(self) -> Digests:
        return Digests(self._sha256.hexdigest(), self._md5.hexdigest(), self._size)


# Records verified bytes, or confirms them again: the upsert takes the rows' locks, so an upload
# and the collector never interleave between a row and its bytes.
RECORD_BLOBS = """
WITH recorded AS (
    INSERT INTO blobs (sha256, md5, size)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (sha256) DO UPDATE SET stored_at = clock_timestamp()
    RETURNING sha256
)
INSERT INTO blob_holders (sha256, organization_id)
SELECT sha256, $4 FROM recorded
ON CONFLICT DO NOTHING
"""


async def record_blobs_txn(
    conn: Connection, received: Sequence[Digests], organization_id: int
) -> None:
    """Records verified blobs as uploaded by the organization, in an order every transaction
    shares (by digest), so that two batches with the same blobs never wait on each other in a
    circle."""
    ordered = sorted({d.sha256: d for d in received}.values(), key=lambda d: d.sha256)
    await conn.execute(
        RECORD_BLOBS,
        [d.sha256 for d in ordered],
        [d.md5 for d in ordered],
        [d.size for d in ordered],
        organization_id,
    )


# The blobs an organization holds. With `hold`, the blob rows stay locked until the logging
# transaction ends, so that the collector cannot take the bytes between the check and the files
# that will refer to them.
SELECT_HELD = """
SELECT b.sha256, b.md5, b.size FROM blobs b
JOIN blob_holders h ON h.sha256 = b.sha256 AND h.organization_id = $2
WHERE b.sha256 = ANY($1::text[])
"""
SELECT_HELD_FOR_SHARE = f"{SELECT_HELD} FOR KEY SHARE OF b"


async def held_blobs(
    conn: Executor, sha256s: Sequence[str], organization_id: int, *, hold: bool = False
) -> dict[str, Digests]:
    """The digests of those of `sha256s` whose bytes are stored and held by the organization."""
    rows = await conn.fetch(
        SELECT_HELD_FOR_SHARE if hold else SELECT_HELD, list(sha256s), organization_id
    )
    return {row["sha256"]: Digests(row["sha256"], row["md5"], row["size"]) for row in rows}


SELECT_STORED = "SELECT sha256, md5, size FROM blobs WHERE sha256 = ANY($1::text[])"


async def stored_blobs(conn: Executor, sha256s: Sequence[str]) -> dict[str, Digests]:
    """The digests of those of `sha256s` whose bytes are stored, whoever holds them."""
    rows = await conn.fetch(SELECT_STORED, list(sha256s))
    return {row["sha256"]: Digests(row["sha256"], row["md5"], row["size"]) for row in rows}


INSERT_SECRET = """
INSERT INTO server_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
"""
SELECT_SECRET = "SELECT secret FROM server_secrets WHERE name = $1"


async def shared_secret(conn: Executor, name: str) -> bytes:
    """The secret called `name` that every process shares, made by whichever asks first."""
    await conn.execute(INSERT_SECRET, name, secrets.token_bytes(32))
    secret: bytes = await conn.fetchval(SELECT_SECRET, name)
    return secret


SELECT_CONTENT_FILES = """
SELECT f.content_id, f.path, f.digest, f.size, f.sha256, b.md5
FROM artifact_files f LEFT JOIN blobs b ON b.sha256 = f.sha256
WHERE f.content_id = $1 ORDER BY f.path
"""


async def content_files(conn: Executor, content_id: int) -> list[ArtifactFile]:
    """A content's whole manifest, by path: at most the 10,000 files a version may hold."""
    rows = await conn.fetch(SELECT_CONTENT_FILES, content_id)
    return [from_record(ArtifactFile, row) for row in rows]


# Blobs no file refers to, stored before `grace` ago, oldest first; locked, skipping any that a
# logging transaction holds, so that nothing can start referring to them while they go.
SELECT_UNREFERENCED = """
SELECT b.sha256, b.md5, b.size, b.stored_at FROM blobs b
WHERE b.stored_at < clock_timestamp() - $1::interval
  AND NOT EXISTS (SELECT 1 FROM artifact_files f WHERE f.sha256 = b.sha256)
ORDER BY b.stored_at LIMIT $2
"""
LOCK_UNREFERENCED = f"{SELECT_UNREFERENCED} FOR UPDATE OF b SKIP LOCKED"
# A statement of its own sees files committed since the candidates were chosen.
DELETE_UNREFERENCED = """
DELETE FROM blobs b WHERE b.sha256 = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM artifact_files f WHERE f.sha256 = b.sha256)
RETURNING b.sha256, b.md5, b.size, b.stored_at
"""
RESTORE_BLOBS = """
INSERT INTO blobs (sha256, md5, size, stored_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
"""


@dataclass(frozen=True, slots=True)
class BlobRow:
    sha256: str
    md5: str
    size: int
    stored_at: datetime


async def unreferenced_blobs(
    conn: Executor, grace: timedelta, limit: int, *, lock: bool = False
) -> list[BlobRow]:
    rows = await conn.fetch(LOCK_UNREFERENCED if lock else SELECT_UNREFERENCED, grace, limit)
    return [BlobRow(*row) for row in rows]


async def delete_unreferenced_txn(conn: Connection, sha256s: Sequence[str]) -> list[BlobRow]:
    return [BlobRow(*row) for row in await conn.fetch(DELETE_UNREFERENCED, list(sha256s))]


async def restore_blobs_txn(conn: Connection, rows: Sequence[BlobRow]) -> None:
    await conn.execute(
        RESTORE_BLOBS,
        [r.sha256 for r in rows],
        [r.md5 for r in rows],
        [r.size for r in rows],
        [r.stored_at for r in rows],
    )


SELECT_RECORDED = "SELECT sha256 FROM blobs WHERE sha256 = ANY($1::text[])"


async def recorded(conn: Executor, sha256s: Sequence[str]) -> set[str]:
    return {row["sha256"] for row in await conn.fetch(SELECT_RECORDED, list(sha256s))}


# Bytes in the store with no row: claimed with a row of this transaction's own (never committed),
# which makes an upload confirming the same bytes wait until they are gone, and skipped when an
# upload holds or has committed the row.
CLAIM_STRAYS = """
INSERT INTO blobs (sha256, md5, size)
SELECT s, repeat('0', 32), 0 FROM unnest($1::text[]) AS s
ON CONFLICT (sha256) DO NOTHING
RETURNING sha256
"""
RELEASE_STRAYS = "DELETE FROM blobs WHERE sha256 = ANY($1::text[])"


async def claim_strays_txn(conn: Connection, sha256s: Sequence[str]) -> list[str]:
    return [row["sha256"] for row in await conn.fetch(CLAIM_STRAYS, list(sha256s))]


async def release_strays_txn(conn: Connection, sha256s: Sequence[str]) -> None:
    await conn.execute(RELEASE_STRAYS, list(sha256s))
