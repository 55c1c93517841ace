"""Artifact paths: `artifactVersion(path:)` over HTTP on the demo organization, and the parser
`resolvers.paths.parse_path` on its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import organizations
from db.accounts import users_by_id
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.errors import DomainError, ErrorCode
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.paths import MAX_PATH_LENGTH, MAX_VERSION_INDEX, ArtifactPath, parse_path
from tests.support.graphql import GraphQLClient

QUERY = """
query($path: String!, $organization: String) {
  artifactVersion(path: $path, organization: $organization) {
    path version versionIndex isLink aliases collection { __typename name }
  }
}
"""
CHURN = "acme/wandb-registry-model/churn-classifier"


async def resolve(
    client: GraphQLClient, path: str, organization: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = (
        await client.data(QUERY, {"path": path, "organization": organization})
    )["artifactVersion"]
    return found


async def refusal(
    client: GraphQLClient, path: str, organization: str | None = None
) -> dict[str, Any]:
    """The one error a path gets; the field answers null."""
    body = await client.errors(QUERY, {"path": path, "organization": organization})
    (error,) = body["errors"]
    assert error["path"] == ["artifactVersion"]
    assert error["extensions"]["field"] == ["path"]
    assert body["data"] == {"artifactVersion": None}
    found: dict[str, Any] = error
    return found


# --- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "version", "aliases"),
    [
        (CHURN, "v9", ["latest", "staging"]),
        (f"{CHURN}:latest", "v9", ["latest", "staging"]),
        (f"{CHURN}:production", "v7", ["production"]),
        (f"{CHURN}:staging", "v9", ["latest", "staging"]),
        (f"{CHURN}:candidate", "v8", ["candidate"]),
        (f"{CHURN}:v3", "v3", []),
        (f"{CHURN}:v0", "v0", []),
        (f"{CHURN}:v003", "v3", []),
        ("acme/wandb-registry-dataset/customers:production", "v3", ["latest", "production"]),
        ("acme/wandb-registry-eval-reports/churn-evals:approved", "v1", ["approved"]),
    ],
)
async def test_registry_paths(
    ada: GraphQLClient, path: str, version: str, aliases: list[str]
) -> None:
    found = await resolve(ada, path)
    assert found["version"] == version
    assert found["versionIndex"] == int(version[1:])
    assert found["aliases"] == aliases
    assert found["isLink"] is True
    assert found["collection"]["__typename"] == "Collection"
    assert found["path"] == f"{path.split(':')[0]}:{version}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("acme/churn/churn-model:v2", "acme/churn/churn-model:v2"),
        ("acme/churn/churn-model", "acme/churn/churn-model:v9"),
        ("acme/churn/churn-model:latest", "acme/churn/churn-model:v9"),
        ("acme/churn/customers-raw:v0", "acme/churn/customers-raw:v0"),
        ("acme/vision/defect-detector:v7", "acme/vision/defect-detector:v7"),
    ],
)
async def test_sequence_paths(ada: GraphQLClient, path: str, expected: str) -> None:
    found = await resolve(ada, path)
    assert found["path"] == expected
    assert found["isLink"] is False
    assert found["collection"] == {
        "__typename": "ArtifactSequence",
        "name": expected.split("/")[2].split(":")[0],
    }


@pytest.mark.parametrize("registry", ["MODEL", "Model", "mOdEl"])
async def test_registry_names_in_paths_are_case_insensitive(
    ada: GraphQLClient, registry: str
) -> None:
    found = await resolve(ada, f"acme/wandb-registry-{registry}/churn-classifier:production")
    assert found["path"] == f"{CHURN}:v7"


@pytest.mark.parametrize(
    ("selector", "version"),
    [("Production", "v7"), ("PRODUCTION", "v7"), ("LATEST", "v9"), ("V3", "v3")],
)
async def test_selectors_are_case_insensitive(
    ada: GraphQLClient, selector: str, version: str
) -> None:
    found = await resolve(ada, f"{CHURN}:{selector}")
    assert found["path"] == f"{CHURN}:{version}"


async def test_collection_names_are_case_sensitive(ada: GraphQLClient) -> None:
    error = await refusal(ada, "acme/wandb-registry-model/Churn-Classifier")
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_explicit_organization_in_path_wins_over_argument(ada: GraphQLClient) -> None:
    found = await resolve(ada, f"{CHURN}:v1", organization="no-such-org")
    assert found["path"] == f"{CHURN}:v1"


# --- paths without an organization ----------------------------------------------------------


@pytest.fixture
async def acme_only(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[tuple[int, str]]:
    """A user (id, key) who belongs to acme only, as a viewer; removed again afterwards so acme
    looks as the demo made it to every other test."""
    async with pool.acquire() as conn, conn.transaction():
        user = await create_user_txn(conn, f"paths-{uuid.uuid4().hex[:12]}")
        (acme,) = await organizations.organizations_by_name(conn, ["acme"])
        assert acme is not None
        await add_member_txn(conn, acme, user, "VIEWER")
        key = await create_api_key_txn(conn, user.name)
    try:
        yield user.id, key
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM users WHERE id = $1", user.id)


async def test_path_without_organization_for_a_one_organization_user(
    client: httpx.AsyncClient, acme_only: tuple[int, str]
) -> None:
    user = GraphQLClient(client, acme_only[1])
    found = await resolve(user, "wandb-registry-model/churn-classifier:staging")
    assert found["path"] == f"{CHURN}:v9"
    found = await resolve(user, "wandb-registry-MODEL/churn-classifier")
    assert found["path"] == f"{CHURN}:v9"
    found = await resolve(user, "wandb-registry-model/churn-classifier:v2")
    assert found["path"] == f"{CHURN}:v2"


async def test_path_without_organization_uses_the_callers_only_one(dora: GraphQLClient) -> None:
    # Dora belongs to globex only: the path is looked up there, where the core registry exists
    # but the collection does not.
    error = await refusal(dora, "wandb-registry-model/churn-classifier:staging")
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "'churn-classifier'" in error["message"]
    assert "'model'" in error["message"]


async def test_path_without_organization_for_a_two_organization_user(
    client: httpx.AsyncClient, pool: asyncpg.Pool, acme_only: tuple[int, str]
) -> None:
    user_id, key = acme_only
    async with pool.acquire() as conn, conn.transaction():
        other = await create_organization_txn(conn, f"paths-{uuid.uuid4().hex[:8]}", "Other")
        (user,) = await users_by_id(conn, [user_id])
        assert user is not None
        await add_member_txn(conn, other, user, "MEMBER")
    caller = GraphQLClient(client, key)
    path = "wandb-registry-model/churn-classifier:staging"
    error = await refusal(caller, path)
    assert error["extensions"]["code"] == "INVALID_PATH"
    assert "names no organization" in error["message"]
    assert "belong to 2" in error["message"]
    # The organization argument settles it, for either organization.
    found = await resolve(caller, path, organization="acme")
    assert found["path"] == f"{CHURN}:v9"
    error = await refusal(caller, path, organization=other.name)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "collection 'churn-classifier'" in error["message"]
    # One the caller does not belong to answers as a missing one.
    error = await refusal(caller, path, organization="globex")
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "organization 'globex'" in error["message"]
    # Sequence paths always need the organization.
    error = await refusal(caller, "churn/churn-model", organization="acme")
    assert error["extensions"]["code"] == "INVALID_PATH"


# --- malformed paths ------------------------------------------------------------------------

LONG_ALIAS = "a" * 129

MALFORMED = {
    "empty": ("", ["empty"]),
    "whitespace": ("   \t ", ["empty"]),
    "one segment": ("churn-classifier", ["no collection part"]),
    "one segment with selector": ("acme:production", ["no collection part"]),
    "four segments": (f"{CHURN}/extra", ["too many"]),
    "trailing slash": (f"{CHURN}/", ["too many"]),
    "empty organization": ("/wandb-registry-model/x", ["organization part", "empty"]),
    "empty registry name": ("acme/wandb-registry-/x", ["registry name", "empty"]),
    "empty registry name, no org": ("wandb-registry-/x", ["registry name", "empty"]),
    "empty collection": ("acme/wandb-registry-model/", ["collection part", "empty"]),
    "empty collection with selector": ("acme/wandb-registry-model/:v1", ["collection", "empty"]),
    "two colons": (f"{CHURN}:production:v1", ["more than one ':'"]),
    "colon in collection": ("acme/wandb-registry-model:x/churn:v1", ["more than one ':'"]),
    "empty selector": (f"{CHURN}:", ["selector", "empty"]),
    "selector with a space": (f"{CHURN}:prod uction", ["'prod uction'", "alias"]),
    "selector with a slash": (f"{CHURN}:prod/uction", ["'prod/uction'"]),
    "selector with unicode": (f"{CHURN}:prodüction", ["'prodüction'"]),
    "alias too long": (f"{CHURN}:{LONG_ALIAS}", [LONG_ALIAS, "128"]),
    "version out of range": (f"{CHURN}:v99999999999", ["'v99999999999'", "out of range"]),
    "version just out of range": (f"{CHURN}:v{MAX_VERSION_INDEX + 1}", ["out of range"]),
    "no registry prefix": ("churn/churn-model", ["'churn' is not a registry", "organization"]),
    "empty project": ("acme//churn-model", ["project part", "empty"]),
    "empty artifact": ("acme/churn/", ["artifact part", "empty"]),
    "over-long": ("acme/wandb-registry-model/" + "c" * MAX_PATH_LENGTH, ["longer than 1024"]),
}


@pytest.mark.parametrize(("path", "named"), list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_paths(ada: GraphQLClient, path: str, named: list[str]) -> None:
    error = await refusal(ada, path)
    assert error["extensions"]["code"] == "INVALID_PATH"
    for part in named:
        assert part in error["message"], (part, error["message"])
    assert len(error["message"]) < 1500


@pytest.mark.parametrize(("path", "named"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_parser_refuses_malformed_paths(path: str, named: list[str]) -> None:
    with pytest.raises(DomainError) as raised:
        parse_path(path)
    assert raised.value.code is ErrorCode.INVALID_PATH
    assert raised.value.field == ("path",)
    for part in named:
        assert part in raised.value.message


# --- unknown parts --------------------------------------------------------------------------

UNKNOWN = {
    "organization": ("nope/wandb-registry-model/churn-classifier", ["organization 'nope'"]),
    "registry": (
        "acme/wandb-registry-nope/churn-classifier",
        ["registry 'nope'", "organization 'acme'"],
    ),
    "collection": ("acme/wandb-registry-model/nope", ["collection 'nope'", "registry 'model'"]),
    "collection in another registry": (
        "acme/wandb-registry-dataset/churn-classifier",
        ["collection 'churn-classifier'", "registry 'dataset'"],
    ),
    "alias": (f"{CHURN}:nope", ["alias 'nope'", "'churn-classifier'"]),
    # Only v<digits> names a version; anything else of alias characters is an alias.
    "alias like a version": (f"{CHURN}:v-1", ["alias 'v-1'"]),
    "alias in capitals": (f"{CHURN}:NOPE", ["alias 'nope'"]),
    "longest alias": (f"{CHURN}:{'a' * 128}", ["alias 'aaaa"]),
    "version index": (f"{CHURN}:v10", ["version 'v10'", "'churn-classifier'"]),
    "largest version index": (f"{CHURN}:v{MAX_VERSION_INDEX}", [f"'v{MAX_VERSION_INDEX}'"]),
    "project": ("acme/nope/churn-model", ["project 'nope'", "organization 'acme'"]),
    "artifact": ("acme/churn/nope:v1", ["artifact 'nope'", "project 'churn'"]),
    "sequence version": ("acme/churn/churn-model:v10", ["version 'v10'", "'churn-model'"]),
    "sequence alias": ("acme/churn/churn-model:production", ["alias 'production'"]),
    "registry named as a project": ("acme/model/churn-classifier", ["project 'model'"]),
}


@pytest.mark.parametrize(("path", "named"), list(UNKNOWN.values()), ids=list(UNKNOWN))
async def test_unknown_parts_are_not_found(ada: GraphQLClient, path: str, named: list[str]) -> None:
    error = await refusal(ada, path)
    assert error["extensions"]["code"] == "NOT_FOUND"
    for part in named:
        assert part in error["message"], (part, error["message"])


@pytest.mark.parametrize(
    "path",
    [
        "ac\u0000me/wandb-registry-model/x",
        "acme/wandb-registry-mo\u0000del/x",
        "acme/churn/churn\u0000model",
        f"{CHURN}:prod\u0000",
    ],
)
async def test_a_path_holding_nul_is_refused_at_the_door(ada: GraphQLClient, path: str) -> None:
    response = await ada.post(QUERY, {"path": path, "organization": None})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("`$path` holds a NUL character")


@pytest.mark.parametrize(
    "path",
    [
        f"{CHURN}:production",
        "acme/churn/churn-model:v1",
        "acme/wandb-registry-nope/x",
    ],
)
async def test_another_organizations_paths_answer_as_missing(
    dora: GraphQLClient, path: str
) -> None:
    error = await refusal(dora, path)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == "organization 'acme' not found"


# --- the parser on its own ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CHURN, ArtifactPath("acme", "model", None, "churn-classifier", "latest", None)),
        (f"{CHURN}:v3", ArtifactPath("acme", "model", None, "churn-classifier", None, 3)),
        (f"{CHURN}:v03", ArtifactPath("acme", "model", None, "churn-classifier", None, 3)),
        (
            f"{CHURN}:production",
            ArtifactPath("acme", "model", None, "churn-classifier", "production", None),
        ),
        (
            "wandb-registry-Model/c:v.1",
            ArtifactPath(None, "Model", None, "c", "v.1", None),
        ),
        ("acme/churn/churn-model:v2", ArtifactPath("acme", None, "churn", "churn-model", None, 2)),
        (
            "acme/churn/churn-model",
            ArtifactPath("acme", None, "churn", "churn-model", "latest", None),
        ),
        # What lies inside a part is the lookup's business, not the parser's.
        ("a b/wandb-registry-c d/e f", ArtifactPath("a b", "c d", None, "e f", "latest", None)),
        (
            f"{CHURN}:{'a' * 128}",
            ArtifactPath("acme", "model", None, "churn-classifier", "a" * 128, None),
        ),
    ],
)
def test_parser_accepts(path: str, expected: ArtifactPath) -> None:
    assert parse_path(path) == expected


def test_parser_length_limit_is_inclusive() -> None:
    prefix = "acme/wandb-registry-model/"
    longest = prefix + "c" * (MAX_PATH_LENGTH - len(prefix))
    assert len(longest) == MAX_PATH_LENGTH
    assert parse_path(longest).collection == "c" * (MAX_PATH_LENGTH - len(prefix))
    with pytest.raises(DomainError):
        parse_path(longest + "c")


# --- properties -----------------------------------------------------------------------------

# Text that can travel as JSON (no lone surrogates), separators and NUL included.
TEXT = st.text(
    st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from("\u0000/: ")),
    max_size=30,
)
# Text for one part of a path: no separators, NUL and other oddities likely.
PART = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"], exclude_characters="/:"),
        st.sampled_from("\u0000 -._"),
    ),
    min_size=1,
    max_size=20,
)
ORGANIZATIONS = st.one_of(st.sampled_from(["acme", "globex", "", " "]), PART)
MIDDLES = st.one_of(
    st.sampled_from(
        ["wandb-registry-model", "wandb-registry-MODEL", "wandb-registry-", "churn", "vision", ""]
    ),
    PART.map(lambda name: "wandb-registry-" + name),
    PART,
)
NAMES = st.one_of(st.sampled_from(["churn-classifier", "churn-model", "customers", ""]), PART)
SELECTORS = st.one_of(
    st.sampled_from(["", "production", "latest", "v3", "v99", "v", "v-1", "a" * 129]),
    st.integers(min_value=0, max_value=2**40).map(lambda i: f"v{i}"),
    PART,
    TEXT,
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    """Random text, or near-misses built from real and broken path parts."""
    if draw(st.integers(0, 3)) == 0:
        return draw(TEXT)
    parts = [draw(MIDDLES), draw(NAMES)]
    if draw(st.integers(0, 3)):
        parts.insert(0, draw(ORGANIZATIONS))
    if draw(st.integers(0, 5)) == 0:
        parts.append(draw(NAMES))
    path = "/".join(parts)
    if draw(st.booleans()):
        path += ":" + draw(SELECTORS)
    return path


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=paths())
async def test_any_path_is_data_or_a_path_error(ada: GraphQLClient, path: str) -> None:
    response = await ada.post(QUERY, {"path": path, "organization": None})
    body = response.json()
    if "\x00" in path:
        assert response.status_code == 422, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        return
    if "errors" not in body:
        assert response.status_code == 200
        found = body["data"]["artifactVersion"]
        assert found is not None
        assert found["path"].startswith("acme/")
        return
    assert response.status_code == 294, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] in ("INVALID_PATH", "NOT_FOUND"), (path, body)
    assert error["extensions"]["field"] == ["path"]
    assert body["data"] == {"artifactVersion": None}


@settings(max_examples=1000, deadline=None)
@given(path=st.one_of(paths(), st.text(), st.text(max_size=1100).map(lambda s: s * 3)))
def test_parser_returns_a_path_or_refuses_it(path: str) -> None:
    refused: DomainError | None = None
    try:
        parsed = parse_path(path)
    except DomainError as error:
        refused = error
    if refused is not None:
        assert refused.code is ErrorCode.INVALID_PATH
        assert refused.field == ("path",)
        assert refused.message
        return
    assert isinstance(parsed, ArtifactPath)
    assert len(path) <= MAX_PATH_LENGTH
    assert (parsed.alias is None) != (parsed.index is None)
    assert (parsed.registry is None) != (parsed.project is None)
    assert parsed.collection
    assert "/" not in parsed.collection
    assert ":" not in parsed.collection
    if parsed.index is not None:
        assert 0 <= parsed.index <= MAX_VERSION_INDEX
        assert path.rpartition(":")[2].startswith("v")
    if parsed.project is not None:
        assert parsed.organization
    # Printing it back and parsing again gives the same path.
    if parsed.registry is not None:
        middle = f"wandb-registry-{parsed.registry}"
    else:
        middle = str(parsed.project)
    prefix = "" if parsed.organization is None else f"{parsed.organization}/"
    selector = parsed.alias if parsed.alias is not None else f"v{parsed.index}"
    reprinted = f"{prefix}{middle}/{parsed.collection}:{selector}"
    if len(reprinted) <= MAX_PATH_LENGTH:
        assert parse_path(reprinted) == parsed
