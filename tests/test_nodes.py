"""Every kind of object with a global ID is a Node: `node(id:)` and `nodes(ids:)` find API keys,
automations and deliveries for whoever may see them (as the lists that show them do), and answer
null to everyone else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import automations
from db.registries import registries_by_organization_name
from resolvers.secrets import seal
from schema.nodes import global_id
from tests.support.graphql import GraphQLClient

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on ApiKey { name } ... on Automation { name } ... on Delivery { status } } }"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def node(caller: GraphQLClient, node_id: str) -> Any:
    return (await caller.data(NODE, {"id": node_id}))["node"]


async def test_a_key_is_a_node_for_its_owner_only(
    ada: GraphQLClient, cy: GraphQLClient, dora: GraphQLClient
) -> None:
    keys = (await ada.data("{ viewer { apiKeys { id name } } }"))["viewer"]["apiKeys"]
    assert keys
    for key in keys:
        assert await node(ada, key["id"]) == {"__typename": "ApiKey", **key}
        assert await node(cy, key["id"]) is None
        assert await node(dora, key["id"]) is None


async def test_a_service_accounts_key_is_a_node_for_it_and_its_organizations_admins(
    client: httpx.AsyncClient, ada: GraphQLClient, bob: GraphQLClient, cy: GraphQLClient
) -> None:
    name = f"ci-{uuid.uuid4().hex[:8]}"
    account = await ada.data(
        """mutation($input: CreateServiceAccountInput!) { createServiceAccount(input: $input) {
          user { id } errors { code } } }""",
        {"input": {"organization": "acme", "name": name}},
    )
    user_id = account["createServiceAccount"]["user"]["id"]
    created = await ada.data(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
          apiKey { id name } secret errors { code } } }""",
        {"input": {"name": "deploy", "userId": user_id}},
    )
    key, secret = created["createApiKey"]["apiKey"], created["createApiKey"]["secret"]
    service = GraphQLClient(client, secret)
    expected = {"__typename": "ApiKey", **key}
    assert await node(ada, key["id"]) == expected  # an admin of its organization
    assert await node(service, key["id"]) == expected  # the account itself
    assert await node(bob, key["id"]) is None  # a member
    assert await node(cy, key["id"]) is None  # a viewer


@dataclass
class Watched:
    automation_id: str
    delivery_id: str


@pytest.fixture
async def watched(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[Watched]:
    """A disabled automation on acme's model registry, with one delivery, removed afterwards."""
    async with pool.acquire() as conn:
        organization_id = await conn.fetchval("SELECT id FROM organizations WHERE name = 'acme'")
        ada_id = await conn.fetchval("SELECT id FROM users WHERE name = 'ada'")
        (model,) = await registries_by_organization_name(conn, [(organization_id, "model")])
        assert model is not None
        created = await automations.insert_automation(
            conn,
            organization_id=organization_id,
            registry_id=model.id,
            collection_id=None,
            name=f"nodes-{uuid.uuid4().hex[:8]}",
            description="",
            enabled=False,
            events=["LINK_ARTIFACT"],
            filter_regex=None,
            webhook_url="https://ci.example.com/hook",
            headers=None,
            secret=seal("a secret"),
            payload_template="{}",
            created_by=ada_id,
        )
        assert created is not None
        await automations.insert_deliveries(conn, [created.id], "LINK_ARTIFACT", None, ["{}"])
        delivery = await conn.fetchval(
            "SELECT id FROM deliveries WHERE automation_id = $1", created.id
        )
    try:
        yield Watched(global_id("Automation", created.id), global_id("Delivery", delivery))
    finally:
        async with pool.acquire() as conn:
            await automations.delete_automation(conn, created.id)


async def test_automations_and_deliveries_are_nodes_for_the_registrys_members(
    watched: Watched,
    ada: GraphQLClient,
    bob: GraphQLClient,
    cy: GraphQLClient,
    dora: GraphQLClient,
) -> None:
    listed = await bob.data(
        """{ registry(organization: "acme", name: "model") { automations(first: 100) {
          nodes { id name deliveries(first: 1) { nodes { id status } } } } } }"""
    )
    (shown,) = [
        a for a in listed["registry"]["automations"]["nodes"] if a["id"] == watched.automation_id
    ]
    (delivery,) = shown["deliveries"]["nodes"]
    assert delivery["id"] == watched.delivery_id
    # ada administers the organization, bob is a MEMBER of the registry: both see it, by ID too.
    for caller in (ada, bob):
        assert await node(caller, watched.automation_id) == {
            "__typename": "Automation",
            "id": watched.automation_id,
            "name": shown["name"],
        }
        assert await node(caller, watched.delivery_id) == {
            "__typename": "Delivery",
            "id": watched.delivery_id,
            "status": "PENDING",
        }
    # cy only views the registry, which does not show her its automations; dora is a stranger.
    for caller in (cy, dora):
        assert await node(caller, watched.automation_id) is None
        assert await node(caller, watched.delivery_id) is None


async def test_nodes_answers_every_kind_in_order(
    watched: Watched, ada: GraphQLClient, cy: GraphQLClient
) -> None:
    key = (await ada.data("{ viewer { apiKeys { id } } }"))["viewer"]["apiKeys"][0]["id"]
    missing = global_id("Automation", 2**62)
    ids = [watched.delivery_id, key, missing, watched.automation_id]
    assert (await ada.data(NODES, {"ids": ids}))["nodes"] == [
        {"__typename": "Delivery", "id": watched.delivery_id},
        {"__typename": "ApiKey", "id": key},
        None,
        {"__typename": "Automation", "id": watched.automation_id},
    ]
    assert (await cy.data(NODES, {"ids": ids}))["nodes"] == [None, None, None, None]
