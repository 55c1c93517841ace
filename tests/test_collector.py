"""The blob collector: bytes no file refers to go after the grace period, with what uploads left
behind; nothing referenced ever goes, even with uploads, logs and collections all at once. Each
test has a database and a blob store of its own, so that collecting touches no other test's."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from db import versions
from db.blobs import BlobStore
from db.pool import create_pool
from resolvers.accounts import create_api_key_txn
from resolvers.collector import collect
from server.settings import Settings, blob_store
from tests.support.app import app_client
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient, mutate
from tests.support.ids import row_id
from tests.support.manifests import PREPARE, bytes_of, file, upload
from tests.support.processes import cairn, cairn_env

NOW = timedelta(0)


class Place:
    """A demo database and a blob store of the test's own, and ada's client of an app on them."""

    def __init__(self, url: str, pool: asyncpg.Pool, store: BlobStore, ada: GraphQLClient) -> None:
        self.url = url
        self.pool = pool
        self.store = store
        self.ada = ada

    async def project(self) -> str:
        data = await self.ada.data(
            '{ organization(name: "acme") { project(name: "churn") { id } } }'
        )
        project_id: str = data["organization"]["project"]["id"]
        return project_id

    async def log(self, project: str, name: str, entry: dict[str, Any]) -> list[str]:
        """logArtifact's error codes."""
        data = await self.ada.data(
            """mutation($input: LogArtifactInput!) { logArtifact(input: $input) {
              errors { code } } }""",
            {"input": {"projectId": project, "name": name, "type": "model", "files": [entry]}},
        )
        return [e["code"] for e in data["logArtifact"]["errors"]]

    async def rows(self) -> set[str]:
        return {r["sha256"] for r in await self.pool.fetch("SELECT sha256 FROM blobs")}

    async def stored(self) -> set[str]:
        return {key.rsplit("/", 1)[-1] async for key, _ in self.store.listed("sha256/")}


@pytest.fixture
async def place(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Place]:
    monkeypatch.setenv("CAIRN_STORAGE", f"file://{tmp_path}/blobs")
    async with new_database(server_url, demo=True) as url:
        pool = await create_pool(url, min_size=1, max_size=6)
        try:
            async with pool.acquire() as conn:
                key = await create_api_key_txn(conn, "ada", key_name="gc")
            async with app_client(pool, Settings()) as http:
                yield Place(url, pool, blob_store(Settings()), GraphQLClient(http, key))
        finally:
            await pool.close()


async def test_unreferenced_bytes_go_and_referenced_ones_stay(place: Place) -> None:
    project = await place.project()
    kept = file("kept.bin", os.urandom(2000))
    dropped = file("dropped.bin", os.urandom(3000))
    await upload(place.ada, [kept, dropped], projectId=project)
    assert await place.log(project, "gc", kept) == []
    before_rows, before_stored = await place.rows(), await place.stored()
    assert {kept["digest"], dropped["digest"]} <= before_rows == before_stored

    # Within the grace period, nothing goes.
    waiting = await collect(place.pool, place.store, timedelta(hours=1))
    assert (waiting.blobs, waiting.staged, waiting.strays) == (0, 0, 0)
    # A dry run says what would go, and deletes nothing.
    dry = await collect(place.pool, place.store, NOW, dry_run=True)
    assert (dry.blobs, dry.bytes) == (1, 3000)
    assert await place.rows() == before_rows
    assert await place.stored() == before_stored

    done = await collect(place.pool, place.store, NOW)
    assert (done.blobs, done.bytes, done.kept_after_errors) == (1, 3000, [])
    assert await place.rows() == before_rows - {dropped["digest"]}
    assert await place.stored() == before_stored - {dropped["digest"]}
    # The demo's files and the logged one are all still there.
    assert await place.stored() == await place.rows()
    # Logging the dropped bytes now names them as missing; uploading them again works.
    prepared = await place.ada.data(PREPARE, {"input": {"projectId": project, "files": [dropped]}})
    assert prepared["prepareArtifactFiles"]["uploads"][0]["stored"] is False


