"""Files up and down: prepareArtifactFiles hands out signed upload URLs for the bytes the store
lacks, the transfer route keeps only bytes that match what was declared, logArtifact refuses
manifests whose bytes have not arrived, and each file's downloadUrl serves them back to a
client without an auth header, with ranges, length, type and ETag."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tarfile
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg
import httpx
import obstore
import pytest

from db.blobs import BlobStore
from server.settings import Settings
from tests.support.app import app_client
from tests.support.graphql import GraphQLClient
from tests.support.manifests import PREPARE, bytes_of, file, upload
from tests.support.mutations import refused
from tests.support.processes import free_port
from tests.support.s3 import BUCKET
from tests.support.workflow import Org, new_org, new_project

FILES = """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
  files { nodes { path digest size md5 downloadUrl } } } } }"""


async def prepare(client: GraphQLClient, project: str, manifest: list[dict[str, Any]]) -> Any:
    data = await client.data(PREPARE, {"input": {"projectId": project, "files": manifest}})
    return data["prepareArtifactFiles"]


async def files_of(client: GraphQLClient, version_id: str) -> list[dict[str, Any]]:
    data = await client.data(FILES, {"id": version_id})
    nodes: list[dict[str, Any]] = data["node"]["files"]["nodes"]
    return nodes


async def stored_rows(pool: asyncpg.Pool, digest: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM blobs WHERE sha256 = $1", digest)
    return count


async def staged_leftovers(blobs: BlobStore) -> list[str]:
    found: list[str] = []
    async for batch in obstore.list(blobs.store, prefix="incoming/"):
        found.extend(str(entry["path"]) for entry in batch)
    return found


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(pool, client, prefix="files")


async def test_files_go_up_are_checked_and_come_back_byte_for_byte(
    org: Org, pool: asyncpg.Pool
) -> None:
    project = await new_project(org.member, org)
    weights = os.urandom(300_000)
    manifest = [file("model/weights.bin", weights), file("README.md", b"# Churn model\n")]
    uploads = await prepare(org.member.client, project, manifest)
    assert uploads["errors"] == []
    assert [(u["path"], u["stored"]) for u in uploads["uploads"]] == [
        ("model/weights.bin", False),
        ("README.md", False),
    ]
    for sent in uploads["uploads"]:
        assert sent["uploadUrl"].startswith("http://cairn.test/files/upload/")
        assert sent["expiresAt"]
        # No auth header: the URL is the grant.
        response = await org.http.put(sent["uploadUrl"], content=bytes_of(sent["digest"]))
        assert response.status_code == 201, response.text
        assert response.json() == {
            "sha256": sent["digest"],
            "md5": hashlib.md5(bytes_of(sent["digest"])).hexdigest(),
            "size": sent["size"],
        }
    logged = await org.member.ok(
        "logArtifact", projectId=project, name="churn", type="model", files=manifest
    )
    found = await files_of(org.member.client, logged["artifactVersion"]["id"])
    assert [(f["path"], f["size"], f["md5"]) for f in found] == [
        ("README.md", 14, hashlib.md5(b"# Churn model\n").hexdigest()),
        ("model/weights.bin", 300_000, hashlib.md5(weights).hexdigest()),
    ]
    download = found[1]["downloadUrl"]
    response = await org.http.get(download)
    assert response.status_code == 200
    assert response.content == weights
    assert response.headers["content-length"] == "300000"
    assert response.headers["etag"] == f'"{hashlib.sha256(weights).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "application/octet-stream"
    assert "weights.bin" in response.headers["content-disposition"]
    readme = await org.http.get(found[0]["downloadUrl"])
    assert readme.content == b"# Churn model\n"
    assert readme.headers["content-type"].startswith("text/markdown")


async def test_range_requests_and_conditional_gets(org: Org) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(10_000)
    manifest = [file("data.bin", data)]
    logged = await org.member.log(projectId=project, name="d", type="dataset", files=manifest)
    (found,) = await files_of(org.member.client, logged["artifactVersion"]["id"])
    url = found["downloadUrl"]
    cases = {
        "bytes=0-99": (206, data[:100], "bytes 0-99/10000"),
        "bytes=9990-": (206, data[9990:], "bytes 9990-9999/10000"),
        "bytes=-10": (206, data[-10:], "bytes 9990-9999/10000"),
        "bytes=5000-99999": (206, data[5000:], "bytes 5000-9999/10000"),
    }
    for wanted, (status, body, content_range) in cases.items():
        response = await org.http.get(url, headers={"Range": wanted})
        assert response.status_code == status, wanted
        assert response.content == body, wanted
        assert response.headers["content-range"] == content_range, wanted
        assert response.headers["content-length"] == str(len(body)), wanted
    for unsatisfiable in ("bytes=10000-", "bytes=20-10", "bytes=-0", "items=0-1"):
        response = await org.http.get(url, headers={"Range": unsatisfiable})
        assert response.status_code == 416, unsatisfiable
        assert response.headers["content-range"] == "bytes */10000"
        assert unsatisfiable in response.json()["error"]
    # Several ranges at once: the whole file, as HTTP allows.
    whole = await org.http.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (whole.status_code, whole.content) == (200, data)
    # If-Range naming other bytes: the whole file, not a piece of something else.
    stale = await org.http.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, data)
    etag = whole.headers["etag"]
    not_modified = await org.http.get(url, headers={"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    head = await org.http.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == "10000"


async def test_bytes_already_stored_are_not_sent_again(org: Org, pool: asyncpg.Pool) -> None:
    """Deduplication across versions, artifacts and projects: the second manifest needs only
    the file that is new."""
    first = await new_project(org.member, org, "first")
    second = await new_project(org.member, org, "second")
    shared = file("shared.bin", os.urandom(5_000))
    await org.member.log(projectId=first, name="a", type="model", files=[shared])
    fresh = file("fresh.bin", os.urandom(5_000))
    payload = await prepare(org.member.client, second, [shared, fresh])
    assert [(u["path"], u["stored"], u["uploadUrl"] is None) for u in payload["uploads"]] == [
        ("shared.bin", True, True),
        ("fresh.bin", False, False),
    ]
    assert await stored_rows(pool, shared["digest"]) == 1


async def test_a_manifest_whose_bytes_have_not_arrived_is_refused_naming_them(
    org: Org, pool: asyncpg.Pool
) -> None:
    project = await new_project(org.member, org)
    sent = file("sent.bin", os.urandom(100))
    await upload(org.member.client, [sent], projectId=project)
    missing = [file(f"missing-{n}.bin", os.urandom(100)) for n in range(12)]
    payload = await refused(
        org.member.client,
        pool,
        "logArtifact",
        {"projectId": project, "name": "m", "type": "model", "files": [sent, *missing]},
    )
    (error,) = payload["errors"]
    assert error["code"] == "FILES_NOT_STORED"
    assert error["field"] == ["input", "files"]
    assert error["message"].startswith("12 of 13 files have no stored bytes: 'missing-0.bin'")
    assert "and 2 more" in error["message"]
    assert "sent.bin" not in error["message"]


@pytest.mark.parametrize(
    ("wrong", "status", "message"),
    [
        ("other bytes", 400, "declared 1000 bytes with SHA-256"),
        ("truncated", 400, "this URL takes exactly 1000 bytes; the request says 500"),
        ("too long", 400, "this URL takes exactly 1000 bytes; the request says 1001"),
        ("streamed too long", 413, "more than the 1000 bytes declared arrived"),
        ("streamed truncated", 400, "received 500 bytes"),
    ],
)
async def test_bytes_that_are_not_the_declared_ones_are_refused_and_not_kept(
    org: Org, pool: asyncpg.Pool, blob_store: BlobStore, wrong: str, status: int, message: str
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(1000)
    entry = file("f.bin", data)
    (sent,) = (await prepare(org.member.client, project, [entry]))["uploads"]
    body: Any = {
        "other bytes": os.urandom(1000),
        "truncated": data[:500],
        "too long": data + b"x",
    }.get(wrong)
    if wrong.startswith("streamed"):
        # Without a Content-Length, the server counts as the bytes arrive.
        extra = data + b"x" if wrong == "streamed too long" else data[:500]

        async def chunks() -> Any:
            yield extra

        body = chunks()
    response = await org.http.put(sent["uploadUrl"], content=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert await stored_rows(pool, entry["digest"]) == 0
    assert not await blob_store.exists(entry["digest"])
    assert await staged_leftovers(blob_store) == []


async def test_signed_urls_cannot_be_forged_stretched_or_used_late(
    org: Org, pool: asyncpg.Pool
) -> None:
    project = await new_project(org.member, org)
    one, other = file("one.bin", os.urandom(64)), file("other.bin", os.urandom(64))
    logged = await org.member.log(projectId=project, name="x", type="model", files=[one, other])
    found = {
        f["path"]: f for f in await files_of(org.member.client, logged["artifactVersion"]["id"])
    }
    url = urlsplit(found["one.bin"]["downloadUrl"])
    query = dict(parse_qsl(url.query))

    def changed(path: str = url.path, **params: str) -> str:
        return f"{url.scheme}://{url.netloc}{path}?{urlencode({**query, **params})}"

    other_digest = other["digest"]
    forged = {
        "another file's bytes": changed(url.path.replace(one["digest"], other_digest)),
        "another name": changed(url.path.replace("one.bin", "evil.html")),
        "a later expiry": changed(expires=str(int(query["expires"]) + 3600)),
        "a made-up signature": changed(signature="A" * 43),
        "no signature": changed(signature=""),
    }
    for what, forged_url in forged.items():
        response = await org.http.get(forged_url)
        assert response.status_code == 403, what
        assert "signature does not match" in response.json()["error"], what
    assert (await org.http.get(changed())).content == bytes_of(one["digest"])
    # An upload URL grants one size of one blob: not another size.
    entry = file("new.bin", os.urandom(10))
    (sent,) = (await prepare(org.member.client, project, [entry]))["uploads"]
    upload_url = urlsplit(sent["uploadUrl"])
    bigger = dict(parse_qsl(upload_url.query), size="1000000")
    response = await org.http.put(
        f"{upload_url.scheme}://{upload_url.netloc}{upload_url.path}?{urlencode(bigger)}",
        content=b"x" * 1_000_000,
    )
    assert response.status_code == 403
    assert await stored_rows(pool, entry["digest"]) == 0


async def test_urls_stop_working_when_they_expire(org: Org, pool: asyncpg.Pool) -> None:
    project = await new_project(org.member, org)
    entry = file("late.bin", os.urandom(10))
    async with app_client(pool, Settings(transfer_url_seconds=-1)) as expired_http:
        late = GraphQLClient(expired_http, org.member.client.key)
        (sent,) = (await prepare(late, project, [entry]))["uploads"]
        response = await expired_http.put(sent["uploadUrl"], content=bytes_of(entry["digest"]))
        assert response.status_code == 403
        assert "this URL expired at" in response.json()["error"]
        assert await stored_rows(pool, entry["digest"]) == 0


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../outside.bin", "must not have empty, `.` or `..` parts"),
        ("a/../../b", "must not have empty, `.` or `..` parts"),
        ("/etc/passwd", "must be relative, not start with /"),
        ("a//b", "must not have empty, `.` or `..` parts"),
        ("./a", "must not have empty, `.` or `..` parts"),
        ("dir/", "must not have empty, `.` or `..` parts"),
        ("a\\b", "must not hold NUL characters or backslashes"),
    ],
)
async def test_paths_that_leave_the_artifact_are_refused(
    org: Org, pool: asyncpg.Pool, path: str, problem: str
) -> None:
    project = await new_project(org.member, org)
    entry = file(path, b"x")
    for mutation in ("prepareArtifactFiles", "logArtifact"):
        extra = {"name": "p", "type": "model"} if mutation == "logArtifact" else {}
        payload = await refused(
            org.member.client, pool, mutation, {"projectId": project, "files": [entry], **extra}
        )
        (error,) = payload["errors"]
        assert error["code"] == "INVALID_ARGUMENT"
        assert error["message"] == f"files[0]: the path {path!r} {problem}"


async def test_duplicate_paths_and_bad_digests_are_refused(org: Org, pool: asyncpg.Pool) -> None:
    project = await new_project(org.member, org)
    a, b = file("same.bin", b"a"), file("same.bin", b"b")
    payload = await refused(
        org.member.client, pool, "prepareArtifactFiles", {"projectId": project, "files": [a, b]}
    )
    assert payload["errors"][0]["message"] == "files[1]: the path 'same.bin' appears twice"
    bad = {"path": "x.bin", "digest": "9f2c", "size": 1}
    payload = await refused(
        org.member.client, pool, "prepareArtifactFiles", {"projectId": project, "files": [bad]}
    )
    assert "must be the SHA-256 of its bytes in lower-case hex" in payload["errors"][0]["message"]


async def test_uploading_needs_the_member_role(org: Org, pool: asyncpg.Pool) -> None:
    project = await new_project(org.member, org)
    entry = file("v.bin", b"viewer")
    payload = await refused(
        org.viewer.client, pool, "prepareArtifactFiles", {"projectId": project, "files": [entry]}
    )
    assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]


async def test_concurrent_uploads_of_the_same_bytes_keep_one_blob(
    org: Org, pool: asyncpg.Pool, blob_store: BlobStore
) -> None:
    project = await new_project(org.member, org)
    data = os.urandom(200_000)
    entry = file("same.bin", data)
    (sent,) = (await prepare(org.member.client, project, [entry]))["uploads"]
    responses = await asyncio.gather(
        *(org.http.put(sent["uploadUrl"], content=data) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert await stored_rows(pool, entry["digest"]) == 1
    assert await staged_leftovers(blob_store) == []
    chunks = await blob_store.read(entry["digest"])
    assert b"".join([c async for c in chunks]) == data


async def test_downloads_need_the_url_only(org: Org, anonymous: GraphQLClient) -> None:
    """No Authorization header, and none needed; but without the URL the files cannot be
    listed."""
    project = await new_project(org.member, org)
    logged = await org.member.log(
        projectId=project, name="n", type="model", files=[file("n.bin", b"no auth")]
    )
    (found,) = await files_of(org.member.client, logged["artifactVersion"]["id"])
    response = await anonymous.http.get(found["downloadUrl"])
    assert response.content == b"no auth"
    listed = await anonymous.post(FILES, {"id": logged["artifactVersion"]["id"]})
    assert listed.status_code == 401


async def test_a_whole_version_as_one_archive_and_its_manifest_as_json(org: Org) -> None:
    project = await new_project(org.member, org)
    contents = {
        "model/weights.bin": os.urandom(70_000),
        "model/config.json": b'{"layers": 12}',
        "empty.txt": b"",
        "deep/" + "long-directory-name/" * 8 + "file.txt": b"a path longer than 100 bytes",
    }
    manifest = [file(path, data) for path, data in contents.items()]
    logged = await org.member.log(projectId=project, name="whole", type="model", files=manifest)
    data = await org.member.client.data(
        "query($id: ID!) { node(id: $id) { ... on ArtifactVersion { archiveUrl manifestUrl } } }",
        {"id": logged["artifactVersion"]["id"]},
    )
    archive = await org.http.get(data["node"]["archiveUrl"])
    assert archive.status_code == 200, archive.text
    assert archive.headers["content-type"] == "application/x-tar"
    assert "whole-v0.tar" in archive.headers["content-disposition"]
    assert int(archive.headers["content-length"]) == len(archive.content)
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        unpacked = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert unpacked == contents
    described = (await org.http.get(data["node"]["manifestUrl"])).json()
    assert described == {
        "files": [
            {
                "path": path,
                "size": len(contents[path]),
                "sha256": hashlib.sha256(contents[path]).hexdigest(),
                "md5": hashlib.md5(contents[path]).hexdigest(),
            }
            for path in sorted(contents)
        ]
    }


def tar_of(members: list[tuple[str, bytes]], *, end: bool = True) -> bytes:
    """A ustar archive of (name, bytes) members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    whole = out.getvalue()
    return whole if end else whole.rstrip(b"\0")


