"""Bad input for every mutation: malformed and unknown ids and paths, invalid names, reserved and
protected aliases, type mismatches, oversize strings and wrong JSON shapes. Each is a payload error
with a stable code, a message naming what is wrong and the input field at fault, over HTTP 200,
and the database is verifiably unchanged (every table's row count and content digest). Malformed
documents and variables are GraphQL request errors (422) and change nothing either.

The objects under test live in `acme` (a project, a registry with a protected alias, collections,
logged and linked versions, and rows made and deleted again for "unknown" ids); they are removed
when the module ends, so `acme` looks as the demo made it to every other test module."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import organizations, registries
from db.accounts import user_by_name
from db.collections import collection_in_registry
from resolvers.collections import create_collection_txn, delete_collection_txn
from resolvers.links import link_into_txn, unlink_artifact_txn
from resolvers.registries import create_registry_txn, delete_registry_txn
from resolvers.runs import create_project_txn, create_run_txn, finish_run_txn, log_artifact_txn
from schema.nodes import global_id
from tests.support.databases import changed_tables, database_state
from tests.support.graphql import GRAPHQL_RESPONSE_JSON, GraphQLClient
from tests.support.ids import missing
from tests.support.manifests import stored_entries
from tests.support.mutations import (
    RESULTS,
    document,
    holds_nul,
    refused,
    refused_at_the_door,
)

TOO_LONG_DESCRIPTION = "d" * 65_537
TOO_BIG_JSON = {"blob": "x" * (256 * 1024)}
FILES = [{"path": "weights.bin", "digest": "f" * 64, "size": 10}]

# --- the objects under test -------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Global IDs and names of this module's objects in `acme`."""

    tag: str
    project_name: str
    registry_name: str
    project: str
    running_run: str
    finished_run: str
    registry: str
    guarded: str  # collection `guarded` (model) in `registry`: v0 holds `production`, v1 `staging`
    second: str  # collection `second` (model) in `registry`
    sequence: str  # the `errs-model` artifact sequence (an ArtifactSequence ID)
    sequence_as_collection: str  # the same row spelled as a Collection ID
    model_v0: str  # logged model versions
    model_v1: str
    data_v0: str  # a logged dataset version
    guarded_v0: str
    guarded_v1: str
    model_registry: str
    dataset_registry: str
    churn_classifier: str
    deleted_project: str
    deleted_run: str
    deleted_registry: str
    deleted_collection: str
    deleted_version: str


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[World]:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        (acme,) = await organizations.organizations_by_name(conn, ["acme"])
        ada = await user_by_name(conn, "ada")
        bob = await user_by_name(conn, "bob")
        assert acme is not None
        assert ada is not None
        assert bob is not None
        project = await create_project_txn(conn, acme.id, f"zz-errors-{tag}")
        running = await create_run_txn(conn, ada, project, "running")
        finished = await finish_run_txn(conn, await create_run_txn(conn, ada, project, "finished"))

        async def log(name: str, artifact_type: str, seed: str) -> Any:
            return await log_artifact_txn(
                conn,
                ada,
                project,
                name=name,
                artifact_type=artifact_type,
                files=await stored_entries(conn, project, seed, "file.bin", size=1),
                run=running,
            )

        model_v0 = await log("errs-model", "model", "a")
        model_v1 = await log("errs-model", "model", "b")
        data_v0 = await log("errs-data", "dataset", "c")
        registry = await create_registry_txn(
            conn,
            ada,
            acme.id,
            name=f"errs-{tag}",
            accepted_types=["model", "dataset"],
            protected_aliases=["production"],
        )
        await registries.set_registry_user_role(conn, registry.id, bob.id, "MEMBER")
        guarded = await create_collection_txn(
            conn, ada, registry, name="guarded", artifact_type="model"
        )
        second = await create_collection_txn(
            conn, ada, registry, name="second", artifact_type="model"
        )
        guarded_v0 = await link_into_txn(conn, ada, model_v0, registry, guarded, ["production"])
        guarded_v1 = await link_into_txn(conn, ada, model_v1, registry, guarded, ["staging"])
        # Rows that existed once: their IDs are well-formed but name nothing.
        gone_registry = await create_registry_txn(conn, ada, acme.id, name=f"errs-gone-{tag}")
        await delete_registry_txn(conn, ada, gone_registry)
        gone_collection = await create_collection_txn(
            conn, ada, registry, name="gone", artifact_type="model"
        )
        await delete_collection_txn(conn, ada, gone_collection)
        gone_version = await link_into_txn(conn, ada, model_v0, registry, second)
        await unlink_artifact_txn(conn, ada, gone_version)
        gone_project = await create_project_txn(conn, acme.id, f"zz-errors-gone-{tag}")
        gone_run = await create_run_txn(conn, ada, project, "gone")
        await conn.execute("DELETE FROM runs WHERE id = $1", gone_run.id)
        await conn.execute("DELETE FROM projects WHERE id = $1", gone_project.id)
        core = {
            row["name"]: row["id"]
            for row in await conn.fetch(
                "SELECT id, name FROM registries WHERE organization_id = $1 AND is_core", acme.id
            )
        }
        churn = await collection_in_registry(conn, core["model"], "churn-classifier")
        assert churn is not None
    yield World(
        tag=tag,
        project_name=project.name,
        registry_name=registry.name,
        project=global_id("Project", project.id),
        running_run=global_id("Run", running.id),
        finished_run=global_id("Run", finished.id),
        registry=global_id("Registry", registry.id),
        guarded=global_id("Collection", guarded.id),
        second=global_id("Collection", second.id),
        sequence=global_id("ArtifactSequence", model_v0.collection_id),
        sequence_as_collection=global_id("Collection", model_v0.collection_id),
        model_v0=global_id("ArtifactVersion", model_v0.id),
        model_v1=global_id("ArtifactVersion", model_v1.id),
        data_v0=global_id("ArtifactVersion", data_v0.id),
        guarded_v0=global_id("ArtifactVersion", guarded_v0.id),
        guarded_v1=global_id("ArtifactVersion", guarded_v1.id),
        model_registry=global_id("Registry", core["model"]),
        dataset_registry=global_id("Registry", core["dataset"]),
        churn_classifier=global_id("Collection", churn.id),
        deleted_project=global_id("Project", gone_project.id),
        deleted_run=global_id("Run", gone_run.id),
        deleted_registry=global_id("Registry", gone_registry.id),
        deleted_collection=global_id("Collection", gone_collection.id),
        deleted_version=global_id("ArtifactVersion", gone_version.id),
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM audit_events WHERE registry_id = ANY($1::bigint[])",
            [registry.id, gone_registry.id],
        )
        await conn.execute("DELETE FROM registries WHERE id = $1", registry.id)
        await conn.execute("DELETE FROM projects WHERE id = $1", project.id)