async def test_what_uploads_left_behind_is_collected(place: Place) -> None:
    async def once(data: bytes) -> AsyncIterator[bytes]:
        yield data

    # Bytes staged by a server killed before it checked them.
    await place.store.stage(once(os.urandom(100)), limit=100)
    # Bytes moved under their digest by an upload whose row never committed.
    stray = os.urandom(100)
    stray_entry = file("stray.bin", stray)
    await place.store.put(once(stray), sha256=stray_entry["digest"], size=100)
    # Staged bytes count as an upload in progress for an hour.
    waiting = await collect(place.pool, place.store, NOW)
    assert (waiting.staged, waiting.strays) == (0, 1)
    await place.store.put(once(stray), sha256=stray_entry["digest"], size=100)
    dry = await collect(place.pool, place.store, NOW, dry_run=True, staged_idle=NOW)
    assert (dry.staged, dry.strays) == (1, 1)
    done = await collect(place.pool, place.store, NOW, staged_idle=NOW)
    assert (done.staged, done.strays) == (1, 1)
    assert [key async for key, _ in place.store.listed("incoming/")] == []
    assert not await place.store.exists(stray_entry["digest"])
    assert await place.stored() == await place.rows()


async def test_nothing_referenced_goes_under_concurrent_uploads_logs_and_collections(
    place: Place,
) -> None:
    """Rounds of one blob uploaded, logged and collected all at once: whatever order they
    run in, a version that was logged can be downloaded, and every row has its bytes."""
    project = await place.project()
    http = place.ada.http
    logged = 0
    for round_ in range(12):
        entry = file("race.bin", os.urandom(5000))
        (sent,) = (
            await place.ada.data(PREPARE, {"input": {"projectId": project, "files": [entry]}})
        )["prepareArtifactFiles"]["uploads"]

        async def put(url: str = sent["uploadUrl"], data: bytes = bytes_of(entry["digest"])) -> int:
            return (await http.put(url, content=data)).status_code

        status, collected, codes, codes_again = await asyncio.gather(
            put(),
            collect(place.pool, place.store, NOW),
            place.log(project, f"race-{round_}", entry),
            place.log(project, f"race-{round_}", entry),
        )
        assert status == 201
        assert codes in ([], ["FILES_NOT_STORED"])
        assert codes_again in ([], ["FILES_NOT_STORED"])
        if not codes or not codes_again:
            logged += 1
        referenced = {
            r["sha256"]
            for r in await place.pool.fetch(
                "SELECT sha256 FROM artifact_files WHERE sha256 IS NOT NULL"
            )
        }
        rows, stored = await place.rows(), await place.stored()
        assert referenced <= rows, "a file refers to bytes without a row"
        assert rows <= stored, "a row without its bytes"
        assert collected.kept_after_errors == []
    assert logged > 0


