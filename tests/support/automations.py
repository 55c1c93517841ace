"""A fresh organization to automate: users in each role, a project to log models in, and the
GraphQL selections of the automation mutations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from db import registries
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from tests.support.graphql import Api, GraphQLClient
from tests.support.manifests import file, upload
from tests.support.webhooks import Receiver

AUTOMATION = """id name description enabled events filterRegex webhookUrl payloadTemplate
headerNames createdAt updatedAt registry { id name } collection { id name } createdBy { name }"""
VERSION = "id path version versionIndex aliases tags collection { id name }"
# What each mutation's payload selects besides its errors.
SELECTIONS = {
    "createAutomation": f"automation {{ {AUTOMATION} }}",
    "updateAutomation": f"automation {{ {AUTOMATION} }}",
    "deleteAutomation": "deletedAutomationId",
    "testAutomation": "statusCode latencyMs responseExcerpt error",
    "redeliver": "delivery { id status attempts { statusCode } }",
    "createProject": "project { id name }",
    "createRegistry": "registry { id name }",
    "createCollection": "collection { id name }",
    "logArtifact": f"artifactVersion {{ {VERSION} }}",
    "linkArtifact": f"artifactVersion {{ {VERSION} }}",
    "unlinkArtifact": "unlinkedVersionId",
    "addAliases": f"artifactVersion {{ {VERSION} }}",
    "removeAliases": f"artifactVersion {{ {VERSION} }}",
    "addTags": "collection { id } artifactVersion { id }",
}


def api(http: httpx.AsyncClient, key: str, name: str) -> Api:
    return Api(GraphQLClient(http, key), name, SELECTIONS)


@dataclass
class World:
    """A fresh organization: `admin` (org ADMIN), `member` and `member2` (MEMBER of the model
    registry), `plain` (org MEMBER, so only VIEWER of registries), `viewer` (org VIEWER), and
    `outsider` (admin of another organization)."""

    org: str
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    users: dict[str, Api]
    model_registry: str = ""
    project: str = ""
    _versions: int = field(default=0)

    def __getattr__(self, name: str) -> Api:
        users = self.__dict__.get("users", {})
        if name in users:
            found: Api = users[name]
            return found
        raise AttributeError(name)

    async def log_model(self, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """A newly logged model version in the world's project."""
        self._versions += 1
        seed = f"{self.org}-{self._versions}"
        manifest = [file("model.pkl", seed.encode())]
        await upload(self.admin.client, manifest, projectId=self.project)
        payload = await self.admin.ok(
            "logArtifact",
            projectId=self.project,
            name="churn-model",
            type="model",
            files=manifest,
            metadata=metadata or {"auc": 0.91, "framework": "xgboost"},
        )
        version: dict[str, Any] = payload["artifactVersion"]
        return version

    async def link(
        self,
        collection: str,
        *,
        aliases: tuple[str, ...] = (),
        by: str = "member",
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Logs a new model version and links it into `collection` of the model registry."""
        logged = await self.log_model(metadata)
        payload = await self.users[by].ok(
            "linkArtifact",
            versionId=logged["id"],
            targetPath=f"{self.org}/wandb-registry-model/{collection}",
            aliases=list(aliases),
        )
        version: dict[str, Any] = payload["artifactVersion"]
        return version

    async def collection_id(self, name: str) -> str:
        data = await self.admin.data(
            'query C($o: String!, $n: String!) { registry(organization: $o, name: "model") '
            "{ collection(name: $n) { id } } }",
            o=self.org,
            n=name,
        )
        found: str = data["registry"]["collection"]["id"]
        return found


async def new_world(pool: asyncpg.Pool, http: httpx.AsyncClient) -> World:
    tag = uuid.uuid4().hex[:10]
    name = f"auto-{tag}"
    users: dict[str, Api] = {}
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, name, f"Automations {tag}")
        other = await create_organization_txn(conn, f"other-{tag}", "Other")
        (model,) = await registries.registries_by_organization_name(conn, [(org.id, "model")])
        assert model is not None
        for role_name, org_role, registry_role in (
            ("admin", "ADMIN", None),
            ("member", "MEMBER", "MEMBER"),
            ("member2", "MEMBER", "MEMBER"),
            ("plain", "MEMBER", None),
            ("viewer", "VIEWER", None),
            ("outsider", None, None),
        ):
            user = await create_user_txn(conn, f"{role_name}-{tag}", role_name.title())
            if org_role is not None:
                await add_member_txn(conn, org, user, org_role)
            else:
                await add_member_txn(conn, other, user, "ADMIN")
            if registry_role is not None:
                await registries.set_registry_user_role(conn, model.id, user.id, registry_role)
            key = await create_api_key_txn(conn, user.name, key_name="test")
            users[role_name] = api(http, key, user.name)
    world = World(org=name, pool=pool, http=http, users=users)
    data = await world.admin.data(
        'query R($o: String!) { registry(organization: $o, name: "model") { id } }', o=name
    )
    world.model_registry = data["registry"]["id"]
    project = await world.admin.ok("createProject", organization=name, name="churn")
    world.project = project["project"]["id"]
    return world


def automation_input(world: World, receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    """A valid createAutomation input: LINK_ARTIFACT on the model registry, sent to `receiver`."""
    fields: dict[str, Any] = {
        "registryId": world.model_registry,
        "name": f"hook-{uuid.uuid4().hex[:6]}",
        "events": ["LINK_ARTIFACT"],
        "webhookUrl": receiver.url,
        "secret": "s3cret-" + uuid.uuid4().hex,
    }
    fields.update(overrides)
    return fields


async def create(api: Api, fields: dict[str, Any]) -> dict[str, Any]:
    automation: dict[str, Any] = (await api.ok("createAutomation", **fields))["automation"]
    return automation
