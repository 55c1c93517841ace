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
import os
import secrets
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

from db import parts as local_parts
from db.pool import Connection, Executor
from db.records import ArtifactFile, from_record

_HEX64 = frozenset("0123456789abcdef")
# Reads come in chunks of about this size: enough for speed, little enough to hold many at once.
CHUNK_BYTES = 1 << 20
STAGING_PREFIX = "incoming/"
PARTS_PREFIX = f"{STAGING_PREFIX}parts/"


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


@dataclass(frozen=True, slots=True)
class Parts:
    """A file sent in parts: `count` parts of `part_bytes` each (the last one shorter), under
    staging keys named by the upload."""

    upload_id: str
    count: int
    part_bytes: int

    def key(self, number: int) -> str:
        return f"{PARTS_PREFIX}{self.upload_id}/{number:05d}"

    def offset(self, number: int) -> int:
        return (number - 1) * self.part_bytes

    def size(self, number: int, total: int) -> int:
        return min(self.part_bytes, total - self.offset(number))


@dataclass(slots=True)
class Staged:
    """Bytes under a temporary name (or, small, held in memory: `data`; or, with an object
    store, still in the `parts` they were sent in), with their digests once they have all
    arrived."""

    key: str | None
    digests: Digests | None = None
    data: bytes | None = None
    parts: Parts | None = None

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


# At most this many uploads in parts are hashed as their parts arrive, in each process.
MAX_FOLLOWED = 64
READ_BYTES = 4 << 20


