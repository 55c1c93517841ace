"""/metrics in Prometheus's text format: requests by operation and outcome, latency, the pool,
the outbox and the listener; operation names cannot grow the series without bound."""

from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server import metrics
from tests.support.graphql import GraphQLClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_requests_are_counted_by_operation_and_outcome(
    client: httpx.AsyncClient, ada: GraphQLClient, anonymous: GraphQLClient
) -> None:
    # The label it gets: its own name, or `other` when earlier tests used up the names.
    label = metrics.operation_label("MetricsProbe")
    ok = ("cairn_graphql_requests_total", (("operation", label), ("outcome", "ok")))
    refused = ("cairn_graphql_requests_total", (("operation", "anonymous"), ("outcome", "refused")))
    before = await scrape(client)
    await ada.data("query MetricsProbe { viewer { name } }")
    await ada.data("query MetricsProbe { viewer { name } }")
    assert (await anonymous.post("{ viewer { name } }")).status_code == 401
    after = await scrape(client)
    assert after[ok] - before.get(ok, 0) == 2
    assert after[refused] - before.get(refused, 0) >= 1
    latency = ("cairn_graphql_request_seconds_count", (("outcome", "ok"),))
    assert after[latency] - before.get(latency, 0) >= 2
    for state in ("max", "open", "idle", "in_use"):
        assert ("cairn_db_pool_connections", (("state", state),)) in after
    assert after[("cairn_webhook_outbox_depth", ())] >= 0
    # The in-process app runs no listener.
    assert after[("cairn_live_listener_up", ())] == 0


async def test_operation_names_cannot_grow_the_series_without_bound(
    client: httpx.AsyncClient, ada: GraphQLClient
) -> None:
    for i in range(metrics.MAX_OPERATIONS + 20):
        name = f"Flood{i}"
        body = (await ada.post(f"query {name} {{ viewer {{ name }} }}")).json()
        assert body["data"] == {"viewer": {"name": "ada"}}
    text = (await client.get("/metrics")).text
    operations = set(re.findall(r'cairn_graphql_requests_total\{operation="([^"]+)"', text))
    assert len(operations) <= metrics.MAX_OPERATIONS + 2  # and "other", "anonymous"
    assert "other" in operations
