"""An adversary's requests, made up at random from the schema's own names and GraphQL's
punctuation, and its variables, made up from any JSON: whatever comes, the answer is data or a
GraphQL error with a status that says which, never a fault, and never Python's own words. A long
stream of large documents, each new, leaves the server's memory where it was.

It runs on a database of its own: random mutations may succeed, and must not show in the demo
data other tests count on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.schema import schema
from tests.support.app import own_demo
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient, input_types, mutation_document
from tests.support.processes import Server, cairn, cairn_env, killed_at_exit, the_key

# What a client may be told: data, a partial answer, a refused request, too many requests.
EXPECTED_STATUSES = {200, 294, 400, 405, 413, 422, 429}
PYTHON_WORDS = re.compile(
    r"Traceback|KeyError|AttributeError|TypeError|IndexError|RecursionError|NoneType|"
    r"object has no attribute|unexpected keyword|asyncpg|psycopg|strawberry\."
)


def _schema_names() -> list[str]:
    types = schema.introspect()["__schema"]["types"]
    names = {t["name"] for t in types}
    for t in types:
        for field in t.get("fields") or ():
            names.add(field["name"])
            names.update(a["name"] for a in field["args"])
        names.update(f["name"] for f in t.get("inputFields") or ())
        names.update(v["name"] for v in t.get("enumValues") or ())
    return sorted(names)


NAMES = _schema_names()
PUNCTUATION = ["{", "}", "(", ")", ":", "[", "]", "...", "!", "$v", "=", "@", ",", "|", "&"]
LITERALS = [
    '"x"',
    '""',
    '"""b"""',
    "1",
    "-1",
    "1.5e300",
    "99999999999999999999",
    "true",
    "null",
    "ACME",
    '"acme"',
    '"acme/wandb-registry-model/churn-classifier:v1"',
]
KEYWORDS = [
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "__typename",
    "__schema",
    "__type",
    "@include(if: true)",
    "@skip(if: $v)",
    "$v: Int",
    "$v: [ID!]!",
]
TOKENS = st.sampled_from(NAMES) | st.sampled_from(PUNCTUATION + LITERALS + KEYWORDS)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


def assert_well_answered(response: httpx.Response) -> None:
    assert response.status_code in EXPECTED_STATUSES, (response.status_code, response.text)
    body = response.json()
    for error in body.get("errors", []):
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
        assert not PYTHON_WORDS.search(error["message"]), error
    if response.status_code in (200, 294):
        assert "data" in body, body


@pytest.fixture(scope="module")
async def adversary(server_url: str) -> AsyncIterator[GraphQLClient]:
    async with own_demo(server_url) as client:
        yield client


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(tokens=st.lists(TOKENS, min_size=1, max_size=60))
async def test_documents_made_of_schema_words(adversary: GraphQLClient, tokens: list[str]) -> None:
    assert_well_answered(await adversary.post(" ".join(tokens), {"v": 1}))


@FUZZ
@given(
    tokens=st.lists(TOKENS, max_size=30),
    field=st.sampled_from(NAMES),
)
async def test_documents_that_start_like_a_query(
    adversary: GraphQLClient, tokens: list[str], field: str
) -> None:
    document = "query Q($v: Int) { " + field + " " + " ".join(tokens) + " }"
    assert_well_answered(await adversary.post(document, {"v": 1}))


MUTATIONS = sorted(input_types())
TYPES = {t["name"]: t for t in schema.introspect()["__schema"]["types"]}
# Strings that have broken servers: empty, long, unicode, paths, escapes, IDs of every shape.
TEXT = st.sampled_from(
    [
        "",
        " ",
        "acme",
        "model",
        "ada",
        "production",
        "latest",
        "v0",
        "V9",
        "x" * 300,
        "acme/wandb-registry-model/churn-classifier:v1",
        "../../etc",
        "%00",
        "💥",
        "a\\nb",
        "QXJ0aWZhY3RWZXJzaW9uOjE=",
        "UmVnaXN0cnk6MQ==",
        "Tm9wZTox",
        "not-base64!",
    ]
) | st.text(max_size=30)
INTS = st.sampled_from([0, -1, 1, 2**31, -(2**31) - 1, 10**20]) | st.integers(-5, 200)


def value_of(ref: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a GraphQL input type, right in shape, made up in content."""
    kind, name = ref["kind"], ref.get("name")
    if kind == "NON_NULL":
        return value_of(ref["ofType"], depth)
    if kind == "LIST":
        return st.lists(value_of(ref["ofType"], depth + 1), max_size=4)
    if kind == "ENUM":
        return st.sampled_from([v["name"] for v in TYPES[name]["enumValues"]])
    if kind == "INPUT_OBJECT":
        if depth > 3:
            return st.just({})
        fields = TYPES[name]["inputFields"]
        return st.fixed_dictionaries(
            {}, optional={f["name"]: value_of(f["type"], depth + 1) for f in fields}
        )
    return {
        "Int": INTS,
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "Boolean": st.booleans(),
        "JSON": JSON,
    }.get(str(name), TEXT)


