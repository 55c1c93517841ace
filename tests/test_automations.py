"""Automations over GraphQL: create, update, delete; scope and permissions; write-only secrets;
template, regex and destination validation; `testAutomation` against a real receiver; which
registry events queue deliveries (filters, disabled automations, collection and registry scope);
the outbox's transaction; secrets encrypted at rest with CAIRN_SECRET_KEY.

The webhook receiver is a real HTTP server on 127.0.0.1 (a thread), so the app under test runs
with a policy that allows 127.0.0.0/8; the default policy is checked to refuse it. Every test
builds a fresh organization, so registry-scoped automations see only that test's events.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from db import automations as automation_records
from db import history as history_rows
from resolvers import secrets
from resolvers.webhooks import WebhookPolicy
from server.app import create_app
from server.settings import Settings
from tests.support.app import app_client
from tests.support.automations import (
    World,
    api,
    automation_input,
    create,
    new_world,
)
from tests.support.graphql import Api
from tests.support.ids import gid, row_id
from tests.support.webhooks import (
    SIGNATURE_TOLERANCE_SECONDS,
    TEST_POLICY,
    Receiver,
    deliver_all,
    verify_signature,
)


@pytest.fixture(scope="module")
def app(pool: asyncpg.Pool) -> Any:
    """The app under test allows webhooks to loopback (where the test receiver listens)."""
    return create_app(Settings(webhook_policy=TEST_POLICY), pool=pool)


@pytest.fixture
async def world(pool: asyncpg.Pool, client: httpx.AsyncClient) -> AsyncIterator[World]:
    made = await new_world(pool, client)
    yield made
    # Automations outlive nothing: other test modules share the session database.
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM automations USING organizations o "
            "WHERE automations.organization_id = o.id AND o.name = $1",
            made.org,
        )


async def queued(pool: asyncpg.Pool, automation_id: str) -> list[tuple[str, Any]]:
    """(event type, decoded body) of an automation's deliveries, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_type::text AS event, body FROM deliveries WHERE automation_id = $1 "
            "ORDER BY id",
            row_id(automation_id),
        )
    return [(row["event"], json.loads(row["body"])) for row in rows]


REGISTRY_AUTOMATIONS = """
query A($o: String!) { registry(organization: $o, name: "model") {
  automations(first: 20) { totalCount nodes { id name enabled } } } }"""


async def registry_automation_names(api: Api, org: str) -> list[str]:
    data = await api.data(REGISTRY_AUTOMATIONS, o=org)
    return [node["name"] for node in data["registry"]["automations"]["nodes"]]


# --- create, update, delete ----------------------------------------------------------------------


AUTOMATION_HISTORY = """
query H($o: String!) { registry(organization: $o, name: "model") {
  history(first: 10, actions: [CREATE_AUTOMATION, UPDATE_AUTOMATION, DELETE_AUTOMATION]) {
    nodes { action actor { name } targetType before after } } } }"""


async def test_automation_changes_are_audited_without_their_secrets(
    world: World, receiver: Receiver
) -> None:
    secret = "audit-secret-" + "x" * 16
    fields = automation_input(world, receiver, name="Audited", secret=secret)
    created = await create(world.member, fields)
    await world.member.ok(
        "updateAutomation",
        automationId=created["id"],
        enabled=False,
        secret=secret + "-rotated",
    )
    await world.member.ok("deleteAutomation", automationId=created["id"])
    data = await world.member.data(AUTOMATION_HISTORY, o=world.org)
    events = data["registry"]["history"]["nodes"]
    assert [e["action"] for e in events] == [
        "DELETE_AUTOMATION",
        "UPDATE_AUTOMATION",
        "CREATE_AUTOMATION",
    ]
    assert {e["actor"]["name"] for e in events} == {world.member.name}
    assert {e["targetType"] for e in events} == {"Automation"}
    update = events[1]
    assert update["before"] == {"enabled": True}
    assert update["after"] == {"enabled": False, "changed": ["secret"]}
    text = json.dumps(data)
    assert secret not in text
    assert receiver.url not in text


