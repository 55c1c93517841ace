"""The content-addressed blob store: file bytes kept once under their SHA-256, on the local
filesystem (the default) or in an S3-compatible object store, behind one small interface.

Both backends are obstore stores: the same calls stream to and from a directory or a bucket, and
S3 uploads go in parts. Bytes arrive under a temporary name while their digests are computed;
only bytes that match what was declared are moved under their digest, so a reader never sees a
half-written or wrong blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store

_HEX64 = frozenset("0123456789abcdef")


class StorageConfigError(ValueError):
    """CAIRN_STORAGE names no backend Cairn has."""


class BlobMismatch(ValueError):
    """The bytes received are not the bytes that were declared; nothing was kept."""


@dataclass(frozen=True, slots=True)
class Digests:
    sha256: str
    md5: str
    size: int


def blob_key(sha256: str) -> str:
    """Where a blob lives: fanned out by its first bytes, so no directory grows too large."""
    if len(sha256) != 64 or not set(sha256) <= _HEX64:
        raise ValueError(f"not a SHA-256 in lower-case hex: {sha256[:80]!r}")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore:
    def __init__(self, store: LocalStore | S3Store, description: str) -> None:
        self.store = store
        self.description = description

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
            return cls(S3Store(parts.netloc, prefix=prefix), f"s3://{parts.netloc}/{prefix or ''}")
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

    async def put(self, chunks: AsyncIterable[bytes], *, sha256: str, size: int) -> Digests:
        """Stores bytes declared to have `sha256` and `size`, computing their SHA-256 and MD5
        as they stream past; refuses them, keeping nothing, when they differ."""
        final = blob_key(sha256)
        incoming = f"incoming/{uuid.uuid4().hex}"
        digests = _Digesting(chunks)
        await obstore.put_async(self.store, incoming, digests)
        try:
            received = digests.result()
            if received.size != size or received.sha256 != sha256:
                raise BlobMismatch(
                    f"received {received.size} bytes with SHA-256 {received.sha256}; "
                    f"declared {size} bytes with SHA-256 {sha256}"
                )
            await obstore.rename_async(self.store, incoming, final)
        except BaseException:
            await self._discard(incoming)
            raise
        return received

    async def read(
        self, sha256: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes from `start` up to `end` (exclusive; the end when None), streamed."""
        key = blob_key(sha256)
        if start == 0 and end is None:
            result = await obstore.get_async(self.store, key)
        else:
            if end is None:
                end = (await obstore.head_async(self.store, key))["size"]
            result = await obstore.get_async(self.store, key, options={"range": (start, end)})
        async for chunk in result.stream():
            yield bytes(chunk)

    async def delete(self, sha256: str) -> None:
        await self._discard(blob_key(sha256))

    async def _discard(self, key: str) -> None:
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            await obstore.delete_async(self.store, key)


class _Digesting:
    """Passes chunks through while computing their SHA-256, MD5 and size."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._sha256.update(chunk)
            self._md5.update(chunk)
            self._size += len(chunk)
            yield chunk

    def result(self) -> Digests:
        return Digests(self._sha256.hexdigest(), self._md5.hexdigest(), self._size)
