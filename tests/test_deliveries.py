"""Delivering the outbox to a real HTTP receiver on 127.0.0.1: rendered and signed bodies,
retries with backoff and jitter (5xx, 429, timeouts, dropped connections), failures that are not
retried, the attempt log, redelivery; and, with real `cairn worker` processes on a database of
their own, exactly-once-per-attempt delivery by two workers, a worker killed mid-delivery whose
lease runs out, and changes committed while no worker was running.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db import automations as automation_records
from db.pool import create_pool
from resolvers import webhooks
from resolvers.deliveries import deliver_due
from resolvers.webhooks import EXCERPT_CHARS, USER_AGENT, VARIABLES, WebhookPolicy
from server.settings import Settings
from server.worker import DeliveryWorker
from tests.support.app import app_client
from tests.support.automations import World, automation_input, create, new_world
from tests.support.databases import new_database
from tests.support.graphql import answer, mutate
from tests.support.ids import row_id
from tests.support.processes import Killable, Server, Worker, cairn_env, killed_at_exit
from tests.support.webhooks import (
    LOOPBACK,
    TEST_POLICY,
    Receiver,
    deliver_all,
    verify_signature,
)

FINAL = ("SUCCEEDED", "FAILED")


def policy(**changes: Any) -> WebhookPolicy:
    settings: dict[str, Any] = {
        "allowed_networks": LOOPBACK,
        "timeout_seconds": 2.0,
        "max_attempts": 5,
        "retry_base_seconds": 0.05,
    }
    settings.update(changes)
    return WebhookPolicy(**settings)


# --- fixtures: a database of this module's own ---------------------------------------------------


@pytest.fixture(scope="module")
async def db_url(server_url: str) -> AsyncIterator[str]:
    """A fresh migrated database: workers here claim every due delivery, so no other module's
    outbox may share it."""
    async with new_database(server_url, migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
async def dpool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def world(dpool: asyncpg.Pool) -> AsyncIterator[World]:
    async with app_client(dpool, Settings(webhook_policy=TEST_POLICY)) as http:
        yield await new_world(dpool, http)
    async with dpool.acquire() as conn:
        await conn.execute("DELETE FROM automations")


# --- helpers -------------------------------------------------------------------------------------


async def deliveries_of(pool: asyncpg.Pool, automation_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT id, event_type::text AS event_type, body, status::text AS status, "
            "attempt_count, next_attempt_at, lease_until, finished_at FROM deliveries "
            "WHERE automation_id = $1 ORDER BY id",
            row_id(automation_id),
        )


async def delivery(pool: asyncpg.Pool, delivery_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, status::text AS status, attempt_count, next_attempt_at, lease_until, "
            "finished_at, body FROM deliveries WHERE id = $1",
            delivery_id,
        )
    assert row is not None
    return row


async def attempts_of(pool: asyncpg.Pool, delivery_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT attempted_at, status_code, latency_ms, response_excerpt, error "
            "FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
            delivery_id,
        )


async def settle(
    pool: asyncpg.Pool,
    rules: WebhookPolicy,
    delivery_ids: list[int],
    *,
    within: float = 15,
    rng: random.Random | None = None,
) -> None:
    """Runs deliver_due, as a worker would, until every delivery named has succeeded or failed."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=rules.timeout_seconds) as http:
        while True:
            await deliver_due(pool, rules, http, rng=rng)
            statuses = [(await delivery(pool, i))["status"] for i in delivery_ids]
            if all(status in FINAL for status in statuses):
                return
            assert time.monotonic() < deadline, statuses
            await asyncio.sleep(0.01)


async def assert_over(pool: asyncpg.Pool, delivery_id: int, rules: WebhookPolicy) -> None:
    """The delivery is over: it failed, holds no lease and has no attempt scheduled for later
    (so waiting would change nothing), and doing the worker's work now attempts nothing."""
    row = await delivery(pool, delivery_id)
    assert (row["status"], row["lease_until"]) == ("FAILED", None)
    assert row["next_attempt_at"] <= datetime.now(UTC)
    assert await deliver_all(pool, rules) == 0


