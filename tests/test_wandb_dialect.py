"""The W&B dialect over HTTP, in-process: its credentials, its IDs, its limits and its refusals,
which the SDK tests (tests/test_wandb_sdk.py) reach only through the SDK's own behaviour."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest

from schema.wandb.accounts import FEATURES
from tests.support.graphql import GraphQLClient

WANDB = "/wandb/graphql"


def basic(key: str, user: str = "api") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}


@pytest.fixture
def ada(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["ada"], wandb=True)


@pytest.fixture
def bob(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["bob"], wandb=True)


@pytest.fixture
def cy(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["cy"], wandb=True)


async def message(api: GraphQLClient, query: str, **variables: Any) -> str:
    body = await api.errors(query, variables)
    text: str = body["errors"][0]["message"]
    return text


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param("basic", id="basic-api"),
        pytest.param("basic-any-user", id="basic-any-user"),
        pytest.param("bearer", id="bearer"),
    ],
)
async def test_the_key_is_read_as_the_sdk_sends_it(
    client: httpx.AsyncClient, demo: dict[str, str], headers: str
) -> None:
    key = demo["bob"]
    sent = {
        "basic": basic(key),
        "basic-any-user": basic(key, user="bob"),
        "bearer": {"Authorization": f"Bearer {key}"},
    }[headers]
    response = await client.post(WANDB, json={"query": "{ viewer { username } }"}, headers=sent)
    assert response.json()["data"] == {"viewer": {"username": "bob"}}


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "WANDB_API_KEY"),
        ("Basic not-base64!", "WANDB_API_KEY"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "WANDB_API_KEY"),
        ("Basic " + base64.b64encode(b"api:cairn_" + b"0" * 64).decode(), "not valid"),
    ],
)
async def test_a_missing_or_wrong_key_is_refused(
    client: httpx.AsyncClient, authorization: str | None, expected: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post(WANDB, json={"query": "{ viewer { username } }"}, headers=headers)
    assert response.status_code == 401
    assert expected in response.json()["errors"][0]["message"]
    assert response.headers["www-authenticate"] == 'Basic realm="cairn"'


async def test_an_empty_operation_name_names_none(
    client: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    body = {"query": "query Who { viewer { username } }", "operationName": ""}
    response = await client.post(WANDB, json=body, headers=basic(demo["cy"]))
    assert response.json()["data"] == {"viewer": {"username": "cy"}}


async def test_the_features_are_exactly_those_implemented(cy: GraphQLClient) -> None:
    data = await cy.data("{ serverInfo { features { name isEnabled } } }")
    assert data["serverInfo"]["features"] == [{"name": n, "isEnabled": True} for n in FEATURES]


@pytest.mark.parametrize("path", ["/wandb/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"])
async def test_the_sdks_telemetry_is_answered_at_once(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, content=b"\x0a\x00")
    assert response.status_code == 204


# --- IDs and pages ----------------------------------------------------------------------------


async def test_ids_are_wandb_ids_and_are_checked(cy: GraphQLClient) -> None:
    data = await cy.data(
        """{ project(entityName: "acme", name: "wandb-registry-model") { id internalId
             artifactCollectionMembership(name: "churn-classifier:production") {
               id artifact { id } } } }"""
    )
    project = data["project"]
    assert base64.b64decode(project["internalId"]).decode().startswith("ProjectInternalId:")
    artifact_id = project["artifactCollectionMembership"]["artifact"]["id"]
    kind, number = base64.b64decode(artifact_id).decode().split(":")
    assert kind == "Artifact"
    assert number.isdigit()
    again = await cy.data("query($id: ID!) { artifact(id: $id) { id } }", {"id": artifact_id})
    assert again == {"artifact": {"id": artifact_id}}

    wrong_kind = await message(cy, "query($id: ID!) { artifact(id: $id) { id } }", id=project["id"])
    assert wrong_kind.startswith("`id`")
    assert "not the ID of a Artifact" in wrong_kind
    garbage = await message(cy, '{ artifact(id: "%%%") { id } }')
    assert "not an ID this server handed out" in garbage


async def test_pages_larger_than_cairns_are_served_a_hundred_at_a_time(cy: GraphQLClient) -> None:
    query = """query($after: String) { organization(name: "acme") { orgEntity {
      artifactMemberships(first: 5000, after: $after) {
        pageInfo { endCursor hasNextPage } edges { node { id } } } } } }"""
    everything = (await cy.data(query))["organization"]["orgEntity"]["artifactMemberships"]
    assert not everything["pageInfo"]["hasNextPage"]
    small = query.replace("first: 5000", "first: 7")
    seen: list[str] = []
    after = None
    while True:
        data = await cy.data(small, {"after": after})
        page = data["organization"]["orgEntity"]["artifactMemberships"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["id"] for e in everything["edges"]]
    assert len(seen) == len(set(seen)) > 7


# --- refusals ---------------------------------------------------------------------------------


async def test_a_viewer_cannot_link_and_nothing_is_written(cy: GraphQLClient) -> None:
    found = await cy.data(
        """{ project(entityName: "acme", name: "wandb-registry-model") {
             artifactCollectionMembership(name: "churn-classifier:v1") { artifact { id } } } }"""
    )
    artifact_id = found["project"]["artifactCollectionMembership"]["artifact"]["id"]
    link = """mutation($input: LinkArtifactInput!) { linkArtifact(input: $input) {
      versionIndex } }"""
    refused = await message(
        cy,
        link,
        input={
            "artifactID": artifact_id,
            "entityName": "acme",
            "projectName": "wandb-registry-model",
            "artifactPortfolioName": "dialect-viewer-link",
        },
    )
    assert "linking needs the role MEMBER or higher" in refused
    missing = await cy.data(
        """{ project(entityName: "acme", name: "wandb-registry-model") {
             artifactCollection(name: "dialect-viewer-link") { id } } }"""
    )
    assert missing["project"]["artifactCollection"] is None


async def test_bad_changes_name_the_input_at_fault(ada: GraphQLClient, bob: GraphQLClient) -> None:
    found = await bob.data(
        """{ project(entityName: "acme", name: "churn") {
             artifactCollectionMembership(name: "churn-model:v2") {
               artifact { id metadata } } } }"""
    )
    artifact = found["project"]["artifactCollectionMembership"]["artifact"]
    update = """mutation($input: UpdateArtifactInput!) { updateArtifact(input: $input) {
      artifact { metadata } } }"""
    not_json = await message(bob, update, input={"artifactID": artifact["id"], "metadata": "{"})
    assert "`metadata` is not valid JSON" in not_json
    not_object = await message(bob, update, input={"artifactID": artifact["id"], "metadata": "[]"})
    assert "`metadata` must be a JSON object" in not_object
    bad_ttl = await message(
        bob, update, input={"artifactID": artifact["id"], "ttlDurationSeconds": -5}
    )
    assert "time to live" in bad_ttl
    after = await bob.data(
        """{ project(entityName: "acme", name: "churn") {
             artifactCollectionMembership(name: "churn-model:v2") { artifact { metadata } } } }"""
    )
    assert after["project"]["artifactCollectionMembership"]["artifact"] == {
        "metadata": artifact["metadata"]
    }

    upsert = """mutation($input: UpsertModelInput!) { upsertModel(input: $input) { inserted } }"""
    public = await message(
        ada,
        upsert,
        input={"name": "wandb-registry-x", "entityName": "acme", "access": "PUBLIC"},
    )
    assert "`input.access` must be PRIVATE or RESTRICTED" in public
    project = await message(ada, upsert, input={"name": "plain-project", "entityName": "acme"})
    assert "`input.name` names a registry as `wandb-registry-<name>`" in project


# --- the SDK's file route ---------------------------------------------------------------------


async def _file(api: GraphQLClient) -> dict[str, Any]:
    data = await api.data(
        """{ project(entityName: "acme", name: "wandb-registry-model") {
             artifactCollection(name: "churn-classifier") {
               artifactMembership(aliasName: "production") {
                 files(first: 1) { edges { node { name md5 directUrl } } } } } } }"""
    )
    collection = data["project"]["artifactCollection"]
    node: dict[str, Any] = collection["artifactMembership"]["files"]["edges"][0]["node"]
    return node


def file_route(name: str, md5_base64: str, registry: str = "model") -> str:
    md5 = base64.b64decode(md5_base64).hex()
    collection = "churn-classifier" if registry == "model" else "churn-evals"
    return f"/wandb/artifactsV2/default/acme/wandb-registry-{registry}/{collection}//{md5}/{name}"


async def test_a_file_by_md5_redirects_to_its_signed_url(
    client: httpx.AsyncClient, demo: dict[str, str], cy: GraphQLClient
) -> None:
    file = await _file(cy)
    route = file_route(file["name"], file["md5"])
    found = await client.get(route, headers=basic(demo["cy"]))
    assert found.status_code == 307
    data = await client.get(found.headers["location"])
    assert hashlib.md5(data.content).digest() == base64.b64decode(file["md5"])

    assert (await client.get(route)).status_code == 401
    other = route.replace(file["name"], "other-name.bin")
    assert (await client.get(other, headers=basic(demo["cy"]))).status_code == 404
    not_md5 = route.rsplit("/", 2)[0] + "/xyz/" + file["name"]
    assert (await client.get(not_md5, headers=basic(demo["cy"]))).status_code == 404
    # Someone of another organization finds nothing there.
    assert (await client.get(route, headers=basic(demo["dora"]))).status_code == 404


def test_every_key_cairn_makes_passes_the_sdks_own_check() -> None:
    from wandb.sdk.lib.wbauth.validation import check_api_key

    from resolvers.accounts import generate_key

    assert [problem for _ in range(500) if (problem := check_api_key(generate_key()))] == []
