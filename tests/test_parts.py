"""Large files go up in parts: each part on its own signed URL, in any order, kept only whole;
a retry (from any process) is told which parts are there already; the completion URL puts the
file together, checks its digests and keeps it, or names the parts still missing. The same on
the local store and on S3, where parts go straight to the bucket."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg
import httpx
import obstore
import pytest

from db import parts as local_parts
from db.blobs import BlobStore
from resolvers.collector import collect
from server.settings import Settings
from tests.support.app import app_client
from tests.support.graphql import GraphQLClient
from tests.support.manifests import file
from tests.support.s3 import BUCKET
from tests.support.workflow import Org, new_org, new_project

MIB = 2**20
PREPARE = """mutation M($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input) {
  uploads { path digest size stored uploadUrl completeUrl
    parts { number offset size stored uploadUrl } }
  batchUploadUrl errors { code message field } } }"""
FILES = """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
  files { nodes { path md5 downloadUrl } } } } }"""


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(pool, client, prefix="parts")


@pytest.fixture
async def member(org: Org, pool: asyncpg.Pool) -> AsyncIterator[GraphQLClient]:
    """The member's client of an app that sends files over 1 MiB in parts of 1 MiB."""
    async with app_client(pool, Settings(part_bytes=MIB)) as http:
        yield GraphQLClient(http, org.member.client.key)


@pytest.fixture
async def s3_member(s3_endpoint: str, pool: asyncpg.Pool, org: Org) -> AsyncIterator[GraphQLClient]:
    settings = Settings(storage=f"s3://{BUCKET}/p-{uuid.uuid4().hex[:8]}", part_bytes=MIB)
    async with app_client(pool, settings) as http:
        yield GraphQLClient(http, org.member.client.key)


async def prepare(client: GraphQLClient, project: str, entry: dict[str, Any]) -> dict[str, Any]:
    data = await client.data(PREPARE, {"input": {"projectId": project, "files": [entry]}})
    payload: dict[str, Any] = data["prepareArtifactFiles"]
    assert payload["errors"] == [], payload
    (upload,) = payload["uploads"]
    return upload


async def put_part(http: httpx.AsyncClient, part: dict[str, Any], data: bytes) -> int:
    body = data[part["offset"] : part["offset"] + part["size"]]
    status: int = (await http.put(part["uploadUrl"], content=body)).status_code
    return status


async def leftovers(store: BlobStore) -> list[str]:
    return [key async for key, _ in store.listed("incoming/")]


async def log_and_download(client: GraphQLClient, project: str, entry: dict[str, Any]) -> Any:
    logged = await client.data(
        """mutation($input: LogArtifactInput!) { logArtifact(input: $input) {
          artifactVersion { id } errors { code message } } }""",
        {"input": {"projectId": project, "name": "big", "type": "model", "files": [entry]}},
    )
    assert logged["logArtifact"]["errors"] == []
    version = logged["logArtifact"]["artifactVersion"]["id"]
    (found,) = (await client.data(FILES, {"id": version}))["node"]["files"]["nodes"]
    return found, await client.http.get(found["downloadUrl"])