async def one_delivery(world: World, receiver: Receiver, **fields: Any) -> tuple[str, int]:
    """An automation on LINK_ARTIFACT and one queued delivery of it: (automation ID, row id)."""
    automation = await create(world.member, automation_input(world, receiver, **fields))
    await world.link("deploys")
    (queued,) = await deliveries_of(world.pool, automation["id"])
    assert queued["status"] == "PENDING"
    return automation["id"], queued["id"]


DELIVERIES = """
query D($o: String!) { registry(organization: $o, name: "model") {
  automations(first: 10) { nodes { id deliveries(first: 50) { totalCount nodes {
    id eventType status body createdAt finishedAt nextAttemptAt
    attempts { attemptedAt statusCode latencyMs responseExcerpt error } } } } } } }"""


async def api_deliveries(world: World, automation_id: str) -> list[dict[str, Any]]:
    data = await world.member.data(DELIVERIES, o=world.org)
    for node in data["registry"]["automations"]["nodes"]:
        if node["id"] == automation_id:
            found: list[dict[str, Any]] = node["deliveries"]["nodes"]
            return found
    raise AssertionError(f"automation {automation_id} not listed")


# --- bodies and signatures -----------------------------------------------------------------------

TEMPLATE = json.dumps(
    {
        "event": "${event_type}",
        "author": "${event_author}",
        "org": "${organization}",
        "registry": "${registry}",
        "collection": "${collection}",
        "path": "${artifact_version}",
        "version": "${version}",
        "index": "${version_index}",
        "type": "${artifact_type}",
        "digest": "${digest}",
        "alias": "${alias}",
        "tag": "${tag}",
        "auc": "${metadata.auc}",
        "layers": "${metadata.layers}",
        "calibrated": "${metadata.calibrated}",
        "notes": "${metadata.notes}",
        "missing": "${metadata.missing}",
        "metadata": "${metadata}",
        "when": "${timestamp}",
        "summary": "${collection}:${version} auc=${metadata.auc} by ${event_author}",
        "nested": {"list": ["${alias}", "${version_index}"], "literal": 7},
    }
)
METADATA = {
    "auc": 0.93,
    "layers": [64, 32],
    "calibrated": True,
    "notes": None,
    "framework": "xgboost",
}


