"""Query cost and per-key rate limiting: what an operation may ask for, what it is charged, and
what a key that asks too fast is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from db.pagination import DEFAULT_PAGE_SIZE
from db.pool import create_pool
from resolvers.throttle import ExecutionBudget, Throttle
from schema.cost import LIST_ESTIMATE, MAX_COST, MUTATION_COST
from server.settings import Settings
from tests.support.app import app_client
from tests.support.databases import database_state
from tests.support.graphql import GraphQLClient

# acme's registries as ada sees them: model, dataset and the restricted eval-reports.
REGISTRIES = """query Registries($first: Int) { organization(name: "acme") {
  registries(first: $first) { nodes { name } } } }"""

NESTED = """{ organization(name: "acme") {
  registries(first: 100) { nodes { collections(first: 100) { nodes {
    versions(first: 100) { nodes { runs: createdBy { name }
      lineage { nodes { node { ... on ArtifactVersion { collection { versions(first: 100) {
        nodes { id } } } } } } } } } } } } } } }"""


# 50 objects asked for and returned: a request that gets nothing back from the bucket.
VIEWERS = "{ " + " ".join(f"v{i}: viewer {{ name }}" for i in range(50)) + " }"


def cost_of(body: dict[str, Any]) -> dict[str, Any]:
    cost: dict[str, Any] = body["extensions"]["cost"]
    return cost


async def test_every_answer_reports_requested_and_actual_cost(ada: GraphQLClient) -> None:
    response = await ada.post(REGISTRIES, {"first": 50})
    body = response.json()
    names = [r["name"] for r in body["data"]["organization"]["registries"]["nodes"]]
    cost = cost_of(body)
    # organization + its connection + 50 possible registries; then what came back.
    assert cost["requestedQueryCost"] == 1 + 1 + 50
    assert cost["actualQueryCost"] == 1 + 1 + len(names)
    assert cost["throttleStatus"]["maximumAvailable"] == Settings().rate_limit_points
    assert cost["throttleStatus"]["restoreRate"] == Settings().rate_limit_restore


async def test_requested_cost_follows_page_sizes_given_as_variables(ada: GraphQLClient) -> None:
    default = cost_of((await ada.post(REGISTRIES)).json())["requestedQueryCost"]
    five = cost_of((await ada.post(REGISTRIES, {"first": 5})).json())["requestedQueryCost"]
    assert (default, five) == (2 + DEFAULT_PAGE_SIZE, 2 + 5)


async def test_mutations_cost_more_than_their_objects(ada: GraphQLClient, demo: Any) -> None:
    body = (
        await ada.post(
            """mutation { addTags(input: {id: "nope", tags: ["x"]}) {
                errors { code } } }"""
        )
    ).json()
    cost = cost_of(body)
    assert cost["requestedQueryCost"] == MUTATION_COST + 1 + LIST_ESTIMATE
    assert cost["actualQueryCost"] == MUTATION_COST + 1 + len(body["data"]["addTags"]["errors"])


async def test_a_field_selected_many_times_is_counted_once(ada: GraphQLClient) -> None:
    """40 fragments each spreading the next twice: 2^40 paths to one `viewer`, which the answer
    holds once, and so does the cost, reckoned at once."""
    fan = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    query = (
        "query Fan { ...F0 viewer { name } } " + fan + " fragment F40 on Query { viewer { name } }"
    )
    body = (await ada.post(query)).json()
    assert body["data"] == {"viewer": {"name": "ada"}}
    assert (cost_of(body)["requestedQueryCost"], cost_of(body)["actualQueryCost"]) == (1, 1)


async def test_metadata_is_one_field_however_many_objects_it_holds(ada: GraphQLClient) -> None:
    body = (
        await ada.post(
            """{ artifactVersion(path: "acme/wandb-registry-model/churn-classifier:v7") {
              metadata } }"""
        )
    ).json()
    assert isinstance(body["data"]["artifactVersion"]["metadata"], dict)
    assert cost_of(body)["actualQueryCost"] == 1


async def test_introspection_is_free(ada: GraphQLClient) -> None:
    body = (await ada.post("{ __schema { types { name fields { name } } } }")).json()
    assert len(body["data"]["__schema"]["types"]) > 50
    assert cost_of(body)["requestedQueryCost"] == 0
    assert cost_of(body)["actualQueryCost"] == 0


async def test_five_nested_pages_of_a_hundred_are_refused_before_running(
    ada: GraphQLClient, pool: asyncpg.Pool
) -> None:
    before = await database_state(pool)
    response = await ada.post(NESTED)
    body = response.json()
    assert response.status_code == 422
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["requestedQueryCost"] > MAX_COST
    assert f"above the maximum of {MAX_COST}" in error["message"]
    assert "`first`" in error["message"]
    assert await database_state(pool) == before


async def test_costs_through_fragments_count_every_spread(ada: GraphQLClient) -> None:
    """A fragment spread into a big page costs as that page; under three aliases, thrice."""
    query = """query { organization(name: "acme") { a: registries(first: 100) { ...Page }
      b: registries(first: 100) { ...Page } c: registries(first: 100) { ...Page } } }
    fragment Page on RegistryConnection { nodes { collections(first: 100) { nodes { name } } } }"""
    body = (await ada.post(query)).json()
    (error,) = body["errors"]
    assert error["extensions"]["requestedQueryCost"] == 1 + 3 * (1 + 100 * (1 + 1 + 100))


async def test_the_same_shape_within_the_limit_runs(ada: GraphQLClient) -> None:
    data = await ada.data(
        """{ organization(name: "acme") { registries(first: 10) { nodes {
          collections(first: 10) { nodes { versions(first: 10) { nodes { id } } } } } } } }"""
    )
    assert data["organization"]["registries"]["nodes"]


# --- rate limiting -------------------------------------------------------------------------------


@pytest.fixture
async def limited(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose keys hold 120 points each and win back almost nothing while a test runs."""
    settings = Settings(rate_limit_points=120, rate_limit_restore=0.001)
    async with app_client(pool, settings) as client:
        yield client


