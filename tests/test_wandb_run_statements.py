"""What the SDK's run path costs in SQL statements: a file stream request and an artifact's
commit run as many statements for one history line or file as for many."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from tests.support.app import asgi_client
from tests.support.statements import StatementCounter

ORG = "stream-counts"
PROJECT = "counted"
RUN = "counted-run"

# A file stream request: the key; the organization, the project and the run; then one
# transaction (BEGIN, the history lines in one statement, the run's summary, COMMIT).
BUDGET_STREAM = 1 + 3 + 4
# A commit: the key; the pending upload; the organization's blobs by MD5 (one statement for all
# files); the project, the sequence and the run; then the logging transaction: BEGIN, the
# upload again under its lock, the sequence and its lock, the content by digest, the blobs held
# (locked, all at once), the content, its files (all at once), the next index, the version and
# its row, `latest`, the upload's end, COMMIT.
BUDGET_COMMIT = 1 + 1 + 1 + 3 + 14


@pytest.fixture(scope="module")
async def key(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        organization = await create_organization_txn(conn, ORG, "Stream counts")
        member = await create_user_txn(conn, "stream-counter", "Counter")
        await add_member_txn(conn, organization, member, "MEMBER")
        made: str = await create_api_key_txn(conn, member.name, key_name="counts")
    return made


def basic(key: str) -> tuple[str, str]:
    return ("api", key)


async def dialect(client: httpx.AsyncClient, key: str, query: str, **variables: Any) -> Any:
    response = await client.post(
        "/wandb/graphql", json={"query": query, "variables": variables}, auth=basic(key)
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def counted(counter: StatementCounter, request: Callable[[], Awaitable[Any]]) -> int:
    """The app's statements for one request."""
    counter.reset()
    await request()
    return counter.count


@pytest.fixture(scope="module")
async def run(key: str, app: Any) -> None:
    async with asgi_client(app) as client:
        await dialect(
            client,
            key,
            "mutation($p: String, $n: String, $e: String) { upsertBucket(input: "
            "{modelName: $p, name: $n, entityName: $e}) { inserted } }",
            p=PROJECT,
            n=RUN,
            e=ORG,
        )


async def test_a_file_stream_request_costs_the_same_for_1_and_50_lines(
    client: httpx.AsyncClient,
    key: str,
    run: None,
    statement_counter: StatementCounter,
) -> None:
    url = f"/wandb/files/{ORG}/{PROJECT}/{RUN}/file_stream"
    counts = []
    offset = 0
    for lines in (1, 50):
        content = [f'{{"loss": {i}, "_step": {offset + i}}}' for i in range(lines)]
        body = {
            "files": {
                "wandb-history.jsonl": {"offset": offset, "content": content},
                "wandb-summary.json": {"offset": 0, "content": [content[-1]]},
            }
        }
        offset += lines

        async def send(body: dict[str, Any] = body) -> None:
            response = await client.post(url, json=body, auth=basic(key))
            assert response.status_code == 200, response.text

        await send()  # the key's use is recorded once a minute: not in the counted request
        counts.append(await counted(statement_counter, send))
    assert counts[0] == counts[1], counts
    assert counts[0] <= BUDGET_STREAM, statement_counter.dump()


async def pending_artifact(client: httpx.AsyncClient, key: str, name: str, files: int) -> str:
    """A pending artifact of `files` files, its bytes and manifest uploaded."""
    created = await dialect(
        client,
        key,
        """mutation($input: CreateArtifactInput!) { createArtifact(input: $input) {
             artifact { id } } }""",
        input={
            "entityName": ORG,
            "projectName": PROJECT,
            "runName": RUN,
            "artifactTypeName": "dataset",
            "artifactCollectionName": name,
            "digest": f"digest-{name}",
        },
    )
    artifact_id: str = created["createArtifact"]["artifact"]["id"]
    contents = {f"part-{i}.txt": f"{name} part {i}".encode() for i in range(files)}
    md5s = {p: base64.b64encode(hashlib.md5(c).digest()).decode() for p, c in contents.items()}
    prepared = await dialect(
        client,
        key,
        """mutation($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) {
             files { edges { node { uploadUrl } } } } }""",
        input={
            "artifactFiles": [
                {"artifactID": artifact_id, "name": p, "md5": md5s[p]} for p in contents
            ]
        },
    )
    for edge, content in zip(
        prepared["createArtifactFiles"]["files"]["edges"], contents.values(), strict=True
    ):
        assert (await client.put(edge["node"]["uploadUrl"], content=content)).status_code == 201
    manifest = await dialect(
        client,
        key,
        """mutation($id: ID!, $e: String!, $p: String!) { createArtifactManifest(input: {
             artifactID: $id, name: "wandb_manifest.json", digest: "d", entityName: $e,
             projectName: $p, type: FULL}) { artifactManifest { file { uploadUrl } } } }""",
        id=artifact_id,
        e=ORG,
        p=PROJECT,
    )
    url = manifest["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    body = {
        "version": 1,
        "contents": {p: {"digest": md5s[p], "size": len(c)} for p, c in contents.items()},
    }
    assert (await client.put(url, json=body)).status_code == 201
    return artifact_id


async def test_a_commit_costs_the_same_for_1_and_20_files(
    client: httpx.AsyncClient,
    key: str,
    run: None,
    statement_counter: StatementCounter,
) -> None:
    counts = []
    for files in (1, 20):
        artifact_id = await pending_artifact(client, key, f"counted-{files}", files)

        async def commit(artifact_id: str = artifact_id) -> None:
            data = await dialect(
                client,
                key,
                "mutation($id: ID!) { commitArtifact(input: {artifactID: $id}) "
                "{ artifact { id } } }",
                id=artifact_id,
            )
            assert data["commitArtifact"]["artifact"]["id"] == artifact_id

        counts.append(await counted(statement_counter, commit))
    assert counts[0] == counts[1], counts
    assert counts[0] <= BUDGET_COMMIT, f"{counts[0]}:\n{statement_counter.dump()}"
