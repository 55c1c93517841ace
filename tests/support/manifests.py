"""Manifests to log: files named as a test likes, with bytes that depend on a seed only, so the
same seed gives the same content and another seed another; and storing those bytes, which
logging a version needs first."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from db.blobs import record_blobs_txn
from db.pool import Connection
from db.records import Project
from resolvers.versions import FileEntry
from server.settings import Settings, blob_store
from tests.support.graphql import GraphQLClient

# The bytes of every file a manifest here has described, by SHA-256.
_BYTES: dict[str, bytes] = {}


def content(seed: str, name: str, size: int) -> bytes:
    return hashlib.shake_256(f"{seed}/{name}".encode()).digest(size) if size else b""


def file(path: str, data: bytes) -> dict[str, Any]:
    """One manifest entry for `data`, whose bytes `store` can then keep."""
    digest = hashlib.sha256(data).hexdigest()
    _BYTES[digest] = data
    return {"path": path, "digest": digest, "size": len(data)}


def files(seed: str, *names: str, size: int = 10) -> list[dict[str, Any]]:
    """A manifest as logArtifact takes it: the files named, with sizes `size`, 2 * `size`, …"""
    return [
        file(name, content(seed, name, size * (position + 1)))
        for position, name in enumerate(names)
    ]


def entries(seed: str, *names: str, size: int = 10) -> list[FileEntry]:
    """The same manifest as the resolver functions take it."""
    return [FileEntry(f["path"], f["digest"], f["size"]) for f in files(seed, *names, size=size)]


PREPARE = """mutation M($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input) {
  uploads { path digest size stored uploadUrl completeUrl expiresAt }
  batchUploadUrl errors { code message field } } }"""


def bytes_of(digest: str) -> bytes:
    return _BYTES[digest]


async def upload(
    client: GraphQLClient, manifest: Iterable[Mapping[str, Any]], **where: str
) -> list[dict[str, Any]]:
    """Sends a manifest's bytes as a client does: prepareArtifactFiles (for the `projectId` or
    `runId` given), then a PUT of each file the server does not hold yet. Returns the uploads
    it was given."""
    entries = [{"path": f["path"], "digest": f["digest"], "size": f["size"]} for f in manifest]
    data = await client.data(PREPARE, {"input": {**where, "files": entries}})
    payload = data["prepareArtifactFiles"]
    assert payload["errors"] == [], payload
    uploads: list[dict[str, Any]] = payload["uploads"]
    for sent in uploads:
        if not sent["stored"]:
            response = await client.http.put(sent["uploadUrl"], content=_BYTES[sent["digest"]])
            assert response.status_code == 201, response.text
    return uploads


async def stored_entries(
    conn: Connection, project: Project, seed: str, *names: str, size: int = 10
) -> list[FileEntry]:
    """`entries`, with their bytes kept in the session's blob store and recorded in the
    transaction of `conn` as uploaded for the project's organization: for tests that log
    through the resolvers' `*_txn` functions."""
    found = entries(seed, *names, size=size)
    blobs = blob_store(Settings())
    for entry in found:
        digests = await blobs.put(_once(_BYTES[entry.digest]), sha256=entry.digest, size=entry.size)
        await record_blobs_txn(conn, [digests], project.organization_id)
    return found


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
