"""Search against a model: random filters (fields, operators, values of every JSON type, nested
`and`/`or`/`not`) run through GraphQL return exactly the versions that a straightforward Python
filter picks from the same data, and every ordering pages through the same versions in the order
Python sorts them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.graphql import GraphQLClient
from tests.support.ids import row_id
from tests.support.search_world import (
    DESCRIPTIONS,
    FRAMEWORKS,
    TAGS,
    SearchWorld,
    matches,
)


def _texts(values: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    value = st.sampled_from(values)
    fragment = st.sampled_from([v[:3] for v in values if v] + ["er", "-", "ch", "T"])
    return st.one_of(
        st.builds(lambda v: {"eq": v}, value),
        st.builds(lambda v: {"in": v}, st.lists(value, min_size=1, max_size=3)),
        st.builds(lambda v: {"prefix": v}, fragment),
        st.builds(lambda v: {"contains": v}, fragment),
        st.builds(lambda v: {"regex": v}, st.sampled_from(["^ch", "er$", "[0-9]", "a.e", "^$"])),
        st.builds(lambda a, b: {"prefix": a, "contains": b}, fragment, fragment),
    )


JSON_PATHS = ["eval.auc", "eval.split", "framework", "epochs", "flag", "note", "a.b.c", "nope.x"]
JSON_VALUES = st.one_of(
    st.sampled_from([0, 1, 5, 10, 20, 0.25, 0.5, 0.75, -1, 1e3]),
    st.sampled_from([*FRAMEWORKS, "test", "val", "", "10", "fast", "Slow", "zz", "A"]),
    st.booleans(),
    st.none(),
)
ORDER_VALUES = st.one_of(
    st.sampled_from([0, 1, 5, 10, 20, 0.25, 0.5, 0.75, -1]),
    st.sampled_from([*FRAMEWORKS, "test", "val", "", "10", "Slow", "zz"]),
)


def _json_condition() -> st.SearchStrategy[dict[str, Any]]:
    path = st.sampled_from(JSON_PATHS)
    return st.one_of(
        st.builds(
            lambda p, op, v: {"path": p, op: v}, path, st.sampled_from(["eq", "ne"]), JSON_VALUES
        ),
        st.builds(
            lambda p, op, v: {"path": p, op: v},
            path,
            st.sampled_from(["lt", "lte", "gt", "gte"]),
            ORDER_VALUES,
        ),
        st.builds(
            lambda p, v: {"path": p, "in": v}, path, st.lists(JSON_VALUES, min_size=1, max_size=3)
        ),
        st.builds(lambda p, v: {"path": p, "exists": v}, path, st.booleans()),
    )


def _leaves(everything: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted({v["collection"]["name"] for v in everything})
    logged = sorted({v["source"]["collection"]["name"] for v in everything})
    users = sorted({(v["linkedBy"] or {}).get("name", "x") for v in everything})
    times = sorted({v["createdAt"] for v in everything} | {v["linkedAt"] for v in everything})
    digests = sorted({v["digest"] for v in everything})[:5]
    runs = sorted({v["createdBy"]["id"] for v in everything if v["createdBy"]})
    labels = st.lists(
        st.sampled_from([*TAGS, "production", "staging", "candidate", "NLP"]),
        min_size=1,
        max_size=3,
    )
    bound = st.sampled_from(["gt", "gte", "lt", "lte"])
    return st.one_of(
        st.builds(lambda f: {"collection": f}, _texts(names)),
        st.builds(lambda f: {"name": f}, _texts(logged)),
        st.builds(lambda f: {"registry": f}, _texts(["models", "Datasets", "vault"])),
        st.builds(lambda f: {"type": f}, _texts(["model", "dataset"])),
        st.builds(lambda f: {"description": f}, _texts([d for d in DESCRIPTIONS if d])),
        st.builds(lambda d: {"digest": {"eq": d}}, st.sampled_from(digests)),
        st.builds(lambda f: {"linkedBy": f}, _texts([u.upper() for u in users])),
        st.builds(lambda f: {"createdBy": f}, _texts(users)),
        st.builds(lambda r: {"createdByRun": r}, st.sampled_from(runs)),
        st.builds(
            lambda op, n: {"versionIndex": {op: n}},
            st.sampled_from(["eq", "gt", "gte", "lt", "lte"]),
            st.integers(0, 8),
        ),
        st.builds(
            lambda n: {"versionIndex": {"in": n}},
            st.lists(st.integers(0, 8), min_size=1, max_size=3),
        ),
        st.builds(lambda op, n: {"size": {op: n}}, bound, st.integers(0, 1100)),
        st.builds(lambda op, t: {"createdAt": {op: t}}, bound, st.sampled_from(times)),
        st.builds(lambda op, t: {"linkedAt": {op: t}}, bound, st.sampled_from(times)),
        st.builds(lambda op, v: {"tags": {op: v}}, st.sampled_from(["any", "all"]), labels),
        st.builds(lambda op, v: {"aliases": {op: v}}, st.sampled_from(["any", "all"]), labels),
        st.builds(lambda b: {"hasAlias": b}, st.booleans()),
        st.builds(lambda c: {"metadata": c}, st.lists(_json_condition(), min_size=1, max_size=2)),
    )


def _filters(everything: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in parts:
            for key, value in part.items():
                merged.setdefault(key, value)
        return merged

    return st.recursive(
        _leaves(everything),
        lambda inner: st.one_of(
            st.builds(lambda c: {"and": c}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda c: {"or": c}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda c: {"not": c}, inner),
            st.builds(merge, st.lists(inner, min_size=2, max_size=3)),
        ),
        max_leaves=8,
    )


_STRATEGIES: dict[int, st.SearchStrategy[dict[str, Any]]] = {}


def _filters_over(everything: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The strategy for this module's search_world, built once."""
    if id(everything) not in _STRATEGIES:
        _STRATEGIES[id(everything)] = _filters(everything)
    return _STRATEGIES[id(everything)]