# --- the mutations ------------------------------------------------------------------------------

# A valid input of each mutation, which each case breaks in one way only.
VALID_INPUTS: dict[str, Callable[[World], dict[str, Any]]] = {
    "createProject": lambda w: {"organization": "acme", "name": f"zz-new-{w.tag}"},
    "createRun": lambda w: {"projectId": w.project, "name": "new-run"},
    "updateRun": lambda w: {"runId": w.running_run},
    "finishRun": lambda w: {"runId": w.running_run},
    "logArtifact": lambda w: {
        "projectId": w.project,
        "name": "errs-model",
        "type": "model",
        "files": FILES,
    },
    "prepareArtifactFiles": lambda w: {"projectId": w.project, "files": FILES},
    "useArtifact": lambda w: {"runId": w.running_run, "versionId": w.data_v0},
    "createRegistry": lambda w: {"organization": "acme", "name": f"zz-new-{w.tag}"},
    "updateRegistry": lambda w: {"registryId": w.registry},
    "deleteRegistry": lambda w: {"registryId": w.registry},
    "createCollection": lambda w: {
        "registryId": w.registry,
        "name": "new-collection",
        "type": "model",
    },
    "updateCollection": lambda w: {"collectionId": w.guarded, "description": "new"},
    "deleteCollection": lambda w: {"collectionId": w.second},
    "linkArtifact": lambda w: {"versionId": w.model_v0, "collectionId": w.second},
    "unlinkArtifact": lambda w: {"versionId": w.guarded_v1},
    "addAliases": lambda w: {"versionId": w.guarded_v1, "aliases": ["fine"]},
    "removeAliases": lambda w: {"versionId": w.guarded_v1, "aliases": ["staging"]},
    "addTags": lambda w: {"id": w.guarded, "tags": ["fine"]},
    "removeTags": lambda w: {"id": w.guarded, "tags": ["fine"]},
    "updateArtifactVersion": lambda w: {"versionId": w.guarded_v1, "description": "new"},
}


# A key in a case's changes set to DROP is removed from the valid input.
DROP = object()

Changes = Mapping[str, Any] | Callable[[World], Mapping[str, Any]]


@dataclass(frozen=True)
class Case:
    mutation: str
    changes: Changes
    code: str
    field: str  # the input field at fault
    says: tuple[str, ...]  # the message names what is wrong
    user: str = "ada"

    def input(self, world: World) -> dict[str, Any]:
        values = dict(VALID_INPUTS[self.mutation](world))
        changes = self.changes(world) if callable(self.changes) else self.changes
        for key, value in changes.items():
            if value is DROP:
                values.pop(key, None)
            else:
                values[key] = value
        return values