async def test_the_body_is_the_rendered_template_and_is_signed(
    world: World, receiver: Receiver
) -> None:
    secret = "signing-" + uuid.uuid4().hex
    automation = await create(
        world.member,
        automation_input(
            world,
            receiver,
            events=["LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS"],
            payloadTemplate=TEMPLATE,
            secret=secret,
            headers=[{"name": "X-Team", "value": "ml"}],
        ),
    )
    await world.link("deploys", by="member")  # v0, so the delivered version is v1
    before = datetime.now(UTC)
    version = await world.link("deploys", aliases=("production",), metadata=METADATA)
    digest = (
        await world.member.data(
            "query V($p: String!) { artifactVersion(path: $p) { digest } }", p=version["path"]
        )
    )["artifactVersion"]["digest"]
    queued = await deliveries_of(world.pool, automation["id"])
    assert [d["event_type"] for d in queued] == [
        "LINK_ARTIFACT",
        "LINK_ARTIFACT",
        "ADD_ARTIFACT_ALIAS",
    ]
    await settle(world.pool, policy(), [d["id"] for d in queued])

    requests = receiver.wait_for(3)
    assert len(requests) == 3
    by_delivery = {int(r.headers["x-cairn-delivery"]): r for r in requests}
    assert sorted(by_delivery) == [d["id"] for d in queued]
    alias_request = by_delivery[queued[2]["id"]]
    body = alias_request.json()
    when = datetime.fromisoformat(body.pop("when"))
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC)
    path = f"{world.org}/wandb-registry-model/deploys:v1"
    assert version["path"] == path
    assert body == {
        "event": "ADD_ARTIFACT_ALIAS",
        "author": world.member.name,
        "org": world.org,
        "registry": "model",
        "collection": "deploys",
        "path": path,
        "version": "v1",
        "index": 1,
        "type": "model",
        "digest": digest,
        "alias": "production",
        "tag": None,
        "auc": 0.93,
        "layers": [64, 32],
        "calibrated": True,
        "notes": None,
        "missing": None,
        "metadata": METADATA,
        "summary": "deploys:v1 auc=0.93 by " + world.member.name,
        "nested": {"list": ["production", 1], "literal": 7},
    }
    link_body = by_delivery[queued[1]["id"]].json()
    assert link_body["event"] == "LINK_ARTIFACT"
    assert link_body["alias"] is None
    assert link_body["index"] == 1

    for request in requests:
        # What was signed is exactly what was stored and sent.
        stored = next(d for d in queued if d["id"] == int(request.headers["x-cairn-delivery"]))
        assert request.body == stored["body"].encode()
        assert request.headers["x-cairn-event"] == stored["event_type"]
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == USER_AGENT
        assert request.headers["x-team"] == "ml"
        assert abs(int(request.headers["x-cairn-timestamp"]) - time.time()) < 30
        assert verify_signature(secret, request.headers, request.body)
    # The verifier refuses what it should: another secret, a changed body or timestamp, a replay
    # more than five minutes later.
    headers = alias_request.headers
    assert not verify_signature(secret + "x", headers, alias_request.body)
    assert not verify_signature(secret, headers, alias_request.body.replace(b"v1", b"v2"))
    shifted = {**headers, "x-cairn-timestamp": str(int(headers["x-cairn-timestamp"]) + 1)}
    assert not verify_signature(secret, shifted, alias_request.body)
    later = int(headers["x-cairn-timestamp"]) + 301
    assert not verify_signature(secret, headers, alias_request.body, now=later)

    # The API shows the same deliveries, newest first, with their bodies and one attempt each.
    listed = await api_deliveries(world, automation["id"])
    assert [row_id(d["id"]) for d in listed] == [d["id"] for d in reversed(queued)]
    for entry in listed:
        assert entry["status"] == "SUCCEEDED"
        assert entry["finishedAt"] is not None
        assert entry["nextAttemptAt"] is None
        (attempt,) = entry["attempts"]
        assert attempt["statusCode"] == 200
        assert attempt["responseExcerpt"] == '{"received": true}'
        assert attempt["error"] is None
        assert 0 <= attempt["latencyMs"] < 2000
    assert listed[0]["body"] == queued[2]["body"]
    assert listed[0]["eventType"] == "ADD_ARTIFACT_ALIAS"


async def test_without_a_template_the_body_holds_every_documented_variable(
    world: World, receiver: Receiver
) -> None:
    automation = await create(
        world.member, automation_input(world, receiver, events=["ADD_ARTIFACT_ALIAS"])
    )
    version = await world.link("defaults", aliases=("staging",), metadata={"auc": 0.5})
    (queued,) = await deliveries_of(world.pool, automation["id"])
    await settle(world.pool, policy(), [queued["id"]])
    (request,) = receiver.wait_for(1)
    body = request.json()
    assert list(body) == list(VARIABLES)
    assert body["event_type"] == "ADD_ARTIFACT_ALIAS"
    assert body["event_author"] == world.member.name
    assert body["artifact_version"] == version["path"]
    assert (body["version"], body["version_index"]) == ("v0", 0)
    assert (body["artifact_type"], body["alias"], body["tag"]) == ("model", "staging", None)
    assert body["digest"]
    assert body["metadata"] == {"auc": 0.5}


async def test_an_automation_stops_when_its_creator_loses_access(
    world: World, receiver: Receiver
) -> None:
    """An automation sends its creator's URL what happens in the registry: once the creator has
    left the organization it sends nothing more, while a colleague's keeps sending."""
    kept = await create(world.member, automation_input(world, receiver))
    orphaned = await create(world.member2, automation_input(world, receiver))
    member2 = await world.admin.data(
        "query U($o: String!) { organization(name: $o) { members(first: 100) { nodes { "
        "user { id name } } } } }",
        o=world.org,
    )
    (member2_id,) = [
        m["user"]["id"]
        for m in member2["organization"]["members"]["nodes"]
        if m["user"]["name"] == world.member2.name
    ]
    removed = await mutate(
        world.admin.client,
        "removeOrganizationMember",
        {"organization": world.org, "userId": member2_id},
    )
    assert removed["errors"] == []
    await world.link("after-leaving")
    assert len(await deliveries_of(world.pool, kept["id"])) == 1
    assert await deliveries_of(world.pool, orphaned["id"]) == []


