"""Search through GraphQL: every growing list takes a filter and an ordering, free text finds and
ranks by relevance, restricted registries never leak into results or counts, bad input gets an
error naming the part at fault, and the statements per search do not depend on the matches."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
import httpx
import pytest

from db.pagination import SearchFailed, fetch_rows
from tests.support.graphql import GraphQLClient, answer, mutate
from tests.support.ids import gid
from tests.support.search_world import SearchWorld, build_world, fetch_versions, matches
from tests.support.statements import StatementCounter, count_request


def as_(search_world: SearchWorld, http: httpx.AsyncClient, who: str) -> GraphQLClient:
    return GraphQLClient(http, search_world.keys[who])


SEARCH = """query($org: String, $filter: ArtifactVersionFilter, $query: String,
  $order: ArtifactVersionOrder, $first: Int, $after: String) {
  artifactVersions(organization: $org, filter: $filter, query: $query, orderBy: $order,
    first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id versionIndex collection { name } } } }"""


async def search_ids(
    client: GraphQLClient, search_world: SearchWorld, **variables: Any
) -> list[str]:
    data = await client.data(SEARCH, {"org": search_world.org.name, "first": 100, **variables})
    return [node["id"] for node in data["artifactVersions"]["nodes"]]


async def test_the_daily_question(
    search_world: SearchWorld, everything: list[dict[str, Any]], client: httpx.AsyncClient
) -> None:
    """Which models have eval.auc above 0.5, are tagged nlp or gpu, and are not in production?"""
    question = {
        "type": {"eq": "model"},
        "metadata": [{"path": "eval.auc", "gt": 0.5}],
        "tags": {"any": ["nlp", "gpu"]},
        "not": {"aliases": {"any": ["production"]}},
    }
    expected = [v["id"] for v in everything if matches(v, question)]
    assert 0 < len(expected) < len(everything)
    found = await search_ids(as_(search_world, client, "admin"), search_world, filter=question)
    assert sorted(found) == sorted(expected)
    # Each answer really has what was asked.
    by_id = {v["id"]: v for v in everything}
    for version_id in found:
        version = by_id[version_id]
        assert version["metadata"]["eval"]["auc"] > 0.5
        assert {"nlp", "gpu"} & set(version["tags"])
        assert "production" not in version["aliases"]


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W_]+", text)]


def _text_matches(version: dict[str, Any], cards: dict[str, str], query: str) -> bool:
    collection = version["collection"]["name"]
    words = (
        _words(collection)
        + [w for tag in version["tags"] for w in _words(tag)]
        + _words(version["description"])
        + _words(cards[collection])
    )
    return all(any(w.startswith(q) for w in words) for q in _words(query))


@pytest.mark.parametrize(
    "query",
    ["churn", "fraud", "predicts", "gpu", "GPU build", "tab", "march data", "crm", "zzz", "v1"],
)
async def test_free_text_finds_words_in_names_tags_descriptions_and_cards(
    search_world: SearchWorld,
    everything: list[dict[str, Any]],
    client: httpx.AsyncClient,
    query: str,
) -> None:
    from tests.support.search_world import COLLECTIONS

    cards = {name: card for _, name, _, _, card in COLLECTIONS}
    expected = {v["id"] for v in everything if _text_matches(v, cards, query)}
    found = await search_ids(as_(search_world, client, "admin"), search_world, query=query)
    assert set(found) == expected
    assert len(found) == len(set(found))


async def test_relevance_puts_names_before_cards_and_pages_by_cursor(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    registry = gid("Registry", search_world.registries["datasets"].id)
    for name, card in (
        ("speech-corpus", "Recordings"),
        ("noise-corpus", "Background sounds to mix into speech"),
        ("unrelated-corpus", "Nothing to see"),
    ):
        payload = await mutate(
            admin,
            "createCollection",
            {"registryId": registry, "name": name, "type": "dataset", "description": card},
            "collection { name }",
        )
        assert not payload["errors"]
    query = """query($org: String, $after: String) {
      collections(organization: $org, query: "speech", first: 1, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name } } }"""
    first = (await admin.data(query, {"org": search_world.org.name}))["collections"]
    assert first["totalCount"] == 2
    assert [n["name"] for n in first["nodes"]] == ["speech-corpus"]
    assert first["pageInfo"]["hasNextPage"]
    second = (
        await admin.data(
            query, {"org": search_world.org.name, "after": first["pageInfo"]["endCursor"]}
        )
    )["collections"]
    assert [n["name"] for n in second["nodes"]] == ["noise-corpus"]
    assert not second["pageInfo"]["hasNextPage"]


async def test_relevance_ranks_tags_above_descriptions_and_both_above_either(
    search_world: SearchWorld, everything: list[dict[str, Any]], client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    data = await admin.data(
        """query($org: String) { artifactVersions(organization: $org, query: "gpu", first: 100) {
          nodes { id tags description } } }""",
        {"org": search_world.org.name},
    )
    nodes = data["artifactVersions"]["nodes"]

    def category(node: dict[str, Any]) -> int:
        tagged = "gpu" in node["tags"]
        described = "gpu" in node["description"].lower()
        return 2 * tagged + described

    categories = [category(n) for n in nodes]
    assert set(categories) == {1, 2, 3}, categories
    assert categories == sorted(categories, reverse=True)


@pytest.mark.parametrize(
    ("field", "direction"), [("NAME", "ASC"), ("NAME", "DESC"), ("CREATED_AT", "DESC")]
)
async def test_collections_across_registries_page_in_order(
    search_world: SearchWorld, client: httpx.AsyncClient, field: str, direction: str
) -> None:
    admin = as_(search_world, client, "admin")
    query = """query($org: String, $order: CollectionOrder, $after: String) {
      collections(organization: $org, orderBy: $order, first: 2, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { id name createdAt } } }"""
    walked: list[dict[str, Any]] = []
    after = None
    while True:
        order = {"field": field, "direction": direction}
        data = await admin.data(
            query, {"org": search_world.org.name, "order": order, "after": after}
        )
        walked += data["collections"]["nodes"]
        if not data["collections"]["pageInfo"]["hasNextPage"]:
            break
        after = data["collections"]["pageInfo"]["endCursor"]
    key = "name" if field == "NAME" else "createdAt"
    assert [n[key] for n in walked] == sorted((n[key] for n in walked), reverse=direction == "DESC")
    assert len({n["id"] for n in walked}) == len(walked) >= 5


async def test_free_text_follows_every_change_to_what_it_reads(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    """Names, tags, descriptions and cards change; a search finds what they say now. (A search_world
    of its own: this one changes.)"""
    search_world = await build_world(pool)
    admin = as_(search_world, client, "admin")
    everything = await fetch_versions(admin, search_world.org.name)
    registry = gid("Registry", search_world.registries["models"].id)
    created = await mutate(
        admin,
        "createCollection",
        {"registryId": registry, "name": "walrus-model", "type": "model", "tags": ["arctic"]},
        "collection { id }",
    )
    collection = created["collection"]["id"]
    source = next(v for v in everything if v["collection"]["type"] == "model")
    linked = await mutate(
        admin,
        "linkArtifact",
        {"versionId": source["id"], "collectionId": collection},
        "artifactVersion { id }",
    )
    version = linked["artifactVersion"]["id"]
    count = """query($org: String, $q: String) {
      artifactVersions(organization: $org, query: $q) { nodes { id } }
      collections(organization: $org, query: $q) { nodes { name } } }"""

    async def found(query: str) -> tuple[list[str], list[str]]:
        data = await admin.data(count, {"org": search_world.org.name, "q": query})
        ids = [n["id"] for n in data["artifactVersions"]["nodes"]]
        return ids, [n["name"] for n in data["collections"]["nodes"]]

    assert await found("walrus") == ([version], ["walrus-model"])
    assert await found("arctic") == ([], ["walrus-model"])  # a collection's tag, not a version's
    await mutate(admin, "addTags", {"id": version, "tags": ["narwhal"]}, "artifactVersion { id }")
    assert await found("narwhal") == ([version], [])
    await mutate(
        admin, "removeTags", {"id": version, "tags": ["narwhal"]}, "artifactVersion { id }"
    )
    assert await found("narwhal") == ([], [])
    await mutate(
        admin,
        "updateArtifactVersion",
        {"versionId": version, "description": "Seen by the beluga team"},
        "artifactVersion { id }",
    )
    assert await found("beluga") == ([version], [])
    await mutate(admin, "removeTags", {"id": collection, "tags": ["arctic"]}, "collection { id }")
    assert await found("arctic") == ([], [])
    renamed = await mutate(
        admin,
        "updateCollection",
        {"collectionId": collection, "name": "orca-finder", "description": "Finds sea lions"},
        "collection { name }",
    )
    assert not renamed["errors"]
    assert await found("walrus") == ([], [])
    assert await found("orca") == ([version], ["orca-finder"])
    assert await found("sea lions") == ([version], ["orca-finder"])


async def test_numbered_names_are_found_by_their_number_and_whole(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    """PostgreSQL's parser reads the number after a hyphen as a signed number (`collection-042`
    is `collection` and `-042`): the name is still found whole, by its number, and by the start
    of its number; a word that is not there still finds nothing."""
    search_world = await build_world(pool)
    admin = as_(search_world, client, "admin")
    registry = gid("Registry", search_world.registries["models"].id)
    for name in ("collection-042", "run-2024-01-05", "model-7.5"):
        created = await mutate(
            admin,
            "createCollection",
            {"registryId": registry, "name": name, "type": "model"},
            "collection { id }",
        )
        assert not created["errors"], created
    query = """query($org: String, $q: String) {
      collections(organization: $org, query: $q) { nodes { name } } }"""

    async def found(text: str) -> list[str]:
        data = await admin.data(query, {"org": search_world.org.name, "q": text})
        return sorted(n["name"] for n in data["collections"]["nodes"])

    assert await found("collection-042") == ["collection-042"]
    assert await found("042") == ["collection-042"]
    assert await found("04") == ["collection-042"]
    assert await found("collection 42") == []
    assert await found("run 2024-01") == ["run-2024-01-05"]
    assert await found("model-7") == ["model-7.5"]


# --- visibility ----------------------------------------------------------------------------------


async def test_restricted_registries_are_never_searched_or_counted(
    search_world: SearchWorld, everything: list[dict[str, Any]], client: httpx.AsyncClient
) -> None:
    in_vault = {v["id"] for v in everything if v["collection"]["registry"]["name"] == "vault"}
    assert len(in_vault) == search_world.vault_versions > 0
    count = """query($org: String, $query: String) {
      artifactVersions(organization: $org, query: $query) { totalCount nodes { id } }
      collections(organization: $org) { totalCount nodes { name } } }"""
    for who, sees_vault in (("admin", True), ("holder", True), ("member", False)):
        viewer = as_(search_world, client, who)
        data = await viewer.data(count, {"org": search_world.org.name})
        expected = len(everything) if sees_vault else len(everything) - len(in_vault)
        assert data["artifactVersions"]["totalCount"] == expected, who
        names = {n["name"] for n in data["collections"]["nodes"]}
        assert ("churn-secret" in names) == sees_vault, who
        # Free text over the restricted registry's card and name.
        secret = await viewer.data(count, {"org": search_world.org.name, "query": "secret"})
        found = {n["id"] for n in secret["artifactVersions"]["nodes"]}
        assert found == (in_vault if sees_vault else set()), who
        assert secret["artifactVersions"]["totalCount"] == len(found), who
        # Without naming the organization: every organization of the caller's, the same rules.
        mine = await viewer.data(
            '{ artifactVersions(filter: {registry: {eq: "vault"}}) { totalCount } }'
        )
        assert mine["artifactVersions"]["totalCount"] >= (len(in_vault) if sees_vault else 0)
        if not sees_vault:
            assert mine["artifactVersions"]["totalCount"] == 0


async def test_an_outsider_finds_nothing_and_cannot_name_the_organization(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    outsider = as_(search_world, client, "outsider")
    data = await outsider.data(
        '{ artifactVersions(filter: {registry: {in: ["models", "vault"]}}) { totalCount } }'
    )
    assert data["artifactVersions"]["totalCount"] == 0
    response = answer(await outsider.post(SEARCH, {"org": search_world.org.name}))
    assert response["data"] is None
    (error,) = response["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["field"] == ["organization"]


async def test_registry_lists_filter_within_what_the_caller_sees(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    query = """query($org: String!, $filter: RegistryFilter, $query: String) {
      organization(name: $org) {
        registries(filter: $filter, query: $query) { totalCount nodes { name } } } }"""
    for who, expected in (("member", []), ("holder", ["vault"])):
        viewer = as_(search_world, client, who)
        restricted = await viewer.data(
            query, {"org": search_world.org.name, "filter": {"visibility": ["RESTRICTED"]}}
        )
        registries = restricted["organization"]["registries"]
        assert [n["name"] for n in registries["nodes"]] == expected, who
        assert registries["totalCount"] == len(expected), who
        # Free text over names and descriptions, the same rules.
        texts = await viewer.data(query, {"org": search_world.org.name, "query": "vault"})
        assert [n["name"] for n in texts["organization"]["registries"]["nodes"]] == expected, who
    admin = as_(search_world, client, "admin")
    data = await admin.data(
        query,
        {
            "org": search_world.org.name,
            "filter": {"or": [{"name": {"eq": "MODELS"}}, {"name": {"prefix": "dat"}}]},
        },
    )
    newest = await admin.data(
        """query($org: String!) { organization(name: $org) {
          registries(orderBy: {field: CREATED_AT}, first: 3) { nodes { name } } } }""",
        {"org": search_world.org.name},
    )
    assert [n["name"] for n in newest["organization"]["registries"]["nodes"]] == [
        "vault",
        "datasets",
        "models",
    ]
    # The organization's own `dataset` and `model` registries are there too.
    assert [n["name"] for n in data["organization"]["registries"]["nodes"]] == [
        "dataset",
        "datasets",
        "models",
    ]


# --- every list ----------------------------------------------------------------------------------


async def test_registry_collections_and_collection_versions_take_filters_and_orders(
    search_world: SearchWorld, everything: list[dict[str, Any]], client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    data = await admin.data(
        """query($org: String!) { registry(organization: $org, name: "models") {
          tagged: collections(filter: {tags: {all: ["tabular"]}}, orderBy: {field: NAME}) {
            nodes { name } }
          notTagged: collections(filter: {not: {tags: {any: ["tabular"]}}}) { nodes { name } }
          byName: collections(filter: {name: {regex: "-(detector|tagger)$"}}) {
            totalCount } } }""",
        {"org": search_world.org.name},
    )
    registry = data["registry"]
    assert [n["name"] for n in registry["tagged"]["nodes"]] == [
        "churn-classifier",
        "fraud-detector",
    ]
    assert [n["name"] for n in registry["notTagged"]["nodes"]] == ["image-tagger"]
    assert registry["byName"]["totalCount"] == 2

    condition = {"metadata": [{"path": "epochs", "gte": 10}]}
    versions = await admin.data(
        """query($org: String!, $filter: ArtifactVersionFilter) {
          registry(organization: $org, name: "models") {
            collection(name: "churn-classifier") {
              versions(filter: $filter, orderBy: {field: METADATA, path: "epochs"}) {
                totalCount nodes { id metadata } } } } }""",
        {"org": search_world.org.name, "filter": condition},
    )
    found = versions["registry"]["collection"]["versions"]
    expected = [
        v
        for v in everything
        if v["collection"]["name"] == "churn-classifier" and matches(v, condition)
    ]
    assert found["totalCount"] == len(expected) > 0
    assert {n["id"] for n in found["nodes"]} == {v["id"] for v in expected}
    epochs = [n["metadata"]["epochs"] for n in found["nodes"]]
    assert epochs == sorted(epochs, reverse=True)


async def test_project_runs_filter_by_state_user_and_summary(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    project = (
        await admin.data(
            'query($org: String!) { organization(name: $org) { project(name: "lab") { id } } }',
            {"org": search_world.org.name},
        )
    )["organization"]["project"]["id"]
    for name, loss, state in (
        ("sweep-a", 0.4, "FINISHED"),
        ("sweep-b", 0.2, "FAILED"),
        ("sweep-c", None, None),
    ):
        created = await mutate(
            admin,
            "createRun",
            {"projectId": project, "name": name, "config": {"lr": 0.01, "opt": {"name": "adam"}}},
            "run { id }",
        )
        if state is not None:
            updated = await mutate(
                admin,
                "updateRun",
                {"runId": created["run"]["id"], "state": state, "summary": {"loss": loss}},
                "run { id }",
            )
            assert not updated["errors"]
    query = """query($org: String!, $filter: RunFilter, $order: RunOrder) {
      organization(name: $org) { project(name: "lab") {
        runs(filter: $filter, orderBy: $order) { totalCount nodes { name } } } } }"""

    async def names(filter: dict[str, Any], order: dict[str, Any] | None = None) -> list[str]:
        data = await admin.data(
            query, {"org": search_world.org.name, "filter": filter, "order": order}
        )
        runs = data["organization"]["project"]["runs"]
        assert runs["totalCount"] == len(runs["nodes"])
        return [n["name"] for n in runs["nodes"]]

    assert await names(
        {"summary": [{"path": "loss", "exists": True}]},
        {"field": "SUMMARY", "path": "loss", "direction": "ASC"},
    ) == ["sweep-b", "sweep-a"]
    assert await names({"state": ["RUNNING"], "name": {"prefix": "sweep"}}) == ["sweep-c"]
    assert await names(
        {"config": [{"path": "opt.name", "eq": "adam"}], "not": {"state": ["FAILED"]}},
        {"field": "NAME"},
    ) == ["sweep-a", "sweep-c"]
    assert await names({"user": {"eq": search_world.users["member"].name.upper()}}) == ["tuner"]


# --- statements ----------------------------------------------------------------------------------


async def test_statements_do_not_depend_on_how_many_versions_match(
    search_world: SearchWorld,
    client: httpx.AsyncClient,
    statement_counter: StatementCounter,
) -> None:
    admin = as_(search_world, client, "admin")
    query = """query($org: String, $first: Int, $filter: ArtifactVersionFilter) {
      artifactVersions(organization: $org, first: $first, filter: $filter, query: "churn",
        orderBy: {field: CREATED_AT}) {
        totalCount
        nodes { id aliases tags collection { name ... on Collection { registry { name } } } } } }"""
    broad = {
        "metadata": [{"path": "eval.auc", "gte": 0}],
        "tags": {"any": ["nlp", "gpu", "baseline"]},
    }
    counts = []
    for first in (1, 20):
        count, data = await count_request(
            admin,
            statement_counter,
            query,
            {"org": search_world.org.name, "first": first, "filter": broad},
        )
        assert len(data["artifactVersions"]["nodes"]) == min(
            first, data["artifactVersions"]["totalCount"]
        )
        counts.append(count)
    assert data["artifactVersions"]["totalCount"] > 1
    assert counts[0] == counts[1]
    # The key, the organization, the caller's registry roles, the page, the count, then one each
    # for aliases, tags, collections and registries.
    assert counts[0] <= 9


# --- bad input -----------------------------------------------------------------------------------


BAD_INPUT = [
    ({"filter": {"name": {"regex": "("}}}, "not a valid regex", ["filter", "name", "regex"]),
    ({"filter": {"name": {"regex": "(a)\\1"}}}, "not a valid regex", ["filter", "name", "regex"]),
    (
        {"filter": {"name": {"regex": "a" * 300}}},
        "at most 256 characters",
        ["filter", "name", "regex"],
    ),
    (
        {"filter": {"and": [{"name": {"regex": f"^{i}"}} for i in range(5)]}},
        "at most 4 regular expressions",
        ["filter", "and", "4", "name", "regex"],
    ),
    ({"filter": {"name": {"regex": "(?P<x>a)"}}}, "not one PostgreSQL runs", ["filter"]),
    (
        {"filter": {"or": [{"versionIndex": {"eq": i}} for i in range(65)]}},
        "at most 64 conditions",
        ["filter", "or", "64", "versionIndex", "eq"],
    ),
    (
        {
            "filter": {
                "not": {
                    "not": {"not": {"not": {"not": {"not": {"not": {"not": {"hasAlias": True}}}}}}}
                }
            }
        },
        "nest at most 8 levels",
        ["filter", "not", "not", "not", "not", "not", "not", "not", "not"],
    ),
    (
        {"filter": {"tags": {"any": [f"t{i}" for i in range(101)]}}},
        "at most 100 values",
        ["filter", "tags", "any"],
    ),
    (
        {"filter": {"and": [{} for _ in range(300)]}},
        "at most 256 objects",
        ["filter", "and", "255"],
    ),
    (
        {"filter": {"metadata": [{"path": "k." * 5000 + "k", "eq": 1}]}},
        "a path is at most",
        ["filter", "metadata", "0", "path"],
    ),
    ({"filter": {"tags": {"any": []}}}, "at least one value", ["filter", "tags", "any"]),
    (
        {"filter": {"metadata": [{"path": "eval..auc", "gt": 1}]}},
        "empty key",
        ["filter", "metadata", "0", "path"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.", "gt": 1}]}},
        "ends with a dot",
        ["filter", "metadata", "0", "path"],
    ),
    (
        {"filter": {"metadata": [{"path": '"eval', "gt": 1}]}},
        "never closes",
        ["filter", "metadata", "0", "path"],
    ),
    (
        {"filter": {"metadata": [{"path": ".".join("k" * 17), "gt": 1}]}},
        "at most 16 keys",
        ["filter", "metadata", "0", "path"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.auc", "gt": True}]}},
        "compares numbers or strings, got a boolean",
        ["filter", "metadata", "0", "gt"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.auc", "lte": None}]}},
        "got null",
        ["filter", "metadata", "0", "lte"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.auc", "eq": {"a": 1}}]}},
        "not a list or object",
        ["filter", "metadata", "0", "eq"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.auc", "eq": "x" * 300}]}},
        "at most 256 characters",
        ["filter", "metadata", "0", "eq"],
    ),
    (
        {"filter": {"metadata": [{"path": "eval.auc"}]}},
        "give an operator besides `path`",
        ["filter", "metadata", "0"],
    ),
    ({"query": "!!! ???"}, "no words", ["query"]),
    ({"query": "x" * 300}, "at most 256 characters", ["query"]),
    ({"query": " ".join(f"w{i}" for i in range(17))}, "at most 16 words", ["query"]),
    ({"order": {"field": "RELEVANCE"}}, "give one", ["orderBy", "field"]),
    ({"order": {"field": "METADATA"}}, "needs the `path`", ["orderBy", "path"]),
    ({"order": {"field": "NAME", "path": "x"}}, "goes with a JSON field", ["orderBy", "path"]),
]


@pytest.mark.parametrize(("variables", "message", "field"), BAD_INPUT)
async def test_bad_input_is_refused_naming_the_part(
    search_world: SearchWorld,
    client: httpx.AsyncClient,
    variables: dict[str, Any],
    message: str,
    field: list[str],
) -> None:
    admin = as_(search_world, client, "admin")
    response = await admin.post(SEARCH, {"org": search_world.org.name, **variables})
    # A field error, not a fault (a 500) nor a refused request.
    assert response.status_code == 294
    body = answer(response)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT", error
    assert message in error["message"], error
    assert error["extensions"]["field"] == field


async def test_numbers_beyond_what_json_comparisons_take_are_refused(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    infinite = (
        "query($org: String) { artifactVersions(organization: $org, filter: {metadata: "
        '[{path: "eval.auc", gt: 1e5000}]}) { totalCount } }'
    )
    long = {"metadata": [{"path": "eval.auc", "gt": 10**120}]}
    for document, variables, message in (
        (infinite, {}, "finite number"),
        (SEARCH, {"filter": long}, "at most 100 digits"),
    ):
        body = answer(await admin.post(document, {"org": search_world.org.name, **variables}))
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT", error
        assert message in error["message"]
        assert error["extensions"]["field"] == ["filter", "metadata", "0", "gt"]


async def test_unknown_fields_and_wrong_types_are_refused_by_the_schema(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    for variables, named in (
        ({"filter": {"colour": {"eq": "red"}}}, "colour"),
        ({"filter": {"versionIndex": {"gt": "three"}}}, "gt"),
        ({"filter": {"name": {"near": "x"}}}, "near"),
        ({"filter": {"tags": ["nlp"]}}, "tags"),
        ({"order": {"field": "COLOUR"}}, "COLOUR"),
    ):
        body = answer(await admin.post(SEARCH, {"org": search_world.org.name, **variables}))
        (error,) = body["errors"]
        assert named in error["message"], error


async def test_empty_filters_and_empty_operator_lists_match_everything(
    search_world: SearchWorld, everything: list[dict[str, Any]], client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    filters: list[dict[str, Any]] = [{}, {"name": {}}, {"and": []}, {"and": [{}], "or": [{}]}]
    for filter in filters:
        assert len(await search_ids(admin, search_world, filter=filter)) == len(everything), filter
    # An empty `or` holds for nothing, as an empty disjunction does.
    assert await search_ids(admin, search_world, filter={"or": []}) == []


async def test_a_cursor_of_one_ordering_is_refused_by_another(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    data = await admin.data(
        SEARCH, {"org": search_world.org.name, "first": 2, "order": {"field": "SIZE"}}
    )
    cursor = data["artifactVersions"]["pageInfo"]["endCursor"]
    for order in ({"field": "SIZE", "direction": "ASC"}, {"field": "NAME"}, None):
        body = answer(
            await admin.post(
                SEARCH, {"org": search_world.org.name, "order": order, "after": cursor}
            )
        )
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT"
        assert "not a cursor of this connection" in error["message"]


async def test_a_search_cut_off_by_the_statement_timeout_says_to_narrow_it(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = '20ms'")
        with pytest.raises(SearchFailed) as refused:
            await fetch_rows(conn, True, "SELECT pg_sleep(1)")
    assert "narrow it" in str(refused.value)
    assert refused.value.argument == "filter"


async def test_text_documents_stay_exact_under_concurrent_changes(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    """Tags, descriptions, a rename and a card change, all at once on one collection: afterwards
    every document is what it would be if computed now."""
    changing = await build_world(pool)
    admin = as_(changing, client, "admin")
    versions = [
        v
        for v in await fetch_versions(admin, changing.org.name)
        if v["collection"]["name"] == "churn-classifier"
    ]
    collection = (
        await admin.data(
            'query($org: String!) { registry(organization: $org, name: "models") { '
            'collection(name: "churn-classifier") { id } } }',
            {"org": changing.org.name},
        )
    )["registry"]["collection"]["id"]
    changes = [
        *(
            mutate(
                admin, "addTags", {"id": v["id"], "tags": [f"wave-{i}"]}, "artifactVersion { id }"
            )
            for i, v in enumerate(versions)
        ),
        *(
            mutate(
                admin,
                "updateArtifactVersion",
                {"versionId": v["id"], "description": f"ripple {i}"},
                "artifactVersion { id }",
            )
            for i, v in enumerate(versions)
        ),
        mutate(
            admin,
            "updateCollection",
            {"collectionId": collection, "name": "tide-model", "description": "Moon-driven"},
            "collection { name }",
        ),
        mutate(admin, "addTags", {"id": collection, "tags": ["lunar"]}, "collection { id }"),
    ]
    for payload in await asyncio.gather(*changes):
        assert payload["errors"] == []
    async with pool.acquire() as conn:
        stale_versions = await conn.fetchval(
            """SELECT count(*) FROM artifact_versions v JOIN collections col
               ON col.id = v.collection_id WHERE col.organization_id = $1 AND v.search_document
               <> version_search_document(v.id, v.description, v.collection_id)""",
            changing.org.id,
        )
        stale_collections = await conn.fetchval(
            """SELECT count(*) FROM collections WHERE organization_id = $1
               AND search_document <> collection_search_document(id, name, description)""",
            changing.org.id,
        )
    assert (stale_versions, stale_collections) == (0, 0)
    found = await search_ids(admin, changing, query="tide moon ripple")
    assert len(found) == len(versions)


async def test_a_regex_postgresql_refuses_answers_without_the_drivers_text(
    search_world: SearchWorld, client: httpx.AsyncClient
) -> None:
    admin = as_(search_world, client, "admin")
    filter = {"name": {"regex": "(?P<x>a)"}}
    body = answer(await admin.post(SEARCH, {"org": search_world.org.name, "filter": filter}))
    (error,) = body["errors"]
    assert "named groups" in error["message"]
    assert "invalid regular expression" not in error["message"]