def case(
    id: str,
    mutation: str,
    changes: Changes,
    code: str,
    field: str,
    *says: str,
    user: str = "ada",
) -> Any:
    return pytest.param(Case(mutation, changes, code, field, says, user), id=f"{mutation}-{id}")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def id_cases(
    mutation: str,
    field: str,
    kind: str,
    wrong_kind: str,
    not_found: str,
    deleted: str | None,
    extra: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Malformed, wrong-kind, unknown and deleted IDs for one ID field (with `extra` changes)."""
    more = dict(extra or {})
    cases = [
        case(
            f"{field}-garbage",
            mutation,
            {**more, field: "garbage"},
            "INVALID_ID",
            field,
            f"`{field}` must be the ID of",
            kind,
        ),
        case(
            f"{field}-of-a-{wrong_kind}",
            mutation,
            {**more, field: global_id(wrong_kind, 1)},
            "INVALID_ID",
            field,
            f"`{field}` must be the ID of",
            kind,
        ),
        case(
            f"{field}-unknown",
            mutation,
            {**more, field: missing(kind)},
            "NOT_FOUND",
            field,
            not_found,
        ),
    ]
    if deleted is not None:
        cases.append(
            case(
                f"{field}-deleted",
                mutation,
                lambda w: {**more, field: getattr(w, deleted)},
                "NOT_FOUND",
                field,
                not_found,
            )
        )
    return cases


def deeply_nested(depth: int) -> dict[str, Any]:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return {"deep": value}


def json_shape_cases(mutation: str, field: str) -> list[Any]:
    """A JSON object is required: an array, a string, a number, a boolean and one too big fail."""
    shapes: list[tuple[str, Any, str]] = [
        ("array", [1, 2], "list"),
        ("string", "x", "str"),
        ("number", 3, "int"),
        ("float", 2.5, "float"),
        ("boolean", True, "bool"),
    ]
    cases = [
        case(
            f"{field}-as-{name}",
            mutation,
            {field: value},
            "INVALID_ARGUMENT",
            field,
            f"`{field}` must be a JSON object",
            shown,
        )
        for name, value, shown in shapes
    ]
    cases.extend(
        case(
            f"{field}-nested-{depth}-deep",
            mutation,
            {field: deeply_nested(depth)},
            "INVALID_ARGUMENT",
            field,
            f"`{field}` is nested more than 64 levels deep",
        )
        for depth in (65, 300)
    )
    cases.append(
        case(
            f"{field}-key-with-nul",
            mutation,
            {field: {"a\x00b": 1}},
            "INVALID_ARGUMENT",
            field,
            "NUL",
        )
    )
    cases.append(
        case(
            f"{field}-over-256KiB",
            mutation,
            {field: TOO_BIG_JSON},
            "INVALID_ARGUMENT",
            field,
            f"`{field}`",
            "at most 262144",
        )
    )
    return cases


def name_cases(
    mutation: str, field: str, what: str, bad: Mapping[str, str], wrap: bool = False
) -> list[Any]:
    """Invalid names for one field (a list field when `wrap`): INVALID_NAME naming the value."""
    return [
        case(
            f"{field}-{label}",
            mutation,
            {field: [value] if wrap else value},
            "INVALID_NAME",
            field,
            what,
            repr(value if len(value) <= 60 else value[:60] + "…"),
        )
        for label, value in bad.items()
    ]


BAD_REGISTRY_NAMES = {
    "slash": "a/b",
    "colon": "a:b",
    "hash": "a#b",
    "percent": "a%b",
    "question-mark": "a?b",
    "backslash": "a\\b",
    "newline": "a\nb",
    "carriage-return": "a\rb",
    "nul": "a\x00b",
    "114-chars": "r" * 114,
    "empty": "",
    "surrounding-spaces": " padded ",
}
BAD_COLLECTION_NAMES = {
    "slash": "a/b",
    "colon": "a:b",
    "newline": "a\nb",
    "nul": "a\x00b",
    "129-chars": "c" * 129,
    "empty": "",
}
BAD_PROJECT_NAMES = {
    "space": "has space",
    "slash": "a/b",
    "leading-dash": "-dash",
    "registry-prefix": "wandb-registry-x",
    "129-chars": "p" * 129,
    "empty": "",
}
BAD_RUN_NAMES = {"empty": "", "surrounding-spaces": " run ", "129-chars": "r" * 129, "nul": "a\x00"}
BAD_TYPES = {"space": "bad type", "slash": "a/b", "empty": "", "129-chars": "t" * 129}
BAD_LABELS = {"space": "has space", "colon": "a:b", "empty": "", "129-chars": "l" * 129}
# Aliases are case-insensitive: the reserved names are reserved in any case.
RESERVED = {"latest": "latest", "v3": "v3", "v0": "v0", "LATEST": "LATEST", "V7": "V7"}


def alias_cases(mutation: str, field: str = "aliases") -> list[Any]:
    """Reserved aliases (RESERVED_ALIAS) and malformed ones (INVALID_NAME) in a list field."""
    reserved = [
        case(
            f"{field}-reserved-{label}",
            mutation,
            {field: ["fine", value]},
            "RESERVED_ALIAS",
            field,
            f"'{value}' is reserved",
        )
        for label, value in RESERVED.items()
    ]
    return reserved + name_cases(mutation, field, "alias", BAD_LABELS, wrap=True)


def too_long_description(mutation: str, field: str = "description") -> Any:
    return case(
        "description-65537-chars",
        mutation,
        {field: TOO_LONG_DESCRIPTION},
        "INVALID_ARGUMENT",
        field,
        "description is longer than 65536",
    )


GARBAGE_IDS = {
    "empty": "",
    "not-base64": "%%%",
    "unknown-type": b64("Nope:1"),
    "non-numeric": b64("ArtifactVersion:abc"),
    "zero": b64("ArtifactVersion:0"),
    "negative": b64("ArtifactVersion:-1"),
    "padded": base64.urlsafe_b64encode(b"ArtifactVersion:1").decode(),
    "too-large": b64(f"ArtifactVersion:{2**63}"),
    "no-colon": b64("ArtifactVersion"),
}


def run_or_project_cases(mutation: str) -> list[Any]:
    """A mutation that takes the run or the project something is for: neither, both, and bad
    IDs of each."""
    return [
        case(
            "neither-run-nor-project",
            mutation,
            {"projectId": DROP},
            "INVALID_ARGUMENT",
            "runId",
            "exactly one of `runId` and `projectId`",
        ),
        case(
            "both-run-and-project",
            mutation,
            lambda w: {"runId": w.running_run},
            "INVALID_ARGUMENT",
            "runId",
            "exactly one of `runId` and `projectId`",
        ),
        *id_cases(mutation, "projectId", "Project", "Run", "project not found", "deleted_project"),
        *id_cases(
            mutation,
            "runId",
            "Run",
            "Project",
            "run not found",
            "deleted_run",
            extra={"projectId": DROP},
        ),
    ]


CASES = [
    # createProject
    *name_cases("createProject", "name", "project name", BAD_PROJECT_NAMES),
    case("name-taken", "createProject", {"name": "churn"}, "NAME_TAKEN", "name", "'churn'"),
    case(
        "unknown-organization",
        "createProject",
        {"organization": "no-such-org"},
        "NOT_FOUND",
        "organization",
        "organization 'no-such-org' not found",
    ),
    case(
        "organization-with-nul",
        "createProject",
        {"organization": "ac\x00me"},
        "NOT_FOUND",
        "organization",
        "not found",
    ),
    too_long_description("createProject"),
    # createRun
    *id_cases(
        "createRun", "projectId", "Project", "Registry", "project not found", "deleted_project"
    ),
    *name_cases("createRun", "name", "run name", BAD_RUN_NAMES),
    case("name-taken", "createRun", {"name": "running"}, "NAME_TAKEN", "name", "'running'"),
    *json_shape_cases("createRun", "config"),
    # updateRun
    *id_cases("updateRun", "runId", "Run", "Project", "run not found", "deleted_run"),
    *json_shape_cases("updateRun", "summary"),
    case(
        "finished-run-to-another-state",
        "updateRun",
        lambda w: {"runId": w.finished_run, "state": "CRASHED"},
        "RUN_FINISHED",
        "state",
        "run 'finished' has already ended as FINISHED",
    ),
    case(
        "finished-run-back-to-running",
        "updateRun",
        lambda w: {"runId": w.finished_run, "state": "RUNNING"},
        "RUN_FINISHED",
        "state",
        "run 'finished' has already ended",
    ),
    # finishRun
    *id_cases("finishRun", "runId", "Run", "Collection", "run not found", "deleted_run"),
    *json_shape_cases("finishRun", "summary"),
    case(
        "state-running",
        "finishRun",
        {"state": "RUNNING"},
        "INVALID_ARGUMENT",
        "state",
        "FINISHED, FAILED or CRASHED",
    ),
    case(
        "already-finished",
        "finishRun",
        lambda w: {"runId": w.finished_run, "state": "FAILED"},
        "RUN_FINISHED",
        "state",
        "run 'finished' has already ended as FINISHED",
    ),
    # prepareArtifactFiles
    *run_or_project_cases("prepareArtifactFiles"),
    case(
        "no-files",
        "prepareArtifactFiles",
        {"files": []},
        "INVALID_ARGUMENT",
        "files",
        "at least one file",
    ),
    case(
        "path-leaving-the-artifact",
        "prepareArtifactFiles",
        {"files": [{"path": "../x.bin", "digest": "e" * 64, "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]: the path '../x.bin' must not have empty, `.` or `..` parts",
    ),
    case(
        "file-larger-than-the-server-takes",
        "prepareArtifactFiles",
        {"files": [{"path": "x.bin", "digest": "e" * 64, "size": 2**62}]},
        "INVALID_ARGUMENT",
        "files",
        "this server takes files of up to",
    ),
    # logArtifact
    *run_or_project_cases("logArtifact"),
    case(
        "finished-run",
        "logArtifact",
        lambda w: {"projectId": DROP, "runId": w.finished_run},
        "RUN_FINISHED",
        "runId",
        "run 'finished' has ended (FINISHED)",
    ),
    *name_cases("logArtifact", "name", "collection name", BAD_COLLECTION_NAMES),
    *name_cases("logArtifact", "type", "artifact type", BAD_TYPES),
    case(
        "type-mismatch",
        "logArtifact",
        {"type": "dataset"},
        "TYPE_MISMATCH",
        "type",
        "artifact 'errs-model' has type 'model', not 'dataset'",
    ),
    case(
        "files-empty",
        "logArtifact",
        {"files": []},
        "INVALID_ARGUMENT",
        "files",
        "at least one file",
    ),
    case(
        "files-duplicate-path",
        "logArtifact",
        {"files": [*FILES, {"path": "weights.bin", "digest": "e" * 64, "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[1]",
        "'weights.bin' appears twice",
    ),
    case(
        "files-negative-size",
        "logArtifact",
        {"files": [{"path": "a.bin", "digest": "e" * 64, "size": -1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "size",
    ),
    case(
        "files-empty-path",
        "logArtifact",
        {"files": [{"path": "", "digest": "e" * 64, "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "path",
    ),
    case(
        "files-path-with-nul",
        "logArtifact",
        {"files": [{"path": "a\x00.bin", "digest": "e" * 64, "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "path",
    ),
    case(
        "files-129-char-digest",
        "logArtifact",
        {"files": [{"path": "a.bin", "digest": "e" * 129, "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "digest",
    ),
    case(
        "files-digest-not-a-sha256",
        "logArtifact",
        {"files": [{"path": "a.bin", "digest": "9f2c", "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "must be the SHA-256 of its bytes",
    ),
    case(
        "files-bytes-never-uploaded",
        "logArtifact",
        {"files": [{"path": "a.bin", "digest": "e" * 64, "size": 1}]},
        "FILES_NOT_STORED",
        "files",
        "1 of 1 files have no stored bytes: 'a.bin'",
    ),
    case(
        "files-empty-digest",
        "logArtifact",
        {"files": [{"path": "a.bin", "digest": "", "size": 1}]},
        "INVALID_ARGUMENT",
        "files",
        "files[0]",
        "digest",
    ),
    *json_shape_cases("logArtifact", "metadata"),
    case(
        "metadata-with-nul",
        "logArtifact",
        {"metadata": {"note": "a\x00b"}},
        "INVALID_ARGUMENT",
        "metadata",
        "NUL",
    ),
    too_long_description("logArtifact"),
    *alias_cases("logArtifact"),
    # useArtifact
    *id_cases("useArtifact", "runId", "Run", "Registry", "run not found", "deleted_run"),
    *id_cases(
        "useArtifact",
        "versionId",
        "ArtifactVersion",
        "Registry",
        "version not found",
        "deleted_version",
    ),
    case(
        "both-version-and-path",
        "useArtifact",
        {"path": "acme/churn/churn-model:v0"},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `path`",
    ),
    case(
        "neither-version-nor-path",
        "useArtifact",
        {"versionId": DROP},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `path`",
    ),
    case(
        "path-without-collection",
        "useArtifact",
        {"versionId": DROP, "path": "acme"},
        "INVALID_PATH",
        "path",
        "no collection part",
    ),
    case(
        "path-empty-selector",
        "useArtifact",
        {"versionId": DROP, "path": "acme/churn/churn-model:"},
        "INVALID_PATH",
        "path",
        "selector after ':' is empty",
    ),
    case(
        "path-unknown-collection",
        "useArtifact",
        {"versionId": DROP, "path": "acme/wandb-registry-model/no-such-collection"},
        "NOT_FOUND",
        "path",
        "collection 'no-such-collection' not found",
    ),
    case(
        "path-unknown-version",
        "useArtifact",
        {"versionId": DROP, "path": "acme/churn/churn-model:v999"},
        "NOT_FOUND",
        "path",
        "version 'v999' not found",
    ),
    # createRegistry
    *name_cases("createRegistry", "name", "registry name", BAD_REGISTRY_NAMES),
    case(
        "name-taken",
        "createRegistry",
        {"name": "model"},
        "NAME_TAKEN",
        "name",
        "'model' already exists",
    ),
    case(
        "name-taken-in-another-case",
        "createRegistry",
        {"name": "MODEL"},
        "NAME_TAKEN",
        "name",
        "'model' already exists",
    ),
    case(
        "name-of-a-restricted-registry",
        "createRegistry",
        {"name": "eval-reports"},
        "NAME_TAKEN",
        "name",
        "'eval-reports' already exists",
    ),
    *name_cases("createRegistry", "acceptedTypes", "artifact type", BAD_TYPES, wrap=True),
    *alias_cases("createRegistry", "protectedAliases"),
    too_long_description("createRegistry"),
    case(
        "unknown-organization",
        "createRegistry",
        {"organization": "no-such-org"},
        "NOT_FOUND",
        "organization",
        "organization 'no-such-org' not found",
    ),
    # updateRegistry
    *id_cases(
        "updateRegistry",
        "registryId",
        "Registry",
        "Collection",
        "registry not found",
        "deleted_registry",
    ),
    case(
        "core-registry-restricted",
        "updateRegistry",
        lambda w: {"registryId": w.model_registry, "visibility": "RESTRICTED"},
        "INVALID_ARGUMENT",
        "visibility",
        "core registry 'model' keeps ORGANIZATION visibility",
    ),
    case(
        "core-dataset-registry-restricted",
        "updateRegistry",
        lambda w: {"registryId": w.dataset_registry, "visibility": "RESTRICTED"},
        "INVALID_ARGUMENT",
        "visibility",
        "core registry 'dataset' keeps ORGANIZATION visibility",
    ),
    *name_cases("updateRegistry", "addAcceptedTypes", "artifact type", BAD_TYPES, wrap=True),
    *alias_cases("updateRegistry", "protectedAliases"),
    too_long_description("updateRegistry"),
    # deleteRegistry
    *id_cases(
        "deleteRegistry",
        "registryId",
        "Registry",
        "ArtifactVersion",
        "registry not found",
        "deleted_registry",
    ),
    case(
        "core-model-registry",
        "deleteRegistry",
        lambda w: {"registryId": w.model_registry},
        "INVALID_ARGUMENT",
        "registryId",
        "core registry 'model' cannot be deleted",
    ),
    case(
        "core-dataset-registry",
        "deleteRegistry",
        lambda w: {"registryId": w.dataset_registry},
        "INVALID_ARGUMENT",
        "registryId",
        "core registry 'dataset' cannot be deleted",
    ),
    # createCollection
    *id_cases(
        "createCollection",
        "registryId",
        "Registry",
        "Collection",
        "registry not found",
        "deleted_registry",
    ),
    *name_cases("createCollection", "name", "collection name", BAD_COLLECTION_NAMES),
    *name_cases("createCollection", "type", "artifact type", BAD_TYPES),
    *name_cases("createCollection", "tags", "tag", BAD_LABELS, wrap=True),
    case(
        "tags-over-100",
        "createCollection",
        {"tags": [f"t{i}" for i in range(101)]},
        "INVALID_ARGUMENT",
        "tags",
        "at most 100 tags",
    ),
    too_long_description("createCollection"),
    case(
        "type-not-accepted",
        "createCollection",
        lambda w: {"registryId": w.model_registry, "type": "dataset"},
        "TYPE_NOT_ACCEPTED",
        "type",
        "registry 'model' does not accept artifact type 'dataset'",
    ),
    case(
        "name-taken",
        "createCollection",
        {"name": "second"},
        "NAME_TAKEN",
        "name",
        "already has a collection named 'second'",
    ),
    # updateCollection
    *id_cases(
        "updateCollection",
        "collectionId",
        "Collection",
        "Registry",
        "collection not found",
        "deleted_collection",
    ),
    case(
        "collectionId-of-an-artifact-sequence",
        "updateCollection",
        lambda w: {"collectionId": w.sequence},
        "INVALID_ID",
        "collectionId",
        "`collectionId`",
        "Collection",
    ),
    case(
        "collectionId-naming-an-artifact-sequence",
        "updateCollection",
        lambda w: {"collectionId": w.sequence_as_collection},
        "NOT_FOUND",
        "collectionId",
        "collection not found",
    ),
    *name_cases("updateCollection", "name", "collection name", BAD_COLLECTION_NAMES),
    case(
        "name-taken",
        "updateCollection",
        {"name": "second"},
        "NAME_TAKEN",
        "name",
        "'second' already exists",
    ),
    too_long_description("updateCollection"),
    # deleteCollection
    *id_cases(
        "deleteCollection",
        "collectionId",
        "Collection",
        "ArtifactVersion",
        "collection not found",
        "deleted_collection",
    ),
    case(
        "collectionId-naming-an-artifact-sequence",
        "deleteCollection",
        lambda w: {"collectionId": w.sequence_as_collection},
        "NOT_FOUND",
        "collectionId",
        "collection not found",
    ),
    # linkArtifact
    case(
        "neither-version-nor-source-path",
        "linkArtifact",
        {"versionId": DROP},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `sourcePath`",
    ),
    case(
        "both-version-and-source-path",
        "linkArtifact",
        {"sourcePath": "acme/churn/churn-model:v0"},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `sourcePath`",
    ),
    case(
        "neither-target-path-nor-collection",
        "linkArtifact",
        {"collectionId": DROP},
        "INVALID_ARGUMENT",
        "targetPath",
        "exactly one of `targetPath` and `collectionId`",
    ),
    case(
        "both-target-path-and-collection",
        "linkArtifact",
        lambda w: {"targetPath": f"acme/wandb-registry-{w.registry_name}/second"},
        "INVALID_ARGUMENT",
        "targetPath",
        "exactly one of `targetPath` and `collectionId`",
    ),
    *id_cases(
        "linkArtifact",
        "versionId",
        "ArtifactVersion",
        "Registry",
        "version not found",
        "deleted_version",
    ),
    *id_cases(
        "linkArtifact",
        "collectionId",
        "Collection",
        "Registry",
        "collection not found",
        "deleted_collection",
    ),
    case(
        "collectionId-naming-an-artifact-sequence",
        "linkArtifact",
        lambda w: {"collectionId": w.sequence_as_collection},
        "NOT_FOUND",
        "collectionId",
        "collection not found",
    ),
    case(
        "source-path-with-too-many-parts",
        "linkArtifact",
        {"versionId": DROP, "sourcePath": "acme/churn/churn-model/extra"},
        "INVALID_PATH",
        "sourcePath",
        "too many '/' separated parts",
    ),
    case(
        "source-path-unknown-project",
        "linkArtifact",
        {"versionId": DROP, "sourcePath": "acme/no-such-project/churn-model:v0"},
        "NOT_FOUND",
        "sourcePath",
        "project 'no-such-project' not found",
    ),
    case(
        "source-path-unknown-alias",
        "linkArtifact",
        {"versionId": DROP, "sourcePath": "acme/churn/churn-model:no-such-alias"},
        "NOT_FOUND",
        "sourcePath",
        "alias 'no-such-alias' not found",
    ),
    case(
        "target-path-not-in-a-registry",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/churn/new"},
        "INVALID_PATH",
        "targetPath",
        "not in a registry",
    ),
    case(
        "target-path-with-a-version",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-model/churn-classifier:v1"},
        "INVALID_PATH",
        "targetPath",
        "names a version",
    ),
    case(
        "target-path-without-collection",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-model/"},
        "INVALID_PATH",
        "targetPath",
        "collection part",
    ),
    case(
        "target-path-empty",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": ""},
        "INVALID_PATH",
        "targetPath",
        "empty",
    ),
    case(
        "target-path-unknown-registry",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-no-such-registry/x"},
        "NOT_FOUND",
        "targetPath",
        "registry 'no-such-registry' not found in organization 'acme'",
    ),
    case(
        "target-path-unknown-organization",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "no-such-org/wandb-registry-model/x"},
        "NOT_FOUND",
        "targetPath",
        "registry 'model' not found in organization 'no-such-org'",
    ),
    case(
        "target-path-registry-with-nul",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-mo\x00del/x"},
        "NOT_FOUND",
        "targetPath",
        "not found in organization 'acme'",
    ),
    case(
        "target-path-collection-with-nul",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-model/x\x00y"},
        "INVALID_NAME",
        "targetPath",
        "collection name",
    ),
    case(
        "target-path-collection-129-chars",
        "linkArtifact",
        {"collectionId": DROP, "targetPath": "acme/wandb-registry-model/" + "c" * 129},
        "INVALID_NAME",
        "targetPath",
        "collection name",
    ),
    *alias_cases("linkArtifact"),
    case(
        "dataset-into-a-model-collection",
        "linkArtifact",
        lambda w: {"versionId": w.data_v0, "collectionId": w.churn_classifier},
        "TYPE_MISMATCH",
        "versionId",
        "collection 'churn-classifier' holds type 'model', the version is 'dataset'",
    ),
    case(
        "dataset-by-source-path-into-a-model-collection",
        "linkArtifact",
        lambda w: {
            "versionId": DROP,
            "sourcePath": f"acme/{w.project_name}/errs-data:v0",
            "collectionId": w.churn_classifier,
        },
        "TYPE_MISMATCH",
        "sourcePath",
        "collection 'churn-classifier' holds type 'model', the version is 'dataset'",
    ),
    case(
        "dataset-into-a-model-collection-by-path",
        "linkArtifact",
        lambda w: {
            "versionId": w.data_v0,
            "collectionId": DROP,
            "targetPath": f"acme/wandb-registry-{w.registry_name}/guarded",
        },
        "TYPE_MISMATCH",
        "versionId",
        "collection 'guarded' holds type 'model', the version is 'dataset'",
    ),
    case(
        "dataset-into-the-model-registry",
        "linkArtifact",
        lambda w: {
            "versionId": w.data_v0,
            "collectionId": DROP,
            "targetPath": "acme/wandb-registry-model/new-collection",
        },
        "TYPE_NOT_ACCEPTED",
        "targetPath",
        "registry 'model' does not accept artifact type 'dataset'",
    ),
    case(
        "protected-alias-by-a-member",
        "linkArtifact",
        {"aliases": ["fine", "production"]},
        "PROTECTED_ALIAS",
        "aliases",
        "alias 'production' is protected",
        user="bob",
    ),
    case(
        "protected-alias-in-capitals-by-a-member",
        "linkArtifact",
        {"aliases": ["fine", "PRODUCTION"]},
        "PROTECTED_ALIAS",
        "aliases",
        "alias 'production' is protected",
        user="bob",
    ),
    # unlinkArtifact
    case(
        "neither-version-nor-path",
        "unlinkArtifact",
        {"versionId": DROP},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `path`",
    ),
    case(
        "both-version-and-path",
        "unlinkArtifact",
        lambda w: {"path": f"acme/wandb-registry-{w.registry_name}/guarded:v1"},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `path`",
    ),
    *id_cases(
        "unlinkArtifact",
        "versionId",
        "ArtifactVersion",
        "Collection",
        "version not found",
        "deleted_version",
    ),
    case(
        "path-with-two-selectors",
        "unlinkArtifact",
        {"versionId": DROP, "path": "acme/wandb-registry-model/churn-classifier:v1:v2"},
        "INVALID_PATH",
        "path",
        "more than one ':'",
    ),
    case(
        "path-unlinked-index",
        "unlinkArtifact",
        lambda w: {"versionId": DROP, "path": f"acme/wandb-registry-{w.registry_name}/second:v0"},
        "NOT_FOUND",
        "path",
        "version 'v0' not found in 'second'",
    ),
    case(
        "logged-version",
        "unlinkArtifact",
        lambda w: {"versionId": w.model_v0},
        "INVALID_ARGUMENT",
        "versionId",
        "only versions in registry collections can be unlinked",
    ),
    case(
        "logged-version-by-path",
        "unlinkArtifact",
        lambda w: {"versionId": DROP, "path": f"acme/{w.project_name}/errs-model:v0"},
        "INVALID_ARGUMENT",
        "path",
        "only versions in registry collections can be unlinked",
    ),
    case(
        "holder-of-a-protected-alias-by-a-member",
        "unlinkArtifact",
        lambda w: {"versionId": w.guarded_v0},
        "PROTECTED_ALIAS",
        "versionId",
        "alias 'production' is protected",
        user="bob",
    ),
    # addAliases
    case("none", "addAliases", {"aliases": []}, "INVALID_ARGUMENT", "aliases", "at least one"),
    case(
        "over-100",
        "addAliases",
        {"aliases": [f"a{i}" for i in range(101)]},
        "INVALID_ARGUMENT",
        "aliases",
        "at most 100 aliases",
    ),
    *alias_cases("addAliases"),
    *id_cases(
        "addAliases",
        "versionId",
        "ArtifactVersion",
        "Collection",
        "version not found",
        "deleted_version",
    ),
    case(
        "neither-version-nor-path",
        "addAliases",
        {"versionId": DROP},
        "INVALID_ARGUMENT",
        "versionId",
        "exactly one of `versionId` and `path`",
    ),
    case(
        "path-empty",
        "addAliases",
        {"versionId": DROP, "path": "  "},
        "INVALID_PATH",
        "path",
        "the path is empty",
    ),
    case(
        "path-unknown-registry",
        "addAliases",
        {"versionId": DROP, "path": "acme/wandb-registry-no-such-registry/x:v0"},
        "NOT_FOUND",
        "path",
        "registry 'no-such-registry' not found in organization 'acme'",
    ),
    case(
        "path-collection-with-nul",
        "addAliases",
        {"versionId": DROP, "path": "acme/wandb-registry-model/churn\x00-classifier:v0"},
        "NOT_FOUND",
        "path",
        "not found",
    ),
    case(
        "path-alias-with-nul",
        "addAliases",
        {"versionId": DROP, "path": "acme/wandb-registry-model/churn-classifier:pro\x00d"},
        "INVALID_PATH",
        "path",
        "neither a version",
    ),
    case(
        "protected-alias-by-a-member",
        "addAliases",
        {"aliases": ["production"]},
        "PROTECTED_ALIAS",
        "aliases",
        "alias 'production' is protected in registry 'errs-",
        user="bob",
    ),
    # removeAliases
    case(
        "alias-not-held",
        "removeAliases",
        {"aliases": ["production"]},
        "NOT_FOUND",
        "aliases",
        "version v1 does not hold alias 'production'",
    ),
    case(
        "one-of-two-not-held",
        "removeAliases",
        {"aliases": ["staging", "nowhere"]},
        "NOT_FOUND",
        "aliases",
        "does not hold alias 'nowhere'",
    ),
    case("none", "removeAliases", {"aliases": []}, "INVALID_ARGUMENT", "aliases", "at least one"),
    *alias_cases("removeAliases"),
    *id_cases(
        "removeAliases",
        "versionId",
        "ArtifactVersion",
        "Registry",
        "version not found",
        "deleted_version",
    ),
    case(
        "path-unknown-alias",
        "removeAliases",
        lambda w: {"versionId": DROP, "path": f"acme/wandb-registry-{w.registry_name}/guarded:x"},
        "NOT_FOUND",
        "path",
        "alias 'x' not found in 'guarded'",
    ),
    case(
        "protected-alias-by-a-member",
        "removeAliases",
        lambda w: {"versionId": w.guarded_v0, "aliases": ["production"]},
        "PROTECTED_ALIAS",
        "aliases",
        "alias 'production' is protected",
        user="bob",
    ),
    # addTags and removeTags
    *[
        param
        for mutation in ("addTags", "removeTags")
        for param in [
            case("id-garbage", mutation, {"id": "garbage"}, "INVALID_ID", "id", "`id`"),
            *[
                case(
                    f"id-of-a-{kind}",
                    mutation,
                    {"id": global_id(kind, 1)},
                    "INVALID_ID",
                    "id",
                    "Collection or ArtifactVersion",
                )
                for kind in ("Registry", "Run", "Project", "ArtifactSequence", "Organization")
            ],
            case(
                "id-unknown-collection",
                mutation,
                {"id": missing("Collection")},
                "NOT_FOUND",
                "id",
                "collection not found",
            ),
            case(
                "id-unknown-version",
                mutation,
                {"id": missing("ArtifactVersion")},
                "NOT_FOUND",
                "id",
                "version not found",
            ),
            case(
                "id-deleted-collection",
                mutation,
                lambda w: {"id": w.deleted_collection},
                "NOT_FOUND",
                "id",
                "collection not found",
            ),
            case(
                "id-deleted-version",
                mutation,
                lambda w: {"id": w.deleted_version},
                "NOT_FOUND",
                "id",
                "version not found",
            ),
            case(
                "id-naming-an-artifact-sequence",
                mutation,
                lambda w: {"id": w.sequence_as_collection},
                "NOT_FOUND",
                "id",
                "collection not found",
            ),
            case("tags-none", mutation, {"tags": []}, "INVALID_ARGUMENT", "tags", "at least one"),
            case(
                "tags-over-100",
                mutation,
                {"tags": [f"t{i}" for i in range(101)]},
                "INVALID_ARGUMENT",
                "tags",
                "at most 100 tags",
            ),
            *name_cases(mutation, "tags", "tag", BAD_LABELS, wrap=True),
        ]
    ],
    # updateArtifactVersion
    *id_cases(
        "updateArtifactVersion",
        "versionId",
        "ArtifactVersion",
        "Collection",
        "version not found",
        "deleted_version",
    ),
    *[
        case(
            f"versionId-{label}",
            "updateArtifactVersion",
            {"versionId": value},
            "INVALID_ID",
            "versionId",
            "`versionId` must be the ID of",
            "ArtifactVersion",
        )
        for label, value in GARBAGE_IDS.items()
    ],
    too_long_description("updateArtifactVersion"),
    case(
        "description-with-nul",
        "updateArtifactVersion",
        {"description": "a\x00b"},
        "INVALID_ARGUMENT",
        "description",
        "NUL",
    ),
]


def test_every_mutation_has_cases() -> None:
    """The registry graph's mutations (the membership mutations have tests of their own)."""
    from schema.schema import schema

    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    assert set(VALID_INPUTS) == set(RESULTS)
    assert set(VALID_INPUTS) <= set(mutation_type.fields)
    covered = {param.values[0].mutation for param in CASES}
    assert covered == set(VALID_INPUTS)
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"


@pytest.mark.parametrize("c", CASES)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, demo: dict[str, str], world: World, c: Case
) -> None:
    caller = GraphQLClient(client, demo[c.user])
    if holds_nul(c.input(world)):
        # No text may hold NUL: refused before anything runs, naming where it is.
        error = await refused_at_the_door(caller, pool, c.mutation, c.input(world))
        assert f"`$input.{c.field}" in error["message"], error
        assert "holds a NUL character" in error["message"], error
        return
    payload = await refused(caller, pool, c.mutation, c.input(world))
    assert len(payload["errors"]) == 1, payload
    (error,) = payload["errors"]
    assert error["code"] == c.code, error
    assert error["field"] == ["input", c.field], error
    for fragment in c.says:
        assert fragment in error["message"], error