async def test_create_update_and_delete(world: World, receiver: Receiver) -> None:
    fields = automation_input(
        world,
        receiver,
        name="Deploy on production",
        description="Tell CD to deploy",
        events=["ADD_ARTIFACT_ALIAS", "LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS"],
        filterRegex="production",
        payloadTemplate='{"path": "${artifact_version}", "alias": "${alias}"}',
        headers=[{"name": "X-Team", "value": "ml"}, {"name": "Authorization", "value": "tok"}],
    )
    created = await create(world.member, fields)
    assert created["name"] == "Deploy on production"
    assert created["description"] == "Tell CD to deploy"
    assert created["enabled"] is True
    assert created["events"] == ["ADD_ARTIFACT_ALIAS", "LINK_ARTIFACT"]  # duplicates dropped
    assert created["filterRegex"] == "production"
    assert created["webhookUrl"] == receiver.url
    assert created["headerNames"] == ["Authorization", "X-Team"]
    assert created["registry"] == {"id": world.model_registry, "name": "model"}
    assert created["collection"] is None
    assert created["createdBy"] == {"name": world.member.name}
    assert await registry_automation_names(world.member, world.org) == ["Deploy on production"]
    # Viewers do not see automations at all: URLs and deliveries may be sensitive.
    hidden = await world.viewer.client.post(REGISTRY_AUTOMATIONS, {"o": world.org})
    (error,) = hidden.json()["errors"]
    assert error["extensions"]["code"] == "PERMISSION_DENIED"
    assert hidden.json()["data"]["registry"]["automations"] is None

    # The registry's names are unique, case-insensitively.
    taken = await world.member2.refused(
        "createAutomation", **{**fields, "name": "deploy ON production"}
    )
    assert taken["code"] == "NAME_TAKEN"
    assert taken["field"] == ["input", "name"]

    # Rename, disable, change the filter and the action; omitted settings stay.
    updated = (
        await world.member.ok(
            "updateAutomation",
            automationId=created["id"],
            name="Deploy staging",
            enabled=False,
            filterRegex="staging",
            events=["ADD_ARTIFACT_ALIAS"],
            payloadTemplate='{"v": "${version}"}',
            webhookUrl=receiver.url + "?changed=1",
        )
    )["automation"]
    assert updated["id"] == created["id"]
    assert updated["name"] == "Deploy staging"
    assert updated["enabled"] is False
    assert updated["filterRegex"] == "staging"
    assert updated["events"] == ["ADD_ARTIFACT_ALIAS"]
    assert updated["payloadTemplate"] == '{"v": "${version}"}'
    assert updated["webhookUrl"] == receiver.url + "?changed=1"
    assert updated["description"] == "Tell CD to deploy"
    assert updated["headerNames"] == ["Authorization", "X-Team"]
    assert updated["updatedAt"] > created["updatedAt"]
    assert updated["createdAt"] == created["createdAt"]

    cleared = (
        await world.member.ok(
            "updateAutomation", automationId=created["id"], clearFilter=True, headers=[]
        )
    )["automation"]
    assert cleared["filterRegex"] is None
    assert cleared["headerNames"] == []
    assert cleared["name"] == "Deploy staging"

    deleted = await world.member.ok("deleteAutomation", automationId=created["id"])
    assert deleted["deletedAutomationId"] == created["id"]
    assert await registry_automation_names(world.admin, world.org) == []
    gone = await world.member.refused("updateAutomation", automationId=created["id"], name="x")
    assert gone["code"] == "NOT_FOUND"
    gone = await world.member.refused("deleteAutomation", automationId=created["id"])
    assert gone["code"] == "NOT_FOUND"


async def test_a_changed_action_is_used_from_then_on(world: World, receiver: Receiver) -> None:
    automation = await create(
        world.member,
        automation_input(
            world, receiver, secret="old-secret", payloadTemplate='{"old": "${version}"}'
        ),
    )
    await world.link("rotating")  # queued under the old settings
    await world.member.ok(
        "updateAutomation",
        automationId=automation["id"],
        secret="new-secret",
        payloadTemplate='{"new": "${version}"}',
        webhookUrl=receiver.url.replace("/hook", "/v2"),
        headers=[{"name": "X-Rotated", "value": "yes"}],
    )
    await world.link("rotating")
    assert await deliver_all(world.pool) == 2
    first, second = sorted(receiver.wait_for(2), key=lambda r: int(r.headers["x-cairn-delivery"]))
    # The body is rendered when the event happens; the request goes out, signed, as the
    # automation says when it is sent (a rotated secret takes effect at once).
    assert first.json() == {"old": "v0"}
    assert second.json() == {"new": "v1"}
    for request in (first, second):
        assert request.path == "/v2"
        assert request.headers["x-rotated"] == "yes"
        assert verify_signature("new-secret", request.headers, request.body)
        assert not verify_signature("old-secret", request.headers, request.body)


async def test_renaming_onto_a_taken_name_is_a_payload_error(
    world: World, receiver: Receiver
) -> None:
    first = await create(world.member, automation_input(world, receiver, name="first"))
    second = await create(world.member, automation_input(world, receiver, name="second"))
    error = await world.member.refused("updateAutomation", automationId=second["id"], name="FIRST")
    assert error["code"] == "NAME_TAKEN"
    assert error["field"] == ["input", "name"]
    assert sorted(await registry_automation_names(world.admin, world.org)) == ["first", "second"]
    assert first["name"] == "first"


