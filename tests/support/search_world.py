"""A small registry world for search tests, and the straightforward Python model of what a search
should return over it.

`build_world` makes an organization of its own (unique name) with two ORGANIZATION registries
(`models`, `datasets`) and a RESTRICTED one (`vault`), five collections with cards and tags, and
36 versions with varied metadata (nested objects, numbers, strings, booleans, keys that some
lack), tags, aliases and descriptions, logged by two users' runs. `matches` evaluates a filter
(the GraphQL variable form) over the versions as `fetch_versions` reads them back.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db import organizations, registries
from db.records import Organization, Registry, User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.collections import create_collection_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import create_organization_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn
from resolvers.versions import add_aliases_txn, change_version_tags_txn
from tests.support.graphql import GraphQLClient
from tests.support.manifests import stored_entries
from tests.support.registries import insert_registry

# (registry, collection, type, tags, card)
COLLECTIONS = (
    ("models", "churn-classifier", "model", ["nlp", "tabular"], "Predicts customer churn"),
    ("models", "fraud-detector", "model", ["tabular"], "Flags fraudulent card payments"),
    ("models", "image-tagger", "model", ["vision"], "Tags product photos"),
    ("datasets", "customer-table", "dataset", ["tabular"], "CRM export, deduplicated"),
    ("vault", "churn-secret", "model", ["nlp"], "A secret churn model"),
)
VERSION_COUNT = 36
TAGS = ("nlp", "gpu", "baseline", "tabular")
DESCRIPTIONS = ("", "Retrained on March data", "baseline run", "Tuned learning rate", "GPU build")
FRAMEWORKS = ("xgboost", "torch", "Torch", "sklearn")
SPLITS = ("test", "val", "")


@dataclass
class SearchWorld:
    tag: str
    org: Organization
    registries: dict[str, Registry]
    users: dict[str, User]
    keys: dict[str, str]
    vault_versions: int  # how many versions are in the restricted registry


def _metadata(rng: random.Random, i: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if rng.random() < 0.85:
        evaluation: dict[str, Any] = {"auc": round(rng.random(), 2)}
        if rng.random() < 0.7:
            evaluation["split"] = rng.choice(SPLITS)
        metadata["eval"] = evaluation
    if rng.random() < 0.8:
        metadata["framework"] = rng.choice(FRAMEWORKS)
    if rng.random() < 0.8:
        metadata["epochs"] = rng.choice((1, 5, 10, 20, 50))
    if rng.random() < 0.6:
        metadata["flag"] = rng.random() < 0.5
    if rng.random() < 0.3:
        metadata["note"] = rng.choice((None, "fast", "Slow", "10"))
    if i % 7 == 0:
        metadata["a"] = {"b": {"c": i}}
    return metadata


async def build_world(pool: asyncpg.Pool) -> SearchWorld:
    tag = uuid.uuid4().hex[:8]
    rng = random.Random(12)
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"search-{tag}", "Search")
        other = await create_organization_txn(conn, f"search-other-{tag}", "Other")
        users: dict[str, User] = {}
        for name, role in (("admin", "ADMIN"), ("member", "MEMBER"), ("holder", "MEMBER")):
            users[name] = await create_user_txn(conn, f"{name}-{tag}")
            await organizations.set_organization_member(conn, org.id, users[name].id, role)
        users["outsider"] = await create_user_txn(conn, f"outsider-{tag}")
        await organizations.set_organization_member(conn, other.id, users["outsider"].id, "ADMIN")
        keys = {
            name: await create_api_key_txn(conn, user.name, key_name="search")
            for name, user in users.items()
        }
        found = {
            "models": await insert_registry(conn, org.id, "models", "ORGANIZATION"),
            "datasets": await insert_registry(conn, org.id, "datasets", "ORGANIZATION"),
            "vault": await insert_registry(conn, org.id, "vault", "RESTRICTED"),
        }
        await registries.set_registry_user_role(
            conn, found["vault"].id, users["holder"].id, "VIEWER"
        )
        admin = users["admin"]
        for registry, name, artifact_type, tags, card in COLLECTIONS:
            await create_collection_txn(
                conn,
                admin,
                found[registry],
                name=name,
                artifact_type=artifact_type,
                description=card,
                tags=tags,
            )
        project = await create_project_txn(conn, org.id, "lab")
        runs = [
            await create_run_txn(conn, admin, project, "trainer"),
            await create_run_txn(conn, users["member"], project, "tuner"),
        ]
        linked_by_collection: dict[str, list[Any]] = {}
        vault_versions = 0
        for i in range(VERSION_COUNT):
            registry, collection, artifact_type, _, _ = COLLECTIONS[i % len(COLLECTIONS)]
            logged = await log_artifact_txn(
                conn,
                admin,
                project,
                name=f"{artifact_type}-{i % 4}",
                artifact_type=artifact_type,
                files=await stored_entries(
                    conn, project, f"{tag}-{i}", "weights.bin", size=10 + rng.randrange(1000)
                ),
                run=runs[i % 2] if i % 9 else None,
                metadata=_metadata(rng, i),
                description=rng.choice(DESCRIPTIONS),
            )
            linker = admin if i % 3 else users["member"]
            linked = await link_artifact_txn(conn, linker, logged, found[registry], collection)
            linked_by_collection.setdefault(collection, []).append(linked)
            vault_versions += registry == "vault"
            chosen = [t for t in TAGS if rng.random() < 0.3]
            if chosen:
                await change_version_tags_txn(conn, admin, linked, chosen, add=True)
        for in_collection in linked_by_collection.values():
            await add_aliases_txn(conn, admin, in_collection[1], ["production"])
            await add_aliases_txn(conn, admin, in_collection[-2], ["staging", "candidate"])
    return SearchWorld(tag, org, found, users, keys, vault_versions)


VERSION_FIELDS = """id versionIndex description digest size createdAt linkedAt metadata aliases
tags collection { name type ... on Collection { registry { name } } }
source { collection { name } } createdBy { id user { name } } linkedBy { name }"""


async def fetch_versions(client: GraphQLClient, organization: str) -> list[dict[str, Any]]:
    """Every version the caller may see in the organization's registries, by walking pages."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.data(
            f"""query($org: String, $after: String) {{
              artifactVersions(organization: $org, first: 100, after: $after) {{
                pageInfo {{ hasNextPage endCursor }} nodes {{ {VERSION_FIELDS} }} }} }}""",
            {"org": organization, "after": after},
        )
        connection = data["artifactVersions"]
        found.extend(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


# The Python model of a filter


def _value(version: Mapping[str, Any], field: str) -> Any:
    collection = version["collection"]
    return {
        "name": version["source"]["collection"]["name"],
        "collection": collection["name"],
        "registry": collection["registry"]["name"],
        "type": collection["type"],
        "digest": version["digest"],
        "description": version["description"],
        "versionIndex": version["versionIndex"],
        "size": version["size"],
        "createdAt": datetime.fromisoformat(version["createdAt"]),
        "linkedAt": datetime.fromisoformat(version["linkedAt"]),
        "createdByRun": (version["createdBy"] or {}).get("id"),
        "createdBy": ((version["createdBy"] or {}).get("user") or {}).get("name"),
        "linkedBy": (version["linkedBy"] or {}).get("name"),
        "tags": version["tags"],
        "aliases": version["aliases"],
    }[field]


CASE_INSENSITIVE = {"registry", "createdBy", "linkedBy"}
_MISSING = object()


def _text(value: str | None, op: str, operand: Any, case_insensitive: bool) -> bool:
    if value is None:
        return False
    if op == "prefix":
        return value.lower().startswith(operand.lower())
    if op == "contains":
        return operand.lower() in value.lower()
    if op == "regex":
        return re.search(operand, value) is not None
    if case_insensitive:
        value = value.lower()
        operand = [o.lower() for o in operand] if op == "in" else operand.lower()
    return value in operand if op == "in" else value == operand


def _ordered(value: Any, op: str, operand: Any) -> bool:
    if value is None:
        return False
    if op == "eq":
        return bool(value == operand)
    if op == "in":
        return value in operand
    if isinstance(operand, str):
        operand = datetime.fromisoformat(operand)
    return {
        "gt": value > operand,
        "gte": value >= operand,
        "lt": value < operand,
        "lte": value <= operand,
    }[op]


def _at(document: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(document, dict) or key not in document:
            return _MISSING
        document = document[key]
    return document


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "container"


def _json_equal(value: Any, operand: Any) -> bool:
    return value is not _MISSING and _kind(value) == _kind(operand) and value == operand


def _json_ordered(value: Any, op: str, operand: Any) -> bool:
    """Order comparisons hold between two numbers or two strings (by code point)."""
    if value is _MISSING or _kind(value) != _kind(operand):
        return False
    if _kind(operand) not in ("number", "string"):
        return False
    return bool(
        {
            "gt": value > operand,
            "gte": value >= operand,
            "lt": value < operand,
            "lte": value <= operand,
        }[op]
    )


def json_holds(document: Any, condition: Mapping[str, Any]) -> bool:
    value = _at(document, condition["path"])
    for op, operand in condition.items():
        if op == "path":
            continue
        if op == "exists":
            held = (value is not _MISSING) == operand
        elif op == "eq":
            held = _json_equal(value, operand)
        elif op == "ne":
            held = not _json_equal(value, operand)
        elif op == "in":
            held = any(_json_equal(value, o) for o in operand)
        else:
            held = _json_ordered(value, op, operand)
        if not held:
            return False
    return True


def matches(version: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether the version meets the filter: every key of the object holds."""
    for key, operand in given.items():
        if key == "and":
            held = all(matches(version, child) for child in operand)
        elif key == "or":
            held = any(matches(version, child) for child in operand)
        elif key == "not":
            held = not matches(version, operand)
        elif key == "metadata":
            held = all(json_holds(version["metadata"], c) for c in operand)
        elif key == "hasAlias":
            held = bool(version["aliases"]) == operand
        elif key == "createdByRun":
            held = _value(version, key) == operand
        elif key in ("tags", "aliases"):
            labels = set(_value(version, key))
            held = all(
                bool(labels & {v.lower() for v in values})
                if op == "any"
                else {v.lower() for v in values} <= labels
                for op, values in operand.items()
            )
        elif key in ("versionIndex", "size", "createdAt", "linkedAt"):
            held = all(_ordered(_value(version, key), op, v) for op, v in operand.items())
        else:
            held = all(
                _text(_value(version, key), op, v, key in CASE_INSENSITIVE)
                for op, v in operand.items()
            )
        if not held:
            return False
    return True