# --- where a webhook goes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address", "expected"),
    [
        ("http://ci.example.com/hook?t=1", "93.184.216.34", "http://93.184.216.34/hook?t=1"),
        ("https://u:p@ci.example.com:8443/h", "2606:2800::1", "https://u:p@[2606:2800::1]:8443/h"),
    ],
)
def test_a_webhook_goes_to_the_address_that_was_checked(
    url: str, address: str, expected: str
) -> None:
    target, headers, extensions = webhooks.pinned(url, address)
    assert str(target) == expected
    host = httpx.URL(url).netloc.decode()
    assert headers == {"Host": host}
    assert extensions == {"sni_hostname": "ci.example.com"}


async def test_a_name_is_resolved_once_and_its_host_kept(receiver: Receiver) -> None:
    """A URL naming the host: the request goes to the address that was checked, and the
    receiver still sees the name it was addressed by."""
    url = f"http://localhost:{receiver.port}/hook"
    allowed = policy(allowed_networks=(*LOOPBACK, ipaddress.ip_network("::1/128")))
    request = webhooks.Request(url, "{}", "secret", "TEST", None)
    result = await webhooks.send(request, allowed)
    assert result.succeeded, result
    (received,) = receiver.wait_for(1)
    assert received.headers["host"] == f"localhost:{receiver.port}"


# --- retries -------------------------------------------------------------------------------------


async def test_retried_after_500_and_a_dropped_connection_then_succeeds(
    world: World, receiver: Receiver
) -> None:
    automation_id, delivery_id = await one_delivery(world, receiver)
    receiver.script("500", "drop", "ok")
    await settle(world.pool, policy(), [delivery_id])

    final = await delivery(world.pool, delivery_id)
    assert final["status"] == "SUCCEEDED"
    assert final["attempt_count"] == 3
    assert final["lease_until"] is None
    assert final["finished_at"] is not None
    first, second, third = await attempts_of(world.pool, delivery_id)
    assert (first["status_code"], first["response_excerpt"], first["error"]) == (
        500,
        "internal trouble",
        None,
    )
    assert second["status_code"] is None
    assert second["response_excerpt"] is None
    assert "RemoteProtocolError" in second["error"]
    assert (third["status_code"], third["error"]) == (200, None)
    assert first["attempted_at"] < second["attempted_at"] < third["attempted_at"]

    requests = receiver.wait_for(3)
    assert [r.behaviour for r in requests] == ["500", "drop", "ok"]
    assert {r.headers["x-cairn-delivery"] for r in requests} == {str(delivery_id)}
    assert len({r.body for r in requests}) == 1
    (entry,) = await api_deliveries(world, automation_id)
    assert [a["statusCode"] for a in entry["attempts"]] == [500, None, 200]


async def test_429_and_timeouts_are_retried(world: World, receiver: Receiver) -> None:
    _, delivery_id = await one_delivery(world, receiver)
    receiver.script("429", "hang", "ok")
    await settle(world.pool, policy(timeout_seconds=0.5), [delivery_id])
    attempts = await attempts_of(world.pool, delivery_id)
    assert [a["status_code"] for a in attempts] == [429, None, 200]
    assert attempts[0]["response_excerpt"] == "slow down"
    assert "Timeout" in attempts[1]["error"]
    assert attempts[1]["latency_ms"] >= 400
    assert (await delivery(world.pool, delivery_id))["status"] == "SUCCEEDED"
    assert receiver.count() == 3


@pytest.mark.parametrize("answer", ["400", "redirect"])
async def test_other_refusals_fail_at_once(world: World, receiver: Receiver, answer: str) -> None:
    _, delivery_id = await one_delivery(world, receiver)
    receiver.script(answer)
    await settle(world.pool, policy(), [delivery_id])
    final = await delivery(world.pool, delivery_id)
    assert final["status"] == "FAILED"
    assert final["attempt_count"] == 1
    assert final["finished_at"] is not None
    (attempt,) = await attempts_of(world.pool, delivery_id)
    assert attempt["status_code"] == (400 if answer == "400" else 302)
    # Nothing more is sent, and a redirect is not followed.
    await assert_over(world.pool, delivery_id, policy())
    (request,) = receiver.settled()
    assert request.path == "/hook"


