"""Authentication by bearer API key, keys stored hashed, and organization membership as the read
boundary: an object in someone else's organization answers exactly as a missing one."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers import accounts
from resolvers.accounts import create_api_key_txn, hash_key
from resolvers.organizations import create_organization_txn
from schema.nodes import global_id
from tests.support.graphql import GRAPHQL_RESPONSE_JSON, GraphQLClient, answer

VIEWER = "{ viewer { name } }"


async def post(client: httpx.AsyncClient, headers: dict[str, str], query: str = VIEWER) -> Any:
    return await client.post(
        "/graphql",
        json={"query": query},
        headers={"Accept": GRAPHQL_RESPONSE_JSON, **headers},
    )


def assert_unauthenticated(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body: dict[str, Any] = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    return body


@pytest.fixture
async def new_key(pool: asyncpg.Pool, demo: dict[str, str]) -> AsyncIterator[str]:
    """A fresh key of cy's, used by one test only."""
    async with pool.acquire() as conn:
        key = await create_api_key_txn(conn, "cy", key_name=f"test-{uuid.uuid4().hex[:8]}")
    yield key
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM api_keys WHERE key_hash = $1", hash_key(key))


# --- Authentication --------------------------------------------------------------------------


async def test_no_authorization_header_is_401(client: httpx.AsyncClient) -> None:
    body = assert_unauthenticated(await post(client, {}))
    assert "Authorization: Bearer" in body["errors"][0]["message"]


async def test_no_authorization_on_get_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": VIEWER}, headers={"Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert_unauthenticated(response)


async def test_unauthenticated_with_legacy_accept_is_still_401(client: httpx.AsyncClient) -> None:
    response = await post(client, {"Accept": "application/json"})
    assert response.headers["content-type"].startswith("application/json")
    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic YWRhOnBhc3N3b3Jk", id="basic"),
        pytest.param("Bearer", id="bearer-no-key"),
        pytest.param("Bearer ", id="bearer-empty"),
        pytest.param("Bearer     ", id="bearer-blank"),
        pytest.param("", id="empty-header"),
        pytest.param("Bearer cairn_" + "A" * 43, id="unknown-key"),
        pytest.param("Bearer not-a-cairn-key", id="malformed-key"),
        pytest.param("Bearer cairn_", id="prefix-only"),
        pytest.param("Bearer cairn_" + "x" * 300, id="oversized-key"),
        pytest.param("Bearer cairn_abc def", id="key-with-space"),
        pytest.param("Token cairn_abc", id="other-scheme"),
    ],
)
async def test_bad_credentials_are_401(client: httpx.AsyncClient, authorization: str) -> None:
    assert_unauthenticated(await post(client, {"Authorization": authorization}))


async def test_valid_key_with_wrong_scheme_is_401(
    client: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    for authorization in (f"Basic {demo['ada']}", demo["ada"], f"Bearer{demo['ada']}"):
        assert_unauthenticated(await post(client, {"Authorization": authorization}))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_valid_key_is_200(
    client: httpx.AsyncClient, demo: dict[str, str], scheme: str
) -> None:
    response = await post(client, {"Authorization": f"{scheme} {demo['bob']}"})
    assert response.status_code == 200
    assert answer(response) == {"data": {"viewer": {"name": "bob"}}}
    assert "www-authenticate" not in response.headers


async def test_revoked_key_stops_working_at_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, demo: dict[str, str], new_key: str
) -> None:
    headers = {"Authorization": f"Bearer {new_key}"}
    assert answer(await post(client, headers)) == {"data": {"viewer": {"name": "cy"}}}

    async with pool.acquire() as conn:
        revoked = await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1",
            hash_key(new_key),
        )
    assert revoked == "UPDATE 1"

    body = assert_unauthenticated(await post(client, headers))
    # A revoked key reads exactly like one that never existed.
    unknown = assert_unauthenticated(
        await post(client, {"Authorization": "Bearer cairn_" + "B" * 43})
    )
    assert body == unknown
    # The user's other keys are unaffected.
    other = await post(client, {"Authorization": f"Bearer {demo['cy']}"})
    assert answer(other) == {"data": {"viewer": {"name": "cy"}}}


