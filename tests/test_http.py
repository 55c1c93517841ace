"""GraphQL over HTTP: content negotiation, status codes, malformed requests, GET, GraphiQL, error
masking with request ids, limits, caches, and the health and readiness probes."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from db.migrate import migrate
from db.pagination import MAX_PAGE_SIZE
from db.pool import create_pool
from resolvers import organizations
from schema.limits import (
    CACHE_BUDGET,
    MAX_ALIASES,
    MAX_CACHED_DOCUMENT,
    MAX_DEPTH,
    MAX_TOKENS,
    DocumentCache,
)
from schema.nodes import MAX_NODES
from server import graphql_http
from server.graphiql_page import INSTALL_COMMAND
from server.settings import Settings
from tests.support.app import app_client
from tests.support.counting import Counting
from tests.support.graphiql import fake_node_modules
from tests.support.graphql import GRAPHQL_RESPONSE_JSON, answer

JSON = "application/json"
VIEWER = "{ viewer { name } }"
MISSING_PATH = "acme/wandb-registry-model/nope"
PARTIAL = f'{{ viewer {{ name }} artifactVersion(path: "{MISSING_PATH}") {{ id }} }}'
SECRET = "secret SQL detail"
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


@pytest.fixture
def auth(demo: dict[str, str]) -> dict[str, str]:
    """Headers of an authenticated request by ada, asking for graphql-response+json."""
    return {"Authorization": f"Bearer {demo['ada']}", "Accept": GRAPHQL_RESPONSE_JSON}


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **extra: Any
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, **extra}, headers=headers)


async def post_raw(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, content_type: str | None
) -> httpx.Response:
    request = client.build_request("POST", "/graphql", content=content, headers=headers)
    if content_type is None:
        request.headers.pop("content-type", None)
    else:
        request.headers["content-type"] = content_type
    return await client.send(request)


@pytest.fixture
async def small_client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that refuses bodies over 256 bytes."""
    async with app_client(pool, Settings(max_body_bytes=256)) as client:
        yield client


# --- Content negotiation -------------------------------------------------------------------