async def test_cairn_gc_dry_run_then_for_real(place: Place, tmp_path: Path) -> None:
    project = await place.project()
    await upload(place.ada, [file("unlogged.bin", os.urandom(1234))], projectId=project)
    env = cairn_env(
        tmp_path / "xdg", DATABASE_URL=place.url, CAIRN_STORAGE=f"file://{tmp_path}/blobs"
    )
    dry = cairn("gc", "--dry-run", "--grace", "0", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 unreferenced blobs (1234 bytes)" in dry.stdout
    assert len(await place.rows()) == len(await place.stored())
    kept = cairn("gc", env=env)
    assert "deleted 0 unreferenced blobs" in kept.stdout
    done = cairn("gc", "--grace", "0", env=env)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 unreferenced blobs (1234 bytes)" in done.stdout


# Time to live

TTL_FIELDS = """id ttlSeconds expiresAt createdAt filesDeletedAt archiveUrl
  files { nodes { path downloadUrl } }"""
LOG_WITH_TTL = f"""mutation($input: LogArtifactInput!) {{ logArtifact(input: $input) {{
  artifactVersion {{ {TTL_FIELDS} }} errors {{ code message field }} }} }}"""
SET_TTL = f"""mutation($input: SetArtifactTtlInput!) {{ setArtifactTtl(input: $input) {{
  artifactVersion {{ {TTL_FIELDS} }} errors {{ code message field }} }} }}"""
VERSION_TTL = (
    f"""query($id: ID!) {{ node(id: $id) {{ ... on ArtifactVersion {{ {TTL_FIELDS} }} }} }}"""
)
DAY = 86_400


async def log_with_ttl(
    place: Place, project: str, name: str, files: list[dict[str, Any]], ttl: int | None = None
) -> dict[str, Any]:
    data = await place.ada.data(
        LOG_WITH_TTL,
        {
            "input": {
                "projectId": project,
                "name": name,
                "type": "model",
                "files": files,
                "ttlSeconds": ttl,
            }
        },
    )
    payload: dict[str, Any] = data["logArtifact"]
    return payload


async def version_ttl(place: Place, version_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await place.ada.data(VERSION_TTL, {"id": version_id}))["node"]
    return found


async def set_ttl(place: Place, version_id: str, ttl: int | None) -> dict[str, Any]:
    data = await place.ada.data(SET_TTL, {"input": {"versionId": version_id, "ttlSeconds": ttl}})
    payload: dict[str, Any] = data["setArtifactTtl"]
    return payload


async def link(place: Place, version_id: str, aliases: list[str]) -> str:
    data = await place.ada.data(
        """mutation($input: LinkArtifactInput!) { linkArtifact(input: $input) {
          artifactVersion { id } errors { code message } } }""",
        {
            "input": {
                "versionId": version_id,
                "targetPath": "acme/wandb-registry-model/ttl-models",
                "aliases": aliases,
            }
        },
    )
    assert data["linkArtifact"]["errors"] == []
    linked: str = data["linkArtifact"]["artifactVersion"]["id"]
    return linked


async def pass_time(place: Place, version_id: str, seconds: int) -> None:
    """Moves the version's content back in time, as if logged `seconds` earlier."""
    await place.pool.execute(
        """UPDATE artifact_contents SET created_at = created_at - $2 * interval '1 second',
             expires_at = expires_at - $2 * interval '1 second'
           WHERE id = (SELECT content_id FROM artifact_versions WHERE id = $1)""",
        row_id(version_id),
        seconds,
    )


async def test_a_time_to_live_lets_go_of_the_files_then_of_their_bytes(place: Place) -> None:
    project = await place.project()
    own, shared = file("own.bin", os.urandom(700)), file("shared.bin", os.urandom(900))
    await upload(place.ada, [own, shared], projectId=project)
    assert (await log_with_ttl(place, project, "keeper", [shared]))["errors"] == []
    logged = await log_with_ttl(place, project, "short-lived", [own, shared], ttl=DAY)
    assert logged["errors"] == []
    version = logged["artifactVersion"]
    created = datetime.fromisoformat(version["createdAt"])
    assert version["ttlSeconds"] == DAY
    assert datetime.fromisoformat(version["expiresAt"]) == created + timedelta(days=1)
    linked = await link(place, version["id"], [])
    assert (await version_ttl(place, linked))["expiresAt"] == version["expiresAt"]

    assert (await collect(place.pool, place.store, NOW)).expired == 0
    await pass_time(place, version["id"], 2 * DAY)
    dry = await collect(place.pool, place.store, NOW, dry_run=True)
    assert (dry.expired, dry.blobs) == (1, 0)
    assert (await version_ttl(place, version["id"]))["filesDeletedAt"] is None

    # The files let go of their bytes; the bytes wait for the grace period.
    expired = await collect(place.pool, place.store, timedelta(hours=1))
    assert (expired.expired, expired.blobs) == (1, 0)
    for each in (version["id"], linked):
        after = await version_ttl(place, each)
        assert after["filesDeletedAt"] is not None
        assert after["archiveUrl"] is None
        assert [(f["path"], f["downloadUrl"]) for f in after["files"]["nodes"]] == [
            ("own.bin", None),
            ("shared.bin", None),
        ]
    events = await place.ada.data(
        """{ registry(organization: "acme", name: "model") {
          history(first: 1) { nodes { action actor { name } } } } }"""
    )
    assert events["registry"]["history"]["nodes"] == [
        {"action": "EXPIRE_ARTIFACT_FILES", "actor": None}
    ]
    gone = await collect(place.pool, place.store, NOW)
    # The bytes another version still refers to stay.
    assert (gone.expired, gone.blobs, gone.bytes) == (0, 1, 700)
    assert own["digest"] not in await place.stored()
    assert shared["digest"] in await place.stored()

    refused = await set_ttl(place, version["id"], DAY)
    assert refused["errors"][0]["code"] == "INVALID_ARGUMENT"
    assert "let go at the end of its time to live" in refused["errors"][0]["message"]
    # Logged again: its bytes must be sent again, and then the same version is back whole.
    again = await log_with_ttl(place, project, "short-lived", [own, shared])
    assert again["errors"][0]["code"] == "FILES_NOT_STORED"
    assert "'own.bin'" in again["errors"][0]["message"]
    await upload(place.ada, [own], projectId=project)
    back = await log_with_ttl(place, project, "short-lived", [own, shared])
    assert back["errors"] == []
    restored = back["artifactVersion"]
    assert restored["id"] == version["id"]
    assert (restored["filesDeletedAt"], restored["ttlSeconds"], restored["expiresAt"]) == (
        None,
        None,
        None,
    )
    (own_file, _) = restored["files"]["nodes"]
    assert (await place.ada.http.get(own_file["downloadUrl"])).content == bytes_of(own["digest"])


async def test_a_protected_alias_keeps_the_files_past_their_time_to_live(place: Place) -> None:
    project = await place.project()
    entry = file("protected.bin", os.urandom(500))
    await upload(place.ada, [entry], projectId=project)
    version = (await log_with_ttl(place, project, "guarded", [entry], ttl=DAY))["artifactVersion"]
    linked = await link(place, version["id"], [])
    model = await place.ada.data('{ registry(organization: "acme", name: "model") { id } }')
    protect = {"registryId": model["registry"]["id"], "protectedAliases": ["production"]}
    assert (await mutate(place.ada, "updateRegistry", protect))["errors"] == []
    await pass_time(place, version["id"], 2 * DAY)
    linked_row = row_id(linked)
    collection_id = await place.pool.fetchval(
        "SELECT collection_id FROM artifact_versions WHERE id = $1", linked_row
    )
    # An alias arriving while the collector runs: the collector passes the content by, and
    # once the alias is there, the alias protects it.
    async with place.pool.acquire() as conn, conn.transaction():
        await versions.assign_alias(conn, collection_id, "production", linked_row)
        assert (await collect(place.pool, place.store, NOW)).expired == 0
    assert (await collect(place.pool, place.store, NOW)).expired == 0
    files = (await version_ttl(place, linked))["files"]["nodes"]
    assert (await place.ada.http.get(files[0]["downloadUrl"])).content == bytes_of(entry["digest"])

    unprotected = {"versionId": linked, "aliases": ["production"]}
    assert (await mutate(place.ada, "removeAliases", unprotected))["errors"] == []
    assert (await collect(place.pool, place.store, timedelta(hours=1))).expired == 1
    assert (await version_ttl(place, linked))["files"]["nodes"][0]["downloadUrl"] is None


@pytest.mark.parametrize("ttl", [0, -1, 100 * 365 * DAY + 1])
async def test_a_time_to_live_out_of_range_is_refused(place: Place, ttl: int) -> None:
    project = await place.project()
    entry = file("range.bin", os.urandom(100))
    await upload(place.ada, [entry], projectId=project)
    refused = await log_with_ttl(place, project, "ranged", [entry], ttl=ttl)
    assert refused["errors"][0]["code"] == "INVALID_ARGUMENT"
    assert refused["errors"][0]["field"] == ["input", "ttlSeconds"]
    assert f"not {ttl}" in refused["errors"][0]["message"]
    version = (await log_with_ttl(place, project, "ranged", [entry]))["artifactVersion"]
    also = await set_ttl(place, version["id"], ttl)
    assert also["errors"][0]["field"] == ["input", "ttlSeconds"]
    assert (await version_ttl(place, version["id"]))["ttlSeconds"] is None
