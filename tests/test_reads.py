"""The read API over HTTP: every root field and every object field, on the demo organization
`acme` (see server/demo.py) and on a small organization of this module's own."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from db.records import User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.collections import create_collection_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn, create_run_txn, finish_run_txn, log_artifact_txn
from resolvers.versions import FileEntry, manifest_digest
from schema.nodes import decode_id, global_id
from server.demo import demo_entries, demo_file
from tests.support.graphql import GraphQLClient
from tests.support.manifests import entries, stored_entries

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


@dataclass(frozen=True)
class World:
    """An organization of this module's own, with an admin who belongs to it only."""

    org: str
    owner: User
    owner_key: str
    service: User
    running_run_id: int
    crashed_run_id: int


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool, demo: dict[str, str]) -> World:
    tag = uuid.uuid4().hex[:10]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"reads-{tag}", "Reads Test")
        owner = await create_user_txn(conn, f"owner-{tag}", "Owner Person")
        service = await create_user_txn(conn, f"ci-{tag}", "", kind="SERVICE")
        await add_member_txn(conn, org, owner, "ADMIN")
        await add_member_txn(conn, org, service, "MEMBER")
        key = await create_api_key_txn(conn, owner.name)
        await create_registry_txn(conn, owner, org.id, name="Mixed-Case", description="Any")
        model = (await _core_registries(conn, org.id))["model"]
        await create_collection_txn(
            conn,
            owner,
            model,
            name="empty",
            artifact_type="model",
            description="# Card\n\nNothing yet.",
            tags=["zeta", "alpha"],
        )
        project = await create_project_txn(conn, org.id, "lab", "A lab.")
        running = await create_run_txn(conn, service, project, "running-run", {"a": [1, 2]})
        crashed = await create_run_txn(conn, owner, project, "crashed-run")
        await finish_run_txn(conn, crashed, state="CRASHED", summary={"loss": 1.5})
        await log_artifact_txn(
            conn,
            owner,
            project,
            name="orphan",
            artifact_type="model",
            files=await stored_entries(conn, project, "orphan", "weights.bin", size=7),
        )
    return World(org.name, owner, key, service, running.id, crashed.id)


async def _core_registries(conn: Any, organization_id: int) -> dict[str, Any]:
    from db import registries

    model, dataset = await registries.registries_by_organization_name(
        conn, [(organization_id, "model"), (organization_id, "dataset")]
    )
    return {"model": model, "dataset": dataset}


@pytest.fixture
def owner(client: httpx.AsyncClient, world: World) -> GraphQLClient:
    return GraphQLClient(client, world.owner_key)


# --- viewer -------------------------------------------------------------------------------------


async def test_viewer_is_the_key_owner(owner: GraphQLClient, world: World) -> None:
    data = await owner.data(
        "{ viewer { name user { id name displayName kind createdAt } "
        "organizations { name displayName viewerRole } } }"
    )
    viewer = data["viewer"]
    assert viewer["name"] == world.owner.name
    assert viewer["user"]["name"] == world.owner.name
    assert viewer["user"]["displayName"] == "Owner Person"
    assert viewer["user"]["kind"] == "HUMAN"
    assert viewer["user"]["id"] == global_id("User", world.owner.id)
    assert when(viewer["user"]["createdAt"]) == world.owner.created_at
    assert viewer["organizations"] == [
        {"name": world.org, "displayName": "Reads Test", "viewerRole": "ADMIN"}
    ]


async def test_viewer_organizations_are_sorted_and_only_the_callers(
    ada: GraphQLClient, dora: GraphQLClient
) -> None:
    data = await ada.data("{ viewer { organizations { name } } }")
    names = [o["name"] for o in data["viewer"]["organizations"]]
    assert "acme" in names
    assert "globex" not in names
    assert names == sorted(names)
    dora_data = await dora.data("{ viewer { name organizations { name viewerRole } } }")
    assert dora_data["viewer"] == {
        "name": "dora",
        "organizations": [{"name": "globex", "viewerRole": "ADMIN"}],
    }


# --- organization -------------------------------------------------------------------------------

ORGANIZATION_QUERY = """
query($name: String!) {
  organization(name: $name) {
    id name displayName createdAt viewerRole
    registries { totalCount nodes { name } }
    registry(name: "MODEL") { name }
    projects { totalCount nodes { name } }
    project(name: "churn") { name description }
    members { totalCount nodes { role memberSince user { name displayName kind } } }
  }
}
"""