async def test_required_settings_and_bad_input(world: World, receiver: Receiver) -> None:
    base = automation_input(world, receiver)
    cases: list[tuple[dict[str, Any], str, list[str] | None]] = [
        ({"events": []}, "INVALID_ARGUMENT", ["input", "events"]),
        ({"secret": ""}, "INVALID_ARGUMENT", ["input", "secret"]),
        ({"secret": "x" * 1025}, "INVALID_ARGUMENT", ["input", "secret"]),
        ({"name": ""}, "INVALID_NAME", ["input", "name"]),
        ({"filterRegex": "(unclosed"}, "INVALID_ARGUMENT", ["input", "filterRegex"]),
        ({"filterRegex": "a" * 513}, "INVALID_ARGUMENT", ["input", "filterRegex"]),
        ({"headers": [{"name": "X-Cairn-Signature", "value": "forged"}]}, "INVALID_ARGUMENT", None),
        (
            {"headers": [{"name": "Bad Header", "value": "v"}]},
            "INVALID_ARGUMENT",
            ["input", "headers"],
        ),
        (
            {"headers": [{"name": "X-Ok", "value": "caf\u00e9"}]},
            "INVALID_ARGUMENT",
            ["input", "headers"],
        ),
        (
            {"headers": [{"name": "X-Ok", "value": "a\rb"}]},
            "INVALID_ARGUMENT",
            ["input", "headers"],
        ),
        (
            {"headers": [{"name": "X-Ok", "value": "a\nb"}]},
            "INVALID_ARGUMENT",
            ["input", "headers"],
        ),
        (
            {"webhookUrl": receiver.url + "?" + "q" * 2100},
            "INVALID_ARGUMENT",
            ["input", "webhookUrl"],
        ),
        ({"collectionId": world.model_registry}, "INVALID_ID", None),
    ]
    for override, code, field_path in cases:
        error = await world.member.refused("createAutomation", **{**base, **override})
        assert error["code"] == code, (override, error)
        if field_path is not None:
            assert error["field"] == field_path, (override, error)
    regex = await world.member.refused("createAutomation", **{**base, "filterRegex": "(unclosed"})
    assert "regex" in regex["message"]
    both = await world.member.refused(
        "createAutomation", **{**base, "collectionId": await _a_collection(world)}
    )
    assert both["code"] == "INVALID_ARGUMENT"
    assert "exactly one" in both["message"]
    assert await registry_automation_names(world.admin, world.org) == []


async def _a_collection(world: World) -> str:
    await world.link("scratch")
    return await world.collection_id("scratch")


# --- permissions ---------------------------------------------------------------------------------


async def test_who_may_create_change_and_delete(world: World, receiver: Receiver) -> None:
    fields = automation_input(world, receiver, name="mine")
    for who in ("viewer", "plain"):
        error = await world.users[who].refused("createAutomation", **fields)
        assert error["code"] == "PERMISSION_DENIED", (who, error)
        assert "MEMBER" in error["message"]
    foreign = await world.outsider.refused("createAutomation", **fields)
    assert foreign["code"] == "NOT_FOUND"
    assert await registry_automation_names(world.admin, world.org) == []

    mine = await create(world.member, fields)
    # Another member may neither change, test, nor delete it; a registry admin may.
    for mutation, extra in (
        ("updateAutomation", {"name": "hijacked"}),
        ("testAutomation", {}),
        ("deleteAutomation", {}),
    ):
        denied = await world.member2.refused(mutation, automationId=mine["id"], **extra)
        assert denied["code"] == "PERMISSION_DENIED", (mutation, denied)
        assert "ADMIN" in denied["message"]
        hidden = await world.outsider.refused(mutation, automationId=mine["id"], **extra)
        assert hidden["code"] == "NOT_FOUND", (mutation, hidden)
    assert receiver.count() == 0
    assert await registry_automation_names(world.admin, world.org) == ["mine"]

    renamed = await world.admin.ok("updateAutomation", automationId=mine["id"], name="admin's")
    assert renamed["automation"]["name"] == "admin's"
    await world.admin.ok("deleteAutomation", automationId=mine["id"])
    assert await registry_automation_names(world.admin, world.org) == []

    # A member's own automation is theirs to change and delete.
    own = await create(world.member2, automation_input(world, receiver, name="own"))
    await world.member2.ok("updateAutomation", automationId=own["id"], enabled=False)
    await world.member2.ok("deleteAutomation", automationId=own["id"])


async def test_a_restricted_registry_answers_as_a_missing_one(
    world: World, receiver: Receiver
) -> None:
    created = await world.admin.ok(
        "createRegistry", organization=world.org, name="secret-models", visibility="RESTRICTED"
    )
    restricted = created["registry"]["id"]
    fields = automation_input(world, receiver, registryId=restricted)
    hidden = await world.member.refused("createAutomation", **fields)
    missing = await world.member.refused(
        "createAutomation", **{**fields, "registryId": _missing_registry_id(restricted)}
    )
    assert hidden == missing
    assert hidden["code"] == "NOT_FOUND"
    automation = await create(world.admin, fields)
    denied = await world.member.refused("deleteAutomation", automationId=automation["id"])
    assert denied["code"] == "NOT_FOUND"


def _missing_registry_id(existing: str) -> str:
    return gid("Registry", row_id(existing) + 10_000_000)


# --- secrets are write-only ----------------------------------------------------------------------

TYPE_FIELDS = """
query T($name: String!) { __type(name: $name) { fields { name args { name }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }"""


def _named(type_ref: dict[str, Any]) -> tuple[str, str]:
    while type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return type_ref["kind"], type_ref["name"]


async def every_field(api: Api, type_name: str, depth: int = 0) -> str:
    """A selection of every field of an automation-related type, introspected, so a field added
    later is queried too; other object types get `__typename`."""
    data = await api.data(TYPE_FIELDS, name=type_name)
    parts = []
    for found in data["__type"]["fields"]:
        kind, named = _named(found["type"])
        if kind in ("SCALAR", "ENUM"):
            parts.append(found["name"])
        elif named.startswith(("Automation", "Delivery")) and depth < 4:
            parts.append(f"{found['name']} {{ {await every_field(api, named, depth + 1)} }}")
        else:
            parts.append(f"{found['name']} {{ __typename }}")
    return " ".join(parts)