async def last_use(pool: asyncpg.Pool, key: str) -> asyncpg.Record:
    """The key's `last_used_at`, and the database's `now()` as `db_now`."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT last_used_at, now() AS db_now FROM api_keys WHERE key_hash = $1", hash_key(key)
        )
    assert row is not None
    return row


async def test_last_used_at_is_set_on_first_use(
    client: httpx.AsyncClient, pool: asyncpg.Pool, new_key: str
) -> None:
    before = await last_use(pool, new_key)
    assert before["last_used_at"] is None

    # A failed request (malformed body) never authenticates, so it does not count as a use.
    bad = await client.post(
        "/graphql",
        content=b"NONSENSE",
        headers={"Authorization": f"Bearer {new_key}", "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert (await last_use(pool, new_key))["last_used_at"] is None

    assert (await post(client, {"Authorization": f"Bearer {new_key}"})).status_code == 200
    after = await last_use(pool, new_key)
    assert after["last_used_at"] is not None
    assert before["db_now"] <= after["last_used_at"] <= after["db_now"]

    # Written at most once a minute: a second use right away leaves it as it was.
    assert (await post(client, {"Authorization": f"Bearer {new_key}"})).status_code == 200
    again = await last_use(pool, new_key)
    assert again["last_used_at"] == after["last_used_at"]


async def test_keys_are_stored_hashed(pool: asyncpg.Pool, new_key: str) -> None:
    assert new_key.startswith(accounts.KEY_PREFIX)
    secret = new_key.removeprefix(accounts.KEY_PREFIX)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT * FROM api_keys WHERE key_hash = $1", hashlib.sha256(new_key.encode()).digest()
        )
        assert row is not None
        assert bytes(row["key_hash"]) == hashlib.sha256(new_key.encode()).digest()
        assert all(value != new_key for value in row.values())

        # No column of any row of any table holds the key, in text or as bytes.
        tables = await conn.fetch(
            "SELECT quote_ident(table_name) AS name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        assert "api_keys" in {t["name"] for t in tables}
        for table in tables:
            rows = await conn.fetch(f"SELECT row_to_json(t)::text AS j FROM {table['name']} t")
            for r in rows:
                assert secret not in r["j"], table["name"]
                assert new_key.encode().hex() not in r["j"], table["name"]


# --- Organization membership is the read boundary --------------------------------------------

ACME_IDS_QUERY = """
{
  organization(name: "acme") {
    id
    projects(first: 1) { nodes { id } }
    registry(name: "model") {
      id
      collection(name: "churn-classifier") {
        id
        version(alias: "latest") {
          id
          linkedBy { id }
          source {
            collection { id __typename }
            createdBy { id project { id } }
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
async def acme_ids(ada: GraphQLClient) -> dict[str, str]:
    """Global ids of one acme object of every kind, fetched as ada (an acme admin)."""
    org = (await ada.data(ACME_IDS_QUERY))["organization"]
    registry = org["registry"]
    collection = registry["collection"]
    version = collection["version"]
    source = version["source"]
    assert source["collection"]["__typename"] == "ArtifactSequence"
    return {
        "Organization": org["id"],
        "Registry": registry["id"],
        "Collection": collection["id"],
        "ArtifactSequence": source["collection"]["id"],
        "ArtifactVersion": version["id"],
        "Project": source["createdBy"]["project"]["id"],
        "Run": source["createdBy"]["id"],
        "User": version["linkedBy"]["id"],
    }


def node_query(ids: Mapping[str, str]) -> str:
    fields = " ".join(f'{kind}: node(id: "{gid}") {{ id }}' for kind, gid in ids.items())
    listed = ", ".join(f'"{gid}"' for gid in ids.values())
    return f"{{ {fields} nodes(ids: [{listed}]) {{ id }} }}"


async def test_ada_sees_every_acme_node(ada: GraphQLClient, acme_ids: dict[str, str]) -> None:
    """The ids are real: their owner resolves each of them."""
    assert len(set(acme_ids.values())) == len(acme_ids)
    data = await ada.data(node_query(acme_ids))
    for kind, gid in acme_ids.items():
        assert data[kind] == {"id": gid}
    assert data["nodes"] == [{"id": gid} for gid in acme_ids.values()]


async def test_other_organization_is_invisible_to_dora(dora: GraphQLClient) -> None:
    data = await dora.data(
        '{ organization(name: "acme") { id } '
        'registry(organization: "acme", name: "model") { id } '
        "viewer { organizations { name } } }"
    )
    assert data == {
        "organization": None,
        "registry": None,
        "viewer": {"organizations": [{"name": "globex"}]},
    }


async def test_dora_gets_null_for_every_acme_node(
    dora: GraphQLClient, acme_ids: dict[str, str]
) -> None:
    data = await dora.data(node_query(acme_ids))
    for kind in acme_ids:
        assert data[kind] is None, kind
    assert data["nodes"] == [None] * len(acme_ids)


async def test_dora_sees_her_own_organization(dora: GraphQLClient) -> None:
    data = await dora.data(
        '{ organization(name: "globex") { name viewerRole node: id } '
        'registry(organization: "globex", name: "model") { name organization { name } } }'
    )
    assert data["organization"]["name"] == "globex"
    assert data["organization"]["viewerRole"] == "ADMIN"
    assert data["registry"] == {"name": "model", "organization": {"name": "globex"}}

    globex_id = data["organization"]["node"]
    nodes = await dora.data(f'{{ node(id: "{globex_id}") {{ id }} }}')
    assert nodes == {"node": {"id": globex_id}}


async def test_nodes_mixes_visible_and_invisible_in_order(
    dora: GraphQLClient, acme_ids: dict[str, str]
) -> None:
    globex_id = (await dora.data('{ organization(name: "globex") { id } }'))["organization"]["id"]
    ids = [acme_ids["Organization"], globex_id, acme_ids["Registry"]]
    data = await dora.data(f"{{ nodes(ids: {list(ids)!r}) {{ id }} }}".replace("'", '"'))
    assert data == {"nodes": [None, {"id": globex_id}, None]}


async def path_error(client: GraphQLClient, path: str) -> dict[str, Any]:
    body = await client.errors(f'{{ artifactVersion(path: "{path}") {{ id }} }}')
    assert body["data"] == {"artifactVersion": None}
    (error,) = body["errors"]
    error.pop("locations", None)
    return error


async def test_invisible_path_names_the_organization(dora: GraphQLClient) -> None:
    existing = await path_error(dora, "acme/wandb-registry-model/churn-classifier")
    assert existing == {
        "message": "organization 'acme' not found",
        "path": ["artifactVersion"],
        "extensions": {"code": "NOT_FOUND", "field": ["path"]},
    }
    # Whether the collection behind the invisible organization exists makes no difference.
    for path in (
        "acme/wandb-registry-model/no-such-collection",
        "acme/wandb-registry-model/churn-classifier:production",
        "acme/wandb-registry-nope/churn-classifier",
        "acme/churn/churn-model",
    ):
        assert await path_error(dora, path) == existing, path


async def test_invisible_and_missing_organizations_read_the_same(
    ada: GraphQLClient, dora: GraphQLClient
) -> None:
    invisible = await path_error(dora, "acme/wandb-registry-model/churn-classifier")
    missing = await path_error(ada, "nosuch/wandb-registry-model/churn-classifier")
    assert missing["message"] == "organization 'nosuch' not found"
    assert {**missing, "message": missing["message"].replace("nosuch", "acme")} == invisible

    # Once the organization is visible, the message moves on to the next part: the test above
    # is not vacuous.
    inside = await path_error(dora, "globex/wandb-registry-model/churn-classifier")
    assert inside["message"] == "collection 'churn-classifier' not found in registry 'model'"


async def test_existing_and_deleted_organization_answer_identically(
    pool: asyncpg.Pool, dora: GraphQLClient
) -> None:
    """The same names and ids, asked while the organization exists (invisible to dora) and after
    it is deleted: byte-for-byte the same response."""
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        org = await create_organization_txn(conn, name, "Ghost")
        registry_id = await conn.fetchval(
            "SELECT id FROM registries WHERE organization_id = $1 AND name = 'model'", org.id
        )
    ids = {
        "Organization": global_id("Organization", org.id),
        "Registry": global_id("Registry", registry_id),
    }
    query = (
        f'{{ organization(name: "{name}") {{ id }} '
        f'registry(organization: "{name}", name: "model") {{ id }} '
        f'artifactVersion(path: "{name}/wandb-registry-model/c") {{ id }} ' + node_query(ids)[1:]
    )
    while_existing = await dora.post(query)
    async with pool.acquire() as conn:
        assert await conn.execute("DELETE FROM organizations WHERE id = $1", org.id) == "DELETE 1"
    after_deletion = await dora.post(query)

    assert while_existing.status_code == after_deletion.status_code == 294
    assert while_existing.content == after_deletion.content
    body = while_existing.json()
    assert body["data"] == {
        "organization": None,
        "registry": None,
        "artifactVersion": None,
        "Organization": None,
        "Registry": None,
        "nodes": [None, None],
    }
    assert body["errors"][0]["message"] == f"organization '{name}' not found"