async def test_organization_fields(ada: GraphQLClient) -> None:
    org = (await ada.data(ORGANIZATION_QUERY, {"name": "acme"}))["organization"]
    assert org["name"] == "acme"
    assert org["displayName"] == "Acme Corp"
    assert decode_id(org["id"])[0] == "Organization"
    assert when(org["createdAt"]) <= datetime.now(when(org["createdAt"]).tzinfo)
    assert org["viewerRole"] == "ADMIN"
    registry_names = [r["name"] for r in org["registries"]["nodes"]]
    assert {"model", "dataset", "eval-reports"} <= set(registry_names)
    assert registry_names == sorted(registry_names, key=str.lower)
    assert org["registries"]["totalCount"] == len(registry_names)
    assert org["registry"] == {"name": "model"}
    project_names = [p["name"] for p in org["projects"]["nodes"]]
    assert {"churn", "vision"} <= set(project_names)
    assert project_names == sorted(project_names)
    assert org["projects"]["totalCount"] == len(project_names)
    assert org["project"] == {
        "name": "churn",
        "description": "Predicting which customers will leave.",
    }
    members = {m["user"]["name"]: m for m in org["members"]["nodes"]}
    assert members["ada"]["role"] == "ADMIN"
    assert members["ada"]["user"] == {"name": "ada", "displayName": "Ada Lovelace", "kind": "HUMAN"}
    assert members["bob"]["role"] == "MEMBER"
    assert members["cy"]["role"] == "VIEWER"
    assert "dora" not in members
    assert when(members["ada"]["memberSince"]) >= when(org["createdAt"])


async def test_organization_viewer_role_is_the_callers(cy: GraphQLClient) -> None:
    org = (await cy.data('{ organization(name: "acme") { viewerRole } }'))["organization"]
    assert org == {"viewerRole": "VIEWER"}


async def test_organization_members_of_own_organization(owner: GraphQLClient, world: World) -> None:
    data = await owner.data(ORGANIZATION_QUERY, {"name": world.org})
    org = data["organization"]
    assert org["members"]["totalCount"] == 2
    by_name = {m["user"]["name"]: m for m in org["members"]["nodes"]}
    assert by_name[world.service.name]["role"] == "MEMBER"
    assert by_name[world.service.name]["user"]["kind"] == "SERVICE"
    assert by_name[world.service.name]["user"]["displayName"] == ""
    assert by_name[world.owner.name]["role"] == "ADMIN"
    assert [r["name"] for r in org["registries"]["nodes"]] == ["dataset", "Mixed-Case", "model"]
    assert org["registries"]["totalCount"] == 3
    assert org["projects"] == {"totalCount": 1, "nodes": [{"name": "lab"}]}
    assert org["project"] is None


async def test_organization_unknown_or_foreign_is_null(
    ada: GraphQLClient, dora: GraphQLClient
) -> None:
    assert (await ada.data('{ organization(name: "no-such-org") { name } }')) == {
        "organization": None
    }
    # Dora belongs to globex only: acme answers exactly as a missing organization would.
    assert (await dora.data('{ organization(name: "acme") { name } }')) == {"organization": None}
    assert (await ada.data('{ organization(name: "globex") { name } }')) == {"organization": None}
    # Organization names are exact slugs.
    assert (await ada.data('{ organization(name: "ACME") { name } }')) == {"organization": None}


async def test_organization_unknown_project_and_registry_are_null(ada: GraphQLClient) -> None:
    data = await ada.data(
        '{ organization(name: "acme") { project(name: "nope") { name } '
        'registry(name: "nope") { name } } }'
    )
    assert data == {"organization": {"project": None, "registry": None}}


# --- registry -----------------------------------------------------------------------------------

REGISTRY_QUERY = """
query($org: String!, $name: String!) {
  registry(organization: $org, name: $name) {
    id name fullName description visibility acceptsAllTypes acceptedTypes protectedAliases
    isCore createdAt
    organization { name createdAt }
    collections { totalCount nodes { name } }
    collection(name: "churn-classifier") { name }
  }
}
"""


async def test_core_model_registry(ada: GraphQLClient) -> None:
    reg = (await ada.data(REGISTRY_QUERY, {"org": "acme", "name": "model"}))["registry"]
    assert decode_id(reg["id"])[0] == "Registry"
    assert reg["name"] == "model"
    assert reg["fullName"] == "wandb-registry-model"
    assert reg["description"] == "The organization's core model registry."
    assert reg["visibility"] == "ORGANIZATION"
    assert reg["acceptsAllTypes"] is False
    assert reg["acceptedTypes"] == ["model"]
    assert reg["protectedAliases"] == []
    assert reg["isCore"] is True
    assert reg["organization"]["name"] == "acme"
    # Core registries are made with their organization.
    assert when(reg["createdAt"]) >= when(reg["organization"]["createdAt"])
    names = [c["name"] for c in reg["collections"]["nodes"]]
    # Newest first: defect-detector was created after churn-classifier.
    assert names.index("defect-detector") < names.index("churn-classifier")
    assert reg["collections"]["totalCount"] == len(names)
    assert reg["collection"] == {"name": "churn-classifier"}


async def test_core_dataset_registry(ada: GraphQLClient) -> None:
    reg = (await ada.data(REGISTRY_QUERY, {"org": "acme", "name": "dataset"}))["registry"]
    assert reg["fullName"] == "wandb-registry-dataset"
    assert reg["acceptedTypes"] == ["dataset"]
    assert reg["isCore"] is True
    names = [c["name"] for c in reg["collections"]["nodes"]]
    assert names[-3:] == ["line-images", "customers", "customers-raw"]
    assert reg["collection"] is None


async def test_restricted_registry_fields(ada: GraphQLClient) -> None:
    reg = (await ada.data(REGISTRY_QUERY, {"org": "acme", "name": "eval-reports"}))["registry"]
    assert reg["fullName"] == "wandb-registry-eval-reports"
    assert reg["visibility"] == "RESTRICTED"
    assert reg["acceptedTypes"] == ["report"]
    assert reg["acceptsAllTypes"] is False
    assert reg["protectedAliases"] == ["approved"]
    assert reg["isCore"] is False
    assert reg["description"].startswith("Evaluation reports")
    assert [c["name"] for c in reg["collections"]["nodes"]] == ["churn-evals"]


