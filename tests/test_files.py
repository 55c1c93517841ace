"""Who sees an artifact's files. Files belong to content, which a version shares with its logged
version and with its links in other registries: a RESTRICTED_VIEWER of a registry sees the
names and sizes of what it holds, but downloads its bytes by no route at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from db import registries
from tests.support.graphql import GraphQLClient
from tests.support.workflow import new_org, new_project

FILES = """query($path: String!) { artifactVersion(path: $path) { path
  files { nodes { path size downloadUrl } }
  source { path files { nodes { path downloadUrl } } } } }"""
NAMES = """query($path: String!) { artifactVersion(path: $path) { path
  files { nodes { path size } } source { path files { nodes { path size } } } } }"""
REPORT = "acme/wandb-registry-eval-reports/churn-evals:v0"  # a RESTRICTED registry
SOURCE = "acme/churn/churn-eval-report:v0"  # the same content, logged in the project
ELSEWHERE = "acme/churn/churn-model:v0"  # content in no restricted registry


async def files_of(caller: GraphQLClient, path: str) -> tuple[Any, list[dict[str, Any]]]:
    """The version's files with their download URLs, and the errors."""
    body = (await caller.post(FILES, {"path": path})).json()
    return body["data"]["artifactVersion"], body.get("errors", [])


@pytest.fixture
async def cy_restricted(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[None]:
    """cy, an organization VIEWER, is a RESTRICTED_VIEWER of eval-reports for the test."""
    async with pool.acquire() as conn:
        registry_id = await conn.fetchval("SELECT id FROM registries WHERE name = 'eval-reports'")
        cy_id = await conn.fetchval("SELECT id FROM users WHERE name = 'cy'")
        await registries.set_registry_user_role(conn, registry_id, cy_id, "RESTRICTED_VIEWER")
    try:
        yield
    finally:
        async with pool.acquire() as conn:
            await registries.remove_registry_members(conn, registry_id, [cy_id], [])


async def test_a_restricted_viewer_sees_names_and_sizes_but_downloads_by_no_route(
    cy_restricted: None, cy: GraphQLClient
) -> None:
    refusal = (
        "these files are in a registry where you are RESTRICTED_VIEWER, which shows their "
        "names and sizes only; downloading them needs the VIEWER role there"
    )
    # Names and sizes show, through the registry and through the logged source alike.
    names = await cy.data(NAMES, {"path": REPORT})
    report = names["artifactVersion"]
    assert {f["path"] for f in report["files"]["nodes"]} == {"metrics.json", "report.html"}
    assert all(f["size"] > 0 for f in report["files"]["nodes"])
    assert report["source"]["files"]["nodes"] == report["files"]["nodes"]
    # Download URLs do not: the field is refused on every file, by every route.
    for path in (REPORT, SOURCE):
        found, errors = await files_of(cy, path)
        assert found["path"] == path
        assert {tuple(e["path"][:2]) for e in errors} == {("artifactVersion", "files")} | {
            ("artifactVersion", "source")
        }
        assert {(e["extensions"]["code"], e["message"]) for e in errors} == {
            ("PERMISSION_DENIED", refusal)
        }
        assert all(e["path"][-1] == "downloadUrl" for e in errors)
    # Content the restricted registry does not hold downloads as before.
    other, errors = await files_of(cy, ELSEWHERE)
    assert errors == []
    assert all(f["downloadUrl"] for f in other["files"]["nodes"])


async def test_a_registry_one_has_no_role_in_restricts_nothing(
    cy_restricted: None, bob: GraphQLClient, ada: GraphQLClient
) -> None:
    """eval-reports does not exist for bob, so it restricts nothing he sees elsewhere."""
    for caller in (bob, ada):
        logged, errors = await files_of(caller, SOURCE)
        assert errors == []
        assert {n["path"] for n in logged["files"]["nodes"]} == {"metrics.json", "report.html"}
        assert all(n["downloadUrl"] for n in logged["files"]["nodes"])
    report, errors = await files_of(ada, REPORT)
    assert errors == []
    assert report["files"]["nodes"]


async def test_sizes_beyond_two_gibibytes_are_exact(pool: asyncpg.Pool, client: Any) -> None:
    """Two files of 3 GB: each size and the version's total come back exactly; a size beyond
    what Int64 holds is refused at the door."""
    org = await new_org(pool, client, prefix="big")
    project = await new_project(org.admin, org)
    three_gb = 3_000_000_000
    # Rows standing for two 3 GB blobs: the sizes are what is tested, not six gigabytes of
    # uploads (test_transfers.py sends real bytes).
    await pool.execute(
        """WITH recorded AS (
             INSERT INTO blobs (sha256, md5, size) SELECT d, left(d, 32), $2
             FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING RETURNING sha256)
           INSERT INTO blob_holders (sha256, organization_id) SELECT sha256, $3 FROM recorded""",
        ["a" * 64, "b" * 64],
        three_gb,
        org.id,
    )
    logged = await org.admin.data(
        """mutation M($input: LogArtifactInput!) { logArtifact(input: $input) {
          artifactVersion { size files { nodes { path size } } } errors { code } } }""",
        input={
            "projectId": project,
            "name": "checkpoint",
            "type": "model",
            "files": [
                {"path": "a.bin", "digest": "a" * 64, "size": three_gb},
                {"path": "b.bin", "digest": "b" * 64, "size": three_gb},
            ],
        },
    )
    version = logged["logArtifact"]["artifactVersion"]
    assert version["size"] == 2 * three_gb
    assert sorted(f["size"] for f in version["files"]["nodes"]) == [three_gb, three_gb]
    too_big = await org.admin.client.post(
        """mutation M($input: LogArtifactInput!) { logArtifact(input: $input) {
          errors { code } } }""",
        {
            "input": {
                "projectId": project,
                "name": "huge",
                "type": "model",
                "files": [{"path": "c.bin", "digest": "c" * 64, "size": 2**63}],
            }
        },
    )
    (error,) = too_big.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "outside -2^63 to 2^63-1" in error["message"]