async def test_failed_after_the_last_attempt(world: World, receiver: Receiver) -> None:
    automation_id, delivery_id = await one_delivery(world, receiver)
    receiver.default = "500"
    await settle(world.pool, policy(max_attempts=3), [delivery_id])
    final = await delivery(world.pool, delivery_id)
    assert final["status"] == "FAILED"
    assert final["attempt_count"] == 3
    attempts = await attempts_of(world.pool, delivery_id)
    assert [a["status_code"] for a in attempts] == [500, 500, 500]
    await assert_over(world.pool, delivery_id, policy(max_attempts=3))
    assert len(receiver.settled()) == 3
    (entry,) = await api_deliveries(world, automation_id)
    assert entry["status"] == "FAILED"
    assert entry["nextAttemptAt"] is None


async def test_the_response_excerpt_is_bounded(world: World, receiver: Receiver) -> None:
    automation_id, delivery_id = await one_delivery(world, receiver)
    receiver.script("long")
    await settle(world.pool, policy(), [delivery_id])
    (attempt,) = await attempts_of(world.pool, delivery_id)
    assert attempt["status_code"] == 200
    assert len(attempt["response_excerpt"]) == EXCERPT_CHARS == 1024
    assert attempt["response_excerpt"] == Receiver.LONG_BODY[:1024]
    (entry,) = await api_deliveries(world, automation_id)
    assert entry["attempts"][0]["responseExcerpt"] == Receiver.LONG_BODY[:1024]


async def test_a_destination_the_policy_no_longer_allows_is_not_called(
    world: World, receiver: Receiver
) -> None:
    _, delivery_id = await one_delivery(world, receiver)
    await settle(world.pool, WebhookPolicy(retry_base_seconds=0.05), [delivery_id])
    final = await delivery(world.pool, delivery_id)
    assert final["status"] == "FAILED"
    assert final["attempt_count"] == 1
    (attempt,) = await attempts_of(world.pool, delivery_id)
    assert "loopback, link-local or private" in attempt["error"]
    assert receiver.count() == 0


# --- backoff -------------------------------------------------------------------------------------


async def test_backoff_grows_exponentially_within_jitter_bounds(
    world: World, receiver: Receiver
) -> None:
    base = 0.08
    rules = policy(max_attempts=5, retry_base_seconds=base)
    receiver.default = "500"
    _, delivery_id = await one_delivery(world, receiver)
    due: list[datetime] = []
    delays: list[tuple[float, float]] = []
    async with httpx.AsyncClient(timeout=2) as http:
        for attempt in range(1, 5):
            while True:
                started = datetime.now(UTC)
                if await deliver_due(world.pool, rules, http):
                    break
                await asyncio.sleep(0.005)
            ended = datetime.now(UTC)
            row = await delivery(world.pool, delivery_id)
            assert row["status"] == "PENDING"
            assert row["attempt_count"] == attempt
            due.append(row["next_attempt_at"])
            # The delay was drawn after sending, between `started` and `ended`.
            longest = (row["next_attempt_at"] - started).total_seconds()
            shortest = (row["next_attempt_at"] - ended).total_seconds()
            nominal = base * 2 ** (attempt - 1)
            assert shortest <= nominal * 1.5 + 0.005, (attempt, shortest, nominal)
            assert longest >= nominal * 0.5 - 0.005, (attempt, longest, nominal)
            delays.append((shortest, longest))
        await settle(world.pool, rules, [delivery_id])
    assert due == sorted(due)
    assert (await delivery(world.pool, delivery_id))["status"] == "FAILED"
    attempts = await attempts_of(world.pool, delivery_id)
    assert len(attempts) == 5
    # No attempt went out before it was due.
    for previous_due, attempt_row in zip(due, attempts[1:], strict=True):
        assert attempt_row["attempted_at"] >= previous_due
    # Over four doublings the waits grow even with the worst jitter (0.5*8 > 1.5*1).
    assert delays[3][0] > delays[0][1]