async def prepare_batch(org: Org, contents: list[bytes]) -> tuple[str, list[dict[str, Any]]]:
    project = await new_project(org.member, org)
    manifest = [file(f"f{i}.bin", data) for i, data in enumerate(contents)]
    data = await org.member.client.data(
        """mutation M($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input) {
          batchUploadUrl errors { code } } }""",
        {"input": {"projectId": project, "files": manifest}},
    )
    return data["prepareArtifactFiles"]["batchUploadUrl"], manifest


async def test_many_files_in_one_archive_to_the_batch_url(org: Org, pool: asyncpg.Pool) -> None:
    contents = [os.urandom(n) for n in (0, 1, 511, 512, 3000, 2_000_000)]
    url, manifest = await prepare_batch(org, contents)
    body = tar_of([(f["digest"], bytes_of(f["digest"])) for f in manifest])
    response = await org.http.put(url, content=body)
    assert (response.status_code, response.json()) == (201, {"stored": 6})
    for entry in manifest:
        assert await stored_rows(pool, entry["digest"]) == 1
    # All there: nothing left to send, and no batch URL.
    again = await prepare(org.member.client, await new_project(org.member, org, "q"), manifest)
    assert all(u["stored"] for u in again["uploads"])


@pytest.mark.parametrize(
    ("breakage", "status", "message"),
    [
        ("a member named otherwise", 400, "members are named by their SHA-256"),
        ("bytes of another digest", 400, "declared 2000 bytes with SHA-256"),
        ("more bytes than granted", 413, "more than the 4000 bytes this URL takes"),
        ("cut off inside a member", 400, "the archive ends inside member"),
        ("not a tar archive", 400, "not a tar header"),
    ],
)
async def test_a_broken_batch_keeps_only_the_members_before_the_break(
    org: Org,
    pool: asyncpg.Pool,
    blob_store: BlobStore,
    breakage: str,
    status: int,
    message: str,
) -> None:
    first, second = os.urandom(2000), os.urandom(2000)
    url, manifest = await prepare_batch(org, [first, second])
    good = (manifest[0]["digest"], first)
    second_member = {
        "a member named otherwise": ("../../etc/passwd", second),
        "bytes of another digest": (manifest[1]["digest"], os.urandom(2000)),
        "more bytes than granted": (manifest[1]["digest"], second + b"x"),
    }.get(breakage, (manifest[1]["digest"], second))
    body = tar_of([good, second_member])
    if breakage == "cut off inside a member":
        body = body[: 512 + 2048 + 512 + 1000]
    elif breakage == "not a tar archive":
        body = b"PK\x03\x04" + bytes(1020)
    response = await org.http.put(url, content=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    kept_first = breakage != "not a tar archive"
    assert await stored_rows(pool, manifest[0]["digest"]) == int(kept_first)
    assert await stored_rows(pool, manifest[1]["digest"]) == 0
    assert await staged_leftovers(blob_store) == []


async def test_a_batch_url_cannot_be_stretched(org: Org) -> None:
    url, manifest = await prepare_batch(org, [os.urandom(100)])
    parts = urlsplit(url)
    bigger = urlencode({**dict(parse_qsl(parts.query)), "bytes": "1000000000"})
    body = tar_of([(manifest[0]["digest"], bytes_of(manifest[0]["digest"]))])
    response = await org.http.put(
        f"{parts.scheme}://{parts.netloc}{parts.path}?{bigger}", content=body
    )
    assert response.status_code == 403


async def test_the_largest_manifest_fits_in_one_request(org: Org) -> None:
    """10,000 files with 1,000-character paths: about 11 MB of JSON, within the body limit."""
    project = await new_project(org.member, org)
    manifest = [
        {
            "path": f"{i:05d}/" + "p" * 994,
            "digest": hashlib.sha256(b"%d" % i).hexdigest(),
            "size": 1,
        }
        for i in range(10_000)
    ]
    payload = await prepare(org.member.client, project, manifest)
    assert payload["errors"] == []
    assert len(payload["uploads"]) == 10_000


async def test_an_object_store_that_is_down_is_named_and_nothing_is_recorded(
    org: Org, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 at an address where nothing listens: uploads and downloads answer 503 within seconds,
    saying the store is unavailable; no blob is recorded."""
    project = await new_project(org.member, org)
    stored_entry = file("before.bin", os.urandom(100))
    logged = await org.member.log(
        projectId=project, name="down", type="model", files=[stored_entry]
    )
    (before,) = await files_of(org.member.client, logged["artifactVersion"]["id"])
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "down",
        "AWS_SECRET_ACCESS_KEY": "down",
    }.items():
        monkeypatch.setenv(name, value)
    entry = file("new.bin", os.urandom(100))
    async with app_client(pool, Settings(storage="s3://nowhere/blobs")) as down_http:
        down = GraphQLClient(down_http, org.member.client.key)
        prepared = await prepare(down, project, [entry])
        (sent,) = prepared["uploads"]
        # Bytes sent through the server (many small files in one archive), and bytes the client
        # says it sent straight to the store: both need the store, and both say it is down.
        body = tar_of([(entry["digest"], bytes_of(entry["digest"]))])
        batch = await down_http.put(prepared["batchUploadUrl"], content=body)
        completed = await down_http.post(sent["completeUrl"])
        for response in (batch, completed):
            assert response.status_code == 503
            assert response.json() == {"error": "the blob store is unavailable; try again later"}
        assert await stored_rows(pool, entry["digest"]) == 0
        # A file recorded as stored, asked of the store that is down.
        response = await down_http.get(before["downloadUrl"])
        assert response.status_code == 503


@pytest.fixture
async def s3_app(
    s3_endpoint: str, pool: asyncpg.Pool, org: Org
) -> AsyncIterator[tuple[GraphQLClient, httpx.AsyncClient]]:
    """The member's client of an app whose blob store is S3 (moto's server)."""
    settings = Settings(storage=f"s3://{BUCKET}/t-{uuid.uuid4().hex[:8]}")
    async with app_client(pool, settings) as http:
        yield GraphQLClient(http, org.member.client.key), http


async def test_with_s3_bytes_go_straight_to_the_store_and_are_read_back(
    s3_app: tuple[GraphQLClient, httpx.AsyncClient], s3_endpoint: str, org: Org, pool: asyncpg.Pool
) -> None:
    member, http = s3_app
    project = await new_project(org.member, org)
    data = os.urandom(300_000)
    entry = file("weights.bin", data)
    (sent,) = (await prepare(member, project, [entry]))["uploads"]
    assert sent["uploadUrl"].startswith(f"{s3_endpoint}/{BUCKET}/")
    assert sent["completeUrl"].startswith("http://cairn.test/files/complete/")
    # Completing before anything was sent says so.
    early = await http.post(sent["completeUrl"])
    assert early.status_code == 409
    assert "PUT the bytes there first" in early.json()["error"]
    async with httpx.AsyncClient() as outside:
        assert (await outside.put(sent["uploadUrl"], content=data)).status_code == 200
    done = await http.post(sent["completeUrl"])
    assert (done.status_code, done.json()["md5"]) == (201, hashlib.md5(data).hexdigest())
    logged = await member.data(
        """mutation($input: LogArtifactInput!) { logArtifact(input: $input) {
          artifactVersion { files { nodes { downloadUrl } } } errors { code } } }""",
        {"input": {"projectId": project, "name": "s3", "type": "model", "files": [entry]}},
    )
    (found,) = logged["logArtifact"]["artifactVersion"]["files"]["nodes"]
    assert (await http.get(found["downloadUrl"])).content == data


async def test_with_s3_other_bytes_put_straight_to_the_store_are_refused_and_deleted(
    s3_app: tuple[GraphQLClient, httpx.AsyncClient], org: Org, pool: asyncpg.Pool
) -> None:
    member, http = s3_app
    project = await new_project(org.member, org)
    entry = file("claimed.bin", os.urandom(1000))
    (sent,) = (await prepare(member, project, [entry]))["uploads"]
    async with httpx.AsyncClient() as outside:
        assert (await outside.put(sent["uploadUrl"], content=os.urandom(1000))).status_code == 200
    refused_completion = await http.post(sent["completeUrl"])
    assert refused_completion.status_code == 400
    assert "declared 1000 bytes with SHA-256" in refused_completion.json()["error"]
    assert await stored_rows(pool, entry["digest"]) == 0
    # The staged object is gone: completing again finds nothing.
    assert (await http.post(sent["completeUrl"])).status_code == 409
    # The completion URL grants that key and that digest only.
    parts = urlsplit(sent["completeUrl"])
    other_key = urlencode({**dict(parse_qsl(parts.query)), "key": "incoming/other"})
    forged = await http.post(f"{parts.scheme}://{parts.netloc}{parts.path}?{other_key}")
    assert forged.status_code == 403


async def test_knowing_a_digest_reaches_no_other_organizations_bytes(
    org: Org, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    """Another organization's member who learns a file's SHA-256 cannot log it without sending
    the bytes, nor learn that they are stored here; sending them makes the bytes theirs too,
    still stored once."""
    secret = file("weights.bin", os.urandom(4000))
    await org.member.log(
        projectId=await new_project(org.member, org), name="s", type="model", files=[secret]
    )
    other = await new_org(pool, client, prefix="other")
    project = await new_project(other.member, other)
    (sent,) = (await prepare(other.member.client, project, [secret]))["uploads"]
    assert (sent["stored"], sent["uploadUrl"] is not None) == (False, True)
    payload = await refused(
        other.member.client,
        pool,
        "logArtifact",
        {"projectId": project, "name": "stolen", "type": "model", "files": [secret]},
    )
    assert [e["code"] for e in payload["errors"]] == ["FILES_NOT_STORED"]
    await upload(other.member.client, [secret], projectId=project)
    logged = await other.member.ok(
        "logArtifact", projectId=project, name="own", type="model", files=[secret]
    )
    assert logged["artifactVersion"]["id"]
    assert await stored_rows(pool, secret["digest"]) == 1