async def test_a_large_file_goes_in_parts_in_any_order_and_a_retry_sends_only_the_rest(
    member: GraphQLClient, org: Org, pool: asyncpg.Pool, blob_store: BlobStore
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(3 * MIB + 12345)
    entry = file("checkpoint.pt", data)
    upload = await prepare(member, project, entry)
    assert upload["uploadUrl"] is None
    assert [(p["number"], p["offset"], p["size"], p["stored"]) for p in upload["parts"]] == [
        (1, 0, MIB, False),
        (2, MIB, MIB, False),
        (3, 2 * MIB, MIB, False),
        (4, 3 * MIB, 12345, False),
    ]
    parts = upload["parts"]
    for number in (4, 1, 3):
        assert await put_part(member.http, parts[number - 1], data) == 201
    early = await member.http.post(upload["completeUrl"])
    assert early.status_code == 409
    assert "1 of the 4 parts are not uploaded whole yet (parts 2)" in early.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM blobs WHERE sha256 = $1", entry["digest"]) == 0

    # Asked again (as a client started over would), the server knows which parts it holds.
    again = await prepare(member, project, entry)
    assert [(p["number"], p["stored"]) for p in again["parts"]] == [
        (1, True),
        (2, False),
        (3, True),
        (4, True),
    ]
    assert [p["uploadUrl"] is None for p in again["parts"]] == [True, False, True, True]
    assert await put_part(member.http, again["parts"][1], data) == 201
    done = await member.http.post(again["completeUrl"])
    assert done.status_code == 201, done.text
    assert done.json() == {
        "sha256": entry["digest"],
        "md5": hashlib.md5(data).hexdigest(),
        "size": len(data),
    }
    assert await leftovers(blob_store) == []
    # Completing again changes nothing; preparing again says it is stored.
    assert (await member.http.post(upload["completeUrl"])).status_code == 201
    assert (await prepare(member, project, entry))["stored"] is True

    found, download = await log_and_download(member, project, entry)
    assert found["md5"] == hashlib.md5(data).hexdigest()
    assert download.content == data
    ranged = await member.http.get(found["downloadUrl"], headers={"Range": "bytes=1048570-1048580"})
    assert ranged.content == data[1048570:1048581]


async def test_a_part_of_another_length_is_refused(member: GraphQLClient, org: Org) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(2 * MIB + 10)
    entry = file("short.bin", data)
    first = (await prepare(member, project, entry))["parts"][0]
    response = await member.http.put(first["uploadUrl"], content=data[: MIB // 2])
    assert response.status_code == 400
    assert f"takes exactly {MIB} bytes; the request says {MIB // 2}" in response.json()["error"]
    assert [p["stored"] for p in (await prepare(member, project, entry))["parts"]] == [False] * 3


async def test_parts_that_make_other_bytes_are_refused_and_deleted(
    member: GraphQLClient, org: Org, pool: asyncpg.Pool, blob_store: BlobStore
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(2 * MIB)
    entry = file("claimed.bin", data)
    upload = await prepare(member, project, entry)
    wrong = bytearray(data)
    wrong[MIB + 7] ^= 0xFF
    for part in upload["parts"]:
        assert await put_part(member.http, part, bytes(wrong)) == 201
    refused = await member.http.post(upload["completeUrl"])
    assert refused.status_code == 400
    assert f"declared {2 * MIB} bytes with SHA-256 {entry['digest']}" in refused.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM blobs WHERE sha256 = $1", entry["digest"]) == 0
    assert await leftovers(blob_store) == []
    assert [p["stored"] for p in (await prepare(member, project, entry))["parts"]] == [False] * 2


async def test_part_urls_grant_one_part_of_one_size(member: GraphQLClient, org: Org) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(MIB + 1)
    upload = await prepare(member, project, file("two.bin", data))
    first, second = upload["parts"]
    url = urlsplit(first["uploadUrl"])
    query = dict(parse_qsl(url.query))

    def changed(path: str = url.path, **params: str) -> str:
        return f"{url.scheme}://{url.netloc}{path}?{urlencode({**query, **params})}"

    other_number = url.path.rsplit("/", 1)[0] + "/2"
    for forged in (changed(other_number), changed(size="1"), changed(org="1")):
        response = await member.http.put(forged, content=b"x")
        assert response.status_code == 403, forged
        assert "signature does not match" in response.json()["error"]
    not_an_upload = changed(url.path.replace("/parts/", "/parts/zz"))
    assert (await member.http.put(not_an_upload, content=b"x")).status_code == 404
    too_long = await member.http.put(first["uploadUrl"], content=data[: MIB + 1])
    assert too_long.status_code == 400
    # The completion URL is bound to its part size too.
    complete = urlsplit(upload["completeUrl"])
    stretched = urlencode({**dict(parse_qsl(complete.query)), "parts": str(2 * MIB)})
    assert (await member.http.post(f"{complete.path}?{stretched}")).status_code == 403
    assert second["size"] == 1


async def test_with_s3_parts_go_straight_to_the_bucket(
    s3_member: GraphQLClient, s3_endpoint: str, org: Org, pool: asyncpg.Pool
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(2 * MIB + 999)
    entry = file("s3-checkpoint.pt", data)
    upload = await prepare(s3_member, project, entry)
    assert [p["size"] for p in upload["parts"]] == [MIB, MIB, 999]
    assert all(p["uploadUrl"].startswith(f"{s3_endpoint}/{BUCKET}/") for p in upload["parts"])
    async with httpx.AsyncClient() as outside:
        for part in upload["parts"][:2]:
            assert await put_part(outside, part, data) == 200
        missing = await s3_member.http.post(upload["completeUrl"])
        assert missing.status_code == 409
        assert "(parts 3)" in missing.json()["error"]
        again = await prepare(s3_member, project, entry)
        assert [p["stored"] for p in again["parts"]] == [True, True, False]
        assert await put_part(outside, again["parts"][2], data) == 200
    done = await s3_member.http.post(upload["completeUrl"])
    assert (done.status_code, done.json()["md5"]) == (201, hashlib.md5(data).hexdigest())
    _, download = await log_and_download(s3_member, project, entry)
    assert download.content == data
    bucket = BlobStore.from_setting(f"s3://{BUCKET}", Path("unused"))
    staged = [
        str(each["path"])
        async for batch in obstore.list(bucket.store)
        for each in batch
        if "/incoming/" in str(each["path"])
    ]
    assert staged == []


async def test_too_many_parts_at_once_are_refused(member: GraphQLClient, org: Org) -> None:
    project = await new_project(org.member, org)
    eleven_gib = 11 * 2**30

    def huge(name: str) -> dict[str, Any]:
        return {
            "path": name,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "size": eleven_gib,
        }

    one = await prepare(member, project, huge("a.bin"))
    # 1 MiB parts would be more than 10,000; they grow to 2 MiB.
    assert len(one["parts"]) == 5632
    assert {p["size"] for p in one["parts"]} == {2 * MIB}
    data = await member.data(
        PREPARE, {"input": {"projectId": project, "files": [huge("a.bin"), huge("b.bin")]}}
    )
    (error,) = data["prepareArtifactFiles"]["errors"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert "go in 11264 parts; at most 10000" in error["message"]


async def test_parts_of_an_upload_under_way_are_kept_by_the_collector(
    member: GraphQLClient, org: Org, pool: asyncpg.Pool, blob_store: BlobStore
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(2 * MIB + 1)
    upload = await prepare(member, project, file("slow.bin", data))
    assert await put_part(member.http, upload["parts"][0], data) == 201
    kept = await collect(pool, blob_store, timedelta(days=1), staged_idle=timedelta(hours=1))
    assert kept.staged == 0
    after = await prepare(member, project, file("slow.bin", data))
    assert [p["stored"] for p in after["parts"]] == [True, False, False]
    gone = await collect(pool, blob_store, timedelta(days=1), staged_idle=timedelta(0))
    assert gone.staged == 3  # the upload's data file, and its one part's marker and lock
    assert await leftovers(blob_store) == []


async def test_a_part_is_written_by_one_request_at_a_time_and_never_again(
    member: GraphQLClient, org: Org, blob_store: BlobStore
) -> None:
    """Its bytes may be hashed as soon as it is there: a part once there is never written again,
    even by a request with other bytes, and the file still comes out as declared."""
    project = await new_project(org.member, org)
    data = os.urandom(2 * MIB + 5)
    entry = file("once.bin", data)
    upload = await prepare(member, project, entry)
    first, second, third = upload["parts"]
    upload_id = urlsplit(first["uploadUrl"]).path.split("/")[3]
    assert blob_store.folder is not None
    folder = blob_store.folder / "incoming" / "parts" / upload_id
    held = local_parts.claim_part(folder, 2)
    assert held is not None
    try:
        busy = await member.http.put(second["uploadUrl"], content=data[MIB : 2 * MIB])
        assert busy.status_code == 409
        assert "part 2 is being sent by another request" in busy.json()["error"]
    finally:
        os.close(held)
    for part in (first, second, third):
        assert await put_part(member.http, part, data) == 201
    other = os.urandom(MIB)
    assert (await member.http.put(first["uploadUrl"], content=other)).status_code == 201
    done = await member.http.post(upload["completeUrl"])
    assert done.status_code == 201, done.text
    _, download = await log_and_download(member, project, entry)
    assert download.content == data