async def test_secret_and_header_values_are_never_readable(
    world: World, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "never-show-" + uuid.uuid4().hex
    header_value = "Bearer hdr-" + uuid.uuid4().hex
    version = await world.link("secrets")
    fields = automation_input(
        world,
        receiver,
        collectionId=await world.collection_id("secrets"),
        events=["ADD_ARTIFACT_ALIAS"],
        secret=secret,
        headers=[{"name": "Authorization", "value": header_value}],
    )
    del fields["registryId"]
    automation = await create(world.member, fields)
    await world.member.ok("addAliases", versionId=version["id"], aliases=["candidate"])
    await deliver_all(world.pool)
    tested = await world.member.ok("testAutomation", automationId=automation["id"])
    assert tested["statusCode"] == 200
    # The receiver got both the secret's signature and the header value...
    requests = receiver.wait_for(2)
    assert {r.headers["authorization"] for r in requests} == {header_value}
    assert all(verify_signature(secret, r.headers, r.body) for r in requests)

    # ...but no field of any automation-related type gives either back, to anyone.
    selection = await every_field(world.member, "Automation")
    assert "headerNames" in selection
    assert "deliveries" in selection
    assert "attempts" in selection
    query = f"""query Q($o: String!) {{ registry(organization: $o, name: "model") {{
        automations(first: 5) {{ nodes {{ {selection} }} }}
        collection(name: "secrets") {{ automations(first: 5) {{ nodes {{ {selection} }} }} }}
    }} }}"""
    for who in ("member", "admin"):
        data = await world.users[who].data(query, o=world.org)
        text = json.dumps(data)
        assert secret not in text, who
        assert header_value not in text
        assert "hdr-" not in text
        nodes = data["registry"]["automations"]["nodes"]
        assert len(nodes) == 1
        assert nodes[0]["headerNames"] == ["Authorization"]
        assert nodes[0]["deliveries"]["totalCount"] == 1
        assert data["registry"]["collection"]["automations"]["nodes"][0]["id"] == automation["id"]
    # The input types take the secret; no output type has a field for it.
    for type_name in ("Automation", "Delivery", "DeliveryAttempt"):
        names = {
            f["name"]
            for f in (await world.member.data(TYPE_FIELDS, name=type_name))["__type"]["fields"]
        }
        assert not names & {"secret", "headers", "headerValues"}, type_name

    # A refused change that repeats the secret does not echo it either.
    refused = await world.member.payload(
        "updateAutomation", automationId=automation["id"], secret=secret, webhookUrl="ftp://x"
    )
    assert secret not in json.dumps(refused)
    # Nothing logged it along the way.
    assert secret not in caplog.text
    assert header_value not in caplog.text


# --- payload templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ('{"a": "${nope}"}', "${nope}"),
        ('{"a": "x ${alias} ${versionIndex}"}', "${versionIndex}"),
        ('{"${bogus}": 1}', "${bogus}"),
        ('{"a": "${event-type}"}', "${event-type}"),
        ('{"a": "${ alias }"}', "${ alias }"),
    ],
)
async def test_a_template_naming_an_unknown_variable_is_refused(
    world: World, receiver: Receiver, template: str, named: str
) -> None:
    fields = automation_input(world, receiver, payloadTemplate=template)
    error = await world.member.refused("createAutomation", **fields)
    assert error["code"] == "INVALID_TEMPLATE"
    assert error["field"] == ["input", "payloadTemplate"]
    assert named in error["message"]
    assert await registry_automation_names(world.admin, world.org) == []


async def test_a_template_that_is_not_json_is_refused(world: World, receiver: Receiver) -> None:
    for template, hint in (
        ('{"a": ${version_index}}', '"${version_index}"'),
        ("not json", "not valid JSON"),
        ('{"a": "${alias}",}', "not valid JSON"),
    ):
        fields = automation_input(world, receiver, payloadTemplate=template)
        error = await world.member.refused("createAutomation", **fields)
        assert error["code"] == "INVALID_TEMPLATE", template
        assert "not valid JSON" in error["message"]
        assert hint in error["message"]
    good = await create(world.member, automation_input(world, receiver))
    bad = await world.member.refused(
        "updateAutomation", automationId=good["id"], payloadTemplate='{"x": "${nope}"}'
    )
    assert bad["code"] == "INVALID_TEMPLATE"
    assert "${nope}" in bad["message"]
    (node,) = (
        await world.admin.data(
            """query A($o: String!) { registry(organization: $o, name: "model") {
            automations(first: 1) { nodes { payloadTemplate } } } }""",
            o=world.org,
        )
    )["registry"]["automations"]["nodes"]
    assert node["payloadTemplate"] == good["payloadTemplate"]
    assert "${event_type}" in node["payloadTemplate"]  # the default names every variable


