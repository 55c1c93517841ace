"""The registry's workflow through GraphQL, as test_workflow.py walks it and the concurrency and
statement-count tests reuse it: what each mutation's payload selects, a fresh organization with
an admin, a member and a viewer (each an `Api` with the history reads), and model versions
logged and linked through it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from db import registries
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from schema.nodes import decode_id
from tests.support import graphql
from tests.support.graphql import GraphQLClient
from tests.support.manifests import files, upload

VERSION = """id versionIndex version digest size type metadata description isLink aliases tags
path createdAt linkedAt linkedBy { name } createdBy { id name } source { id }
collection { id name type }"""
RUN = "id name state config summary createdAt finishedAt user { name } project { id name }"
REGISTRY = """id name fullName description visibility acceptsAllTypes acceptedTypes
protectedAliases isCore"""
COLLECTION = "id name type description tags"

# What each mutation's payload returns besides `errors`.
SELECTIONS = {
    "createProject": "project { id name description }",
    "createRun": f"run {{ {RUN} }}",
    "updateRun": f"run {{ {RUN} }}",
    "finishRun": f"run {{ {RUN} }}",
    "logArtifact": f"artifactVersion {{ {VERSION} }}",
    "useArtifact": f"run {{ id }} artifactVersion {{ {VERSION} }}",
    "createRegistry": f"registry {{ {REGISTRY} }}",
    "updateRegistry": f"registry {{ {REGISTRY} }}",
    "deleteRegistry": "deletedRegistryId",
    "createCollection": f"collection {{ {COLLECTION} }}",
    "updateCollection": f"collection {{ {COLLECTION} }}",
    "deleteCollection": "deletedCollectionId",
    "linkArtifact": f"artifactVersion {{ {VERSION} }}",
    "unlinkArtifact": f"""unlinkedVersionId collection {{ {COLLECTION}
        versions {{ totalCount nodes {{ id version aliases }} }} }}""",
    "addAliases": f"artifactVersion {{ {VERSION} }}",
    "removeAliases": f"artifactVersion {{ {VERSION} }}",
    "addTags": f"collection {{ {COLLECTION} }} artifactVersion {{ {VERSION} }}",
    "removeTags": f"collection {{ {COLLECTION} }} artifactVersion {{ {VERSION} }}",
    "updateArtifactVersion": f"artifactVersion {{ {VERSION} }}",
}

EVENT = "action targetType targetId before after createdAt actor { name }"
HISTORY = """
query History($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
              $actions: [AuditAction!]) {
  node(id: $id) {
    ... on Collection { history(first: $first, after: $after, last: $last, before: $before,
                                actions: $actions) { ...page } }
    ... on Registry { history(first: $first, after: $after, last: $last, before: $before,
                              actions: $actions) { ...page } }
  }
}
fragment page on AuditEventConnection {
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor }
  nodes { EVENT }
}
""".replace("EVENT", EVENT)


class Api(graphql.Api):
    """One user of the workflow: its mutations, and versions and audit history to read."""

    def __init__(self, client: GraphQLClient, name: str) -> None:
        super().__init__(client, name, SELECTIONS)

    async def log(self, **input: Any) -> dict[str, Any]:
        """logArtifact, after sending the manifest's bytes as a client does."""
        where = {k: input[k] for k in ("projectId", "runId") if k in input}
        await upload(self.client, input["files"], **where)
        return await self.ok("logArtifact", **input)

    async def version(self, version_id: str) -> dict[str, Any]:
        found = await self.node(version_id, f"... on ArtifactVersion {{ {VERSION} }}")
        assert found is not None, version_id
        return dict(found)

    async def history(self, node_id: str, **arguments: Any) -> dict[str, Any]:
        data = await self.client.data(HISTORY, {"id": node_id, **arguments})
        assert data["node"] is not None, node_id
        page: dict[str, Any] = data["node"]["history"]
        return page

    async def events(self, node_id: str, **arguments: Any) -> list[dict[str, Any]]:
        """The whole history, newest first (pages of 100)."""
        events: list[dict[str, Any]] = []
        after = None
        while True:
            page = await self.history(node_id, first=100, after=after, **arguments)
            events.extend(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                assert len(events) == page["totalCount"]
                return events
            after = page["pageInfo"]["endCursor"]


@dataclass
class Org:
    name: str
    id: int
    admin: Api  # organization ADMIN: effective registry ADMIN everywhere
    member: Api  # organization MEMBER: a registry VIEWER unless given a role
    viewer: Api  # organization VIEWER
    http: httpx.AsyncClient
    pool: asyncpg.Pool

    async def grant(self, registry_id: str, user: Api, role: str) -> None:
        """A direct registry role (the API has no mutation for registry members yet)."""
        kind, registry_row = decode_id(registry_id)
        assert kind == "Registry"
        async with self.pool.acquire() as conn:
            found = await conn.fetchval("SELECT id FROM users WHERE name = $1", user.name)
            await registries.set_registry_user_role(conn, registry_row, found, role)


async def new_org(pool: asyncpg.Pool, http: httpx.AsyncClient, prefix: str = "wf") -> Org:
    """A fresh organization with an admin, a member and a viewer, each with an API key."""
    tag = uuid.uuid4().hex[:10]
    name = f"{prefix}-{tag}"
    apis: dict[str, Api] = {}
    async with pool.acquire() as conn, conn.transaction():
        organization = await create_organization_txn(conn, name, f"Workflow {tag}")
        for role in ("ADMIN", "MEMBER", "VIEWER"):
            user = await create_user_txn(conn, f"{role.lower()}-{tag}", role.title())
            await add_member_txn(conn, organization, user, role)
            key = await create_api_key_txn(conn, user.name, organization=name)
            apis[role] = Api(GraphQLClient(http, key), user.name)
    return Org(
        name=name,
        id=organization.id,
        admin=apis["ADMIN"],
        member=apis["MEMBER"],
        viewer=apis["VIEWER"],
        http=http,
        pool=pool,
    )


async def new_project(api: Api, org: Org, name: str = "p") -> str:
    payload = await api.ok("createProject", organization=org.name, name=name)
    project_id: str = payload["project"]["id"]
    return project_id


async def log_versions(api: Api, project_id: str, name: str, n: int) -> list[dict[str, Any]]:
    """`n` model versions of `name` logged in the project, each with a manifest of its own."""
    versions = []
    for i in range(n):
        payload = await api.log(
            projectId=project_id, name=name, type="model", files=files(f"{i}", "w")
        )
        versions.append(payload["artifactVersion"])
    return versions


async def linked_versions(
    api: Api, org: Org, collection: str, n: int, *, aliases: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """`n` model versions logged in a new project named after `collection` and linked, one
    after the other, into `collection` of the model registry (each given `aliases`)."""
    logged = await log_versions(api, await new_project(api, org, collection), "m", n)
    links = []
    for version in logged:
        extra = {"aliases": list(aliases)} if aliases else {}
        payload = await api.ok(
            "linkArtifact",
            versionId=version["id"],
            targetPath=f"wandb-registry-model/{collection}",
            **extra,
        )
        links.append(payload["artifactVersion"])
    return links