async def test_jitter_is_drawn_per_delivery_and_capped(world: World, receiver: Receiver) -> None:
    receiver.default = "500"
    automations = [await create(world.member, automation_input(world, receiver)) for _ in range(6)]
    await world.link("deploys")
    ids = [(await deliveries_of(world.pool, a["id"]))[0]["id"] for a in automations]
    async with httpx.AsyncClient(timeout=2) as http:
        # Seeded draws are the ones used: base * 2^(n-1) * uniform(0.5, 1.5).
        rules = policy(retry_base_seconds=10.0, retry_max_seconds=1000.0)
        started = datetime.now(UTC)
        assert await deliver_due(world.pool, rules, http, rng=random.Random(42)) == 6
        ended = datetime.now(UTC)
    draws = random.Random(42)
    expected = sorted(draws.uniform(0.5, 1.5) * 10.0 for _ in ids)
    rows = [await delivery(world.pool, i) for i in ids]
    measured = sorted((row["next_attempt_at"] - started).total_seconds() for row in rows)
    slack = (ended - started).total_seconds() + 0.01
    for want, got in zip(expected, measured, strict=True):
        assert want - 0.01 <= got <= want + slack, (expected, measured)
    assert len({round(m, 3) for m in measured}) == 6  # not one shared delay

    async with world.pool.acquire() as conn:
        await conn.execute(
            "UPDATE deliveries SET next_attempt_at = clock_timestamp() WHERE id = ANY($1)", ids
        )
    async with httpx.AsyncClient(timeout=2) as http:
        capped = policy(retry_base_seconds=10.0, retry_max_seconds=0.5)
        started = datetime.now(UTC)
        assert await deliver_due(world.pool, capped, http) == 6
        elapsed = (datetime.now(UTC) - started).total_seconds()
    for i in ids:
        wait = ((await delivery(world.pool, i))["next_attempt_at"] - started).total_seconds()
        assert 0.49 <= wait <= 0.5 + elapsed + 0.01, wait


# --- redelivery ----------------------------------------------------------------------------------

REDELIVER = "delivery { id status attempts { statusCode } }"


async def test_redeliver_sends_again_and_keeps_the_log(world: World, receiver: Receiver) -> None:
    automation_id, delivery_id = await one_delivery(world, receiver)
    (entry,) = await api_deliveries(world, automation_id)
    pending = await world.member.refused("redeliver", deliveryId=entry["id"])
    assert pending["code"] == "INVALID_ARGUMENT"
    assert "pending" in pending["message"]

    await settle(world.pool, policy(), [delivery_id])
    assert receiver.count() == 1
    denied = await world.viewer.refused("redeliver", deliveryId=entry["id"])
    assert denied["code"] == "PERMISSION_DENIED"
    hidden = await world.outsider.refused("redeliver", deliveryId=entry["id"])
    assert hidden["code"] == "NOT_FOUND"

    # Any registry member may redeliver, not only the automation's creator.
    again = await world.member2.ok("redeliver", deliveryId=entry["id"])
    assert again["delivery"]["id"] == entry["id"]
    assert again["delivery"]["status"] == "PENDING"
    assert [a["statusCode"] for a in again["delivery"]["attempts"]] == [200]
    twice = await world.member.refused("redeliver", deliveryId=entry["id"])
    assert twice["code"] == "INVALID_ARGUMENT"

    receiver.script("500")
    await settle(world.pool, policy(), [delivery_id])
    requests = receiver.wait_for(3)
    assert [r.headers["x-cairn-delivery"] for r in requests] == [str(delivery_id)] * 3
    assert len({r.body for r in requests}) == 1
    (entry,) = await api_deliveries(world, automation_id)
    assert entry["status"] == "SUCCEEDED"
    assert [a["statusCode"] for a in entry["attempts"]] == [200, 500, 200]
    assert (await delivery(world.pool, delivery_id))["attempt_count"] == 2  # this round's

    # A failed delivery can be sent again too.
    receiver.default = "400"
    await world.member.ok("redeliver", deliveryId=entry["id"])
    await settle(world.pool, policy(), [delivery_id])
    assert (await delivery(world.pool, delivery_id))["status"] == "FAILED"
    receiver.default = "ok"
    await world.member.ok("redeliver", deliveryId=entry["id"])
    await settle(world.pool, policy(), [delivery_id])
    assert (await delivery(world.pool, delivery_id))["status"] == "SUCCEEDED"
    assert receiver.count() == 5