class _Follower:
    """The digests of a local upload's leading parts, computed as the parts arrive, so that
    completing the file hashes only what came last (measured on 1 GiB in 16 parts: about 1 s
    saved of 1.6). Only marked parts are read, and a marked part is never written again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.offset = 0
        self.wanted = False
        self.broken = False
        self.task: asyncio.Task[None] | None = None

    async def catch_up(self) -> None:
        data = self.folder / local_parts.DATA
        try:
            while self.wanted:
                self.wanted = False
                marked = dict(
                    (await asyncio.to_thread(local_parts.marked_parts, self.folder)).values()
                )
                while (size := marked.get(self.offset)) is not None:
                    await self.hash(data, size)
        except Exception:
            # Hashed from the start at completion instead.
            self.broken = True

    async def hash(self, path: Path, size: int | None) -> None:
        """Hashes `size` bytes of the file from `offset` (all the rest when None), reading
        each piece once and computing both digests on two threads at once."""
        handle = await asyncio.to_thread(path.open, "rb", buffering=0)
        try:
            handle.seek(self.offset)
            buffer = memoryview(bytearray(READ_BYTES))
            while size is None or size > 0:
                want = READ_BYTES if size is None else min(READ_BYTES, size)
                read = await asyncio.to_thread(handle.readinto, buffer[:want])
                if not read:
                    return
                piece = buffer[:read]
                await asyncio.gather(
                    asyncio.to_thread(self.sha256.update, piece),
                    asyncio.to_thread(self.md5.update, piece),
                )
                self.offset += read
                if size is not None:
                    size -= read
        finally:
            handle.close()

    async def stop(self) -> _Follower | None:
        """This, once done, when its digests can be carried on; None otherwise."""
        self.wanted = False
        try:
            if self.task is not None:
                await self.task
        except Exception:
            return None
        return None if self.broken else self


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
        # Local uploads in parts whose leading parts this process is hashing, by upload.
        self._followers: dict[str, _Follower] = {}

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
        key = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        staged = Staged(key)
        digests = _Digesting(chunks, limit)
        try:
            if self.folder is None:
                await obstore.put_async(self.store, key, digests)
            else:
                await _write_file(self.folder / key, digests)
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
        key = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        url = await obstore.sign_async(self.store, "PUT", key, timedelta(seconds=seconds))
        return key, url

    async def adopt(self, key: str, *, limit: int) -> Staged:
        """Bytes a client put under a staging key, read back to compute their digests; more
        than `limit` bytes are refused (BlobTooLarge)."""
        if not key.startswith(STAGING_PREFIX) or ".." in key:
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
        if staged.data is not None and self.folder is not None:
            await asyncio.to_thread(_write_durably, self.folder, final, staged.data)
        elif staged.data is not None:
            await obstore.put_async(self.store, final, staged.data)
        elif staged.parts is not None:
            # Written straight under the digest (the bytes were checked as the parts were
            # read): an object store copies no more than 5 GiB in one request, and a multipart
            # upload appears only once it is complete.
            if not await self.exists(staged.digests.sha256):
                # Parts of at least 8 MiB, and few enough for S3's 10,000; four in flight, so
                # the server holds about 32 MiB however large the file (measured on 1 GiB with
                # obstore's default of 12: the server's memory grew by 90 MiB).
                chunk_size = max(CHUNK_BYTES * 8, -(-staged.digests.size // 9_000))
                await obstore.put_async(
                    self.store,
                    final,
                    self._part_chunks(staged.parts),
                    chunk_size=chunk_size,
                    max_concurrency=4,
                )
            await self.discard_parts(staged.parts)
        else:
            assert staged.key is not None
            await obstore.rename_async(self.store, staged.key, final)

    async def discard(self, staged: Staged) -> None:
        if staged.key is not None:
            await self._discard(staged.key)
        if staged.parts is not None:
            await self.discard_parts(staged.parts)

    # Files sent in parts, so that a dropped connection costs one part, and a later try, from
    # any process, finds the parts already sent. In a local folder the parts go straight into
    # one file (db/parts.py); in an object store each is an object of its own, whole or absent.
    # The file's digests are computed once every part is there.

    def _parts_folder(self, upload_id: str) -> Path:
        assert self.folder is not None
        if len(upload_id) != 32 or not set(upload_id) <= _HEX64:
            raise ValueError(f"not an upload: {upload_id[:80]!r}")
        return self.folder / PARTS_PREFIX / upload_id

    async def stored_parts(self, upload_id: str) -> dict[int, int]:
        """The parts of an upload that are all there: their numbers and sizes."""
        if self.folder is not None:
            return await asyncio.to_thread(local_parts.stored_parts, self._parts_folder(upload_id))
        found = {}
        async for batch in obstore.list(self.store, prefix=f"{PARTS_PREFIX}{upload_id}/"):
            for entry in batch:
                number = str(entry["path"]).rsplit("/", 1)[-1]
                if number.isdigit():
                    found[int(number)] = int(entry["size"])
        return found

    async def put_part(
        self,
        upload_id: str,
        number: int,
        chunks: AsyncIterable[bytes],
        *,
        offset: int,
        size: int,
    ) -> None:
        """Writes one part of a file into a local folder (an object store takes its parts on
        presigned URLs), of exactly `size` bytes (BlobMismatch otherwise); it counts as there
        only once it is all there, and is never written again."""
        counted = _Counting(chunks, size)
        folder = self._parts_folder(upload_id)
        claim = await asyncio.to_thread(local_parts.claim_part, folder, number)
        if claim is None:
            return
        try:
            descriptor = await asyncio.to_thread(local_parts.open_for_part, folder)
            try:
                await _write_pieces(
                    counted,
                    lambda position, piece: local_parts.write_at(descriptor, position, piece),
                    offset,
                )
                counted.check()
                await asyncio.to_thread(local_parts.mark_part, folder, number, offset, counted.size)
            finally:
                os.close(descriptor)
        finally:
            os.close(claim)
        self._follow(upload_id, folder)

    def _follow(self, upload_id: str, folder: Path) -> None:
        """Hashes the upload's parts that are there, in order, while the others arrive."""
        follower = self._followers.get(upload_id)
        if follower is None:
            if len(self._followers) >= MAX_FOLLOWED:
                # The oldest upload, likely abandoned, is hashed whole if it ever completes.
                self._followers.pop(next(iter(self._followers)))
            follower = self._followers[upload_id] = _Follower(folder)
        follower.wanted = True
        if follower.task is None or follower.task.done():
            follower.task = asyncio.create_task(follower.catch_up())

    async def presigned_part_puts(
        self, parts: Parts, numbers: Sequence[int], seconds: int
    ) -> list[str] | None:
        """For an object store: presigned URLs to PUT the given parts straight to it. None for
        a local folder, whose parts come through the server."""
        if not isinstance(self.store, S3Store) or not numbers:
            return None
        keys = [parts.key(n) for n in numbers]
        return list(await obstore.sign_async(self.store, "PUT", keys, timedelta(seconds=seconds)))

    async def assemble(self, parts: Parts, *, limit: int) -> Staged:
        """Computes the digests of a file whose parts are all there. A local file is moved out
        of the upload first, to a staging key, so no late part can change it; an object store
        keeps the parts until `keep` writes them under the digest."""
        if self.folder is None:
            digesting = _Digesting(self._part_chunks(parts), limit)
            async for _ in digesting:
                pass
            return Staged(None, digesting.result(), parts=parts)
        key = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        staged_path = self.folder / key
        folder = self._parts_folder(parts.upload_id)
        follower = self._followers.pop(parts.upload_id, None)
        hashed = await follower.stop() if follower is not None else None
        if hashed is None:
            hashed = _Follower(folder)
        await asyncio.to_thread(local_parts.seal, folder, staged_path)
        try:
            # What the parts' hashing left, while the file is flushed to disk.
            await asyncio.gather(
                hashed.hash(staged_path, None), asyncio.to_thread(local_parts.flush, staged_path)
            )
            size = hashed.offset
            if size > limit:
                raise BlobTooLarge(f"more than the {limit} bytes declared arrived")
        except BaseException:
            await self._discard(key)
            raise
        await asyncio.to_thread(local_parts.discard, folder)
        return Staged(key, Digests(hashed.sha256.hexdigest(), hashed.md5.hexdigest(), size))

    async def discard_parts(self, parts: Parts) -> None:
        if self.folder is not None:
            await asyncio.to_thread(local_parts.discard, self._parts_folder(parts.upload_id))
            return
        await asyncio.gather(*(self._discard(parts.key(n)) for n in range(1, parts.count + 1)))

    async def _part_chunks(self, parts: Parts) -> AsyncIterator[bytes]:
        """An object store's parts, in order, as one stream."""
        for number in range(1, parts.count + 1):
            result = await obstore.get_async(self.store, parts.key(number))
            async for chunk in _chunks(result.stream(min_chunk_size=CHUNK_BYTES)):
                yield chunk

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


