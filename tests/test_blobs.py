"""The blob store on both backends: the local filesystem, and an S3-compatible store served by
moto's own server over HTTP (a real S3 protocol endpoint, not a mock of the client)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import obstore
import pytest

from db.blobs import BlobMismatch, BlobStore, StorageConfigError, blob_key
from tests.support.s3 import BUCKET


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore.from_setting(f"file://{tmp_path}/blobs", tmp_path / "pgdata")
    request.getfixturevalue("s3_endpoint")
    return BlobStore.from_setting(f"s3://{BUCKET}/t-{tmp_path.name}", tmp_path / "pgdata")


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(blobs: BlobStore, sha256: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in await blobs.read(sha256, start, end)])


async def leftovers(blobs: BlobStore) -> list[str]:
    """Objects left under the temporary names that uploads start with."""
    found: list[str] = []
    async for batch in obstore.list(blobs.store, prefix="incoming/"):
        found.extend(str(entry["path"]) for entry in batch)
    return found


async def test_bytes_go_in_under_their_digest_and_come_back(blobs: BlobStore) -> None:
    data = os.urandom(300_000)
    sha256 = hashlib.sha256(data).hexdigest()
    assert not await blobs.exists(sha256)
    digests = await blobs.put(chunks_of(data), sha256=sha256, size=len(data))
    assert (digests.sha256, digests.md5, digests.size) == (
        sha256,
        hashlib.md5(data).hexdigest(),
        len(data),
    )
    assert await blobs.exists(sha256)
    assert await read_all(blobs, sha256) == data
    assert await read_all(blobs, sha256, 1000, 2000) == data[1000:2000]
    assert await read_all(blobs, sha256, 299_000) == data[299_000:]
    # The same bytes again: one blob.
    await blobs.put(chunks_of(data), sha256=sha256, size=len(data))
    await blobs.delete(sha256)
    assert not await blobs.exists(sha256)


@pytest.mark.parametrize("wrong", ["digest", "size", "truncated"])
async def test_bytes_that_are_not_what_was_declared_are_not_kept(
    blobs: BlobStore, wrong: str
) -> None:
    data = os.urandom(100_000)
    sha256 = hashlib.sha256(data).hexdigest()
    declared_sha256, declared_size, sent = sha256, len(data), data
    if wrong == "digest":
        declared_sha256 = hashlib.sha256(b"other").hexdigest()
    elif wrong == "size":
        declared_size = len(data) + 1
    else:
        sent = data[:50_000]
    with pytest.raises(BlobMismatch) as refused:
        await blobs.put(chunks_of(sent), sha256=declared_sha256, size=declared_size)
    assert "declared" in str(refused.value)
    assert await leftovers(blobs) == []
    assert not await blobs.exists(sha256)
    assert not await blobs.exists(declared_sha256)


def test_unknown_backends_are_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(StorageConfigError) as refused:
        BlobStore.from_setting("gopher://somewhere", tmp_path)
    assert "gopher://somewhere" in str(refused.value)
    assert "s3://bucket/prefix" in str(refused.value)


def test_keys_are_digests_only() -> None:
    assert blob_key("ab" * 32) == f"sha256/ab/ab/{'ab' * 32}"
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31):
        with pytest.raises(ValueError, match="not a SHA-256"):
            blob_key(bad)