async def test_a_delivery_in_progress_cannot_be_redelivered(
    world: World, receiver: Receiver
) -> None:
    automation_id, delivery_id = await one_delivery(world, receiver)
    (claimed,) = await automation_records.claim_due(world.pool, 10, 30.0)
    assert claimed.id == delivery_id
    (entry,) = await api_deliveries(world, automation_id)
    assert entry["status"] == "IN_PROGRESS"
    error = await world.member.refused("redeliver", deliveryId=entry["id"])
    assert error["code"] == "INVALID_ARGUMENT"
    assert "in_progress" in error["message"]
    # Its lease holds: no other worker takes it meanwhile.
    async with httpx.AsyncClient() as http:
        assert await deliver_due(world.pool, policy(), http) == 0
    assert receiver.count() == 0


# --- workers as processes ------------------------------------------------------------------------


@pytest.fixture
def worker_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return cairn_env(
        tmp_path / "xdg",
        DATABASE_URL=db_url,
        CAIRN_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        CAIRN_WEBHOOK_RETRY_BASE_SECONDS="0.05",
        CAIRN_WEBHOOK_MAX_ATTEMPTS="5",
        CAIRN_WEBHOOK_TIMEOUT_SECONDS="5",
    )


@pytest.fixture
def workers() -> Iterator[list[Killable]]:
    """Collects processes a test starts; whatever still runs at the end is killed."""
    with killed_at_exit() as started:
        yield started


async def wait_until(check: Callable[[], Awaitable[bool]], within: float, message: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)


async def all_final(pool: asyncpg.Pool, ids: list[int]) -> bool:
    async with pool.acquire() as conn:
        statuses = await conn.fetch(
            "SELECT status::text AS status FROM deliveries WHERE id = ANY($1)", ids
        )
    return len(statuses) == len(ids) and all(s["status"] in FINAL for s in statuses)


async def test_two_worker_processes_send_each_delivery_once_per_attempt(
    world: World,
    receiver: Receiver,
    worker_env: dict[str, str],
    tmp_path: Path,
    workers: list[Killable],
) -> None:
    receiver.default = "slow"
    receiver.slow_seconds = 0.05
    receiver.script(*["500"] * 6)  # some deliveries need a second attempt
    automations = [
        await create(world.member, automation_input(world, receiver, events=["ADD_ARTIFACT_ALIAS"]))
        for _ in range(5)
    ]
    version = await world.link("busy")
    first, second = Worker(worker_env, tmp_path), Worker(worker_env, tmp_path)
    workers.extend([first, second])
    first.wait_ready()
    second.wait_ready()

    # Both workers wake on the same commits and race for the same rows.
    await world.member.ok(
        "addAliases", versionId=version["id"], aliases=[f"a{i}" for i in range(6)]
    )
    await world.member.ok("addAliases", versionId=version["id"], aliases=["b0", "b1"])
    ids = [d["id"] for a in automations for d in await deliveries_of(world.pool, a["id"])]
    assert len(ids) == 40
    await wait_until(lambda: all_final(world.pool, ids), 30, "deliveries did not finish")
    # With both workers gone, whatever either of them sent is at the receiver: a request sent
    # twice would be counted below.
    assert first.stop() == 0
    assert second.stop() == 0
    assert "Traceback" not in first.output + second.output

    sent = Counter(int(r.headers["x-cairn-delivery"]) for r in receiver.settled())
    assert set(sent) == set(ids)
    for delivery_id in ids:
        row = await delivery(world.pool, delivery_id)
        attempts = await attempts_of(world.pool, delivery_id)
        assert row["status"] == "SUCCEEDED", delivery_id
        assert sent[delivery_id] == row["attempt_count"] == len(attempts), (
            delivery_id,
            [dict(a) for a in attempts],
        )
        assert attempts[-1]["status_code"] == 200
    assert sum(sent.values()) == 46
    assert sorted(sent.values()).count(2) == 6

    # Each attempt was made by one worker only, and both took part.
    mine, theirs = first.delivered(), second.delivered()
    assert not {(d, n) for d, n, _ in mine} & {(d, n) for d, n, _ in theirs}
    assert len(mine) + len(theirs) == 46
    assert mine
    assert theirs