async def test_a_template_with_variables_as_keys_does_not_break_registry_changes(
    world: World, receiver: Receiver
) -> None:
    """Object keys are strings in JSON: a template whose key is a variable with a null, number
    or object value must not make the registry's own mutations fail."""
    templates = ['{"${alias}": 1}', '{"${version_index}": "v"}', '{"${metadata}": 1}']
    made = []
    for template in templates:
        fields = automation_input(world, receiver, payloadTemplate=template)
        created = await world.member.payload("createAutomation", **fields)
        if created["errors"]:
            assert created["errors"][0]["code"] == "INVALID_TEMPLATE"
        else:
            made.append(created["automation"])
    # Whatever was accepted at save time must render for every event.
    version = await world.link("keys")
    assert version["versionIndex"] == 0
    for automation in made:
        bodies = [body for _, body in await queued(world.pool, automation["id"])]
        assert len(bodies) == 1, automation
        assert all(isinstance(key, str) for key in bodies[0])


# --- destinations --------------------------------------------------------------------------------


@pytest.fixture
async def strict_client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The same API with the default webhook policy: no private destinations."""
    async with app_client(pool, Settings(webhook_policy=WebhookPolicy())) as http:
        yield http


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1"),
        ("http://localhost:8080/hook", None),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]:8080/hook", "::1"),
        ("http://192.168.0.10/", "192.168.0.10"),
        ("http://172.16.5.4/", "172.16.5.4"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://0.0.0.0:8000/", "0.0.0.0"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://[fe80::1]/", "fe80::1"),
    ],
)
async def test_private_destinations_are_blocked_by_default(
    world: World, receiver: Receiver, strict_client: httpx.AsyncClient, url: str, address: str
) -> None:
    strict = api(strict_client, world.member.key, world.member.name)
    fields = automation_input(world, receiver, webhookUrl=url)
    error = await strict.refused("createAutomation", **fields)
    assert error["code"] == "BLOCKED_DESTINATION", (url, error)
    assert error["field"] == ["input", "webhookUrl"]
    assert "loopback, link-local or private" in error["message"]
    assert "CAIRN_WEBHOOK_ALLOWED_NETWORKS" in error["message"]
    if address is not None:
        assert address in error["message"]

    # Changing an existing automation's URL to one is blocked the same way.
    made = await create(world.member, automation_input(world, receiver))
    changed = await strict.refused("updateAutomation", automationId=made["id"], webhookUrl=url)
    assert changed["code"] == "BLOCKED_DESTINATION"
    assert await registry_automation_names(world.admin, world.org) == [made["name"]]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "http:///no-host",
        "http://127.0.0.1:9/hook\n",
        "127.0.0.1:8080/hook",
        "",
    ],
)
async def test_only_http_and_https_urls_are_accepted(
    world: World, receiver: Receiver, url: str
) -> None:
    error = await world.member.refused(
        "createAutomation", **automation_input(world, receiver, webhookUrl=url)
    )
    assert error["code"] == "INVALID_ARGUMENT", (url, error)
    assert error["field"] == ["input", "webhookUrl"]
    assert "http:// or https://" in error["message"]


async def test_a_saved_loopback_destination_is_not_called_under_the_default_policy(
    world: World, receiver: Receiver, strict_client: httpx.AsyncClient
) -> None:
    automation = await create(world.member, automation_input(world, receiver))
    strict = api(strict_client, world.member.key, world.member.name)
    tested = await strict.ok("testAutomation", automationId=automation["id"])
    assert tested["statusCode"] is None
    assert "loopback, link-local or private" in tested["error"]
    # The mutation answers once its attempt is over: a request it made would already be at the
    # receiver (`settled` sees even one not yet accepted), and it queues nothing for later.
    assert receiver.settled() == []
    assert await queued(world.pool, automation["id"]) == []


# --- testAutomation ------------------------------------------------------------------------------


async def test_test_automation_sends_a_signed_sample_now(world: World, receiver: Receiver) -> None:
    secret = "test-secret-" + uuid.uuid4().hex
    automation = await create(
        world.member,
        automation_input(
            world,
            receiver,
            secret=secret,
            headers=[{"name": "X-Team", "value": "ml-platform"}],
            payloadTemplate='{"path": "${artifact_version}", "index": "${version_index}", '
            '"alias": "${alias}", "meta": "${metadata}", "text": "to ${collection}"}',
        ),
    )
    tested = await world.member.ok("testAutomation", automationId=automation["id"])
    assert tested["statusCode"] == 200
    assert tested["responseExcerpt"] == '{"received": true}'
    assert tested["error"] is None
    assert 0 <= tested["latencyMs"] < 5000
    (request,) = receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["x-cairn-event"] == "TEST"
    assert "x-cairn-delivery" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "ml-platform"
    assert verify_signature(secret, request.headers, request.body)
    assert not verify_signature("wrong-" + secret, request.headers, request.body)
    assert not verify_signature(secret, request.headers, request.body + b" ")
    assert not verify_signature(
        secret, request.headers, request.body, now=time.time() + SIGNATURE_TOLERANCE_SECONDS + 5
    )
    body = request.json()
    assert body["index"] == 0
    assert body["alias"] == "production"
    assert isinstance(body["meta"], dict)
    assert body["path"].endswith(":v0")
    assert body["text"].startswith("to ")

    # The receiver's answer comes back as it is, refusals included; nothing is queued.
    receiver.script("500")
    failed = await world.member.ok("testAutomation", automationId=automation["id"])
    assert failed["statusCode"] == 500
    assert failed["responseExcerpt"] == "internal trouble"
    receiver.script("long")
    long = await world.member.ok("testAutomation", automationId=automation["id"])
    assert long["responseExcerpt"] == Receiver.LONG_BODY[:1024]
    assert await queued(world.pool, automation["id"]) == []
    assert receiver.count() == 3


async def test_test_automation_reports_an_unreachable_receiver(
    world: World, receiver: Receiver
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    automation = await create(
        world.member,
        automation_input(world, receiver, webhookUrl=f"http://127.0.0.1:{closed_port}/hook"),
    )
    tested = await world.member.ok("testAutomation", automationId=automation["id"])
    assert tested["statusCode"] is None
    assert tested["responseExcerpt"] is None
    assert "ConnectError" in tested["error"]


# --- which events queue deliveries ---------------------------------------------------------------


async def test_alias_filter_must_match_the_whole_alias(world: World, receiver: Receiver) -> None:
    version = await world.link("filtered")
    automation = await create(
        world.member,
        automation_input(
            world,
            receiver,
            events=["ADD_ARTIFACT_ALIAS", "REMOVE_ARTIFACT_ALIAS"],
            filterRegex="production",
            payloadTemplate='{"alias": "${alias}", "event": "${event_type}"}',
        ),
    )
    for alias in ("production-eu", "preproduction", "staging", "production", "Production"):
        await world.member.ok("addAliases", versionId=version["id"], aliases=[alias])
    await world.member.ok("removeAliases", versionId=version["id"], aliases=["production"])
    await world.member.ok("removeAliases", versionId=version["id"], aliases=["production-eu"])
    # Not among its events: linking, tagging.
    await world.link("filtered", aliases=("production-us",))
    await world.member.ok("addTags", id=version["id"], tags=["production"])
    assert await queued(world.pool, automation["id"]) == [
        ("ADD_ARTIFACT_ALIAS", {"alias": "production", "event": "ADD_ARTIFACT_ALIAS"}),
        ("REMOVE_ARTIFACT_ALIAS", {"alias": "production", "event": "REMOVE_ARTIFACT_ALIAS"}),
    ]


async def test_a_filter_runs_in_linear_time_whatever_its_pattern(
    world: World, receiver: Receiver
) -> None:
    """`(a+)+b` takes a backtracking engine exponential time on `aaa…c`: matched against a long
    alias on every event, it froze the server. Filters run on RE2, which cannot backtrack, and
    refuse what RE2 cannot run."""
    version = await world.link("linear")
    automation = await create(
        world.member,
        automation_input(
            world,
            receiver,
            events=["ADD_ARTIFACT_ALIAS"],
            filterRegex="(a+)+b",
            payloadTemplate='{"alias": "${alias}"}',
        ),
    )
    slow_for_backtracking = "a" * 127 + "c"  # the longest alias there is
    await world.member.ok("addAliases", versionId=version["id"], aliases=[slow_for_backtracking])
    await world.member.ok("addAliases", versionId=version["id"], aliases=["aaab"])
    assert await queued(world.pool, automation["id"]) == [("ADD_ARTIFACT_ALIAS", {"alias": "aaab"})]
    for pattern, reason in ((r"(a)\1", "backreferences"), ("(?=a)a", "lookaround")):
        refused = await world.member.refused(
            "createAutomation", **automation_input(world, receiver, filterRegex=pattern)
        )
        assert refused["code"] == "INVALID_ARGUMENT", pattern
        assert refused["field"] == ["input", "filterRegex"]
        assert "RE2" in refused["message"], refused
        assert reason in refused["message"], refused
    # A NUL character is refused before anything runs, for this field as for every other.
    nul = await world.member.client.post(
        world.member.document("createAutomation"),
        {"input": automation_input(world, receiver, filterRegex="prod\x00")},
    )
    (error,) = nul.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("`$input.filterRegex` holds a NUL character")


async def test_tag_filter_and_event_types(world: World, receiver: Receiver) -> None:
    version = await world.link("tagged")
    collection = await world.collection_id("tagged")
    tags = await create(
        world.member,
        automation_input(
            world,
            receiver,
            events=["ADD_TAG"],
            filterRegex=r"release-\d+",
            payloadTemplate='{"tag": "${tag}", "version": "${version}"}',
        ),
    )
    everything = await create(
        world.member,
        automation_input(
            world,
            receiver,
            events=[
                "LINK_ARTIFACT",
                "UNLINK_ARTIFACT",
                "ADD_ARTIFACT_ALIAS",
                "REMOVE_ARTIFACT_ALIAS",
                "ADD_TAG",
                "CREATE_ARTIFACT",
            ],
            payloadTemplate='{"e": "${event_type}", "c": "${collection}", "v": "${version}", '
            '"a": "${alias}", "t": "${tag}", "by": "${event_author}"}',
        ),
    )
    await world.member.ok("addTags", id=version["id"], tags=["release-12x", "release-12"])
    await world.member.ok("addTags", id=collection, tags=["release-7"])
    second = await world.link("tagged", aliases=("best",))
    await world.member.ok("removeAliases", versionId=second["id"], aliases=["best"])
    await world.member.ok("unlinkArtifact", versionId=version["id"])
    await world.member.ok(
        "createCollection", registryId=world.model_registry, name="fresh", type="model"
    )

    assert await queued(world.pool, tags["id"]) == [
        ("ADD_TAG", {"tag": "release-12", "version": "v0"}),
        ("ADD_TAG", {"tag": "release-7", "version": None}),
    ]
    by = world.member.name
    assert [body for _, body in await queued(world.pool, everything["id"])] == [
        {"e": "ADD_TAG", "c": "tagged", "v": "v0", "a": None, "t": "release-12x", "by": by},
        {"e": "ADD_TAG", "c": "tagged", "v": "v0", "a": None, "t": "release-12", "by": by},
        {"e": "ADD_TAG", "c": "tagged", "v": None, "a": None, "t": "release-7", "by": by},
        {"e": "LINK_ARTIFACT", "c": "tagged", "v": "v1", "a": None, "t": None, "by": by},
        {"e": "ADD_ARTIFACT_ALIAS", "c": "tagged", "v": "v1", "a": "best", "t": None, "by": by},
        {"e": "REMOVE_ARTIFACT_ALIAS", "c": "tagged", "v": "v1", "a": "best", "t": None, "by": by},
        {"e": "UNLINK_ARTIFACT", "c": "tagged", "v": "v0", "a": None, "t": None, "by": by},
        {"e": "CREATE_ARTIFACT", "c": "fresh", "v": None, "a": None, "t": None, "by": by},
    ]


async def test_disabled_automations_queue_nothing(world: World, receiver: Receiver) -> None:
    off = await create(world.member, automation_input(world, receiver, enabled=False))
    assert off["enabled"] is False
    await world.link("quiet")
    assert await queued(world.pool, off["id"]) == []
    await world.member.ok("updateAutomation", automationId=off["id"], enabled=True)
    await world.link("quiet")
    assert [event for event, _ in await queued(world.pool, off["id"])] == ["LINK_ARTIFACT"]
    await world.member.ok("updateAutomation", automationId=off["id"], enabled=False)
    await world.link("quiet")
    assert len(await queued(world.pool, off["id"])) == 1


async def test_collection_scope_and_registry_scope(world: World, receiver: Receiver) -> None:
    await world.link("watched")
    watched = await world.collection_id("watched")
    await world.link("other")
    events = ["LINK_ARTIFACT", "CREATE_ARTIFACT"]
    template = '{"e": "${event_type}", "c": "${collection}"}'
    fields = automation_input(
        world, receiver, collectionId=watched, events=events, payloadTemplate=template
    )
    del fields["registryId"]
    scoped = await create(world.member, fields)
    assert scoped["collection"] == {"id": watched, "name": "watched"}
    assert scoped["registry"]["id"] == world.model_registry
    whole = await create(
        world.member, automation_input(world, receiver, events=events, payloadTemplate=template)
    )

    await world.link("watched")
    await world.link("other")
    await world.link("born-later")  # created by the link, after the automations
    await world.member.ok(
        "createCollection", registryId=world.model_registry, name="made-later", type="model"
    )

    assert await queued(world.pool, scoped["id"]) == [
        ("LINK_ARTIFACT", {"e": "LINK_ARTIFACT", "c": "watched"})
    ]
    assert await queued(world.pool, whole["id"]) == [
        ("LINK_ARTIFACT", {"e": "LINK_ARTIFACT", "c": "watched"}),
        ("LINK_ARTIFACT", {"e": "LINK_ARTIFACT", "c": "other"}),
        ("CREATE_ARTIFACT", {"e": "CREATE_ARTIFACT", "c": "born-later"}),
        ("LINK_ARTIFACT", {"e": "LINK_ARTIFACT", "c": "born-later"}),
        ("CREATE_ARTIFACT", {"e": "CREATE_ARTIFACT", "c": "made-later"}),
    ]
    data = await world.member.data(
        """query C($o: String!) { registry(organization: $o, name: "model") {
            automations(first: 10) { totalCount }
            watched: collection(name: "watched") { automations(first: 10) { nodes { id } } }
            other: collection(name: "other") { automations(first: 10) { totalCount } } } }""",
        o=world.org,
    )
    assert data["registry"]["automations"]["totalCount"] == 2
    assert data["registry"]["watched"]["automations"]["nodes"] == [{"id": scoped["id"]}]
    assert data["registry"]["other"]["automations"]["totalCount"] == 0

    # Another organization's registry events never reach these automations.
    elsewhere = await new_world(world.pool, world.http)
    await elsewhere.link("watched")
    assert len(await queued(world.pool, whole["id"])) == 5


async def test_another_registry_of_the_org_is_not_watched(world: World, receiver: Receiver) -> None:
    automation = await create(
        world.admin,
        automation_input(world, receiver, events=["CREATE_ARTIFACT", "LINK_ARTIFACT"]),
    )
    created = await world.admin.ok("createRegistry", organization=world.org, name="extra")
    await world.admin.ok(
        "createCollection", registryId=created["registry"]["id"], name="c", type="model"
    )
    assert await queued(world.pool, automation["id"]) == []


# --- the outbox's transaction --------------------------------------------------------------------


async def test_a_mutation_that_fails_after_queueing_queues_nothing(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = await world.link("atomic")
    automation = await create(
        world.member,
        automation_input(world, receiver, events=["ADD_ARTIFACT_ALIAS", "LINK_ARTIFACT"]),
    )
    real_insert = automation_records.insert_deliveries
    calls = []

    async def insert_then_fail(*args: Any, **kwargs: Any) -> None:
        await real_insert(*args, **kwargs)
        calls.append(args[2])
        raise RuntimeError("the database went away after queueing")

    monkeypatch.setattr(automation_records, "insert_deliveries", insert_then_fail)
    failed = await world.member.client.post(
        world.member.document("addAliases"),
        {"input": {"versionId": version["id"], "aliases": ["x"]}},
    )
    body = failed.json()
    assert body["errors"], body
    assert "went away" not in failed.text
    assert calls == ["ADD_ARTIFACT_ALIAS"]  # it did queue, inside the transaction
    monkeypatch.undo()

    # A later step of the same mutation failing rolls back what an earlier step queued: the
    # link is queued, then giving its alias fails.
    real_audit = history_rows.insert_audit_event

    async def audit_fails_on_alias(conn: Any, **event: Any) -> None:
        if event["action"] == "ADD_ARTIFACT_ALIAS":
            raise RuntimeError("audit failed")
        await real_audit(conn, **event)

    monkeypatch.setattr(history_rows, "insert_audit_event", audit_fails_on_alias)
    logged = await world.log_model()
    failed = await world.member.client.post(
        world.member.document("linkArtifact"),
        {
            "input": {
                "versionId": logged["id"],
                "targetPath": f"{world.org}/wandb-registry-model/atomic",
                "aliases": ["y"],
            }
        },
    )
    assert failed.json()["errors"]
    monkeypatch.undo()

    assert await queued(world.pool, automation["id"]) == []
    versions = await world.admin.data(
        """query V($o: String!) { registry(organization: $o, name: "model") {
            collection(name: "atomic") { versions(first: 10) { nodes { aliases } } } } }""",
        o=world.org,
    )
    nodes = versions["registry"]["collection"]["versions"]["nodes"]
    assert len(nodes) == 1
    assert "x" not in nodes[0]["aliases"]
    # The same mutation, working again, queues as usual.
    await world.member.ok("addAliases", versionId=version["id"], aliases=["x"])
    assert [e for e, _ in await queued(world.pool, automation["id"])] == ["ADD_ARTIFACT_ALIAS"]
    assert receiver.count() == 0


async def test_deleting_an_automation_deletes_its_queue(world: World, receiver: Receiver) -> None:
    automation = await create(world.member, automation_input(world, receiver))
    await world.link("gone")
    assert len(await queued(world.pool, automation["id"])) == 1
    await world.member.ok("deleteAutomation", automationId=automation["id"])
    assert await queued(world.pool, automation["id"]) == []
    assert await deliver_all(world.pool) == 0
    assert receiver.count() == 0


# --- secrets at rest -----------------------------------------------------------------------------


async def test_with_a_secret_key_secrets_are_encrypted_and_still_sign(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(secrets.SECRET_KEY_ENV, secrets.new_key())
    secret = "at-rest-" + uuid.uuid4().hex
    header_value = "hdr-at-rest-" + uuid.uuid4().hex
    automation = await create(
        world.member,
        automation_input(
            world,
            receiver,
            secret=secret,
            headers=[{"name": "X-Api-Key", "value": header_value}],
            payloadTemplate='{"v": "${version}"}',
        ),
    )
    assert automation["headerNames"] == ["X-Api-Key"]
    async with world.pool.acquire() as conn:
        raw = await conn.fetchrow(
            "SELECT secret, headers FROM automations WHERE id = $1", row_id(automation["id"])
        )
        dump = await conn.fetchval(
            "SELECT row_to_json(a)::text FROM automations AS a WHERE id = $1",
            row_id(automation["id"]),
        )
    assert raw is not None
    assert secret.encode() not in raw["secret"]
    assert header_value.encode() not in raw["headers"]
    assert not raw["secret"].startswith(b"plain:")
    assert secret not in dump
    assert secret.encode().hex() not in dump

    await world.link("encrypted")
    assert await deliver_all(world.pool) == 1
    (request,) = receiver.wait_for(1)
    assert verify_signature(secret, request.headers, request.body)
    assert request.headers["x-api-key"] == header_value
    assert request.json() == {"v": "v0"}

    # Without the key the stored secret cannot be read: the delivery fails (once, with a reason)
    # rather than going out unsigned, and header names are simply not shown.
    monkeypatch.delenv(secrets.SECRET_KEY_ENV)
    await world.link("encrypted")
    assert await deliver_all(world.pool) == 1
    assert receiver.count() == 1
    async with world.pool.acquire() as conn:
        last = await conn.fetchrow(
            "SELECT d.status::text AS status, t.error FROM deliveries d "
            "JOIN delivery_attempts t ON t.delivery_id = d.id "
            "WHERE d.automation_id = $1 ORDER BY d.id DESC LIMIT 1",
            row_id(automation["id"]),
        )
    assert last is not None
    assert last["status"] == "FAILED"
    assert "CAIRN_SECRET_KEY" in last["error"]
    names = await world.member.data(
        """query A($o: String!) { registry(organization: $o, name: "model") {
            automations(first: 1) { nodes { headerNames } } } }""",
        o=world.org,
    )
    assert names["registry"]["automations"]["nodes"] == [{"headerNames": []}]