SEARCH = """query($org: String, $filter: ArtifactVersionFilter) {
  artifactVersions(organization: $org, filter: $filter, first: 100) {
    totalCount nodes { id } } }"""


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_filters_return_what_python_picks(
    search_world: SearchWorld,
    everything: list[dict[str, Any]],
    client: httpx.AsyncClient,
    data: st.DataObject,
) -> None:
    assert len(everything) == 36
    filter = data.draw(_filters_over(everything), label="filter")
    admin = GraphQLClient(client, search_world.keys["admin"])
    answer = await admin.data(SEARCH, {"org": search_world.org.name, "filter": filter})
    found = {node["id"] for node in answer["artifactVersions"]["nodes"]}
    expected = {v["id"] for v in everything if matches(v, filter)}
    assert found == expected, filter
    assert answer["artifactVersions"]["totalCount"] == len(expected)
    event(f"matches: {'none' if not expected else 'all' if len(expected) == 36 else 'some'}")


def _json_order_key(value: Any) -> tuple[int, Any]:
    # jsonb's own order: null (and missing) < strings < numbers < booleans.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (2, value)
    return (1, value)


def _sort_key(field: str, path: str | None):  # type: ignore[no-untyped-def]
    def key(version: dict[str, Any]) -> Any:
        row = row_id(version["id"])
        if field == "CREATED_AT":
            return (version["createdAt"], row)
        if field == "LINKED_AT":
            return (version["linkedAt"], row)
        if field == "NAME":
            return (version["collection"]["name"].encode(), version["versionIndex"], row)
        if field == "VERSION_INDEX":
            return (version["versionIndex"], row)
        if field == "SIZE":
            return (version["size"], row)
        assert path is not None
        value: Any = version["metadata"]
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return (_json_order_key(value), row)

    return key


ORDERED = """query($org: String, $order: ArtifactVersionOrder, $filter: ArtifactVersionFilter,
  $first: Int, $after: String, $last: Int, $before: String) {
  artifactVersions(organization: $org, orderBy: $order, filter: $filter, first: $first,
    after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id } } }"""


@pytest.mark.parametrize(
    ("field", "direction", "path"),
    [
        ("CREATED_AT", "DESC", None),
        ("CREATED_AT", "ASC", None),
        ("LINKED_AT", "DESC", None),
        ("NAME", "ASC", None),
        ("NAME", "DESC", None),
        ("VERSION_INDEX", "DESC", None),
        ("SIZE", "ASC", None),
        ("METADATA", "DESC", "epochs"),
        ("METADATA", "ASC", "eval.auc"),
        ("METADATA", "ASC", "flag"),
    ],
)
async def test_orderings_page_through_every_version_once_in_order(
    search_world: SearchWorld,
    everything: list[dict[str, Any]],
    client: httpx.AsyncClient,
    field: str,
    direction: str,
    path: str | None,
) -> None:
    admin = GraphQLClient(client, search_world.keys["admin"])
    order = {"field": field, "direction": direction, "path": path}
    expected = sorted(everything, key=_sort_key(field, path), reverse=direction == "DESC")
    walked: list[str] = []
    after = None
    while True:
        data = await admin.data(
            ORDERED, {"org": search_world.org.name, "order": order, "first": 7, "after": after}
        )
        connection = data["artifactVersions"]
        walked.extend(node["id"] for node in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert walked == [v["id"] for v in expected]
    # And backwards from the end, with `last`/`before`.
    backwards: list[str] = []
    before = None
    while True:
        data = await admin.data(
            ORDERED, {"org": search_world.org.name, "order": order, "last": 5, "before": before}
        )
        connection = data["artifactVersions"]
        backwards[:0] = [node["id"] for node in connection["nodes"]]
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert backwards == walked