async def test_a_worker_killed_mid_delivery_loses_nothing(
    world: World,
    receiver: Receiver,
    worker_env: dict[str, str],
    tmp_path: Path,
    workers: list[Killable],
) -> None:
    receiver.default = "hang"
    env = {**worker_env, "CAIRN_WEBHOOK_TIMEOUT_SECONDS": "1.5"}
    doomed = Worker(env, tmp_path, lease_margin=1.0)  # lease: 1.5 s + 1 s
    workers.append(doomed)
    doomed.wait_ready()
    automation = await create(world.member, automation_input(world, receiver))
    await world.link("deploys")
    (queued,) = await deliveries_of(world.pool, automation["id"])
    delivery_id = queued["id"]
    await asyncio.to_thread(receiver.wait_for, 1, 10)
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(10)
    killed_at = datetime.now(UTC)

    row = await delivery(world.pool, delivery_id)
    assert row["status"] == "IN_PROGRESS"
    assert row["attempt_count"] == 1
    assert row["lease_until"] > killed_at
    assert row["lease_until"] <= killed_at + timedelta(seconds=2.6)
    assert await attempts_of(world.pool, delivery_id) == []
    # While the lease holds nobody else takes it...
    async with httpx.AsyncClient() as http:
        assert await deliver_due(world.pool, policy(), http) == 0

    # ...and once it runs out another worker does.
    receiver.default = "ok"
    rescuer = Worker(worker_env, tmp_path)
    workers.append(rescuer)
    await wait_until(lambda: all_final(world.pool, [delivery_id]), 20, "never redelivered")
    row_after = await delivery(world.pool, delivery_id)
    assert row_after["status"] == "SUCCEEDED"
    assert row_after["attempt_count"] == 2
    first, second = receiver.wait_for(2)
    assert first.headers["x-cairn-delivery"] == second.headers["x-cairn-delivery"]
    assert first.body == second.body
    assert datetime.fromtimestamp(second.at, UTC) >= row["lease_until"] - timedelta(seconds=0.05)
    attempts = await attempts_of(world.pool, delivery_id)
    assert attempts[-1]["status_code"] == 200
    assert rescuer.delivered() == [(delivery_id, 2, "SUCCEEDED")]
    assert rescuer.stop() == 0


async def test_a_change_committed_while_no_worker_runs_is_delivered_later(
    world: World,
    receiver: Receiver,
    worker_env: dict[str, str],
    tmp_path: Path,
    workers: list[Killable],
) -> None:
    automation = await create(
        world.member, automation_input(world, receiver, events=["ADD_ARTIFACT_ALIAS"])
    )
    version = await world.link("later")
    # The change goes through a server without a worker, which dies right after answering.
    server = Server(["--no-worker"], worker_env, tmp_path)
    workers.append(server)
    server.wait_healthy()
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{server.base_url}/graphql",
            json={
                "query": "mutation A($i: AliasesInput!) { addAliases(input: $i) "
                "{ errors { code } } }",
                "variables": {"i": {"versionId": version["id"], "aliases": ["production"]}},
            },
            headers={"Authorization": f"Bearer {world.member.key}"},
        )
    assert answer(response) == {"data": {"addAliases": {"errors": []}}}
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)

    # No worker ever took it (a claim counts an attempt), so nothing was sent.
    (queued,) = await deliveries_of(world.pool, automation["id"])
    assert (queued["status"], queued["attempt_count"], queued["lease_until"]) == (
        "PENDING",
        0,
        None,
    )
    assert await attempts_of(world.pool, queued["id"]) == []
    assert receiver.settled() == []

    worker = DeliveryWorker(world.pool, policy())
    worker.start()
    try:
        await wait_until(lambda: all_final(world.pool, [queued["id"]]), 10, "not delivered")
    finally:
        await worker.stop()
    (request,) = receiver.wait_for(1)
    assert request.headers["x-cairn-delivery"] == str(queued["id"])
    assert request.json()["alias"] == "production"
    assert (await delivery(world.pool, queued["id"]))["status"] == "SUCCEEDED"