# --- the snapshot sees what a mutation writes ---------------------------------------------


async def test_the_snapshot_sees_a_change(
    client: httpx.AsyncClient, pool: asyncpg.Pool, ada: GraphQLClient, world: World
) -> None:
    """Without this, an unchanged snapshot could mean a blind snapshot."""
    tag = {"input": {"id": world.second, "tags": ["snapshot-probe"]}}
    before = await database_state(pool)
    added = await ada.data(document("addTags"), tag)
    assert added["addTags"]["errors"] == []
    assert added["addTags"]["collection"] == {"id": world.second}
    middle = await database_state(pool)
    # The collection's search document holds its tags.
    assert changed_tables(before, middle) == ["audit_events", "collection_tags", "collections"]
    removed = await ada.data(document("removeTags"), tag)
    assert removed["removeTags"]["errors"] == []
    after = await database_state(pool)
    assert changed_tables(before, after) == ["audit_events"]
    assert after["collection_tags"] == before["collection_tags"]


# --- GraphQL request errors: the document or its variables do not fit the schema --------------

REQUEST_ERRORS = [
    pytest.param(
        "createCollection",
        lambda w: {"registryId": w.registry, "name": "x"},
        "type",
        id="createCollection-missing-required-field",
    ),
    pytest.param(
        "createCollection",
        lambda w: {"registryId": w.registry, "name": 5, "type": "model"},
        "String",
        id="createCollection-name-is-a-number",
    ),
    pytest.param(
        "createCollection",
        lambda w: {"registryId": w.registry, "name": None, "type": "model"},
        "name",
        id="createCollection-required-field-null",
    ),
    pytest.param(
        "createCollection",
        lambda w: {"registryId": w.registry, "name": "x", "type": "model", "bogus": 1},
        "bogus",
        id="createCollection-unknown-field",
    ),
    pytest.param(
        "createCollection",
        lambda w: {"registryId": w.registry, "name": "x", "type": "model", "tags": [None]},
        "tags",
        id="createCollection-null-tag",
    ),
    pytest.param(
        "createRegistry",
        lambda w: {"organization": "acme", "name": "x", "visibility": "SECRET"},
        "SECRET",
        id="createRegistry-unknown-enum-value",
    ),
    pytest.param(
        "updateRegistry",
        lambda w: {"registryId": w.registry, "acceptAllTypes": "yes"},
        "Boolean",
        id="updateRegistry-boolean-given-a-string",
    ),
    pytest.param(
        "updateRegistry",
        lambda w: {"registryId": ["not", "an", "id"]},
        "ID",
        id="updateRegistry-id-given-a-list",
    ),
    pytest.param(
        "logArtifact",
        lambda w: {
            "projectId": w.project,
            "name": "errs-model",
            "type": "model",
            "files": [{"path": "a", "digest": "b", "size": "10"}],
        },
        "Int",
        id="logArtifact-size-given-a-string",
    ),
    pytest.param(
        "logArtifact",
        lambda w: {
            "projectId": w.project,
            "name": "errs-model",
            "type": "model",
            "files": [{"path": "a", "digest": "b", "size": 2**63}],
        },
        "Int64",
        id="logArtifact-size-beyond-Int64",
    ),
    pytest.param(
        "finishRun",
        lambda w: {"runId": w.running_run, "state": "DONE"},
        "DONE",
        id="finishRun-unknown-state",
    ),
]


