"""Documents seen for the first time that differ from a validated one only in string and number
literals (a path written into the query) are checked again only by the rules that read literal
values, and are refused exactly as full validation refuses them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from graphql import parse, specified_rules, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.limits import DocumentLimits, NoNulInLiterals, document_shape
from schema.schema import schema
from tests.support.counting import Counting
from tests.support.graphql import GRAPHQL_RESPONSE_JSON

# Every rule a document meets the first time its shape is seen.
ALL_RULES = (
    *specified_rules,
    DocumentLimits,
    NoNulInLiterals,
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)


def full_validation(query: str) -> list[str]:
    return [e.message for e in validate(schema._schema, parse(query), ALL_RULES)]


@pytest.fixture
def auth(demo: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {demo['ada']}", "Accept": GRAPHQL_RESPONSE_JSON}


async def ask(client: httpx.AsyncClient, auth: dict[str, str], query: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await client.post("/graphql", json={"query": query}, headers=auth)
    ).json()
    return body


def literal(value: object) -> str:
    return json.dumps(value)


CHURN = "acme/wandb-registry-model/churn-classifier"


def collections_first(first: str) -> str:
    return (
        '{ registry(organization: "acme", name: "model") '
        f"{{ collections(first: {first}) {{ totalCount }} }} }}"
    )


def path_lookup(alias: str, path: object) -> str:
    return f"{{ {alias}: artifactVersion(path: {literal(path)}) {{ version }} }}"


def test_a_shape_leaves_out_strings_and_numbers_only() -> None:
    def shape(query: str) -> str:
        return document_shape(parse(query))

    assert shape('{ a(x: "one", n: 1) }') == shape('{ a(x: "two", n: 20) }')
    assert shape('{ a(x: "one") }') != shape("{ a(x: 1) }")
    assert shape("{ a(x: true) }") != shape("{ a(x: false) }")
    assert shape("{ a(x: null) }") != shape('{ a(x: "null") }')
    assert shape("{ a(e: UP) }") != shape("{ a(e: DOWN) }")
    assert shape("{ a(x: [1, 2]) }") != shape("{ a(x: [1]) }")
    assert shape("{ b: a(x: 1) }") != shape("{ c: a(x: 1) }")


async def test_a_new_document_of_a_validated_shape_is_not_validated_in_full(
    client: httpx.AsyncClient, auth: dict[str, str], parsing: tuple[Counting, Counting]
) -> None:
    parse_calls, validations = parsing
    alias = f"v{uuid.uuid4().hex}"
    first = await ask(
        client, auth, path_lookup(alias, "acme/wandb-registry-model/churn-classifier:v1")
    )
    assert first["data"][alias]["version"] == "v1"
    assert validations.calls == 1
    second = await ask(
        client, auth, path_lookup(alias, "acme/wandb-registry-model/churn-classifier:v2")
    )
    assert second["data"][alias]["version"] == "v2"
    assert (parse_calls.calls, validations.calls) == (2, 1)


@pytest.mark.parametrize(
    ("valid", "refused"),
    [
        # A number out of Int's range, in a shape that took a small one.
        (collections_first("2"), collections_first("99999999999")),
        # One response name for two different lookups, in a shape whose twins were the same.
        (
            '{ a: artifactVersion(path: "acme/wandb-registry-model/churn-classifier") { version } '
            'a: artifactVersion(path: "acme/wandb-registry-model/churn-classifier") { version } }',
            '{ a: artifactVersion(path: "acme/wandb-registry-model/churn-classifier") { version } '
            'a: artifactVersion(path: "acme/wandb-registry-dataset/customers") { version } }',
        ),
        # NUL in a string, in a shape whose strings were clean.
        (
            '{ organization(name: "acme") { name } }',
            '{ organization(name: "ac\\u0000me") { name } }',
        ),
    ],
)
async def test_a_document_of_a_validated_shape_is_refused_as_full_validation_refuses_it(
    client: httpx.AsyncClient, auth: dict[str, str], valid: str, refused: str
) -> None:
    assert document_shape(parse(valid)) == document_shape(parse(refused))
    assert "data" in await ask(client, auth, valid)
    expected = full_validation(refused)
    assert expected
    answered = await ask(client, auth, refused)
    assert "data" not in answered
    assert [e["message"] for e in answered["errors"]] == expected


LITERALS = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=LITERALS, path=LITERALS)
async def test_any_literals_are_answered_as_full_validation_answers(
    client: httpx.AsyncClient, auth: dict[str, str], first: object, path: object
) -> None:
    """Whatever the literals, and whichever documents of their shape came before, the refusal is
    exactly full validation's, and a document full validation accepts is run."""
    query = (
        f'{{ registry(organization: "acme", name: "model") {{ collections(first: {literal(first)}) '
        f"{{ totalCount }} }} x: artifactVersion(path: {literal(path)}) {{ version }} }}"
    )
    expected = full_validation(query)
    answered = await ask(client, auth, query)
    if expected:
        assert "data" not in answered, answered
        assert [e["message"] for e in answered["errors"]] == expected
    else:
        assert "data" in answered, answered
