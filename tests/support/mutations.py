"""The registry graph's mutations with their payloads' results selected by ID only, and the
check that a refused mutation wrote nothing anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from tests.support.databases import changed_tables, database_state
from tests.support.graphql import GraphQLClient, mutation_document

# Each mutation's payload results, with a selection of each (the membership mutations have tests
# of their own).
RESULTS: dict[str, dict[str, str]] = {
    "createProject": {"project": "{ id }"},
    "createRun": {"run": "{ id }"},
    "updateRun": {"run": "{ id }"},
    "finishRun": {"run": "{ id }"},
    "logArtifact": {"artifactVersion": "{ id }"},
    "prepareArtifactFiles": {"uploads": "{ path }"},
    "useArtifact": {"run": "{ id }", "artifactVersion": "{ id }"},
    "createRegistry": {"registry": "{ id }"},
    "updateRegistry": {"registry": "{ id }"},
    "deleteRegistry": {"deletedRegistryId": ""},
    "createCollection": {"collection": "{ id }"},
    "updateCollection": {"collection": "{ id }"},
    "deleteCollection": {"deletedCollectionId": ""},
    "linkArtifact": {"artifactVersion": "{ id }"},
    "unlinkArtifact": {"collection": "{ id }", "unlinkedVersionId": ""},
    "addAliases": {"artifactVersion": "{ id }"},
    "removeAliases": {"artifactVersion": "{ id }"},
    "addTags": {"collection": "{ id }", "artifactVersion": "{ id }"},
    "removeTags": {"collection": "{ id }", "artifactVersion": "{ id }"},
    "updateArtifactVersion": {"artifactVersion": "{ id }"},
}


def document(mutation: str) -> str:
    """`mutation` selecting its results (by ID) and its errors."""
    selection = " ".join(f"{name} {sub}" for name, sub in RESULTS[mutation].items())
    return mutation_document(mutation, selection)


async def _sent_changing_nothing(
    caller: GraphQLClient, pool: asyncpg.Pool, mutation: str, input: Mapping[str, Any]
) -> tuple[int, dict[str, Any]]:
    """The status and body of the mutation, after checking that the database did not change."""
    before = await database_state(pool)
    response = await caller.post(document(mutation), {"input": dict(input)})
    after = await database_state(pool)
    body: dict[str, Any] = response.json()
    assert changed_tables(before, after) == [], body
    return response.status_code, body


async def refused(
    caller: GraphQLClient, pool: asyncpg.Pool, mutation: str, input: Mapping[str, Any]
) -> dict[str, Any]:
    """The payload of a refused mutation, after checking that the status is 200, the payload's
    results are null, and the database did not change at all."""
    status, body = await _sent_changing_nothing(caller, pool, mutation, input)
    assert status == 200, body
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][mutation]
    for result in RESULTS[mutation]:
        assert payload[result] is None, payload
    assert payload["errors"], payload
    return payload


def holds_nul(value: Any) -> bool:
    """Whether text anywhere in `value` (keys included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False


async def refused_at_the_door(
    caller: GraphQLClient, pool: asyncpg.Pool, mutation: str, input: Mapping[str, Any]
) -> dict[str, Any]:
    """The one request error of a mutation refused before it ran (422, no data), after checking
    that the database did not change at all."""
    status, body = await _sent_changing_nothing(caller, pool, mutation, input)
    assert status == 422, body
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    result: dict[str, Any] = error
    return result