async def _pieces(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The chunks joined into pieces of at least CHUNK_BYTES (the last may be shorter): a
    request body arrives in chunks of a few kilobytes, too small to hand to a thread each."""
    gathered: list[bytes] = []
    size = 0
    async for chunk in chunks:
        gathered.append(chunk)
        size += len(chunk)
        if size >= CHUNK_BYTES:
            yield b"".join(gathered)
            gathered, size = [], 0
    if gathered:
        yield b"".join(gathered)


class _Counting:
    """Passes chunks through while counting them against a declared size."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self.size = 0

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise BlobTooLarge(f"more than the {self._limit} bytes declared arrived")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._count(chunk)
            yield chunk

    def check(self) -> None:
        if self.size != self._limit:
            raise BlobMismatch(f"received {self.size} bytes; declared {self._limit}")


class _Digesting(_Counting):
    """Passes chunks through while computing their SHA-256, MD5 and size. Each megabyte is
    hashed on two worker threads at once (hashlib lets go of the GIL), while the next one
    arrives; MD5, the slower, sets the pace (measured: about 700 MB/s, against 500 for both
    on one thread)."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int) -> None:
        super().__init__(chunks, limit)
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)

    def _digest(self, piece: bytes) -> asyncio.Future[Any]:
        return asyncio.gather(
            asyncio.to_thread(self._sha256.update, piece),
            asyncio.to_thread(self._md5.update, piece),
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        hashing: asyncio.Future[Any] | None = None
        previous: bytes | None = None
        try:
            async for piece in _pieces(self._chunks):
                self._count(piece)
                if hashing is not None:
                    await hashing
                hashing = self._digest(piece)
                if previous is not None:
                    yield previous
                previous = piece
            if hashing is not None:
                await hashing
            if previous is not None:
                yield previous
        finally:
            # A digest under way finishes first (a thread cannot be stopped).
            if hashing is not None and not hashing.done():
                await asyncio.wait([hashing])

    def result(self) -> Digests:
        return Digests(self._sha256.hexdigest(), self._md5.hexdigest(), self.size)


def _write_all(handle: BinaryIO, data: memoryview | bytes) -> None:
    """Writes everything to an unbuffered file (measured: a buffered one took 2.6 s to copy
    1 GiB in 4 MiB slices, an unbuffered one 0.3 s)."""
    view = memoryview(data)
    while view:
        view = view[handle.write(view) or 0 :]


def _flush_to_disk(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _write_durably(folder: Path, key: str, data: bytes) -> None:
    """Writes bytes under `key` in a local folder, whole or not at all, flushed to disk."""
    staging = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        with staging.open("xb", buffering=0) as handle:
            _write_all(handle, data)
            _flush_to_disk(handle)
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        staging.replace(folder / key)
    finally:
        staging.unlink(missing_ok=True)


async def _write_pieces(
    chunks: AsyncIterable[bytes], write: Callable[[int, bytes], None], start: int = 0
) -> None:
    """Calls `write(position, piece)` for each piece on a worker thread while the next one
    arrives, positions counting from `start`."""
    writing: asyncio.Future[Any] | None = None
    position = start
    try:
        async for piece in _pieces(chunks):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(write, position, piece))
            position += len(piece)
        if writing is not None:
            await writing
    finally:
        # A write under way finishes first (a thread cannot be stopped).
        if writing is not None and not writing.done():
            await asyncio.wait([writing])


async def _write_file(path: Path, chunks: AsyncIterable[bytes]) -> None:
    """Writes the bytes to a new file and flushes them to disk before returning, so that a
    file recorded as stored survives a crash."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    handle = await asyncio.to_thread(path.open, "xb", buffering=0)
    try:
        await _write_pieces(chunks, lambda _, piece: _write_all(handle, piece))
        await asyncio.to_thread(_flush_to_disk, handle)
    finally:
        await asyncio.to_thread(handle.close)


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


# The same, found by MD5 (how the wandb SDK names bytes), with the size each must have.
SELECT_HELD_BY_MD5 = """
SELECT b.sha256, b.md5, b.size FROM blobs b
JOIN blob_holders h ON h.sha256 = b.sha256 AND h.organization_id = $3
JOIN unnest($1::text[], $2::bigint[]) AS k(md5, size) ON k.md5 = b.md5 AND k.size = b.size
"""
SELECT_HELD_BY_MD5_ONLY = """
SELECT b.sha256, b.md5, b.size FROM blobs b
JOIN blob_holders h ON h.sha256 = b.sha256 AND h.organization_id = $2
WHERE b.md5 = ANY($1::text[])
"""


async def held_blobs_by_md5(
    conn: Executor,
    md5s: Sequence[str],
    organization_id: int,
    sizes: Sequence[int] | None = None,
) -> dict[tuple[str, int], Digests]:
    """The organization's blobs with these MD5s (hex), and these sizes when given, by
    (md5, size)."""
    if sizes is None:
        rows = await conn.fetch(SELECT_HELD_BY_MD5_ONLY, list(md5s), organization_id)
    else:
        rows = await conn.fetch(SELECT_HELD_BY_MD5, list(md5s), list(sizes), organization_id)
    return {
        (row["md5"], row["size"]): Digests(row["sha256"], row["md5"], row["size"]) for row in rows
    }


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
SELECT f.content_id, f.path, f.digest, f.size, f.sha256, b.md5, f.ref
FROM artifact_files f LEFT JOIN blobs b ON b.sha256 = f.sha256
WHERE f.content_id = $1 ORDER BY f.path
"""


SELECT_FILE_IN_COLLECTION_BY_MD5 = """
SELECT f.content_id, f.path, f.digest, f.size, f.sha256, b.md5, f.ref
FROM blobs b
JOIN artifact_files f ON f.sha256 = b.sha256
JOIN artifact_versions v ON v.content_id = f.content_id AND v.collection_id = $1
WHERE b.md5 = $2 AND (f.path = $3 OR right(f.path, length($3) + 1) = '/' || $3)
ORDER BY v.id DESC LIMIT 1
"""


async def file_in_collection_by_md5(
    conn: Executor, collection_id: int, md5: str, name: str
) -> ArtifactFile | None:
    """A file of a version in the collection, named `name` (its last part), whose bytes have
    this MD5 (hex)."""
    row = await conn.fetchrow(SELECT_FILE_IN_COLLECTION_BY_MD5, collection_id, md5, name)
    return None if row is None else from_record(ArtifactFile, row)


async def content_files(conn: Executor, content_id: int) -> list[ArtifactFile]:
    """A content's whole manifest, by path: at most the 10,000 files a version may hold."""
    rows = await conn.fetch(SELECT_CONTENT_FILES, content_id)
    return [from_record(ArtifactFile, row) for row in rows]


# Nothing refers to the blob `b`: no artifact file, no run file, no manifest on its way in.
NOT_REFERENCED = """NOT EXISTS (SELECT 1 FROM artifact_files f WHERE f.sha256 = b.sha256)
  AND NOT EXISTS (SELECT 1 FROM run_files r WHERE r.sha256 = b.sha256)
  AND NOT EXISTS (SELECT 1 FROM artifact_uploads u WHERE u.manifest_sha256 = b.sha256)"""
# Blobs no file refers to, stored before `grace` ago, oldest first; locked, skipping any that a
# logging transaction holds, so that nothing can start referring to them while they go.
SELECT_UNREFERENCED = f"""
SELECT b.sha256, b.md5, b.size, b.stored_at FROM blobs b
WHERE b.stored_at < clock_timestamp() - $1::interval
  AND {NOT_REFERENCED}
ORDER BY b.stored_at LIMIT $2
"""
LOCK_UNREFERENCED = f"{SELECT_UNREFERENCED} FOR UPDATE OF b SKIP LOCKED"
# A statement of its own sees files committed since the candidates were chosen.
DELETE_UNREFERENCED = f"""
DELETE FROM blobs b WHERE b.sha256 = ANY($1::text[]) AND {NOT_REFERENCED}
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