async def test_registry_accepting_all_types(owner: GraphQLClient, world: World) -> None:
    reg = (await owner.data(REGISTRY_QUERY, {"org": world.org, "name": "mixed-case"}))["registry"]
    assert reg["name"] == "Mixed-Case"
    assert reg["fullName"] == "wandb-registry-Mixed-Case"
    assert reg["acceptsAllTypes"] is True
    assert reg["acceptedTypes"] == []
    assert reg["visibility"] == "ORGANIZATION"
    assert reg["isCore"] is False
    assert reg["collections"] == {"totalCount": 0, "nodes": []}


@pytest.mark.parametrize("spelling", ["model", "MODEL", "Model", "mOdEl"])
async def test_registry_names_are_case_insensitive(ada: GraphQLClient, spelling: str) -> None:
    data = await ada.data(
        'query($n: String!) { registry(organization: "acme", name: $n) { name fullName } '
        'organization(name: "acme") { registry(name: $n) { name } } }',
        {"n": spelling},
    )
    assert data["registry"] == {"name": "model", "fullName": "wandb-registry-model"}
    assert data["organization"]["registry"] == {"name": "model"}


@pytest.mark.parametrize(
    ("org", "name"),
    [
        ("acme", "nope"),
        ("acme", "wandb-registry-model"),  # the name, not the full name
        ("nope", "model"),
        ("globex", "model"),  # exists, but ada is not a member
        ("acme", ""),
    ],
)
async def test_registry_unknown_is_null(ada: GraphQLClient, org: str, name: str) -> None:
    data = await ada.data(
        "query($o: String!, $n: String!) { registry(organization: $o, name: $n) { name } }",
        {"o": org, "n": name},
    )
    assert data == {"registry": None}


async def test_registry_of_foreign_organization_is_null(dora: GraphQLClient) -> None:
    data = await dora.data(REGISTRY_QUERY, {"org": "acme", "name": "model"})
    assert data == {"registry": None}


# --- collections ----------------------------------------------------------------------------

COLLECTION_QUERY = """
query($registry: String!, $name: String!) {
  registry(organization: "acme", name: $registry) {
    collection(name: $name) {
      __typename id name type description createdAt tags
      aliases { alias version { version versionIndex } }
      registry { name }
      versions { totalCount nodes { version } }
      production: version(alias: "production") { version }
      latest: version(alias: "latest") { version }
      third: version(index: 3) { version versionIndex }
      missingIndex: version(index: 999) { version }
      missingAlias: version(alias: "no-such-alias") { version }
    }
  }
}
"""


async def test_collection_fields(ada: GraphQLClient) -> None:
    data = await ada.data(COLLECTION_QUERY, {"registry": "model", "name": "churn-classifier"})
    coll = data["registry"]["collection"]
    assert coll["__typename"] == "Collection"
    assert decode_id(coll["id"])[0] == "Collection"
    assert coll["name"] == "churn-classifier"
    assert coll["type"] == "model"
    assert coll["description"].startswith("# Churn classifier\n\nGradient-boosted trees")
    assert coll["tags"] == ["customer-success", "tabular"]
    assert coll["registry"] == {"name": "model"}
    assert coll["aliases"] == [
        {"alias": "candidate", "version": {"version": "v8", "versionIndex": 8}},
        {"alias": "latest", "version": {"version": "v9", "versionIndex": 9}},
        {"alias": "production", "version": {"version": "v7", "versionIndex": 7}},
        {"alias": "staging", "version": {"version": "v9", "versionIndex": 9}},
    ]
    assert coll["versions"]["totalCount"] == 10
    assert [v["version"] for v in coll["versions"]["nodes"]] == [f"v{i}" for i in range(9, -1, -1)]
    assert coll["production"] == {"version": "v7"}
    assert coll["latest"] == {"version": "v9"}
    assert coll["third"] == {"version": "v3", "versionIndex": 3}
    assert coll["missingIndex"] is None
    assert coll["missingAlias"] is None


async def test_collection_aliases_of_other_collections(ada: GraphQLClient) -> None:
    data = await ada.data(COLLECTION_QUERY, {"registry": "dataset", "name": "customers"})
    coll = data["registry"]["collection"]
    assert coll["type"] == "dataset"
    assert coll["tags"] == []
    assert [(a["alias"], a["version"]["version"]) for a in coll["aliases"]] == [
        ("latest", "v3"),
        ("production", "v3"),
    ]
    data = await ada.data(COLLECTION_QUERY, {"registry": "model", "name": "defect-detector"})
    coll = data["registry"]["collection"]
    assert coll["tags"] == ["vision"]
    assert [(a["alias"], a["version"]["version"]) for a in coll["aliases"]] == [
        ("latest", "v7"),
        ("production", "v6"),
        ("staging", "v7"),
    ]


