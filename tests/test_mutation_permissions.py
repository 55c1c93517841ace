"""Who may do what with the mutations: cy (organization VIEWER) is refused every change; bob
(organization MEMBER, registry MEMBER on `model` and `dataset`) links, moves aliases, tags and
edits collections but may not change registries or protected aliases; ada (organization ADMIN)
may do everything. dora (another organization) and anyone without a role in a RESTRICTED
registry get NOT_FOUND, worded exactly as for something that does not exist. Every refusal leaves
the database unchanged; a mutation that skips its authorization check fails and writes nothing.

What the tests make in `acme` and `globex` is removed when the module ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import organizations, registries
from db.accounts import user_by_name
from db.versions import versions_by_id
from resolvers import authorization, links
from resolvers.collections import create_collection_txn
from resolvers.links import link_into_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn
from schema.nodes import global_id
from tests.support.databases import changed_tables, database_state
from tests.support.graphql import GraphQLClient, mutate
from tests.support.ids import missing, row_id
from tests.support.manifests import file, stored_entries, upload
from tests.support.mutations import RESULTS, document, refused

# A file to ask upload URLs for.
PREPARED = {"path": "m.bin", "digest": "e" * 64, "size": 1}


@dataclass(frozen=True)
class Acme:
    """Global IDs and names of the demo's objects and of this module's own."""

    tag: str
    model: str
    dataset: str
    eval_reports: str
    churn_project: str
    finished_run: str  # acme/churn `ingest-2026-11`
    churn_classifier: str
    churn_classifier_v0: str
    churn_model_v0: str  # logged, model
    eval_report_v0: str  # logged, report
    churn_evals_v0: str  # in the restricted `eval-reports`
    project: str  # zz-perm-<tag>, ada's
    project_name: str
    running_run: str
    logged: tuple[str, ...]  # three logged model versions in `project`
    logged_dataset: str
    guarded_registry: str  # perm-<tag>-guarded: protects `production`; bob is MEMBER
    guarded_registry_name: str
    guarded: str  # its collection `guarded`: v0 holds `production`, v1 `latest`
    guarded_v0: str
    guarded_v1: str
    dora_run: str  # a running run of dora's in globex
    dora_version: str  # a logged model version of dora's in globex


@pytest.fixture(scope="module")
async def acme(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[Acme]:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        first_event = await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_events")
        acme_org, globex = await organizations.organizations_by_name(conn, ["acme", "globex"])
        ada = await user_by_name(conn, "ada")
        bob = await user_by_name(conn, "bob")
        dora = await user_by_name(conn, "dora")
        assert acme_org is not None
        assert globex is not None
        assert ada is not None
        assert bob is not None
        assert dora is not None

        async def one(sql: str, *args: Any) -> int:
            found = await conn.fetchval(sql, *args)
            assert found is not None, (sql, args)
            return int(found)

        def registry_id(name: str) -> Any:
            return one(
                "SELECT id FROM registries WHERE organization_id = $1 AND name = $2",
                acme_org.id,
                name,
            )

        def version_in(collection_id: int, index: int) -> Any:
            return one(
                "SELECT id FROM artifact_versions WHERE collection_id = $1 AND version_index = $2",
                collection_id,
                index,
            )

        model_id, dataset_id, reports_id = [
            await registry_id(n) for n in ("model", "dataset", "eval-reports")
        ]
        churn_id = await one(
            "SELECT id FROM projects WHERE organization_id = $1 AND name = 'churn'", acme_org.id
        )
        classifier_id = await one(
            "SELECT id FROM collections WHERE registry_id = $1 AND name = 'churn-classifier'",
            model_id,
        )
        evals_id = await one(
            "SELECT id FROM collections WHERE registry_id = $1 AND name = 'churn-evals'",
            reports_id,
        )

        def sequence(name: str) -> Any:
            return one(
                "SELECT id FROM collections WHERE project_id = $1 AND name = $2", churn_id, name
            )

        ingest_id = await one(
            "SELECT id FROM runs WHERE project_id = $1 AND name = 'ingest-2026-11'", churn_id
        )

        project = await create_project_txn(conn, acme_org.id, f"zz-perm-{tag}")
        running = await create_run_txn(conn, ada, project, "running")
        logged = [
            await log_artifact_txn(
                conn,
                ada,
                project,
                name="perm-model",
                artifact_type="model",
                files=await stored_entries(conn, project, f"perm-{i}", "model.bin", size=1),
                run=running,
            )
            for i in range(3)
        ]
        logged_dataset = await log_artifact_txn(
            conn,
            ada,
            project,
            name="perm-data",
            artifact_type="dataset",
            files=await stored_entries(conn, project, "perm-data", "data.csv", size=1),
            run=running,
        )
        guarded_registry = await create_registry_txn(
            conn,
            ada,
            acme_org.id,
            name=f"perm-{tag}-guarded",
            accepted_types=["model"],
            protected_aliases=["production"],
        )
        await registries.set_registry_user_role(conn, guarded_registry.id, bob.id, "MEMBER")
        guarded = await create_collection_txn(
            conn, ada, guarded_registry, name="guarded", artifact_type="model"
        )
        guarded_v0 = await link_into_txn(
            conn, ada, logged[0], guarded_registry, guarded, ["production"]
        )
        guarded_v1 = await link_into_txn(conn, ada, logged[1], guarded_registry, guarded)

        dora_project = await create_project_txn(conn, globex.id, f"zz-perm-{tag}")
        dora_run = await create_run_txn(conn, dora, dora_project, "running")
        dora_version = await log_artifact_txn(
            conn,
            dora,
            dora_project,
            name="globex-model",
            artifact_type="model",
            files=await stored_entries(conn, dora_project, "perm-dora", "model.bin", size=1),
            run=dora_run,
        )
        made = Acme(
            tag=tag,
            model=global_id("Registry", model_id),
            dataset=global_id("Registry", dataset_id),
            eval_reports=global_id("Registry", reports_id),
            churn_project=global_id("Project", churn_id),
            finished_run=global_id("Run", ingest_id),
            churn_classifier=global_id("Collection", classifier_id),
            churn_classifier_v0=global_id("ArtifactVersion", await version_in(classifier_id, 0)),
            churn_model_v0=global_id(
                "ArtifactVersion", await version_in(await sequence("churn-model"), 0)
            ),
            eval_report_v0=global_id(
                "ArtifactVersion", await version_in(await sequence("churn-eval-report"), 0)
            ),
            churn_evals_v0=global_id("ArtifactVersion", await version_in(evals_id, 0)),
            project=global_id("Project", project.id),
            project_name=project.name,
            running_run=global_id("Run", running.id),
            logged=tuple(global_id("ArtifactVersion", v.id) for v in logged),
            logged_dataset=global_id("ArtifactVersion", logged_dataset.id),
            guarded_registry=global_id("Registry", guarded_registry.id),
            guarded_registry_name=guarded_registry.name,
            guarded=global_id("Collection", guarded.id),
            guarded_v0=global_id("ArtifactVersion", guarded_v0.id),
            guarded_v1=global_id("ArtifactVersion", guarded_v1.id),
            dora_run=global_id("Run", dora_run.id),
            dora_version=global_id("ArtifactVersion", dora_version.id),
        )
    yield made
    # Everything this module made: its projects, its registries, its collections in the core
    # registries, and the audit events written since it started.
    async with pool.acquire() as conn, conn.transaction():
        prefix = f"perm-{tag}%"
        await conn.execute(
            "DELETE FROM collections WHERE registry_id = ANY($1::bigint[]) AND name LIKE $2",
            [model_id, dataset_id],
            prefix,
        )
        await conn.execute(
            "DELETE FROM registries WHERE organization_id = $1 AND name LIKE $2",
            acme_org.id,
            prefix,
        )
        await conn.execute(
            "DELETE FROM projects WHERE organization_id = ANY($1::bigint[]) AND name LIKE $2",
            [acme_org.id, globex.id],
            f"zz-perm-{tag}%",
        )
        await conn.execute("DELETE FROM audit_events WHERE id > $1", first_event)


async def refusal(
    caller: GraphQLClient, pool: asyncpg.Pool, mutation: str, input: Mapping[str, Any]
) -> dict[str, Any]:
    """The one payload error of a refused mutation that changed nothing in the database."""
    payload = await refused(caller, pool, mutation, input)
    assert len(payload["errors"]) == 1, payload
    error: dict[str, Any] = payload["errors"][0]
    return error


async def success(
    caller: GraphQLClient, mutation: str, input: Mapping[str, Any], selection: str
) -> dict[str, Any]:
    """The payload of a mutation that must succeed, with `selection` of its results."""
    payload = await mutate(caller, mutation, input, selection)
    assert payload["errors"] == [], payload
    return payload


Input = Callable[[Acme], Mapping[str, Any]]


# --- cy, organization VIEWER: refused every change -----------------------------------------

ORG_MEMBER_NEEDED = "needs the organization role MEMBER or higher; you are VIEWER"


def model_member_needed(action: str) -> str:
    return f"{action} needs the role MEMBER or higher in registry 'model'; you are VIEWER"


VIEWER_REFUSALS = [
    pytest.param(
        "createProject",
        lambda a: {"organization": "acme", "name": f"zz-perm-{a.tag}-cy"},
        "creating a project " + ORG_MEMBER_NEEDED,
        id="createProject",
    ),
    pytest.param(
        "createRun",
        lambda a: {"projectId": a.churn_project, "name": "cy-run"},
        "creating a run " + ORG_MEMBER_NEEDED,
        id="createRun",
    ),
    pytest.param(
        "updateRun",
        lambda a: {"runId": a.running_run, "summary": {"cy": 1}},
        "updating a run " + ORG_MEMBER_NEEDED,
        id="updateRun",
    ),
    pytest.param(
        "finishRun",
        lambda a: {"runId": a.running_run},
        "updating a run " + ORG_MEMBER_NEEDED,
        id="finishRun",
    ),
    pytest.param(
        "logArtifact",
        lambda a: {
            "projectId": a.churn_project,
            "name": "cy-model",
            "type": "model",
            "files": [{"path": "m.bin", "digest": "c" * 64, "size": 1}],
        },
        "logging an artifact " + ORG_MEMBER_NEEDED,
        id="logArtifact",
    ),
    pytest.param(
        "prepareArtifactFiles",
        lambda a: {"projectId": a.churn_project, "files": [PREPARED]},
        "uploading files " + ORG_MEMBER_NEEDED,
        id="prepareArtifactFiles",
    ),
    pytest.param(
        "useArtifact",
        lambda a: {"runId": a.running_run, "versionId": a.churn_model_v0},
        "recording a use " + ORG_MEMBER_NEEDED,
        id="useArtifact",
    ),
    pytest.param(
        "createRegistry",
        lambda a: {"organization": "acme", "name": f"perm-{a.tag}-cy"},
        "creating a registry " + ORG_MEMBER_NEEDED,
        id="createRegistry",
    ),
    pytest.param(
        "updateRegistry",
        lambda a: {"registryId": a.model, "description": "cy was here"},
        "changing a registry's settings needs the role ADMIN or higher in registry 'model'; "
        "you are VIEWER",
        id="updateRegistry",
    ),
    pytest.param(
        "deleteRegistry",
        lambda a: {"registryId": a.model},
        "deleting a registry needs the role ADMIN or higher in registry 'model'; you are VIEWER",
        id="deleteRegistry",
    ),
    pytest.param(
        "createCollection",
        lambda a: {"registryId": a.model, "name": f"perm-{a.tag}-cy", "type": "model"},
        model_member_needed("creating a collection"),
        id="createCollection",
    ),
    pytest.param(
        "updateCollection",
        lambda a: {"collectionId": a.churn_classifier, "description": "cy was here"},
        model_member_needed("editing a collection"),
        id="updateCollection",
    ),
    pytest.param(
        "deleteCollection",
        lambda a: {"collectionId": a.churn_classifier},
        model_member_needed("deleting a collection"),
        id="deleteCollection",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {
            "versionId": a.churn_model_v0,
            "targetPath": f"acme/wandb-registry-model/perm-{a.tag}-cy",
        },
        model_member_needed("linking"),
        id="linkArtifact-target-path",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {"versionId": a.churn_model_v0, "collectionId": a.churn_classifier},
        model_member_needed("linking"),
        id="linkArtifact-collection",
    ),
    pytest.param(
        "unlinkArtifact",
        lambda a: {"versionId": a.churn_classifier_v0},
        model_member_needed("unlinking"),
        id="unlinkArtifact",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"versionId": a.churn_classifier_v0, "aliases": ["cy-pick"]},
        model_member_needed("changing aliases"),
        id="addAliases",
    ),
    pytest.param(
        "removeAliases",
        lambda a: {
            "path": "acme/wandb-registry-model/churn-classifier:staging",
            "aliases": ["staging"],
        },
        model_member_needed("changing aliases"),
        id="removeAliases",
    ),
    pytest.param(
        "addTags",
        lambda a: {"id": a.churn_classifier_v0, "tags": ["cy-tag"]},
        model_member_needed("tagging"),
        id="addTags-version",
    ),
    pytest.param(
        "addTags",
        lambda a: {"id": a.churn_classifier, "tags": ["cy-tag"]},
        model_member_needed("tagging"),
        id="addTags-collection",
    ),
    pytest.param(
        "removeTags",
        lambda a: {"id": a.churn_classifier, "tags": ["tabular"]},
        model_member_needed("tagging"),
        id="removeTags-collection",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"versionId": a.churn_model_v0, "aliases": ["cy-pick"]},
        "changing aliases " + ORG_MEMBER_NEEDED,
        id="addAliases-logged-version",
    ),
    pytest.param(
        "updateArtifactVersion",
        lambda a: {"versionId": a.churn_classifier_v0, "description": "cy was here"},
        model_member_needed("editing a version"),
        id="updateArtifactVersion",
    ),
]


@pytest.mark.parametrize(("mutation", "make_input", "says"), VIEWER_REFUSALS)
async def test_an_organization_viewer_is_refused(
    pool: asyncpg.Pool,
    cy: GraphQLClient,
    acme: Acme,
    mutation: str,
    make_input: Input,
    says: str,
) -> None:
    error = await refusal(cy, pool, mutation, make_input(acme))
    assert error == {"code": "PERMISSION_DENIED", "message": says, "field": None}


# --- bob, organization MEMBER and registry MEMBER ------------------------------------------


def admin_needed(action: str, registry: str) -> str:
    return f"{action} needs the role ADMIN or higher in registry '{registry}'; you are MEMBER"


async def test_a_registry_member_may_not_change_registry_settings(
    pool: asyncpg.Pool, bob: GraphQLClient, acme: Acme
) -> None:
    for registry_id, name in (
        (acme.model, "model"),
        (acme.dataset, "dataset"),
        (acme.guarded_registry, acme.guarded_registry_name),
    ):
        error = await refusal(
            bob, pool, "updateRegistry", {"registryId": registry_id, "description": "bob"}
        )
        assert error == {
            "code": "PERMISSION_DENIED",
            "message": admin_needed("changing a registry's settings", name),
            "field": None,
        }
        error = await refusal(
            bob, pool, "updateRegistry", {"registryId": registry_id, "acceptAllTypes": True}
        )
        assert error["code"] == "PERMISSION_DENIED"
        error = await refusal(bob, pool, "deleteRegistry", {"registryId": registry_id})
        assert error == {
            "code": "PERMISSION_DENIED",
            "message": admin_needed("deleting a registry", name),
            "field": None,
        }


PROTECTED = (
    "alias 'production' is protected in registry '{}': only its admins may add, move or remove it"
)


@pytest.mark.parametrize(
    ("mutation", "make_input", "field"),
    [
        pytest.param(
            "addAliases",
            lambda a: {"versionId": a.guarded_v1, "aliases": ["fine", "production"]},
            "aliases",
            id="addAliases-move",
        ),
        pytest.param(
            "addAliases",
            lambda a: {"versionId": a.guarded_v0, "aliases": ["production"]},
            "aliases",
            id="addAliases-already-held",
        ),
        pytest.param(
            "removeAliases",
            lambda a: {"versionId": a.guarded_v0, "aliases": ["production"]},
            "aliases",
            id="removeAliases",
        ),
        pytest.param(
            "linkArtifact",
            lambda a: {
                "versionId": a.logged[2],
                "collectionId": a.guarded,
                "aliases": ["production"],
            },
            "aliases",
            id="linkArtifact-into-a-collection",
        ),
        pytest.param(
            "linkArtifact",
            lambda a: {
                "versionId": a.logged[2],
                "targetPath": f"acme/wandb-registry-{a.guarded_registry_name}/new",
                "aliases": ["production"],
            },
            "aliases",
            id="linkArtifact-to-a-path",
        ),
        pytest.param(
            "unlinkArtifact",
            lambda a: {"versionId": a.guarded_v0},
            "versionId",
            id="unlinkArtifact-of-its-holder",
        ),
        pytest.param(
            "unlinkArtifact",
            lambda a: {"path": f"acme/wandb-registry-{a.guarded_registry_name}/guarded:production"},
            "path",
            id="unlinkArtifact-of-its-holder-by-path",
        ),
        pytest.param(
            "deleteCollection",
            lambda a: {"collectionId": a.guarded},
            "collectionId",
            id="deleteCollection-holding-it",
        ),
    ],
)
async def test_a_registry_member_may_not_touch_a_protected_alias(
    pool: asyncpg.Pool,
    bob: GraphQLClient,
    acme: Acme,
    mutation: str,
    make_input: Input,
    field: str,
) -> None:
    error = await refusal(bob, pool, mutation, make_input(acme))
    assert error == {
        "code": "PROTECTED_ALIAS",
        "message": PROTECTED.format(acme.guarded_registry_name),
        "field": ["input", field],
    }


async def test_a_protected_alias_given_while_a_member_unlinks_its_holder_still_stops_it(
    monkeypatch: pytest.MonkeyPatch, pool: asyncpg.Pool, bob: GraphQLClient, acme: Acme
) -> None:
    """The first look at the version's aliases comes before the transaction; what the unlink
    really drops is checked again under the collection's lock. Here the first look sees none,
    as if `production` arrived in between: the second one still refuses, and undoes the unlink."""

    async def no_aliases_yet(ctx: object, version_id: int) -> list[str]:
        return []

    monkeypatch.setattr(links, "version_aliases", no_aliases_yet)
    error = await refusal(bob, pool, "unlinkArtifact", {"versionId": acme.guarded_v0})
    assert error == {
        "code": "PROTECTED_ALIAS",
        "message": PROTECTED.format(acme.guarded_registry_name),
        "field": ["input", "versionId"],
    }


async def test_a_registry_admin_deletes_a_collection_holding_a_protected_alias(
    pool: asyncpg.Pool, ada: GraphQLClient, acme: Acme
) -> None:
    async with pool.acquire() as conn:
        ada_user = await user_by_name(conn, "ada")
        registry = (await registries.registries_by_id(conn, [row_id(acme.guarded_registry)]))[0]
        assert ada_user is not None
        assert registry is not None
        doomed = await create_collection_txn(
            conn, ada_user, registry, name=f"doomed-{uuid.uuid4().hex[:6]}", artifact_type="model"
        )
        (logged,) = await versions_by_id(conn, [row_id(acme.logged[2])])
        assert logged is not None
        await link_into_txn(conn, ada_user, logged, registry, doomed, ["production"])
    deleted = await success(
        ada,
        "deleteCollection",
        {"collectionId": global_id("Collection", doomed.id)},
        "deletedCollectionId",
    )
    assert deleted["deletedCollectionId"] == global_id("Collection", doomed.id)


VERSION = "artifactVersion { id version aliases tags description }"


async def test_a_registry_member_links_moves_aliases_tags_and_edits_collections(
    bob: GraphQLClient, cy: GraphQLClient, acme: Acme
) -> None:
    name = f"perm-{acme.tag}-bob"
    target = f"acme/wandb-registry-model/{name}"
    created = await success(
        bob,
        "createCollection",
        {"registryId": acme.model, "name": name, "type": "model", "tags": ["bobs"]},
        "collection { id name type tags registry { name } }",
    )
    collection = created["collection"]
    assert collection["name"] == name
    assert collection["tags"] == ["bobs"]
    assert collection["registry"] == {"name": "model"}

    first = await success(
        bob,
        "linkArtifact",
        {"versionId": acme.logged[0], "collectionId": collection["id"], "aliases": ["candidate"]},
        VERSION,
    )
    assert first["artifactVersion"]["version"] == "v0"
    assert first["artifactVersion"]["aliases"] == ["candidate", "latest"]
    second = await success(
        bob,
        "linkArtifact",
        {"sourcePath": f"acme/{acme.project_name}/perm-model:v1", "targetPath": target},
        VERSION,
    )
    assert second["artifactVersion"]["version"] == "v1"
    assert second["artifactVersion"]["aliases"] == ["latest"]
    v0, v1 = first["artifactVersion"]["id"], second["artifactVersion"]["id"]

    # An alias another version holds moves; a new one is added.
    moved = await success(
        bob, "addAliases", {"versionId": v1, "aliases": ["candidate", "staging"]}, VERSION
    )
    assert moved["artifactVersion"]["aliases"] == ["candidate", "latest", "staging"]
    removed = await success(
        bob, "removeAliases", {"path": f"{target}:staging", "aliases": ["staging"]}, VERSION
    )
    assert removed["artifactVersion"]["aliases"] == ["candidate", "latest"]

    tagged = await success(
        bob, "addTags", {"id": v0, "tags": ["reviewed", "old"]}, "artifactVersion { tags }"
    )
    assert tagged["artifactVersion"]["tags"] == ["old", "reviewed"]
    untagged = await success(
        bob, "removeTags", {"id": v0, "tags": ["old"]}, "artifactVersion { tags }"
    )
    assert untagged["artifactVersion"]["tags"] == ["reviewed"]
    tagged = await success(
        bob, "addTags", {"id": collection["id"], "tags": ["tabular"]}, "collection { tags }"
    )
    assert tagged["collection"]["tags"] == ["bobs", "tabular"]

    described = await success(
        bob,
        "updateArtifactVersion",
        {"versionId": v0, "description": "bob's notes"},
        "artifactVersion { description }",
    )
    assert described["artifactVersion"]["description"] == "bob's notes"
    renamed = await success(
        bob,
        "updateCollection",
        {"collectionId": collection["id"], "name": f"{name}-2", "description": "# Bob's"},
        "collection { name description }",
    )
    assert renamed["collection"] == {"name": f"{name}-2", "description": "# Bob's"}

    unlinked = await success(
        bob,
        "unlinkArtifact",
        {"versionId": v1},
        "collection { versions { nodes { version aliases } } } unlinkedVersionId",
    )
    assert unlinked["unlinkedVersionId"] == v1
    assert unlinked["collection"]["versions"]["nodes"] == [{"version": "v0", "aliases": ["latest"]}]

    # A link to a name that does not exist yet creates the collection, with the version's type.
    implicit = await success(
        bob,
        "linkArtifact",
        {"versionId": acme.logged[2], "targetPath": f"{target}-implicit"},
        "artifactVersion { version collection { id name type } }",
    )
    assert implicit["artifactVersion"]["version"] == "v0"
    made = implicit["artifactVersion"]["collection"]
    assert (made["name"], made["type"]) == (f"{name}-implicit", "model")

    # cy sees bob's work but may not undo it.
    seen = await cy.data(
        "query($p: String!) { artifactVersion(path: $p) { aliases } }", {"p": f"{target}-2:v0"}
    )
    assert seen == {"artifactVersion": {"aliases": ["latest"]}}

    for collection_id in (collection["id"], made["id"]):
        deleted = await success(
            bob, "deleteCollection", {"collectionId": collection_id}, "deletedCollectionId"
        )
        assert deleted["deletedCollectionId"] == collection_id
    gone = await bob.data(
        'query($p: String!) { registry(organization: "acme", name: "model") '
        "{ collection(name: $p) { id } } }",
        {"p": f"{name}-2"},
    )
    assert gone == {"registry": {"collection": None}}


async def test_a_registry_member_may_use_non_protected_aliases_in_a_guarded_registry(
    bob: GraphQLClient, acme: Acme
) -> None:
    added = await success(
        bob, "addAliases", {"versionId": acme.guarded_v1, "aliases": ["staging"]}, VERSION
    )
    assert added["artifactVersion"]["aliases"] == ["latest", "staging"]
    removed = await success(
        bob, "removeAliases", {"versionId": acme.guarded_v1, "aliases": ["staging"]}, VERSION
    )
    assert removed["artifactVersion"]["aliases"] == ["latest"]


# --- ada, organization ADMIN: everything ----------------------------------------------------


async def test_an_organization_admin_may_do_everything(ada: GraphQLClient, acme: Acme) -> None:
    tag = acme.tag
    project = (
        await success(
            ada,
            "createProject",
            {"organization": "acme", "name": f"zz-perm-{tag}-ada", "description": "Ada's"},
            "project { id name }",
        )
    )["project"]
    assert project["name"] == f"zz-perm-{tag}-ada"
    run = (
        await success(
            ada,
            "createRun",
            {"projectId": project["id"], "name": "train", "config": {"lr": 0.1}},
            "run { id state config }",
        )
    )["run"]
    assert (run["state"], run["config"]) == ("RUNNING", {"lr": 0.1})
    updated = await success(
        ada, "updateRun", {"runId": run["id"], "summary": {"loss": 0.5}}, "run { summary }"
    )
    assert updated["run"]["summary"] == {"loss": 0.5}
    used = await success(
        ada,
        "useArtifact",
        {"runId": run["id"], "path": f"acme/{acme.project_name}/perm-data:v0"},
        "run { id } artifactVersion { id }",
    )
    assert used["artifactVersion"]["id"] == acme.logged_dataset
    manifest = [file("m.bin", b"ada")]
    await upload(ada, manifest, runId=run["id"])
    logged = (
        await success(
            ada,
            "logArtifact",
            {
                "runId": run["id"],
                "name": "ada-model",
                "type": "model",
                "files": manifest,
                "metadata": {"auc": 0.9},
                "aliases": ["best"],
            },
            "artifactVersion { id version aliases metadata }",
        )
    )["artifactVersion"]
    assert (logged["version"], logged["aliases"]) == ("v0", ["best", "latest"])
    finished = await success(ada, "finishRun", {"runId": run["id"]}, "run { state }")
    assert finished["run"]["state"] == "FINISHED"

    registry = (
        await success(
            ada,
            "createRegistry",
            {
                "organization": "acme",
                "name": f"perm-{tag}-ada",
                "acceptedTypes": ["model"],
                "protectedAliases": ["production"],
            },
            "registry { id visibility acceptedTypes protectedAliases viewerRole }",
        )
    )["registry"]
    assert registry["protectedAliases"] == ["production"]
    assert registry["viewerRole"] == "ADMIN"
    changed = await success(
        ada,
        "updateRegistry",
        {
            "registryId": registry["id"],
            "visibility": "RESTRICTED",
            "addAcceptedTypes": ["report"],
            "protectedAliases": ["production", "approved"],
        },
        "registry { visibility acceptedTypes protectedAliases }",
    )
    assert changed["registry"] == {
        "visibility": "RESTRICTED",
        "acceptedTypes": ["model", "report"],
        "protectedAliases": ["approved", "production"],
    }
    collection = (
        await success(
            ada,
            "createCollection",
            {"registryId": registry["id"], "name": "models", "type": "model"},
            "collection { id }",
        )
    )["collection"]
    renamed = await success(
        ada,
        "updateCollection",
        {"collectionId": collection["id"], "name": "best-models"},
        "collection { name }",
    )
    assert renamed["collection"] == {"name": "best-models"}
    linked = (
        await success(
            ada,
            "linkArtifact",
            {
                "versionId": logged["id"],
                "collectionId": collection["id"],
                "aliases": ["production"],
            },
            VERSION,
        )
    )["artifactVersion"]
    assert linked["aliases"] == ["latest", "production"]
    other = (
        await success(
            ada,
            "linkArtifact",
            {
                "versionId": acme.logged[0],
                "targetPath": f"acme/wandb-registry-perm-{tag}-ada/best-models",
            },
            VERSION,
        )
    )["artifactVersion"]
    # Protected aliases move, are added and removed by an admin.
    moved = await success(
        ada,
        "addAliases",
        {"versionId": other["id"], "aliases": ["production", "approved"]},
        VERSION,
    )
    assert moved["artifactVersion"]["aliases"] == ["approved", "latest", "production"]
    removed = await success(
        ada, "removeAliases", {"versionId": other["id"], "aliases": ["approved"]}, VERSION
    )
    assert removed["artifactVersion"]["aliases"] == ["latest", "production"]
    tagged = await success(
        ada, "addTags", {"id": other["id"], "tags": ["chosen"]}, "artifactVersion { tags }"
    )
    assert tagged["artifactVersion"]["tags"] == ["chosen"]
    untagged = await success(
        ada, "removeTags", {"id": other["id"], "tags": ["chosen"]}, "artifactVersion { tags }"
    )
    assert untagged["artifactVersion"]["tags"] == []
    described = await success(
        ada,
        "updateArtifactVersion",
        {"versionId": linked["id"], "description": "Ada's pick"},
        "artifactVersion { description }",
    )
    assert described["artifactVersion"]["description"] == "Ada's pick"
    unlinked = await success(
        ada,
        "unlinkArtifact",
        {"versionId": other["id"]},
        "collection { aliases { alias version { version } } } unlinkedVersionId",
    )
    assert unlinked["collection"]["aliases"] == [{"alias": "latest", "version": {"version": "v0"}}]
    deleted = await success(
        ada, "deleteCollection", {"collectionId": collection["id"]}, "deletedCollectionId"
    )
    assert deleted["deletedCollectionId"] == collection["id"]
    gone = await success(ada, "deleteRegistry", {"registryId": registry["id"]}, "deletedRegistryId")
    assert gone["deletedRegistryId"] == registry["id"]
    assert await ada.data(
        'query($n: String!) { registry(organization: "acme", name: $n) { id } }',
        {"n": f"perm-{tag}-ada"},
    ) == {"registry": None}


async def test_an_organization_admin_may_not_break_core_registries(
    pool: asyncpg.Pool, ada: GraphQLClient, acme: Acme
) -> None:
    """Being allowed everything does not lift the rules that hold for everyone."""
    error = await refusal(ada, pool, "deleteRegistry", {"registryId": acme.model})
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["field"] == ["input", "registryId"]
    error = await refusal(
        ada, pool, "updateRegistry", {"registryId": acme.dataset, "visibility": "RESTRICTED"}
    )
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["field"] == ["input", "visibility"]


# --- dora, another organization: acme does not exist for her -------------------------------

ACME_NAMES = ("eval-reports", "no-such-registry", "no-such-org", "acme")


def normalized(message: str) -> str:
    """The message with the names that differ between the twin inputs blanked out."""
    for name in ACME_NAMES:
        message = message.replace(name, "<name>")
    return message


# Each case: an input naming acme objects, and its twin naming objects that do not exist.
FOREIGN = [
    pytest.param(
        "createProject",
        lambda a: {"organization": "acme", "name": "dora-project"},
        lambda a: {"organization": "no-such-org", "name": "dora-project"},
        id="createProject",
    ),
    pytest.param(
        "createRegistry",
        lambda a: {"organization": "acme", "name": "dora-registry"},
        lambda a: {"organization": "no-such-org", "name": "dora-registry"},
        id="createRegistry",
    ),
    pytest.param(
        "createRun",
        lambda a: {"projectId": a.churn_project, "name": "dora-run"},
        lambda a: {"projectId": missing("Project"), "name": "dora-run"},
        id="createRun",
    ),
    pytest.param(
        "updateRun",
        lambda a: {"runId": a.running_run, "summary": {"dora": 1}},
        lambda a: {"runId": missing("Run"), "summary": {"dora": 1}},
        id="updateRun",
    ),
    pytest.param(
        "finishRun",
        lambda a: {"runId": a.running_run},
        lambda a: {"runId": missing("Run")},
        id="finishRun",
    ),
    pytest.param(
        "logArtifact",
        lambda a: {
            "projectId": a.churn_project,
            "name": "m",
            "type": "model",
            "files": [{"path": "m", "digest": "d" * 64, "size": 1}],
        },
        lambda a: {
            "projectId": missing("Project"),
            "name": "m",
            "type": "model",
            "files": [{"path": "m", "digest": "d" * 64, "size": 1}],
        },
        id="logArtifact-project",
    ),
    pytest.param(
        "logArtifact",
        lambda a: {
            "runId": a.running_run,
            "name": "m",
            "type": "model",
            "files": [{"path": "m", "digest": "d" * 64, "size": 1}],
        },
        lambda a: {
            "runId": missing("Run"),
            "name": "m",
            "type": "model",
            "files": [{"path": "m", "digest": "d" * 64, "size": 1}],
        },
        id="logArtifact-run",
    ),
    pytest.param(
        "prepareArtifactFiles",
        lambda a: {"projectId": a.churn_project, "files": [PREPARED]},
        lambda a: {"projectId": missing("Project"), "files": [PREPARED]},
        id="prepareArtifactFiles-project",
    ),
    pytest.param(
        "prepareArtifactFiles",
        lambda a: {"runId": a.running_run, "files": [PREPARED]},
        lambda a: {"runId": missing("Run"), "files": [PREPARED]},
        id="prepareArtifactFiles-run",
    ),
    pytest.param(
        "useArtifact",
        lambda a: {"runId": a.dora_run, "versionId": a.churn_model_v0},
        lambda a: {"runId": a.dora_run, "versionId": missing("ArtifactVersion")},
        id="useArtifact-version",
    ),
    pytest.param(
        "useArtifact",
        lambda a: {"runId": a.dora_run, "path": "acme/churn/churn-model:v0"},
        lambda a: {"runId": a.dora_run, "path": "no-such-org/churn/churn-model:v0"},
        id="useArtifact-path",
    ),
    pytest.param(
        "useArtifact",
        lambda a: {"runId": a.running_run, "versionId": a.dora_version},
        lambda a: {"runId": missing("Run"), "versionId": a.dora_version},
        id="useArtifact-run",
    ),
    pytest.param(
        "updateRegistry",
        lambda a: {"registryId": a.model, "description": "dora"},
        lambda a: {"registryId": missing("Registry"), "description": "dora"},
        id="updateRegistry",
    ),
    pytest.param(
        "deleteRegistry",
        lambda a: {"registryId": a.guarded_registry},
        lambda a: {"registryId": missing("Registry")},
        id="deleteRegistry",
    ),
    pytest.param(
        "createCollection",
        lambda a: {"registryId": a.model, "name": "dora", "type": "model"},
        lambda a: {"registryId": missing("Registry"), "name": "dora", "type": "model"},
        id="createCollection",
    ),
    pytest.param(
        "updateCollection",
        lambda a: {"collectionId": a.churn_classifier, "name": "dora"},
        lambda a: {"collectionId": missing("Collection"), "name": "dora"},
        id="updateCollection",
    ),
    pytest.param(
        "deleteCollection",
        lambda a: {"collectionId": a.churn_classifier},
        lambda a: {"collectionId": missing("Collection")},
        id="deleteCollection",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {"versionId": a.churn_model_v0, "targetPath": "globex/wandb-registry-model/x"},
        lambda a: {
            "versionId": missing("ArtifactVersion"),
            "targetPath": "globex/wandb-registry-model/x",
        },
        id="linkArtifact-version",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {
            "sourcePath": "acme/churn/churn-model:v0",
            "targetPath": "globex/wandb-registry-model/x",
        },
        lambda a: {
            "sourcePath": "no-such-org/churn/churn-model:v0",
            "targetPath": "globex/wandb-registry-model/x",
        },
        id="linkArtifact-source-path",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {"versionId": a.dora_version, "targetPath": "acme/wandb-registry-model/x"},
        lambda a: {"versionId": a.dora_version, "targetPath": "no-such-org/wandb-registry-model/x"},
        id="linkArtifact-target-path",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {"versionId": a.dora_version, "collectionId": a.churn_classifier},
        lambda a: {"versionId": a.dora_version, "collectionId": missing("Collection")},
        id="linkArtifact-collection",
    ),
    pytest.param(
        "unlinkArtifact",
        lambda a: {"versionId": a.churn_classifier_v0},
        lambda a: {"versionId": missing("ArtifactVersion")},
        id="unlinkArtifact",
    ),
    pytest.param(
        "unlinkArtifact",
        lambda a: {"path": "acme/wandb-registry-model/churn-classifier:v0"},
        lambda a: {"path": "no-such-org/wandb-registry-model/churn-classifier:v0"},
        id="unlinkArtifact-path",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"versionId": a.churn_classifier_v0, "aliases": ["dora"]},
        lambda a: {"versionId": missing("ArtifactVersion"), "aliases": ["dora"]},
        id="addAliases",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"path": "acme/wandb-registry-model/churn-classifier", "aliases": ["dora"]},
        lambda a: {
            "path": "no-such-org/wandb-registry-model/churn-classifier",
            "aliases": ["dora"],
        },
        id="addAliases-path",
    ),
    pytest.param(
        "removeAliases",
        lambda a: {"versionId": a.guarded_v0, "aliases": ["production"]},
        lambda a: {"versionId": missing("ArtifactVersion"), "aliases": ["production"]},
        id="removeAliases",
    ),
    pytest.param(
        "addTags",
        lambda a: {"id": a.churn_classifier, "tags": ["dora"]},
        lambda a: {"id": missing("Collection"), "tags": ["dora"]},
        id="addTags-collection",
    ),
    pytest.param(
        "addTags",
        lambda a: {"id": a.churn_model_v0, "tags": ["dora"]},
        lambda a: {"id": missing("ArtifactVersion"), "tags": ["dora"]},
        id="addTags-logged-version",
    ),
    pytest.param(
        "removeTags",
        lambda a: {"id": a.churn_classifier_v0, "tags": ["xgboost"]},
        lambda a: {"id": missing("ArtifactVersion"), "tags": ["xgboost"]},
        id="removeTags-version",
    ),
    pytest.param(
        "updateArtifactVersion",
        lambda a: {"versionId": a.churn_classifier_v0, "description": "dora"},
        lambda a: {"versionId": missing("ArtifactVersion"), "description": "dora"},
        id="updateArtifactVersion",
    ),
]


@pytest.mark.parametrize(("mutation", "foreign", "nonexistent"), FOREIGN)
async def test_another_organizations_objects_answer_as_missing_ones(
    pool: asyncpg.Pool,
    dora: GraphQLClient,
    acme: Acme,
    mutation: str,
    foreign: Input,
    nonexistent: Input,
) -> None:
    seen = await refusal(dora, pool, mutation, foreign(acme))
    absent = await refusal(dora, pool, mutation, nonexistent(acme))
    assert seen["code"] == absent["code"] == "NOT_FOUND", (seen, absent)
    assert seen["field"] == absent["field"], (seen, absent)
    assert seen["field"] is not None
    assert normalized(seen["message"]) == normalized(absent["message"]), (seen, absent)


def test_every_mutation_is_tried_across_organizations() -> None:
    assert {param.values[0] for param in FOREIGN} == set(RESULTS)


# --- a RESTRICTED registry does not exist for those without a role --------------------------

RESTRICTED = [
    pytest.param(
        "linkArtifact",
        lambda a: {
            "versionId": a.eval_report_v0,
            "targetPath": "acme/wandb-registry-eval-reports/x",
        },
        lambda a: {
            "versionId": a.eval_report_v0,
            "targetPath": "acme/wandb-registry-no-such-registry/x",
        },
        id="linkArtifact-target-path",
    ),
    pytest.param(
        "createCollection",
        lambda a: {"registryId": a.eval_reports, "name": "x", "type": "report"},
        lambda a: {"registryId": missing("Registry"), "name": "x", "type": "report"},
        id="createCollection",
    ),
    pytest.param(
        "updateRegistry",
        lambda a: {"registryId": a.eval_reports, "description": "x"},
        lambda a: {"registryId": missing("Registry"), "description": "x"},
        id="updateRegistry",
    ),
    pytest.param(
        "deleteRegistry",
        lambda a: {"registryId": a.eval_reports},
        lambda a: {"registryId": missing("Registry")},
        id="deleteRegistry",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"versionId": a.churn_evals_v0, "aliases": ["x"]},
        lambda a: {"versionId": missing("ArtifactVersion"), "aliases": ["x"]},
        id="addAliases-version",
    ),
    pytest.param(
        "addAliases",
        lambda a: {"path": "acme/wandb-registry-eval-reports/churn-evals:v0", "aliases": ["x"]},
        lambda a: {"path": "acme/wandb-registry-no-such-registry/churn-evals:v0", "aliases": ["x"]},
        id="addAliases-path",
    ),
    pytest.param(
        "linkArtifact",
        lambda a: {
            "sourcePath": "acme/wandb-registry-eval-reports/churn-evals:approved",
            "targetPath": "acme/wandb-registry-model/x",
        },
        lambda a: {
            "sourcePath": "acme/wandb-registry-no-such-registry/churn-evals:approved",
            "targetPath": "acme/wandb-registry-model/x",
        },
        id="linkArtifact-source-path",
    ),
    pytest.param(
        "unlinkArtifact",
        lambda a: {"versionId": a.churn_evals_v0},
        lambda a: {"versionId": missing("ArtifactVersion")},
        id="unlinkArtifact",
    ),
    pytest.param(
        "addTags",
        lambda a: {"id": a.churn_evals_v0, "tags": ["x"]},
        lambda a: {"id": missing("ArtifactVersion"), "tags": ["x"]},
        id="addTags",
    ),
    pytest.param(
        "useArtifact",
        lambda a: {"runId": a.running_run, "versionId": a.churn_evals_v0},
        lambda a: {"runId": a.running_run, "versionId": missing("ArtifactVersion")},
        id="useArtifact",
    ),
]


@pytest.mark.parametrize("user", ["bob", "cy"])
@pytest.mark.parametrize(("mutation", "restricted", "nonexistent"), RESTRICTED)
async def test_a_restricted_registry_answers_as_a_missing_one(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    demo: dict[str, str],
    acme: Acme,
    user: str,
    mutation: str,
    restricted: Input,
    nonexistent: Input,
) -> None:
    caller = GraphQLClient(client, demo[user])
    hidden = await refusal(caller, pool, mutation, restricted(acme))
    absent = await refusal(caller, pool, mutation, nonexistent(acme))
    assert hidden["code"] == absent["code"] == "NOT_FOUND", (hidden, absent)
    assert hidden["field"] == absent["field"], (hidden, absent)
    assert normalized(hidden["message"]) == normalized(absent["message"]), (hidden, absent)


async def test_a_member_who_creates_a_restricted_registry_administers_it(
    pool: asyncpg.Pool, bob: GraphQLClient, cy: GraphQLClient, ada: GraphQLClient, acme: Acme
) -> None:
    name = f"perm-{acme.tag}-bobs"
    made = await success(
        bob,
        "createRegistry",
        {"organization": "acme", "name": name, "visibility": "RESTRICTED"},
        "registry { id visibility viewerRole acceptsAllTypes }",
    )
    registry = made["registry"]
    assert registry["visibility"] == "RESTRICTED"
    assert registry["viewerRole"] == "ADMIN"
    assert registry["acceptsAllTypes"] is True
    changed = await success(
        bob,
        "updateRegistry",
        {"registryId": registry["id"], "description": "Bob's", "protectedAliases": ["gold"]},
        "registry { description protectedAliases }",
    )
    assert changed["registry"] == {"description": "Bob's", "protectedAliases": ["gold"]}
    linked = await success(
        bob,
        "linkArtifact",
        {
            "versionId": acme.logged[0],
            "targetPath": f"acme/wandb-registry-{name}/picks",
            "aliases": ["gold"],
        },
        "artifactVersion { aliases }",
    )
    assert linked["artifactVersion"]["aliases"] == ["gold", "latest"]

    # cy has no role in it: it answers as a missing registry. ada, an org admin, sees it.
    error = await refusal(cy, pool, "updateRegistry", {"registryId": registry["id"]})
    assert error == {
        "code": "NOT_FOUND",
        "message": "registry not found",
        "field": ["input", "registryId"],
    }
    query = 'query($n: String!) { registry(organization: "acme", name: $n) { viewerRole } }'
    assert await cy.data(query, {"n": name}) == {"registry": None}
    assert await ada.data(query, {"n": name}) == {"registry": {"viewerRole": "ADMIN"}}

    deleted = await success(
        bob, "deleteRegistry", {"registryId": registry["id"]}, "deletedRegistryId"
    )
    assert deleted["deletedRegistryId"] == registry["id"]
    assert await bob.data(query, {"n": name}) == {"registry": None}


# --- a mutation that skips its authorization check writes nothing --------------------------


async def test_a_mutation_without_an_authorization_check_fails_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, pool: asyncpg.Pool, ada: GraphQLClient, acme: Acme
) -> None:
    async def unchecked(*args: Any, **kwargs: Any) -> str:
        return "ADMIN"  # the answer a check would give ada, without marking the request checked

    monkeypatch.setattr(authorization, "require_registry_role", unchecked)
    name = f"perm-{acme.tag}-unchecked"
    before = await database_state(pool)
    response = await ada.post(
        document("createCollection"),
        {"input": {"registryId": acme.model, "name": name, "type": "model"}},
    )
    after = await database_state(pool)
    body = response.json()
    assert changed_tables(before, after) == [], body
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"].startswith("Internal server error. Quote request id ")
    assert error["extensions"]["requestId"] in error["message"]
    assert error["path"] == ["createCollection"]
    assert "authorization" not in response.text.lower()

    # With the check back in place, the same request succeeds: the refusal was the guard's.
    monkeypatch.undo()
    created = await success(
        ada,
        "createCollection",
        {"registryId": acme.model, "name": name, "type": "model"},
        "collection { id name }",
    )
    assert created["collection"]["name"] == name
    removed = await success(
        ada,
        "deleteCollection",
        {"collectionId": created["collection"]["id"]},
        "deletedCollectionId",
    )
    assert removed["deletedCollectionId"] == created["collection"]["id"]


async def test_a_change_to_a_logged_version_does_not_reach_its_links(
    bob: GraphQLClient, ada: GraphQLClient
) -> None:
    """bob, with no role in the RESTRICTED eval-reports registry, may describe the report his
    project logged; the version the registry links keeps its own description, and the change is
    recorded nowhere bob may not look."""
    query = """query($p: String!) { artifactVersion(path: $p) { id description } }"""
    logged = (await bob.data(query, {"p": "acme/churn/churn-eval-report:v3"}))["artifactVersion"]
    linked = "acme/wandb-registry-eval-reports/churn-evals:v3"
    before = (await ada.data(query, {"p": linked}))["artifactVersion"]
    history = """{ registry(organization: "acme", name: "eval-reports") {
      history(first: 1) { nodes { action createdAt } } } }"""
    last_event = await ada.data(history)
    try:
        changed = await success(
            bob,
            "updateArtifactVersion",
            {"versionId": logged["id"], "description": "bob's words"},
            "artifactVersion { description }",
        )
        assert changed["artifactVersion"] == {"description": "bob's words"}
        assert (await ada.data(query, {"p": linked}))["artifactVersion"] == before
        assert await ada.data(history) == last_event
    finally:
        await success(
            bob,
            "updateArtifactVersion",
            {"versionId": logged["id"], "description": logged["description"]},
            "artifactVersion { description }",
        )