@FUZZ
@given(mutation=st.sampled_from(MUTATIONS), value=JSON)
async def test_every_mutation_with_any_json_as_its_input(
    adversary: GraphQLClient, mutation: str, value: Any
) -> None:
    response = await adversary.post(mutation_document(mutation), {"input": value})
    assert_well_answered(response)


@FUZZ
@given(data=st.data(), mutation=st.sampled_from(MUTATIONS))
async def test_every_mutation_with_inputs_of_the_right_shape(
    adversary: GraphQLClient, data: st.DataObject, mutation: str
) -> None:
    value = data.draw(value_of({"kind": "INPUT_OBJECT", "name": input_types()[mutation]}))
    response = await adversary.post(mutation_document(mutation), {"input": value})
    assert_well_answered(response)


@FUZZ
@given(
    variables=st.dictionaries(st.text(max_size=10), JSON, max_size=4),
    field=st.sampled_from(
        ["registry", "artifactVersion", "organization", "node", "nodes", "collection"]
    ),
)
async def test_any_variables_for_a_real_query(
    adversary: GraphQLClient, variables: dict[str, Any], field: str
) -> None:
    document = """query Q($path: String!, $id: ID!, $ids: [ID!]!, $name: String!) {
      artifactVersion(path: $path) { id metadata }
      node(id: $id) { id }
      nodes(ids: $ids) { id }
      registry(organization: $name, name: $name) { collections(first: 2) { nodes { name } } }
    }"""
    response = await adversary.post(document, variables)
    assert_well_answered(response)


# --- memory under a long fuzz --------------------------------------------------------------------

REQUESTS = 1_200
WARM_UP = 300
# What the process may grow by between the end of the warm-up and the end: allocator noise,
# far below the 100 MB that the documents sent meanwhile weigh.
MAX_GROWTH_MB = 40


def padded_document(i: int, size: int) -> str:
    """A valid query, new each time: a comment of `size` characters makes it large."""
    return f"# {i} " + "x" * size + f"\nquery Q{i} {{ viewer {{ name }} }}"


async def test_memory_stays_bounded_under_a_long_stream_of_new_documents(
    tmp_path: Path, server_url: str
) -> None:
    """1,200 documents, each new and 20 to 120 KB long (about 80 MB of documents): the server's
    memory grows while it warms up, then stays put, whatever it is sent."""
    async with new_database(server_url) as url:
        env = cairn_env(tmp_path / "xdg", DATABASE_URL=url)
        assert cairn("migrate", env=env).returncode == 0
        assert cairn("demo", env=env).returncode == 0
        key = the_key(cairn("keys", "create", "--user", "ada", env=env))
        with killed_at_exit() as started:
            server = Server(["--no-worker"], env, tmp_path)
            started.append(server)
            server.wait_healthy()
            process = psutil.Process(server.process.pid)
            warmed = 0.0
            async with httpx.AsyncClient(
                base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as http:
                for i in range(REQUESTS):
                    size = 20_000 + (i * 7919) % 100_000
                    payload = {"query": padded_document(i, size), "variables": {"pad": "v" * i}}
                    response = await http.post("/graphql", json=payload)
                    assert response.status_code == 200, response.text
                    if i == WARM_UP:
                        warmed = process.memory_info().rss / 2**20
            final = process.memory_info().rss / 2**20
            assert server.stop() == 0
        assert final - warmed < MAX_GROWTH_MB, f"grew from {warmed:.0f} MB to {final:.0f} MB"