async def test_collection_with_a_card_tags_and_no_versions(
    owner: GraphQLClient, world: World
) -> None:
    data = await owner.data(
        """query($org: String!) { registry(organization: $org, name: "model") {
             collection(name: "empty") {
               description tags aliases { alias }
               versions { totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage } }
               latest: version(alias: "latest") { id }
               first: version(index: 0) { id } } } }""",
        {"org": world.org},
    )
    assert data["registry"]["collection"] == {
        "description": "# Card\n\nNothing yet.",
        "tags": ["alpha", "zeta"],
        "aliases": [],
        "versions": {
            "totalCount": 0,
            "nodes": [],
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
        },
        "latest": None,
        "first": None,
    }


@pytest.mark.parametrize(
    "arguments", ["", '(alias: "production", index: 7)', "(alias: null, index: null)"]
)
async def test_collection_version_needs_exactly_one_selector(
    ada: GraphQLClient, arguments: str
) -> None:
    body = await ada.errors(
        '{ registry(organization: "acme", name: "model") { collection(name: "churn-classifier") '
        f"{{ version{arguments} {{ version }} }} }} }}"
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert "alias" in error["message"]
    assert "index" in error["message"]
    assert error["path"] == ["registry", "collection", "version"]
    # Only the one field fails; its siblings and parents still answer.
    assert body["data"]["registry"]["collection"] == {"version": None}


async def test_registry_unknown_collection_is_null(ada: GraphQLClient) -> None:
    data = await ada.data(
        '{ registry(organization: "acme", name: "model") { collection(name: "nope") { id } '
        'caseMatters: collection(name: "Churn-Classifier") { id } } }'
    )
    assert data["registry"] == {"collection": None, "caseMatters": None}


# --- artifact sequences and projects -------------------------------------------------------------

PROJECT_QUERY = """
query($org: String!, $name: String!) {
  organization(name: $org) {
    project(name: $name) {
      id name description createdAt
      organization { name }
      runs { totalCount nodes { name } }
      artifactSequences { totalCount nodes { name type } }
      churnModel: artifactSequence(name: "churn-model") {
        __typename id name type description createdAt
        project { name }
        aliases { alias version { version } }
        versions { totalCount nodes { version isLink } }
        v2: version(index: 2) { version path isLink }
        latest: version(alias: "latest") { version }
      }
      missing: artifactSequence(name: "nope") { id }
    }
  }
}
"""


async def test_project_fields(ada: GraphQLClient) -> None:
    data = await ada.data(PROJECT_QUERY, {"org": "acme", "name": "churn"})
    project = data["organization"]["project"]
    assert decode_id(project["id"])[0] == "Project"
    assert project["name"] == "churn"
    assert project["organization"] == {"name": "acme"}
    expected_runs = (
        [f"evaluate-{i}" for i in range(3, -1, -1)]
        + [f"train-{i}" for i in range(9, -1, -1)]
        + [f"preprocess-{i}" for i in range(3, -1, -1)]
        + ["ingest-2026-11"]
    )
    assert project["runs"]["totalCount"] == 19
    assert [r["name"] for r in project["runs"]["nodes"]] == expected_runs[:20]
    assert project["artifactSequences"] == {
        "totalCount": 4,
        "nodes": [
            {"name": "churn-eval-report", "type": "report"},
            {"name": "churn-model", "type": "model"},
            {"name": "customers-clean", "type": "dataset"},
            {"name": "customers-raw", "type": "dataset"},
        ],
    }
    assert project["missing"] is None


async def test_artifact_sequence_fields(ada: GraphQLClient) -> None:
    data = await ada.data(PROJECT_QUERY, {"org": "acme", "name": "churn"})
    seq = data["organization"]["project"]["churnModel"]
    assert seq["__typename"] == "ArtifactSequence"
    assert decode_id(seq["id"])[0] == "ArtifactSequence"
    assert seq["name"] == "churn-model"
    assert seq["type"] == "model"
    assert seq["description"] == ""
    assert seq["project"] == {"name": "churn"}
    # Registry aliases stay in the registry: the sequence only has `latest`.
    assert seq["aliases"] == [{"alias": "latest", "version": {"version": "v9"}}]
    assert seq["versions"]["totalCount"] == 10
    assert [v["version"] for v in seq["versions"]["nodes"]] == [f"v{i}" for i in range(9, -1, -1)]
    assert all(v["isLink"] is False for v in seq["versions"]["nodes"])
    assert seq["v2"] == {"version": "v2", "path": "acme/churn/churn-model:v2", "isLink": False}
    assert seq["latest"] == {"version": "v9"}


async def test_vision_project(ada: GraphQLClient) -> None:
    data = await ada.data(PROJECT_QUERY, {"org": "acme", "name": "vision"})
    project = data["organization"]["project"]
    assert project["description"] == "Detecting defects on the production line."
    assert project["runs"]["totalCount"] == 13
    assert [s["name"] for s in project["artifactSequences"]["nodes"]] == [
        "defect-detector",
        "line-images",
    ]
    assert project["churnModel"] is None


# --- artifact versions ----------------------------------------------------------------------

VERSION_FIELDS = """
  __typename id versionIndex version linkedAt digest size type metadata description createdAt
  isLink aliases tags path
  collection { __typename name }
  linkedBy { name }
  source { id path isLink digest source { id } }
  createdBy { name }
  files { totalCount nodes { path digest size } }
  usedBy { totalCount nodes { name } }
  linkedVersions { totalCount nodes { path isLink } }
"""
VERSION_QUERY = f"query($path: String!) {{ artifactVersion(path: $path) {{ {VERSION_FIELDS} }} }}"


async def version_at(client: GraphQLClient, path: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(VERSION_QUERY, {"path": path}))["artifactVersion"]
    return found


def demo_files(seed: str, *names: str) -> list[FileEntry]:
    return demo_entries(*names, seed=seed)


async def test_linked_version_fields(ada: GraphQLClient) -> None:
    v = await version_at(ada, "acme/wandb-registry-model/churn-classifier:v3")
    files = demo_files("churn-3", "model.pkl", "requirements.txt")
    assert v["__typename"] == "ArtifactVersion"
    assert decode_id(v["id"])[0] == "ArtifactVersion"
    assert v["versionIndex"] == 3
    assert v["version"] == "v3"
    assert v["isLink"] is True
    assert v["aliases"] == []
    assert v["tags"] == ["xgboost"]
    assert v["path"] == "acme/wandb-registry-model/churn-classifier:v3"
    assert v["collection"] == {"__typename": "Collection", "name": "churn-classifier"}
    assert v["linkedBy"] == {"name": "bob"}
    assert v["type"] == "model"
    assert v["metadata"] == {"auc": 0.83, "framework": "xgboost"}
    assert v["description"] == ""
    assert HEX64.match(v["digest"])
    assert v["digest"] == manifest_digest(files)
    assert v["size"] == sum(f.size for f in files)
    assert v["files"] == {
        "totalCount": 2,
        "nodes": [{"path": f.path, "digest": f.digest, "size": f.size} for f in files],
    }
    assert v["createdBy"] == {"name": "train-3"}
    assert v["usedBy"] == {"totalCount": 0, "nodes": []}
    # The source is the logged version: same content, its own place.
    source = v["source"]
    assert source["path"] == "acme/churn/churn-model:v3"
    assert source["isLink"] is False
    assert source["digest"] == v["digest"]
    assert source["id"] != v["id"]
    assert source["source"] == {"id": source["id"]}
    assert v["linkedVersions"] == {
        "totalCount": 1,
        "nodes": [{"path": "acme/wandb-registry-model/churn-classifier:v3", "isLink": True}],
    }
    # Content is logged first, linked after.
    assert when(v["linkedAt"]) >= when(v["createdAt"])


async def test_logged_version_fields(ada: GraphQLClient) -> None:
    linked = await version_at(ada, "acme/wandb-registry-model/churn-classifier:v3")
    v = await version_at(ada, "acme/churn/churn-model:v3")
    assert v["isLink"] is False
    assert v["path"] == "acme/churn/churn-model:v3"
    assert v["collection"] == {"__typename": "ArtifactSequence", "name": "churn-model"}
    assert v["aliases"] == []
    assert v["tags"] == []  # tags were put on the registry version only
    assert v["linkedBy"] == {"name": "bob"}
    assert v["source"]["id"] == v["id"]
    assert v["source"]["source"] == {"id": v["id"]}
    # Content fields are shared with every version of the same content.
    for field in ("digest", "size", "type", "metadata", "description", "createdAt", "files"):
        assert v[field] == linked[field], field
    assert v["createdBy"] == linked["createdBy"]
    assert v["linkedVersions"] == linked["linkedVersions"]
    assert when(v["linkedAt"]) <= when(linked["linkedAt"])


async def test_latest_alias_is_on_the_newest_version(ada: GraphQLClient) -> None:
    newest = await version_at(ada, "acme/wandb-registry-model/churn-classifier:v9")
    assert newest["aliases"] == ["latest", "staging"]
    production = await version_at(ada, "acme/wandb-registry-model/churn-classifier:v7")
    assert production["aliases"] == ["production"]
    first = await version_at(ada, "acme/wandb-registry-model/churn-classifier:v0")
    assert first["tags"] == ["baseline", "xgboost"]
    sequence_newest = await version_at(ada, "acme/churn/churn-model:v9")
    assert sequence_newest["aliases"] == ["latest"]
    assert sequence_newest["source"]["id"] == sequence_newest["id"]


async def test_dataset_version_description_and_usage(ada: GraphQLClient) -> None:
    v = await version_at(ada, "acme/wandb-registry-dataset/customers:v2")
    assert v["description"] == "Deduplicated, tenure ≥ 32 days."
    assert v["metadata"] == {"rows": 117_000, "features": 44}
    assert v["tags"] == ["deduplicated"]
    assert v["type"] == "dataset"
    assert v["createdBy"] == {"name": "preprocess-2"}
    # Lineage belongs to the content: the registry version shows who used the logged one.
    assert v["usedBy"] == {
        "totalCount": 3,
        "nodes": [{"name": "train-8"}, {"name": "train-7"}, {"name": "train-6"}],
    }
    assert v["source"]["path"] == "acme/churn/customers-clean:v2"


async def test_content_linked_into_several_collections(ada: GraphQLClient) -> None:
    # customers-raw was linked once; customers-clean v3 once; each shows its own links only.
    raw = await version_at(ada, "acme/churn/customers-raw:v0")
    assert raw["linkedVersions"] == {
        "totalCount": 1,
        "nodes": [{"path": "acme/wandb-registry-dataset/customers-raw:v0", "isLink": True}],
    }
    assert [r["name"] for r in raw["usedBy"]["nodes"]] == [
        "preprocess-3",
        "preprocess-2",
        "preprocess-1",
        "preprocess-0",
    ]
    assert raw["createdBy"] == {"name": "ingest-2026-11"}
    assert raw["metadata"] == {"rows": 120_000, "source": "crm"}
    assert raw["description"] == "CRM export, unprocessed."


async def test_version_without_run_or_link(owner: GraphQLClient, world: World) -> None:
    v = await version_at(owner, f"{world.org}/lab/orphan")
    assert v["version"] == "v0"
    assert v["aliases"] == ["latest"]
    assert v["createdBy"] is None
    assert v["usedBy"] == {"totalCount": 0, "nodes": []}
    assert v["linkedVersions"] == {"totalCount": 0, "nodes": []}
    assert v["size"] == 7
    assert v["metadata"] == {}
    (orphan,) = entries("orphan", "weights.bin", size=7)
    assert v["files"]["nodes"] == [{"path": "weights.bin", "digest": orphan.digest, "size": 7}]
    assert v["digest"] == manifest_digest([orphan])
    assert v["linkedBy"] == {"name": world.owner.name}


# --- runs and users ---------------------------------------------------------------------------

RUN_FIELDS = """
  __typename id name state config summary createdAt finishedAt
  user { name } project { name }
  inputs { totalCount nodes { path } }
  outputs { totalCount nodes { path } }
"""


async def run_by_id(client: GraphQLClient, run_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (
        await client.data(
            f"query($id: ID!) {{ node(id: $id) {{ ... on Run {{ {RUN_FIELDS} }} }} }}",
            {"id": run_id},
        )
    )["node"]
    return node


async def test_run_fields(ada: GraphQLClient) -> None:
    v = await version_at(ada, "acme/churn/churn-model:v3")
    data = await ada.data(
        f"query($p: String!) {{ artifactVersion(path: $p) {{ createdBy {{ {RUN_FIELDS} }} }} }}",
        {"p": "acme/churn/churn-model:v3"},
    )
    run = data["artifactVersion"]["createdBy"]
    assert run["__typename"] == "Run"
    assert run["name"] == "train-3"
    assert run["state"] == "FINISHED"
    assert run["config"] == {"lr": 0.025, "epochs": 13}
    assert run["summary"] == {"auc": 0.83}
    assert run["user"] == {"name": "bob"}
    assert run["project"] == {"name": "churn"}
    assert when(run["finishedAt"]) >= when(run["createdAt"])
    assert run["inputs"] == {"totalCount": 1, "nodes": [{"path": "acme/churn/customers-clean:v1"}]}
    assert run["outputs"] == {"totalCount": 1, "nodes": [{"path": v["path"]}]}
    assert when(run["createdAt"]) <= when(v["createdAt"])


async def test_run_states(owner: GraphQLClient, ada: GraphQLClient, world: World) -> None:
    running = await run_by_id(owner, global_id("Run", world.running_run_id))
    assert running["state"] == "RUNNING"
    assert running["finishedAt"] is None
    assert running["config"] == {"a": [1, 2]}
    assert running["summary"] == {}
    assert running["user"] == {"name": world.service.name}
    assert running["project"] == {"name": "lab"}
    assert running["inputs"] == {"totalCount": 0, "nodes": []}
    assert running["outputs"] == {"totalCount": 0, "nodes": []}
    crashed = await run_by_id(owner, global_id("Run", world.crashed_run_id))
    assert crashed["state"] == "CRASHED"
    assert crashed["finishedAt"] is not None
    assert crashed["summary"] == {"loss": 1.5}
    assert crashed["config"] == {}
    # A failed run in the demo.
    data = await ada.data(
        '{ organization(name: "acme") { project(name: "vision") { runs(first: 100) '
        "{ nodes { name state } } } } }"
    )
    states = {r["name"]: r["state"] for r in data["organization"]["project"]["runs"]["nodes"]}
    assert states["train-detector-2"] == "FAILED"
    assert states["train-detector-3"] == "FINISHED"


async def test_runs_of_another_organization_are_invisible(ada: GraphQLClient, world: World) -> None:
    assert await ada.data(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Run", world.running_run_id)}
    ) == {"node": None}


async def test_user_fields_and_visibility(
    ada: GraphQLClient, cy: GraphQLClient, dora: GraphQLClient, owner: GraphQLClient, world: World
) -> None:
    ada_id = (await ada.data("{ viewer { user { id } } }"))["viewer"]["user"]["id"]
    query = (
        "query($id: ID!) { node(id: $id) { __typename id ... on User "
        "{ name displayName kind createdAt } } }"
    )
    seen_by_cy = (await cy.data(query, {"id": ada_id}))["node"]
    assert seen_by_cy["__typename"] == "User"
    assert seen_by_cy["id"] == ada_id
    assert seen_by_cy["name"] == "ada"
    assert seen_by_cy["displayName"] == "Ada Lovelace"
    assert seen_by_cy["kind"] == "HUMAN"
    # Users are visible only to people who share an organization with them.
    assert (await dora.data(query, {"id": ada_id})) == {"node": None}
    service = (await owner.data(query, {"id": global_id("User", world.service.id)}))["node"]
    assert service["kind"] == "SERVICE"
    assert service["name"] == world.service.name


# --- lineage --------------------------------------------------------------------------------

DOWNSTREAM = """
query($p: String!) { artifactVersion(path: $p) {
  path usedBy(first: 100) { nodes { name outputs { nodes { path } } } } } }
"""
UPSTREAM = """
query($p: String!) { artifactVersion(path: $p) {
  path createdBy { name inputs { nodes { path } } } } }
"""


async def test_lineage_chain_downstream(ada: GraphQLClient) -> None:
    """customers-raw → preprocess → customers-clean → train → churn-model → evaluate → report."""

    async def step(path: str, run_name: str) -> str:
        data = (await ada.data(DOWNSTREAM, {"p": path}))["artifactVersion"]
        runs = {r["name"]: r for r in data["usedBy"]["nodes"]}
        assert run_name in runs, (path, sorted(runs))
        (output,) = runs[run_name]["outputs"]["nodes"]
        found: str = output["path"]
        return found

    clean = await step("acme/churn/customers-raw:v0", "preprocess-2")
    assert clean == "acme/churn/customers-clean:v2"
    model = await step(clean, "train-6")
    assert model == "acme/churn/churn-model:v6"
    report = await step(model, "evaluate-0")
    assert report == "acme/churn/churn-eval-report:v0"
    # The end of the chain: nobody used the report.
    data = (await ada.data(DOWNSTREAM, {"p": report}))["artifactVersion"]
    assert data["usedBy"]["nodes"] == []


async def test_lineage_chain_upstream(ada: GraphQLClient) -> None:
    chain = []
    path: str | None = "acme/wandb-registry-eval-reports/churn-evals:v0"
    while path is not None:
        data = (await ada.data(UPSTREAM, {"p": path}))["artifactVersion"]
        run = data["createdBy"]
        if run is None:
            break
        chain.append((data["path"], run["name"]))
        inputs = [i["path"] for i in run["inputs"]["nodes"]]
        assert len(inputs) <= 1, inputs
        path = inputs[0] if inputs else None
    assert chain == [
        ("acme/wandb-registry-eval-reports/churn-evals:v0", "evaluate-0"),
        # evaluate-0 used the registry version it named.
        ("acme/wandb-registry-model/churn-classifier:v6", "train-6"),
        ("acme/churn/customers-clean:v2", "preprocess-2"),
        ("acme/churn/customers-raw:v0", "ingest-2026-11"),
    ]


# --- node and nodes ---------------------------------------------------------------------------

NODE_QUERY = """
query($id: ID!) { node(id: $id) { __typename id
  ... on Organization { name }
  ... on Registry { name }
  ... on Collection { name }
  ... on ArtifactSequence { name }
  ... on ArtifactVersion { path }
  ... on Project { name }
  ... on Run { name }
  ... on User { name }
} }
"""


@pytest.fixture
async def demo_ids(ada: GraphQLClient) -> dict[str, tuple[str, str]]:
    """A global ID of each node type in the demo, with the name or path it must resolve to."""
    data = await ada.data(
        """{ organization(name: "acme") { id name
             registry(name: "model") { id name
               collection(name: "churn-classifier") { id name
                 version(index: 3) { id path
                   createdBy { id name user { id name } project { id name } }
                   source { id path collection { id name } } } } } } }"""
    )
    org = data["organization"]
    reg = org["registry"]
    coll = reg["collection"]
    version = coll["version"]
    run = version["createdBy"]
    source = version["source"]
    return {
        "Organization": (org["id"], org["name"]),
        "Registry": (reg["id"], reg["name"]),
        "Collection": (coll["id"], coll["name"]),
        "ArtifactSequence": (source["collection"]["id"], source["collection"]["name"]),
        "ArtifactVersion": (version["id"], version["path"]),
        "Project": (run["project"]["id"], run["project"]["name"]),
        "Run": (run["id"], run["name"]),
        "User": (run["user"]["id"], run["user"]["name"]),
    }


async def test_node_resolves_every_type(
    ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    for type_name, (node_id, label) in demo_ids.items():
        node = (await ada.data(NODE_QUERY, {"id": node_id}))["node"]
        assert node["__typename"] == type_name
        assert node["id"] == node_id
        assert node.get("name", node.get("path")) == label


async def test_node_of_the_wrong_collection_kind_is_null(
    ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    # Registry collections and artifact sequences share a table; their IDs must not mix.
    _, collection_row = decode_id(demo_ids["Collection"][0])
    _, sequence_row = decode_id(demo_ids["ArtifactSequence"][0])
    for node_id in (
        global_id("ArtifactSequence", collection_row),
        global_id("Collection", sequence_row),
    ):
        assert (await ada.data(NODE_QUERY, {"id": node_id})) == {"node": None}


async def test_node_missing_or_invisible_is_null(
    ada: GraphQLClient, dora: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    for type_name in demo_ids:
        missing = global_id(type_name, 2**62)
        assert (await ada.data(NODE_QUERY, {"id": missing})) == {"node": None}
    for node_id, _ in demo_ids.values():
        assert (await dora.data(NODE_QUERY, {"id": node_id})) == {"node": None}


def raw_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


GARBAGE_IDS = [
    "",
    "!!!",
    "not an id",
    "12345",
    raw_id("Organization"),
    raw_id("Organization:"),
    raw_id("Organization:abc"),
    raw_id("Organization:-1"),
    raw_id("Organization:0"),
    raw_id("Organization:1.5"),
    raw_id("Organization: 1"),
    raw_id("Organization:+1"),
    raw_id("Organization:" + "9" * 30),
    raw_id("Organization:\u0661"),  # an Arabic-Indic digit one
    raw_id("Organization:01"),
    raw_id("Bucket:1"),
    raw_id("Query:1"),
    raw_id("PageInfo:1"),
    raw_id("organization:1"),
    global_id("Organization", 1) + "==",
    base64.b64encode(b"\xff\xfe:1").decode(),
]


@pytest.mark.parametrize("bad", GARBAGE_IDS)
async def test_node_garbage_id_is_invalid_id(ada: GraphQLClient, bad: str) -> None:
    body = await ada.errors(NODE_QUERY, {"id": bad})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ID"
    assert "not a valid ID" in error["message"]
    assert error["path"] == ["node"]
    assert body["data"] == {"node": None}


NODES_QUERY = """
query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Organization { name } ... on Registry { name } ... on Run { name } } }
"""


async def test_nodes_keeps_order_duplicates_and_nulls(
    ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    org_id = demo_ids["Organization"][0]
    reg_id = demo_ids["Registry"][0]
    run_id = demo_ids["Run"][0]
    missing_run = global_id("Run", 2**62)
    missing_org = global_id("Organization", 2**62 + 1)
    ids = [run_id, missing_run, org_id, reg_id, run_id, missing_org, org_id]
    nodes = (await ada.data(NODES_QUERY, {"ids": ids}))["nodes"]
    assert len(nodes) == len(ids)
    assert [None if n is None else n["id"] for n in nodes] == [
        run_id,
        None,
        org_id,
        reg_id,
        run_id,
        None,
        org_id,
    ]
    assert nodes[0] == {"__typename": "Run", "id": run_id, "name": "train-3"}
    assert nodes[2] == {"__typename": "Organization", "id": org_id, "name": "acme"}
    assert nodes[3] == {"__typename": "Registry", "id": reg_id, "name": "model"}
    assert nodes[4] == nodes[0]
    assert nodes[6] == nodes[2]


async def test_nodes_empty_and_invisible(
    dora: GraphQLClient, ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    assert (await ada.data(NODES_QUERY, {"ids": []})) == {"nodes": []}
    ids = [global_id for global_id, _ in demo_ids.values()]
    assert (await dora.data(NODES_QUERY, {"ids": ids})) == {"nodes": [None] * len(ids)}


@pytest.mark.parametrize("bad", [raw_id("Organization:-5"), "garbage", raw_id("Bucket:1")])
async def test_nodes_with_a_garbage_id_is_invalid_id(
    ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]], bad: str
) -> None:
    body = await ada.errors(NODES_QUERY, {"ids": [demo_ids["Organization"][0], bad]})
    assert error_codes(body) == ["INVALID_ID"]
    assert bad[:80] in body["errors"][0]["message"]


async def test_nodes_refuses_more_than_100_ids(
    ada: GraphQLClient, demo_ids: dict[str, tuple[str, str]]
) -> None:
    org_id = demo_ids["Organization"][0]
    assert len((await ada.data(NODES_QUERY, {"ids": [org_id] * 100}))["nodes"]) == 100
    body = await ada.errors(NODES_QUERY, {"ids": [org_id] * 101})
    assert error_codes(body) == ["INVALID_ARGUMENT"]
    assert "101" in body["errors"][0]["message"]


# --- names that cannot exist ----------------------------------------------------------------


async def test_names_with_nul_are_refused_at_the_door(ada: GraphQLClient) -> None:
    """PostgreSQL text cannot hold NUL: a name with one is refused before anything runs, with
    an error naming the variable, not answered as an internal error."""
    response = await ada.post(
        """query($n: String!) {
             organization(name: $n) { id }
             acme: organization(name: "acme") {
               registry(name: $n) { id }
               project(name: $n) { id }
               churn: project(name: "churn") { artifactSequence(name: $n) { id } }
               model: registry(name: "model") {
                 collection(name: $n) { id }
                 churn: collection(name: "churn-classifier") { version(alias: $n) { id } } } } }""",
        {"n": "ac\u0000me"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("`$n` holds a NUL character")


async def test_digest_matches_a_recomputed_manifest(ada: GraphQLClient) -> None:
    v = await version_at(ada, "acme/wandb-registry-dataset/line-images:v4")
    files = demo_files("images-4", "images.tar", "labels.json")
    assert v["digest"] == manifest_digest(files)
    assert v["files"]["nodes"] == [
        {
            "path": f.path,
            "digest": hashlib.sha256(demo_file(f.path, "images-4")).hexdigest(),
            "size": f.size,
        }
        for f in sorted(files, key=lambda f: f.path)
    ]
    assert v["aliases"] == ["latest", "staging"]