async def test_post_json_answers_data(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await post(client, auth, VIEWER)
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    assert answer(response) == {"data": {"viewer": {"name": "ada"}}}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, {JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{JSON}, {GRAPHQL_RESPONSE_JSON}", JSON),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.4, {JSON};q=0.9", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, {JSON}", JSON),
        (f"{JSON}; q=0.1, {GRAPHQL_RESPONSE_JSON} ; q=0.2", GRAPHQL_RESPONSE_JSON),
        (f"text/html, {JSON};q=0.1", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
    ],
)
async def test_response_type_follows_accept(
    client: httpx.AsyncClient, auth: dict[str, str], accept: str, expected: str
) -> None:
    response = await post(client, {**auth, "Accept": accept}, VIEWER)
    assert response.status_code == 200, response.text
    assert media_type(response) == expected
    assert answer(response) == {"data": {"viewer": {"name": "ada"}}}


async def test_no_accept_header_gets_json(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    request = client.build_request("POST", "/graphql", json={"query": VIEWER}, headers=auth)
    del request.headers["accept"]
    assert "accept" not in request.headers
    response = await client.send(request)
    assert response.status_code == 200
    assert media_type(response) == JSON
    assert response.json()["data"] == {"viewer": {"name": "ada"}}


@pytest.mark.parametrize(
    "accept",
    ["text/csv", "text/html", f"{JSON};q=0", f"{GRAPHQL_RESPONSE_JSON};q=0, {JSON};q=0.0"],
)
async def test_unacceptable_accept_is_406(
    client: httpx.AsyncClient, auth: dict[str, str], accept: str
) -> None:
    response = await post(client, {**auth, "Accept": accept}, VIEWER)
    assert response.status_code == 406
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert GRAPHQL_RESPONSE_JSON in body["errors"][0]["message"]


# --- Status codes ----------------------------------------------------------------------------

REQUEST_ERRORS = [
    # (name, query, variables, status with graphql-response+json, message fragment)
    ("syntax", "{ viewer { name }", None, 400, "Syntax Error"),
    ("unknown field", "{ viewer { nickname } }", None, 422, "nickname"),
    ("unknown argument", '{ viewer(name: "x") { name } }', None, 422, "name"),
    (
        "variable coercion",
        "query ($name: String!) { organization(name: $name) { name } }",
        {"name": 42},
        422,
        "$name",
    ),
    (
        "missing variable",
        "query ($name: String!) { organization(name: $name) { name } }",
        {},
        422,
        "$name",
    ),
]


@pytest.mark.parametrize(
    ("query", "variables", "status", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in REQUEST_ERRORS],
)
async def test_request_errors_have_status_and_no_data(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    query: str,
    variables: dict[str, Any] | None,
    status: int,
    fragment: str,
) -> None:
    response = await post(client, auth, query, variables=variables)
    assert response.status_code == status, response.text
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    body = response.json()
    assert "data" not in body
    assert fragment in body["errors"][0]["message"]

    # A client that accepts only application/json keeps the legacy 200, with the same body.
    legacy = await post(client, {**auth, "Accept": JSON}, query, variables=variables)
    assert legacy.status_code == 200
    assert media_type(legacy) == JSON
    assert legacy.json() == body


async def test_operation_that_cannot_be_determined(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    query = "query A { viewer { name } } query B { viewer { name } }"
    response = await post(client, auth, query, operationName="C")
    assert response.status_code == 422
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NOT_FOUND"
    assert (
        body["errors"][0]["message"] == "the document has no operation named 'C' (it has 'A', 'B')"
    )

    chosen = await post(client, auth, query, operationName="B")
    assert chosen.status_code == 200
    assert answer(chosen) == {"data": {"viewer": {"name": "ada"}}}


async def test_partial_success_is_294_with_data_and_errors(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post(client, auth, PARTIAL)
    assert response.status_code == 294
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    body = response.json()
    assert body["data"] == {"viewer": {"name": "ada"}, "artifactVersion": None}
    (error,) = body["errors"]
    assert error["path"] == ["artifactVersion"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "nope" in error["message"]

    legacy = await post(client, {**auth, "Accept": JSON}, PARTIAL)
    assert legacy.status_code == 200
    assert legacy.json() == body


async def test_field_error_reaching_the_root_keeps_data_null(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """`nodes` is non-null, so its error nulls the whole `data`: execution still ran, so `data`
    is present (null) and the status is not a request error's."""
    ids = ", ".join(['"x"'] * (MAX_NODES + 1))
    response = await post(client, auth, f"{{ nodes(ids: [{ids}]) {{ id }} }}")
    assert response.status_code == 294
    body = response.json()
    assert "data" in body
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["nodes"]


# --- Malformed requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"NONSENSE", "not valid JSON", id="not-json"),
        pytest.param(b'{"query":', "not valid JSON", id="truncated-json"),
        pytest.param(b"", "not valid JSON", id="empty-body"),
        pytest.param(b'[{"query": "{ viewer { name } }"}]', "batched", id="batch"),
        pytest.param(b'"{ viewer { name } }"', "JSON object", id="string-body"),
        pytest.param(b"null", "JSON object", id="null-body"),
        pytest.param(b'{"variables": {}}', "query", id="no-query"),
        pytest.param(b'{"qeury": "{ viewer { name } }"}', "query", id="typo-query"),
        pytest.param(b'{"query": ""}', "query", id="empty-query"),
        pytest.param(b'{"query": "   "}', "query", id="blank-query"),
        pytest.param(b'{"query": 5}', "query", id="number-query"),
        pytest.param(b'{"query": "{ viewer { name } }", "variables": [7]}', "variables", id="v-l"),
        pytest.param(b'{"query": "{ viewer { name } }", "variables": "{}"}', "variables", id="v-s"),
        pytest.param(b'{"query": "{ viewer { name } }", "operationName": 5}', "operationName"),
        pytest.param(b'{"query": "{ viewer { name } }", "extensions": []}', "extensions"),
    ],
)
async def test_malformed_body_is_400(
    client: httpx.AsyncClient, auth: dict[str, str], content: bytes, fragment: str
) -> None:
    response = await post_raw(client, auth, content, JSON)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    assert fragment in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/graphql",
        None,
    ],
)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, auth: dict[str, str], content_type: str | None
) -> None:
    content = orjson.dumps({"query": VIEWER})
    response = await post_raw(client, auth, content, content_type)
    assert response.status_code == 415
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
async def test_json_content_type_with_parameters_or_case(
    client: httpx.AsyncClient, auth: dict[str, str], content_type: str
) -> None:
    response = await post_raw(client, auth, orjson.dumps({"query": VIEWER}), content_type)
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"name": "ada"}}