@pytest.mark.parametrize(("mutation", "make_input", "says"), REQUEST_ERRORS)
async def test_inputs_that_do_not_fit_the_schema_are_request_errors(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    ada: GraphQLClient,
    world: World,
    mutation: str,
    make_input: Callable[[World], dict[str, Any]],
    says: str,
) -> None:
    before = await database_state(pool)
    response = await ada.post(document(mutation), {"input": make_input(world)})
    after = await database_state(pool)
    body = response.json()
    assert response.status_code == 422, body
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in body, body
    assert body["errors"], body
    assert says in body["errors"][0]["message"], body
    assert changed_tables(before, after) == []


LITERAL_ERRORS = [
    pytest.param(
        'createCollection(input: {registryId: "R", name: "x"}) { errors { code } }',
        "type",
        id="missing-required-field",
    ),
    pytest.param(
        'createCollection(input: {registryId: "R", name: 5, type: "model"}) { errors { code } }',
        "String",
        id="wrong-scalar-type",
    ),
    pytest.param(
        'deleteRegistry(input: {registryId: "R", force: true}) { errors { code } }',
        "force",
        id="unknown-input-field",
    ),
    pytest.param(
        'updateRegistry(input: {registryId: "R", visibility: "RESTRICTED"}) { errors { code } }',
        "RegistryVisibility",
        id="enum-given-as-a-string",
    ),
    pytest.param(
        "deleteRegistry { errors { code } }",
        "input",
        id="missing-input-argument",
    ),
]


