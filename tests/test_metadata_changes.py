"""`setArtifactMetadata`: a content's metadata is replaced for every version of it, searches
see the new values at once, the registries' histories record the change, and bad metadata
changes nothing. On a database of its own, since the demo's metadata is searched
elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.app import own_demo
from tests.support.graphql import GraphQLClient

CHURN = "acme/wandb-registry-model/churn-classifier"
VERSION = """query($path: String!) { artifactVersion(path: $path) {
  id metadata source { metadata } } }"""
SET = """mutation($input: SetArtifactMetadataInput!) { setArtifactMetadata(input: $input) {
  artifactVersion { metadata } errors { code message field } } }"""
SEARCH = """query($filter: ArtifactVersionFilter) { artifactVersions(organization: "acme",
  filter: $filter, first: 50) { nodes { versionIndex collection { name } } } }"""
HISTORY = """{ registry(organization: "acme", name: "model") {
  history(first: 1) { nodes { action before after } } } }"""


@pytest.fixture(scope="module")
async def ada(server_url: str) -> AsyncIterator[GraphQLClient]:
    async with own_demo(server_url) as client:
        yield client


async def set_metadata(api: GraphQLClient, version_id: str, metadata: Any) -> dict[str, Any]:
    data = await api.data(SET, {"input": {"versionId": version_id, "metadata": metadata}})
    payload: dict[str, Any] = data["setArtifactMetadata"]
    return payload


async def test_new_metadata_is_shared_searched_and_recorded(ada: GraphQLClient) -> None:
    version = (await ada.data(VERSION, {"path": f"{CHURN}:v5"}))["artifactVersion"]
    new = {**version["metadata"], "auc": 0.99, "reviewed": {"by": "ada"}}
    changed = await set_metadata(ada, version["id"], new)
    assert changed == {"artifactVersion": {"metadata": new}, "errors": []}
    again = (await ada.data(VERSION, {"path": f"{CHURN}:v5"}))["artifactVersion"]
    assert again["source"]["metadata"] == new

    found = await ada.data(SEARCH, {"filter": {"metadata": [{"path": "reviewed.by", "eq": "ada"}]}})
    assert found["artifactVersions"]["nodes"] == [
        {"versionIndex": 5, "collection": {"name": "churn-classifier"}}
    ]
    event = (await ada.data(HISTORY))["registry"]["history"]["nodes"][0]
    assert event["action"] == "UPDATE_ARTIFACT_VERSION"
    assert event["before"] == {"metadata": version["metadata"]}
    assert event["after"] == {"metadata": new}


async def test_bad_metadata_changes_nothing(ada: GraphQLClient) -> None:
    version = (await ada.data(VERSION, {"path": f"{CHURN}:v4"}))["artifactVersion"]
    not_object = await set_metadata(ada, version["id"], [1, 2])
    assert [e["code"] for e in not_object["errors"]] == ["INVALID_ARGUMENT"]
    assert not_object["errors"][0]["field"] == ["input", "metadata"]
    after = (await ada.data(VERSION, {"path": f"{CHURN}:v4"}))["artifactVersion"]
    assert after["metadata"] == version["metadata"]
