"""Renaming a registry (`updateRegistry(name:)`, and the wandb SDK's `Registry.save()`): paths
follow the new name, the history records it, names stay unique whatever their case, and core
registries keep theirs. On a database of its own, since the changes would show in other tests'
demo data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.app import own_demo
from tests.support.graphql import GraphQLClient

UPDATE = """mutation M($input: UpdateRegistryInput!) { updateRegistry(input: $input) {
  registry { name } errors { code message field } } }"""
CREATE = """mutation M($input: CreateRegistryInput!) { createRegistry(input: $input) {
  registry { id name } errors { code message } } }"""
HISTORY = """query($name: String!) { registry(organization: "acme", name: $name) {
  history(first: 5) { nodes { action before after actor { name } } } } }"""


@pytest.fixture(scope="module")
async def ada(server_url: str) -> AsyncIterator[GraphQLClient]:
    async with own_demo(server_url) as client:
        yield client


async def registry_id(ada: GraphQLClient, name: str) -> str:
    found = await ada.data(
        'query($n: String!) { registry(organization: "acme", name: $n) { id } }', {"n": name}
    )
    assert found["registry"] is not None, name
    identifier: str = found["registry"]["id"]
    return identifier


async def create(ada: GraphQLClient, name: str) -> str:
    made = await ada.data(
        CREATE, {"input": {"organization": "acme", "name": name, "acceptedTypes": ["model"]}}
    )
    assert made["createRegistry"]["errors"] == [], made
    identifier: str = made["createRegistry"]["registry"]["id"]
    return identifier


async def rename(ada: GraphQLClient, identifier: str, name: str) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await ada.data(UPDATE, {"input": {"registryId": identifier, "name": name}})
    )["updateRegistry"]
    return payload


async def test_a_renamed_registry_answers_to_its_new_name_only(ada: GraphQLClient) -> None:
    identifier = await create(ada, "staging-models")
    renamed = await rename(ada, identifier, "candidate-models")
    assert renamed == {"registry": {"name": "candidate-models"}, "errors": []}
    assert await registry_id(ada, "candidate-models") == identifier
    gone = await ada.data('{ registry(organization: "acme", name: "staging-models") { id } }')
    assert gone["registry"] is None
    history = (await ada.data(HISTORY, {"name": "candidate-models"}))["registry"]["history"]
    assert history["nodes"][0] == {
        "action": "UPDATE_REGISTRY",
        "before": {"name": "staging-models"},
        "after": {"name": "candidate-models"},
        "actor": {"name": "ada"},
    }


async def test_a_taken_name_in_any_case_is_refused(ada: GraphQLClient) -> None:
    identifier = await create(ada, "shadow-models")
    taken = await rename(ada, identifier, "MODEL")
    assert taken["registry"] is None
    assert [e["code"] for e in taken["errors"]] == ["NAME_TAKEN"]
    assert taken["errors"][0]["field"] == ["input", "name"]
    bad = await rename(ada, identifier, "a/b")
    assert [e["code"] for e in bad["errors"]] == ["INVALID_NAME"]
    assert await registry_id(ada, "shadow-models") == identifier


async def test_core_registries_keep_their_names(ada: GraphQLClient) -> None:
    core = await rename(ada, await registry_id(ada, "model"), "models")
    assert [e["code"] for e in core["errors"]] == ["INVALID_ARGUMENT"]
    assert "keeps its name" in core["errors"][0]["message"]
    assert await registry_id(ada, "model")


async def test_concurrent_renames_to_one_name_leave_one_holder(ada: GraphQLClient) -> None:
    first, second = await create(ada, "race-a"), await create(ada, "race-b")
    results = await asyncio.gather(
        rename(ada, first, "race-winner"), rename(ada, second, "Race-Winner")
    )
    codes = sorted(e["code"] for r in results for e in r["errors"])
    assert codes == ["NAME_TAKEN"]
    winner = await registry_id(ada, "race-winner")
    assert winner in (first, second)
    loser = second if winner == first else first
    assert await registry_id(ada, "race-b" if loser == second else "race-a") == loser