@pytest.mark.parametrize(("selection", "says"), LITERAL_ERRORS)
async def test_literal_inputs_that_do_not_fit_the_schema_are_validation_errors(
    pool: asyncpg.Pool, ada: GraphQLClient, world: World, selection: str, says: str
) -> None:
    before = await database_state(pool)
    response = await ada.post(
        "mutation { " + selection.replace('"R"', f'"{world.registry}"') + " }"
    )
    after = await database_state(pool)
    body = response.json()
    assert response.status_code == 422, body
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in body, body
    assert any(says in error["message"] for error in body["errors"]), body
    assert changed_tables(before, after) == []


async def test_a_refused_mutation_beside_a_good_one_leaves_the_good_one_done_alone(
    pool: asyncpg.Pool, ada: GraphQLClient, world: World
) -> None:
    """Two mutations in one document run one after the other: a refusal in the second is its
    own payload error and does not undo or disturb the first."""
    query = """mutation($good: TagsInput!, $bad: TagsInput!) {
      good: addTags(input: $good) { collection { tags } errors { code } }
      bad: addTags(input: $bad) { collection { tags } errors { code field } }
    }"""
    variables = {
        "good": {"id": world.second, "tags": ["two-in-one"]},
        "bad": {"id": world.second, "tags": ["not ok"]},
    }
    data = await ada.data(query, variables)
    assert data["good"] == {"collection": {"tags": ["two-in-one"]}, "errors": []}
    assert data["bad"] == {
        "collection": None,
        "errors": [{"code": "INVALID_NAME", "field": ["input", "tags"]}],
    }
    cleanup = await ada.data(
        document("removeTags"), {"input": {"id": world.second, "tags": ["two-in-one"]}}
    )
    assert cleanup["removeTags"]["errors"] == []
