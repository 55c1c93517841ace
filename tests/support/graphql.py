"""Talking GraphQL to the app: a client for one API key, mutation documents built from the schema,
and `Api`, one user's mutations that must succeed or must be refused."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import cache
from typing import Any

import httpx

from schema.schema import schema

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
ERRORS = "errors { code message field }"


class GraphQLClient:
    """Posts GraphQL documents as one user and returns the decoded response body: to Cairn's
    own API, or with `wandb=True` to the W&B dialect, with the key as the wandb SDK sends it."""

    def __init__(self, http: httpx.AsyncClient, key: str | None, *, wandb: bool = False) -> None:
        self.http = http
        self.key = key
        self.path = "/wandb/graphql" if wandb else "/graphql"
        self.wandb = wandb

    async def post(
        self, query: str, variables: Mapping[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        all_headers = {"Accept": GRAPHQL_RESPONSE_JSON, **headers}
        if self.key is not None and self.wandb:
            basic = base64.b64encode(f"api:{self.key}".encode()).decode()
            all_headers["Authorization"] = f"Basic {basic}"
        elif self.key is not None:
            all_headers["Authorization"] = f"Bearer {self.key}"
        return await self.http.post(
            self.path,
            json={"query": query, "variables": None if variables is None else dict(variables)},
            headers=all_headers,
        )

    async def data(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The `data` of a response that must have no errors."""
        response = await self.post(query, variables)
        body = response.json()
        assert "errors" not in body, body["errors"]
        assert response.status_code == 200, body
        return body["data"]

    async def errors(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The body of a response that must have errors."""
        body = (await self.post(query, variables)).json()
        assert body.get("errors"), body
        return body


def _named_type(ref: Mapping[str, Any]) -> str:
    while ref.get("ofType"):
        ref = ref["ofType"]
    return str(ref["name"])


@cache
def input_types() -> dict[str, str]:
    """Every mutation of the schema, by introspection, with the type of its `input`."""
    types = {t["name"]: t for t in schema.introspect()["__schema"]["types"]}
    return {
        f["name"]: _named_type(next(a for a in f["args"] if a["name"] == "input")["type"])
        for f in types["Mutation"]["fields"]
    }


def mutation_document(mutation: str, selection: str = "") -> str:
    """One mutation with its `input` as the variable `$input`, selecting `selection` and the
    payload's errors."""
    return (
        f"mutation Change($input: {input_types()[mutation]}!) {{ {mutation}(input: $input) "
        f"{{ {selection} {ERRORS} }} }}"
    )


async def mutate(
    client: GraphQLClient, mutation: str, input: Mapping[str, Any], selection: str = ""
) -> dict[str, Any]:
    """The payload of one mutation: `selection` and its errors."""
    data = await client.data(mutation_document(mutation, selection), {"input": input})
    payload: dict[str, Any] = data[mutation]
    return payload


def codes(payload: Mapping[str, Any]) -> list[str]:
    """The codes of a payload's errors (none for a success)."""
    return [error["code"] for error in payload["errors"]]


class Api:
    """One user's view of the API: mutations that must succeed or must be refused, and reads.
    `selections` says what each mutation's payload selects besides its errors."""

    def __init__(self, client: GraphQLClient, name: str, selections: Mapping[str, str]) -> None:
        self.client = client
        self.name = name
        self.selections = selections

    @property
    def key(self) -> str:
        assert self.client.key is not None
        return self.client.key

    def document(self, mutation: str) -> str:
        return mutation_document(mutation, self.selections[mutation])

    async def data(self, query: str, **variables: Any) -> Any:
        return await self.client.data(query, variables)

    async def payload(self, mutation: str, **input: Any) -> dict[str, Any]:
        return await mutate(self.client, mutation, input, self.selections[mutation])

    async def ok(self, mutation: str, **input: Any) -> dict[str, Any]:
        payload = await self.payload(mutation, **input)
        assert payload["errors"] == [], payload["errors"]
        return payload

    async def refused(self, mutation: str, **input: Any) -> dict[str, Any]:
        """The one UserError of a refused mutation; the payload's results must all be null."""
        payload = await self.payload(mutation, **input)
        assert len(payload["errors"]) == 1, payload
        for field, value in payload.items():
            if field != "errors":
                assert value is None, payload
        error: dict[str, Any] = payload["errors"][0]
        assert error["message"], error
        return error

    async def node(self, node_id: str, selection: str) -> Any:
        data = await self.client.data(
            f"query Node($id: ID!) {{ node(id: $id) {{ {selection} }} }}", {"id": node_id}
        )
        return data["node"]


def answer(response: httpx.Response) -> Any:
    """A response's body without `extensions.cost`, which every executed operation carries
    (tests/test_cost.py checks it)."""
    body = response.json()
    extensions = body.get("extensions") or {}
    extensions.pop("cost", None)
    if not extensions:
        body.pop("extensions", None)
    return body