def padded_body(size: int) -> bytes:
    """A valid request body of exactly `size` bytes (padded with insignificant whitespace)."""
    body = orjson.dumps({"query": VIEWER})
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_body_at_the_limit_is_accepted(
    small_client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    content = padded_body(256)
    assert len(content) == 256
    response = await post_raw(small_client, auth, content, JSON)
    assert response.status_code == 200
    assert answer(response) == {"data": {"viewer": {"name": "ada"}}}


async def test_body_over_the_limit_with_content_length_is_413(
    small_client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    content = padded_body(257)
    request = small_client.build_request("POST", "/graphql", content=content, headers=auth)
    request.headers["content-type"] = JSON
    assert request.headers["content-length"] == "257"
    response = await small_client.send(request)
    assert response.status_code == 413
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    assert "256" in body["errors"][0]["message"]


async def test_body_over_the_limit_without_content_length_is_413(
    small_client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        content = padded_body(1000)
        for start in range(0, len(content), 100):
            yield content[start : start + 100]

    request = small_client.build_request("POST", "/graphql", content=chunks(), headers=auth)
    request.headers["content-type"] = JSON
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await small_client.send(request)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"


async def test_understated_content_length_does_not_bypass_the_limit(
    small_client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The limit is enforced on the bytes read, not only on the declared length."""

    async def chunks() -> AsyncIterator[bytes]:
        yield padded_body(1000)

    request = small_client.build_request("POST", "/graphql", content=chunks(), headers=auth)
    request.headers["content-type"] = JSON
    del request.headers["transfer-encoding"]
    request.headers["content-length"] = "10"
    response = await small_client.send(request)
    assert response.status_code == 413


# --- GET and other methods -------------------------------------------------------------------


async def test_get_runs_a_query(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/graphql", params={"query": "{viewer{name}}"}, headers=auth)
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    assert answer(response) == {"data": {"viewer": {"name": "ada"}}}


async def test_get_with_variables_and_operation_name(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    params = {
        "query": "query Other { viewer { name } } "
        "query Org($name: String!) { organization(name: $name) { name } }",
        "variables": orjson.dumps({"name": "acme"}).decode(),
        "operationName": "Org",
    }
    response = await client.get("/graphql", params=params, headers=auth)
    assert response.status_code == 200
    assert answer(response) == {"data": {"organization": {"name": "acme"}}}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"query": VIEWER, "variables": "{not json"}, "variables"),
        ({"query": VIEWER, "variables": "[1, 2]"}, "variables"),
        ({"query": VIEWER, "extensions": '"x"'}, "extensions"),
        ({"variables": "{}"}, "query"),
    ],
)
async def test_get_with_bad_parameters_is_400(
    client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, str], fragment: str
) -> None:
    response = await client.get("/graphql", params=params, headers=auth)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert fragment in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query", ["mutation { x }", "mutation M { x } query Q { viewer { name } }"]
)
async def test_get_mutation_is_405(
    client: httpx.AsyncClient, auth: dict[str, str], query: str
) -> None:
    response = await client.get("/graphql", params={"query": query}, headers=auth)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(
    client: httpx.AsyncClient, auth: dict[str, str], method: str
) -> None:
    response = await client.request(
        method, "/graphql", content=orjson.dumps({"query": VIEWER}), headers=auth
    )
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert "GET" in response.headers["allow"]
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_subscription_over_http_is_sent_to_the_websocket(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    query = 'subscription { registryEvents(registry: "x") { type } }'
    for response in (
        await post(client, auth, query),
        await client.get("/graphql", params={"query": query}, headers=auth),
    ):
        assert response.status_code == 405
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        assert "WebSocket (graphql-transport-ws)" in error["message"]


# --- GraphiQL --------------------------------------------------------------------------------


async def get_page(pool: asyncpg.Pool, assets: Path, accept: str) -> httpx.Response:
    async with app_client(pool, graphiql_assets=assets) as client:
        # A browser: no Authorization header, HTML first.
        return await client.get("/graphql", headers={"Accept": accept})


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_browser_gets_graphiql_page(pool: asyncpg.Pool, tmp_path: Path) -> None:
    response = await get_page(pool, fake_node_modules(tmp_path / "node_modules"), BROWSER_ACCEPT)
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert "<title>Cairn GraphiQL</title>" in response.text
    assert "/graphiql/assets/graphiql/graphiql.min.js" in response.text


async def test_browser_without_assets_gets_instructions(pool: asyncpg.Pool, tmp_path: Path) -> None:
    response = await get_page(pool, tmp_path / "missing", "text/html")
    assert response.status_code == 503
    assert media_type(response) == "text/html"
    assert INSTALL_COMMAND in response.text


async def test_a_link_with_a_query_opens_graphiql(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """A GraphiQL link followed in a browser (no credentials) shows GraphiQL, which fills its
    editor from the link, not a 401."""
    assets = fake_node_modules(tmp_path / "node_modules")
    async with app_client(pool, graphiql_assets=assets) as client:
        response = await client.get(
            "/graphql", params={"query": VIEWER}, headers={"Accept": BROWSER_ACCEPT}
        )
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert "linked.get('query')" in response.text


async def test_browser_with_a_query_gets_json(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Accept": BROWSER_ACCEPT}
    response = await client.get("/graphql", params={"query": VIEWER}, headers=headers)
    assert response.status_code == 200
    assert media_type(response) == JSON
    assert answer(response) == {"data": {"viewer": {"name": "ada"}}}


# --- Internal errors are masked and logged with a request id ---------------------------------


async def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


def logged_faults(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cairn.graphql" and r.levelno >= logging.ERROR]


def assert_masked(error: dict[str, Any], request_id: str) -> None:
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert request_id in error["message"]
    text = orjson.dumps(error).decode()
    for leaked in ("secret", "SQL", "RuntimeError", "Traceback", "File "):
        assert leaked not in text


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON])
async def test_a_fault_before_execution_is_masked_and_logged(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    accept: str,
) -> None:
    """The database gone while the key is looked up: a JSON answer with the request id, the
    traceback in the log only."""

    async def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise asyncpg.ConnectionDoesNotExistError(SECRET)

    monkeypatch.setattr(graphql_http, "authenticate", database_gone)
    caplog.set_level(logging.ERROR, logger="cairn.http")
    response = await post(client, {**auth, "Accept": accept}, "{ viewer { name } }")
    assert response.status_code == 500
    assert response.headers["content-type"] == accept
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert_masked(error, request_id)
    (record,) = [r for r in caplog.records if r.name == "cairn.http"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET


async def test_internal_error_is_masked_and_logged(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(organizations, "organization_by_name", _boom)
    caplog.set_level(logging.ERROR, logger="cairn.graphql")
    response = await post(client, auth, '{ viewer { name } organization(name: "acme") { name } }')

    assert response.status_code == 294
    assert "secret" not in response.text
    body = response.json()
    assert body["data"] == {"viewer": {"name": "ada"}, "organization": None}
    (error,) = body["errors"]
    assert error["path"] == ["organization"]
    request_id = response.headers["x-request-id"]
    assert GENERATED_REQUEST_ID.match(request_id)
    assert_masked(error, request_id)

    (record,) = logged_faults(caplog)
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert str(record.exc_info[1]) == SECRET
    assert "organization" in record.getMessage()


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON])
async def test_internal_error_under_a_non_null_field(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    accept: str,
) -> None:
    """`viewer.organizations` is non-null all the way up, so `data` becomes null; the response
    is still an executed one (data present), not a request error."""
    monkeypatch.setattr(organizations, "viewer_organizations", _boom)
    caplog.set_level(logging.ERROR, logger="cairn.graphql")
    response = await post(
        client, {**auth, "Accept": accept}, "{ viewer { name organizations { name } } }"
    )
    assert response.status_code == (294 if accept == GRAPHQL_RESPONSE_JSON else 200)
    assert "secret" not in response.text
    body = response.json()
    assert "data" in body
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["viewer", "organizations"]
    request_id = response.headers["x-request-id"]
    assert_masked(error, request_id)
    (record,) = logged_faults(caplog)
    assert request_id in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET


async def test_each_request_gets_its_own_request_id(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(organizations, "organization_by_name", _boom)
    query = '{ organization(name: "acme") { name } }'
    first = await post(client, auth, query)
    second = await post(client, auth, query)
    ids = [r.headers["x-request-id"] for r in (first, second)]
    assert ids[0] != ids[1]
    assert [r.json()["errors"][0]["extensions"]["requestId"] for r in (first, second)] == ids


@pytest.mark.parametrize("incoming", ["req-42", "a.B_c-9", "x" * 64, str(uuid.uuid4())])
async def test_sane_incoming_request_id_is_reused(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    incoming: str,
) -> None:
    monkeypatch.setattr(organizations, "organization_by_name", _boom)
    caplog.set_level(logging.ERROR, logger="cairn.graphql")
    response = await post(
        client, {**auth, "X-Request-Id": incoming}, '{ organization(name: "acme") { name } }'
    )
    assert response.headers["x-request-id"] == incoming
    assert response.json()["errors"][0]["extensions"]["requestId"] == incoming
    (record,) = logged_faults(caplog)
    assert incoming in record.getMessage()


@pytest.mark.parametrize(
    "incoming", ["x" * 65, "has space", "semi;colon", "<script>", "a/b", "", "ünïcode"]
)
async def test_insane_incoming_request_id_is_replaced(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    incoming: str,
) -> None:
    monkeypatch.setattr(organizations, "organization_by_name", _boom)
    # As bytes: httpx would refuse to encode some of these values from a str.
    headers = [(name.encode(), value.encode()) for name, value in auth.items()]
    headers.append((b"X-Request-Id", incoming.encode()))
    query = '{ organization(name: "acme") { name } }'
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    request_id = response.headers["x-request-id"]
    assert GENERATED_REQUEST_ID.match(request_id)
    assert request_id != incoming
    assert response.json()["errors"][0]["extensions"]["requestId"] == request_id


async def test_refused_requests_carry_a_request_id(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post_raw(client, {**auth, "X-Request-Id": "trace-1"}, b"NONSENSE", JSON)
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "trace-1"


async def test_empty_selection_set_is_a_validation_error(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """graphql-core parses `{}`; it is refused as invalid rather than tripping a fault."""
    response = await post(client, auth, "{}")
    assert response.status_code == 422
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "empty selection set" in error["message"]
    legacy = await post(
        client, {**auth, "Accept": JSON}, '{ viewer { name } organization(name: "acme") {} }'
    )
    assert legacy.status_code == 200
    assert "data" not in legacy.json()


async def test_several_operations_need_an_operation_name(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    document = "query A { viewer { name } } query B { __typename }"
    response = await post(client, auth, document)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert "2 operations" in error["message"]
    named = await post(client, auth, document, operationName="B")
    assert named.status_code == 200
    assert answer(named) == {"data": {"__typename": "Query"}}


# --- Client errors are not masked ------------------------------------------------------------


async def test_client_errors_pass_through(
    client: httpx.AsyncClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="cairn.graphql")
    query = '{ organization(name: "acme") { registries(after: "garbage") { totalCount } } }'
    response = await post(client, auth, query)
    assert response.status_code == 294
    (error,) = response.json()["errors"]
    assert error["message"] == "`after` is not a cursor of this connection: 'garbage'"
    assert error["extensions"] == {"code": "INVALID_ARGUMENT", "field": ["after"]}
    assert error["path"] == ["organization", "registries"]

    bad_id = await post(client, auth, '{ node(id: "not-an-id") { id } }')
    assert bad_id.json()["errors"][0]["extensions"] == {"code": "INVALID_ID"}
    assert "not-an-id" in bad_id.json()["errors"][0]["message"]
    assert logged_faults(caplog) == []


# --- Limits ----------------------------------------------------------------------------------


def chain_query(fields: int) -> str:
    """A query whose fields nest `fields` deep: organization → registries → nodes → organization
    → …, ending on a leaf; pages of two keep its cost low."""
    cycle = ["registries(first: 2)", "nodes", "organization"]
    names = ['organization(name: "acme")'] + [cycle[i % 3] for i in range(fields - 2)]
    leaf = "totalCount" if names[-1].startswith("registries") else "id"
    query = leaf
    for name in reversed(names):
        query = f"{name} {{ {query} }}"
    return "{ " + query + " }"


async def test_query_at_max_depth_runs(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    # The root field is depth 0, so MAX_DEPTH + 1 nested fields are exactly at the limit.
    response = await post(client, auth, chain_query(MAX_DEPTH + 1))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["organization"]["registries"]["nodes"]


async def test_query_over_max_depth_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post(client, auth, chain_query(MAX_DEPTH + 2))
    assert response.status_code == 422
    body = response.json()
    assert "data" not in body
    assert f"exceeds maximum operation depth of {MAX_DEPTH}" in body["errors"][0]["message"]


async def test_depth_counts_through_fragments(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    inner = chain_query(MAX_DEPTH + 2)[2:-2]
    query = "{ ...Deep } fragment Deep on Query { " + inner + " }"
    response = await post(client, auth, query)
    assert response.status_code == 422
    assert "depth" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables", "status", "code"),
    [
        pytest.param("{ viewer { name }", None, 400, "GRAPHQL_PARSE_FAILED", id="syntax"),
        pytest.param("{ viewer { nope } }", None, 422, "GRAPHQL_VALIDATION_FAILED", id="field"),
        pytest.param(
            'query($n: Int) { organization(name: "acme") { registries(first: $n) '
            "{ totalCount } } }",
            {"n": "ten"},
            422,
            "BAD_USER_INPUT",
            id="variable",
        ),
    ],
)
async def test_request_errors_say_what_kind_they_are(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    query: str,
    variables: dict[str, Any] | None,
    status: int,
    code: str,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={**auth, "Accept": GRAPHQL_RESPONSE_JSON},
    )
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_an_unknown_fragment_is_a_validation_error(
    client: httpx.AsyncClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    response = await post(client, auth, "query { ...Missing }")
    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {
                "message": "Unknown fragment 'Missing'.",
                "locations": [{"line": 1, "column": 12}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ]
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_long_chain_of_fragment_spreads_is_refused_cleanly(
    client: httpx.AsyncClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """600 fragments, each spreading the next: more than validation follows, refused as a
    validation error, never as the interpreter's own recursion message."""
    caplog.set_level(logging.ERROR)
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(600))
    query = "query Chain { ...F0 } " + chain + " fragment F600 on Query { viewer { name } }"
    response = await post(client, auth, query)
    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {"message": "Validation aborted.", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
        ]
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_fragments_spread_many_times_are_measured_once_each(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Each of 40 fragments spreads the next twice: 2^40 paths, 41 fragments to measure. An
    alias at the bottom counts once per path, so the document is refused, at once."""
    fan = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    bottom = " fragment F40 on Query { me: viewer { name } }"
    response = await post(client, auth, "query Fan { ...F0 } " + fan + bottom)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["message"] == f"{2**40} aliases found. Allowed: {MAX_ALIASES}"
    plain = await post(
        client, auth, "query Fan { ...F0 } " + fan.replace("me: ", "") + bottom.replace("me: ", "")
    )
    assert answer(plain) == {"data": {"viewer": {"name": "ada"}}}


def aliases_query(count: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(count)) + " }"


async def test_aliases_up_to_the_limit_run(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await post(client, auth, aliases_query(MAX_ALIASES))
    assert response.status_code == 200
    assert len(response.json()["data"]) == MAX_ALIASES


async def test_too_many_aliases_are_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post(client, auth, aliases_query(MAX_ALIASES + 1))
    assert response.status_code == 422
    body = response.json()
    assert "data" not in body
    assert (
        f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}" in body["errors"][0]["message"]
    )


def tokens_query(strings: int) -> str:
    # `{ nodes(ids: [...]) { id } }`: a dozen tokens plus one per string. (Repeating one field
    # instead would trip graphql-core's field-comparison budget before the token limit.)
    return "{ nodes(ids: [" + '"x" ' * strings + "]) { id } }"


async def test_token_limit(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    # Just under the limit the document parses and validates: it fails only when run, on the
    # number of ids.
    under = await post(client, auth, tokens_query(MAX_TOKENS - 20))
    assert under.status_code == 294
    assert f"at most {MAX_NODES}" in under.json()["errors"][0]["message"]

    over = await post(client, auth, tokens_query(MAX_TOKENS))
    assert over.status_code == 400
    body = over.json()
    assert "data" not in body
    assert f"more than {MAX_TOKENS} tokens" in body["errors"][0]["message"]


async def test_nodes_id_limit(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    org_id = (await post(client, auth, '{ organization(name: "acme") { id } }')).json()["data"][
        "organization"
    ]["id"]
    at_limit = await post(
        client,
        auth,
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        variables={"ids": [org_id] * MAX_NODES},
    )
    assert at_limit.status_code == 200
    assert at_limit.json()["data"]["nodes"] == [{"id": org_id}] * MAX_NODES

    over = await post(
        client,
        auth,
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        variables={"ids": [org_id] * (MAX_NODES + 1)},
    )
    (error,) = over.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert f"at most {MAX_NODES}" in error["message"]
    assert over.json()["data"] is None


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        (f"first: {MAX_PAGE_SIZE + 1}", "first"),
        ("first: -1", "first"),
        (f"last: {MAX_PAGE_SIZE + 1}", "last"),
        ("last: -1", "last"),
        ("first: 1000000", "first"),
    ],
)
async def test_page_size_out_of_range_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str], arguments: str, argument: str
) -> None:
    query = f'{{ organization(name: "acme") {{ registries({arguments}) {{ totalCount }} }} }}'
    response = await post(client, auth, query)
    assert response.status_code == 294
    body = response.json()
    assert body["data"] == {"organization": None}
    (error,) = body["errors"]
    assert f"`{argument}`" in error["message"]
    assert str(MAX_PAGE_SIZE) in error["message"]
    assert error["extensions"] == {"code": "INVALID_ARGUMENT", "field": [argument]}


@pytest.mark.parametrize("arguments", [f"first: {MAX_PAGE_SIZE}", "first: 0", "last: 100"])
async def test_page_size_in_range_runs(
    client: httpx.AsyncClient, auth: dict[str, str], arguments: str
) -> None:
    query = f'{{ organization(name: "acme") {{ registries({arguments}) {{ totalCount }} }} }}'
    response = await post(client, auth, query)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["organization"]["registries"]["totalCount"] >= 2


async def test_documents_are_parsed_and_validated_once(
    client: httpx.AsyncClient, auth: dict[str, str], parsing: tuple[Counting, Counting]
) -> None:
    parse, validate = parsing
    # A fresh shape (the alias makes it unique), so the first request is a miss.
    alias = f"v{uuid.uuid4().hex}"
    query = f"{{ {alias}: viewer {{ name }} }}"
    first = await post(client, auth, query)
    assert (parse.calls, validate.calls) == (1, 1)
    second = await post(client, auth, query)
    assert answer(first) == answer(second) == {"data": {alias: {"name": "ada"}}}
    assert (parse.calls, validate.calls) == (1, 1)


async def test_large_documents_are_not_kept(
    client: httpx.AsyncClient, auth: dict[str, str], parsing: tuple[Counting, Counting]
) -> None:
    """A document padded with comments to near the body limit is parsed for each request and
    never held: a stream of them cannot fill the memory through the caches."""
    parse, validate = parsing
    held = DocumentCache.held()
    padding = "# " + "x" * 1000 + "\n"
    for _ in range(3):
        query = f"# {uuid.uuid4()}\n" + padding * 900 + "{ viewer { name } }"
        assert len(query) > MAX_CACHED_DOCUMENT
        response = await post(client, auth, query)
        assert answer(response) == {"data": {"viewer": {"name": "ada"}}}
    assert (parse.calls, validate.calls) == (3, 3)
    assert DocumentCache.held() == held


async def test_the_document_cache_holds_at_most_its_budget(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    padding = "# " + "x" * 1000 + "\n"
    size = 0
    while size < 2 * CACHE_BUDGET:
        query = f"# {uuid.uuid4()}\n" + padding * 15 + "{ viewer { name } }"
        assert len(query) <= MAX_CACHED_DOCUMENT
        assert (await post(client, auth, query)).status_code == 200
        size += len(query)
    documents, characters = DocumentCache.held()
    assert characters <= CACHE_BUDGET
    assert documents >= CACHE_BUDGET // MAX_CACHED_DOCUMENT


async def test_cached_document_still_checks_limits(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    query = aliases_query(MAX_ALIASES + 1)
    statuses = [(await post(client, auth, query)).status_code for _ in range(2)]
    assert statuses == [422, 422]


# --- Health and readiness --------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_on_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_follows_migration_state(empty_url: str) -> None:
    pool = await create_pool(empty_url, min_size=1, max_size=2)
    try:
        async with app_client(pool) as client:
            # Never migrated: not ready, and it says why.
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert re.fullmatch(r"\d+ pending migration\(s\)", body["reason"])

            async with pool.acquire() as conn:
                await migrate(conn)
            response = await client.get("/readyz")
            assert response.status_code == 200
            assert response.json() == {"status": "ready"}

            # The last migration is pending again.
            async with pool.acquire() as conn:
                await conn.execute(
                    "DELETE FROM schema_migrations "
                    "WHERE version = (SELECT max(version) FROM schema_migrations)"
                )
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "reason": "1 pending migration(s)",
            }

            # A migration this Cairn does not know (a newer Cairn migrated the database).
            async with pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) "
                    "VALUES (9999, 'future', 'x')"
                )
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "reason": "MigrationError"}

            # Liveness does not depend on the database.
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await pool.close()
