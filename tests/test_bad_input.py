"""Input that no field could ever use is refused at the door with an error that names it, and
nothing runs: text holding NUL (which PostgreSQL text cannot store) anywhere in the variables
or the document, and moments that have no UTC date."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support.databases import database_state
from tests.support.graphql import GraphQLClient

AS_OF = """query At($t: DateTime!) { registry(organization: "acme", name: "model") {
  collection(name: "churn-classifier") { version(alias: "production", asOf: $t) { version } } } }"""

CREATE_REGISTRY = """mutation M($input: CreateRegistryInput!) {
  createRegistry(input: $input) { registry { name } errors { code } } }"""


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return error


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_a_moment_without_a_utc_date_is_bad_input(ada: GraphQLClient, moment: str) -> None:
    response = await ada.post(AS_OF, {"t": moment})
    assert response.status_code == 422
    error = refusal(response.json())
    assert "outside the range of dates in UTC" in error["message"]
    assert "$t" in error["message"]


async def test_a_moment_in_a_literal_is_checked_the_same_way(ada: GraphQLClient) -> None:
    query = AS_OF.replace("($t: DateTime!)", "").replace("$t", '"9999-12-31T23:59:59-14:00"')
    body = (await ada.post(query)).json()
    assert "outside the range of dates in UTC" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_moments_with_and_without_an_offset_still_work(ada: GraphQLClient) -> None:
    for moment in ("2999-01-01T00:00:00Z", "2999-01-01T00:00:00", "2999-01-01T02:00:00+02:00"):
        data = await ada.data(AS_OF, {"t": moment})
        assert data["registry"]["collection"]["version"]["version"] == "v7"


@pytest.mark.parametrize(
    ("variables", "where"),
    [
        ({"input": {"organization": "acme", "name": "nul\x00name"}}, "$input.name"),
        (
            {"input": {"organization": "acme", "name": "fine", "description": "a\x00b"}},
            "$input.description",
        ),
        (
            {"input": {"organization": "acme", "name": "ok", "acceptedTypes": ["a", "m\x00"]}},
            "$input.acceptedTypes[1]",
        ),
    ],
    ids=["name", "description", "in-a-list"],
)
async def test_nul_in_a_variable_is_refused_naming_where(
    ada: GraphQLClient, pool: asyncpg.Pool, variables: dict[str, Any], where: str
) -> None:
    before = await database_state(pool)
    response = await ada.post(CREATE_REGISTRY, variables)
    assert response.status_code == 422
    error = refusal(response.json())
    assert error["message"].startswith(f"`{where}` holds a NUL character")
    assert await database_state(pool) == before


@pytest.mark.parametrize(
    "query",
    [
        '{ artifactVersion(path: "acme/wandb-registry-model/churn\\u0000:v1") { id } }',
        '{ nodes(ids: ["a", "b\\u0000"]) { id } }',
        'mutation { addTags(input: {id: "x", tags: ["a\\u0000"]}) { errors { code } } }',
    ],
    ids=["path", "in-a-list", "in-an-input-object"],
)
async def test_nul_in_a_literal_is_refused(
    ada: GraphQLClient, pool: asyncpg.Pool, query: str
) -> None:
    before = await database_state(pool)
    error = refusal((await ada.post(query)).json())
    assert error["message"].startswith("a string in the document holds a NUL character")
    assert await database_state(pool) == before


async def test_nul_inside_json_metadata_is_refused(ada: GraphQLClient) -> None:
    body = (
        await ada.post(
            """mutation M($input: LogArtifactInput!) {
              logArtifact(input: $input) { errors { code } } }""",
            {"input": {"metadata": {"deep": [{"k\x00": 1}]}}},
        )
    ).json()
    assert refusal(body)["message"].startswith("`$input.metadata.deep[0] (a key)` holds a NUL")
