"""JSON values users store (metadata, config, summary): numbers come back exactly as given,
nesting is bounded at the door with an error that says so, and no stored value can make an
answer fail."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from schema.nodes import decode_id
from tests.support.graphql import GraphQLClient
from tests.support.manifests import file, upload

LOG = """mutation($input: LogArtifactInput!) { logArtifact(input: $input) {
  artifactVersion { id metadata } errors { code message field } } }"""
READ = """query($id: ID!) { node(id: $id) { ... on ArtifactVersion { metadata } } }"""
BIG = 123456789012345678901234567890


def nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep (the outermost counts as one)."""
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth - 1):
        value = {"next": value}
    return value


async def new_project(caller: GraphQLClient) -> str:
    """A project of acme's own for the test, named to sort after the demo's."""
    data = await caller.data(
        """mutation($input: CreateProjectInput!) { createProject(input: $input) {
          project { id } errors { code } } }""",
        {"input": {"organization": "acme", "name": f"zz-json-{uuid.uuid4().hex[:8]}"}},
    )
    project_id: str = data["createProject"]["project"]["id"]
    return project_id


async def log(caller: GraphQLClient, metadata: Any) -> dict[str, Any]:
    name = f"json-{uuid.uuid4().hex[:8]}"
    project_id = await new_project(caller)
    manifest = [file("a.json", name.encode())]
    await upload(caller, manifest, projectId=project_id)
    variables = {
        "input": {
            "projectId": project_id,
            "name": name,
            "type": "dataset",
            "files": manifest,
            "metadata": metadata,
        }
    }
    response = await caller.http.post(
        "/graphql",
        # Written by hand: the standard library keeps integers of any size exact.
        content=json.dumps({"query": LOG, "variables": variables}),
        headers={"Authorization": f"Bearer {caller.key}", "Content-Type": "application/json"},
    )
    body = json.loads(response.text)
    assert response.status_code == 200, body
    payload: dict[str, Any] = body["data"]["logArtifact"]
    return payload


async def test_integers_of_any_size_come_back_exactly(ada: GraphQLClient) -> None:
    metadata = {"big": BIG, "negative": -BIG, "u64": 2**64 - 1, "float": 0.1, "small": 7}
    logged = await log(ada, metadata)
    assert logged["errors"] == []
    assert logged["artifactVersion"]["metadata"] == metadata
    response = await ada.post(READ, {"id": logged["artifactVersion"]["id"]})
    # Parsed by the standard library, which would show any float the server sent.
    read = json.loads(response.text)["data"]["node"]["metadata"]
    assert read == metadata
    assert f'"big":{BIG}' in response.text.replace(" ", "")


async def test_nesting_is_bounded_at_the_door(ada: GraphQLClient) -> None:
    deepest = await log(ada, nested(64))
    assert deepest["errors"] == []
    assert deepest["artifactVersion"]["metadata"] == nested(64)
    too_deep = await log(ada, nested(65))
    assert too_deep["artifactVersion"] is None
    assert too_deep["errors"] == [
        {
            "code": "INVALID_ARGUMENT",
            "message": "`metadata` is nested more than 64 levels deep",
            "field": ["input", "metadata"],
        }
    ]


async def test_a_deep_value_stored_before_the_bound_does_not_break_reads(
    ada: GraphQLClient, pool: asyncpg.Pool
) -> None:
    """Values stored before nesting was bounded (here written behind the API's back) still read:
    300 levels are more than the fast encoder writes."""
    logged = await log(ada, {"fine": True})
    _, version_row = decode_id(logged["artifactVersion"]["id"])
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE artifact_contents c SET metadata = $2::jsonb FROM artifact_versions v "
            "WHERE v.id = $1 AND c.id = v.content_id",
            version_row,
            nested(300),
        )
    response = await ada.post(READ, {"id": logged["artifactVersion"]["id"]})
    assert response.status_code == 200, response.text
    body = json.loads(response.text)
    assert body["data"] == {"node": {"metadata": nested(300)}}
    # However deep, a JSON value is one field of one object.
    assert body["extensions"]["cost"]["actualQueryCost"] == 1