async def test_a_key_over_its_budget_gets_429_with_retry_after(
    limited: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    ada = GraphQLClient(limited, demo["ada"])
    first = await ada.post(REGISTRIES, {"first": 100})
    assert first.status_code == 200
    found = len(first.json()["data"]["organization"]["registries"]["nodes"])
    # 102 taken, and all but what was returned given back.
    assert cost_of(first.json())["throttleStatus"]["currentlyAvailable"] == 120 - 2 - found
    for _ in range(2):
        assert (await ada.post(VIEWERS)).status_code == 200
    left = 120 - 2 - found - 100
    refused = await ada.post(REGISTRIES, {"first": 100})
    assert refused.status_code == 429
    body = refused.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "THROTTLED"
    assert f"this key has {left} cost points left" in error["message"]
    wait = int(refused.headers["Retry-After"])
    # 102 asked for, `left` held, 0.001 points a second.
    assert wait == error["extensions"]["retryAfterSeconds"]
    assert wait >= (102 - left) / 0.001 - 1
    # A cheaper request still fits: the refusal took nothing.
    small = await ada.post(REGISTRIES, {"first": 1})
    assert small.status_code == 200
    assert cost_of(small.json())["throttleStatus"]["currentlyAvailable"] == left - 3


async def test_each_key_has_its_own_bucket(
    limited: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    ada = GraphQLClient(limited, demo["ada"])
    bob = GraphQLClient(limited, demo["bob"])
    assert [(await ada.post(VIEWERS)).status_code for _ in range(3)] == [200, 200, 429]
    assert (await bob.post(VIEWERS)).status_code == 200


async def test_legacy_json_clients_get_429_too(
    limited: httpx.AsyncClient, demo: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {demo['cy']}", "Accept": "application/json"}
    statuses = [
        (await limited.post("/graphql", json={"query": VIEWERS}, headers=headers)) for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    refused = statuses[-1]
    assert refused.headers["content-type"].startswith("application/json")
    assert int(refused.headers["Retry-After"]) >= 1


async def test_concurrent_requests_are_charged_exactly(
    pool: asyncpg.Pool, demo: dict[str, str]
) -> None:
    """30 requests at once, each taking 52 points and giving back what it did not use: every
    one is answered or throttled, and the bucket ends where the accepted ones leave it."""
    settings = Settings(rate_limit_points=1_000, rate_limit_restore=0.001)
    async with app_client(pool, settings) as client:
        ada = GraphQLClient(client, demo["ada"])
        responses = await asyncio.gather(*(ada.post(REGISTRIES, {"first": 50}) for _ in range(30)))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 429}
        accepted = [r.json() for r in responses if r.status_code == 200]
        assert len(accepted) >= 1_000 // 52
        used = sum(cost_of(b)["actualQueryCost"] for b in accepted)
        last = await ada.post(REGISTRIES, {"first": 1})
        status = cost_of(last.json())
        assert (
            status["throttleStatus"]["currentlyAvailable"]
            == 1_000 - used - (status["actualQueryCost"])
        )


async def test_rate_limiting_can_be_turned_off(pool: asyncpg.Pool, demo: dict[str, str]) -> None:
    async with app_client(pool, Settings(rate_limit_points=0)) as client:
        ada = GraphQLClient(client, demo["ada"])
        body = (await ada.post(REGISTRIES, {"first": 100})).json()
        assert "throttleStatus" not in cost_of(body)
        assert cost_of(body)["requestedQueryCost"] == 102


def test_a_bucket_refills_at_its_rate_and_no_further() -> None:
    now = [0.0]
    throttle = Throttle(100, 10, clock=lambda: now[0])
    assert throttle.take("k", 80).allowed
    refused = throttle.take("k", 50)
    assert (refused.allowed, refused.available, refused.retry_after) == (False, 20, 3.0)
    now[0] = 3.0
    assert throttle.take("k", 50).allowed
    now[0] = 1_000.0
    assert throttle.available("k") == 100


def test_full_buckets_are_forgotten() -> None:
    now = [0.0]
    throttle = Throttle(100, 10, clock=lambda: now[0])
    for key in range(999):
        throttle.take(key, 1)
    assert throttle.tracked() == 999
    now[0] = 60.0
    throttle.take("last", 1)
    assert throttle.tracked() == 1


async def test_the_execution_budget_runs_operations_in_turn_within_its_capacity() -> None:
    budget = ExecutionBudget(1_000)
    running: list[str] = []
    peak = [0]
    release: dict[str, asyncio.Event] = {}

    async def operation(name: str, points: int) -> str:
        release[name] = asyncio.Event()
        async with budget.running(points):
            running.append(name)
            peak[0] = max(peak[0], budget.in_use)
            await release[name].wait()
            running.remove(name)
        return name

    big = [asyncio.create_task(operation(f"big{i}", 600)) for i in range(3)]
    await asyncio.sleep(0)
    assert running == ["big0"]
    assert budget.waiting == 2
    assert budget.must_wait(600)
    # A small operation (a hundredth of the capacity or less) never queues behind a large one.
    small = asyncio.create_task(operation("small", 10))
    await asyncio.sleep(0)
    assert running == ["big0", "small"]
    release["small"].set()
    # One larger than the capacity holds all of it: it runs alone, in its turn.
    huge = asyncio.create_task(operation("huge", 50_000))
    await asyncio.sleep(0)
    for name in ("big0", "big1", "big2"):
        assert running == [name]
        release[name].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert running == ["huge"]
    assert budget.in_use == 1_000
    release["huge"].set()
    assert [await t for t in [*big, small, huge]] == ["big0", "big1", "big2", "small", "huge"]
    assert (budget.in_use, budget.waiting, peak[0]) == (0, 0, 1_000)


async def test_an_operation_cancelled_while_waiting_gives_up_its_turn() -> None:
    budget = ExecutionBudget(1_000)
    first = asyncio.Event()

    async def holding() -> None:
        async with budget.running(900):
            await first.wait()

    held = asyncio.create_task(holding())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(budget.running(500).__aenter__())
    await asyncio.sleep(0)
    assert budget.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (budget.waiting, budget.in_use) == (0, 900)
    first.set()
    await held
    assert budget.in_use == 0
    assert not budget.must_wait(1_000)


async def test_many_large_operations_at_once_on_a_pool_of_one_connection_all_answer(
    database_url: str, demo: dict[str, str]
) -> None:
    """A budget that lets one large operation run at a time, a pool of one connection, and six
    large operations at once: those waiting for the budget hold no connection, so each answers
    in its turn, as it would alone."""
    one = await create_pool(database_url, min_size=1, max_size=1)
    try:
        settings = Settings(rate_limit_points=0, executing_cost=150)
        async with app_client(one, settings) as client:
            ada = GraphQLClient(client, demo["ada"])
            alone = await ada.data(NESTED_SMALL)
            answers = await asyncio.wait_for(
                asyncio.gather(*(ada.data(NESTED_SMALL) for _ in range(6))), timeout=60
            )
            metrics = (await client.get("/metrics")).text
    finally:
        await one.close()
    assert answers == [alone] * 6
    assert 'cairn_executing_cost_points{state="capacity"} 150.0' in metrics
    assert "cairn_operations_waiting 0.0" in metrics


# 1 + 3 + 3 x 20 + 60 x 3 objects, more than the whole budget of 150: each runs alone.
NESTED_SMALL = """{ organization(name: "acme") { registries(first: 3) { nodes { name
  collections(first: 20) { nodes { name
    versions(first: 3) { nodes { version aliases } } } } } } } }"""
