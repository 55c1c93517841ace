"""The W&B SDK's Mongo-style filters land on the same search engine as Cairn's typed filters: each
translates to the very tree the equivalent typed filter builds, runs through the same SQL, and
bad ones are refused naming the part at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from db import search as engine
from db.collections import REGISTRY_COLLECTIONS
from db.pagination import fetch_pages, page_request
from db.search import Search
from db.versions import REGISTRY_VERSIONS
from resolvers.errors import DomainError
from resolvers.mongo_filters import translate
from resolvers.search import Builder, Where
from tests.support.app import asgi_client
from tests.support.graphql import GraphQLClient
from tests.support.ids import row_id
from tests.support.search_world import SearchWorld, fetch_versions, matches

# (W&B's filter as the SDK sends it, the same filter in Cairn's typed form)
EQUIVALENTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {
            "$or": [{"tag": "gpu"}, {"alias": "production"}],
            "metadata.eval.auc": {"$gt": 0.5},
            "created_at": {"$gte": "2024-01-08", "$lte": "2099-03-04 13:10:00"},
        },
        {
            "or": [{"tags": {"any": ["gpu"]}}, {"aliases": {"any": ["production"]}}],
            "metadata": [{"path": "eval.auc", "gt": 0.5}],
            "createdAt": {
                "gte": datetime(2024, 1, 8, tzinfo=UTC),
                "lte": datetime(2099, 3, 4, 13, 10, tzinfo=UTC),
            },
        },
    ),
    ({"tags": {"$all": ["nlp", "gpu"]}}, {"tags": {"all": ["nlp", "gpu"]}}),
    ({"alias": {"$in": ["staging", "candidate"]}}, {"aliases": {"any": ["staging", "candidate"]}}),
    ({"tag": {"$nin": ["baseline"]}}, {"not": {"tags": {"any": ["baseline"]}}}),
    ({"version": "v2"}, {"versionIndex": {"eq": 2}}),
    ({"version_index": {"$lt": 3}}, {"versionIndex": {"lt": 3}}),
    ({"metadata.framework": "torch"}, {"metadata": [{"path": "framework", "eq": "torch"}]}),
    (
        {"metadata.framework": {"$ne": "torch"}},
        {"metadata": [{"path": "framework", "ne": "torch"}]},
    ),
    ({"metadata.epochs": {"$in": [5, 10]}}, {"metadata": [{"path": "epochs", "in": [5, 10]}]}),
    ({"metadata.note": {"$exists": True}}, {"metadata": [{"path": "note", "exists": True}]}),
    ({"metadata.flag": False}, {"metadata": [{"path": "flag", "eq": False}]}),
    (
        {"$nor": [{"tag": "nlp"}, {"metadata.epochs": {"$gte": 20}}]},
        {
            "not": {
                "or": [{"tags": {"any": ["nlp"]}}, {"metadata": [{"path": "epochs", "gte": 20}]}]
            }
        },
    ),
    (
        {"$and": [{"$not": {"tag": "gpu"}}, {"description": {"$regex": "^Re"}}]},
        {"and": [{"not": {"tags": {"any": ["gpu"]}}}, {"description": {"regex": "^Re"}}]},
    ),
    ({"artifact_size": {"$gte": 500}}, {"size": {"gte": 500}}),
    ({"linked_at": {"$lt": "2099-01-01"}}, {"linkedAt": {"lt": datetime(2099, 1, 1, tzinfo=UTC)}}),
]


@pytest.mark.parametrize(("mongo", "typed"), EQUIVALENTS)
def test_a_mongo_filter_builds_the_tree_of_its_typed_equivalent(
    mongo: dict[str, Any], typed: dict[str, Any]
) -> None:
    expected = Builder(engine.VERSIONS).typed(typed, Where(("filter",)))
    assert translate("versions", "versions", mongo) == expected
    # The SDK sends it as a JSON string.
    assert translate("versions", "versions", json.dumps(mongo)) == expected


def test_each_level_maps_onto_the_listed_subject() -> None:
    # A registry's name loses the prefix the SDK adds (not inside a regex).
    assert translate("registries", "registries", '{"name": "wandb-registry-model"}') == (
        engine.Match("name", "eq", "model")
    )
    assert translate("versions", "registries", {"name": {"$in": ["wandb-registry-a"]}}) == (
        engine.Match("registry", "in", ("a",))
    )
    assert translate("versions", "registries", {"name": {"$regex": "^mod"}}) == (
        engine.Match("registry", "regex", "^mod")
    )
    assert translate("versions", "collections", {"name": "churn", "tag": "nlp"}) == engine.AllOf(
        (engine.Match("collection", "eq", "churn"), engine.Match("collectionTags", "any", ("nlp",)))
    )
    assert translate("collections", "collections", {"tag": "nlp"}) == (
        engine.Match("tags", "any", ("nlp",))
    )
    assert translate("collections", "registries", {"name": "wandb-registry-x"}) == (
        engine.Match("registry", "eq", "x")
    )
    assert translate("versions", "versions", None) is None
    assert translate("versions", "versions", "{}") is None


@pytest.mark.parametrize(
    ("level", "given", "message", "field"),
    [
        ("versions", '{"colour": "red"}', "unknown field 'colour'", ("filters", "colour")),
        (
            "versions",
            {"$or": [{"tag": "x"}, {"metadata.a": {"$regex": "x"}}]},
            "does not apply to values inside metadata",
            ("filters", "$or", "1", "metadata.a", "$regex"),
        ),
        ("versions", {"tag": {"$gt": "x"}}, "does not apply to tags", ("filters", "tag", "$gt")),
        (
            "versions",
            {"version": {"$near": 1}},
            "unknown operator",
            ("filters", "version", "$near"),
        ),
        ("versions", {"$where": "1"}, "unknown operator '$where'", ("filters", "$where")),
        ("versions", "{not json", "not JSON", ("filters",)),
        ("versions", "[1, 2]", "a filter is a JSON object", ("filters",)),
        ("versions", {"$or": {"tag": "x"}}, "takes a list", ("filters", "$or")),
        (
            "versions",
            {"created_at": {"$gte": "yesterday"}},
            "not a date",
            ("filters", "created_at", "$gte"),
        ),
        ("versions", {"metadata..a": 1}, "empty key", ("filters", "metadata..a")),
        (
            "versions",
            {"metadata." + ".".join("k" * 17): 1},
            "at most 16 keys",
            ("filters", "metadata." + ".".join("k" * 17)),
        ),
        (
            "versions",
            {"$and": [{} for _ in range(300)]},
            "at most 256 objects",
            ("filters", "$and", "255"),
        ),
        (
            "versions",
            {"tag": {"$in": list(range(101))}},
            "at most 100 values",
            ("filters", "tag", "$in"),
        ),
        (
            "versions",
            {"metadata.acc": {"$gt": True}},
            "compares numbers or strings",
            ("filters", "metadata.acc", "$gt"),
        ),
        (
            "versions",
            {"description": {"$regex": "(a)\\1"}},
            "not a valid regex",
            ("filters", "description", "$regex"),
        ),
    ],
)
def test_bad_mongo_filters_are_refused_naming_the_part(
    level: str, given: Any, message: str, field: tuple[str, ...]
) -> None:
    with pytest.raises(DomainError) as refused:
        translate("versions", level, given)
    assert message in refused.value.message
    assert refused.value.field == field


def test_deep_nesting_is_bounded() -> None:
    filter: dict[str, Any] = {"tag": "x"}
    for _ in range(8):
        filter = {"$not": filter}
    with pytest.raises(DomainError) as refused:
        translate("versions", "versions", filter)
    assert "nest at most 8 levels" in refused.value.message


async def test_translated_filters_return_what_python_picks(
    search_world: SearchWorld, pool: asyncpg.Pool, app: Any
) -> None:
    async with asgi_client(app) as http:
        everything = await fetch_versions(
            GraphQLClient(http, search_world.keys["admin"]), search_world.org.name
        )
    in_organization = (("r.organization_id = $?", ((search_world.org.id, "bigint"),)),)
    request = page_request(REGISTRY_VERSIONS, first=100, last=None, after=None, before=None)
    sizes = set()
    for mongo, typed in EQUIVALENTS:
        search = Search(
            engine.VERSIONS, translate("versions", "versions", mongo), scope=in_organization
        )
        (page,) = await fetch_pages(pool, REGISTRY_VERSIONS, [0], request, search=search)
        found = {version.id for _, version in page.items}
        expected = {row_id(v["id"]) for v in everything if matches(v, typed)}
        assert found == expected, mongo
        sizes.add(len(expected))
    assert len(sizes) > 5


async def test_a_collections_search_runs_a_translated_filter(
    search_world: SearchWorld, pool: asyncpg.Pool
) -> None:
    in_organization = (("r.organization_id = $?", ((search_world.org.id, "bigint"),)),)
    request = page_request(REGISTRY_COLLECTIONS, first=100, last=None, after=None, before=None)
    filter = engine.AllOf(
        tuple(
            part
            for part in (
                translate("collections", "collections", {"tag": {"$in": ["tabular"]}}),
                translate("collections", "registries", {"name": "wandb-registry-models"}),
            )
            if part is not None
        )
    )
    search = Search(engine.COLLECTIONS, filter, scope=in_organization)
    (page,) = await fetch_pages(pool, REGISTRY_COLLECTIONS, [0], request, search=search)
    assert sorted(c.name for _, c in page.items) == ["churn-classifier", "fraud-detector"]
