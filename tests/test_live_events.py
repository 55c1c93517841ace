"""Live registry events across processes: two real `cairn serve --no-worker` processes on one
fresh database; a graphql-transport-ws subscription on one of them receives the changes made
through the other's HTTP API (LISTEN/NOTIFY), filtered by registry, collection and by what the
subscriber may see; bad keys are refused at connection_init; rolled-back changes announce nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.typing import Subprotocol

from schema.nodes import global_id
from tests.support.databases import new_database
from tests.support.processes import Server, cairn, cairn_env, the_key

PROTOCOL = Subprotocol("graphql-transport-ws")
EVENTS = """
subscription Events($registry: ID!, $collection: ID) {
  registryEvents(registry: $registry, collection: $collection) {
    type alias tag at
    registry { id name }
    collection { id name }
    artifactVersion { id path version }
    actor { name }
  }
}"""
WAIT = 8.0


# --- two servers on one fresh database -----------------------------------------------------------


@dataclass
class Cluster:
    database_url: str
    a: Server
    b: Server
    keys: dict[str, str]
    ids: dict[str, str]


def _start(env: dict[str, str], log_dir: Path) -> Cluster:
    migrated = cairn("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    demo = cairn("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    keys = {
        user: the_key(cairn("keys", "create", "--user", user, "--org", "acme", env=env))
        for user in ("ada", "bob", "cy")
    }
    a = Server(["--no-worker"], env, log_dir)
    b = Server(["--no-worker"], env, log_dir)
    return Cluster(database_url=env["DATABASE_URL"], a=a, b=b, keys=keys, ids={})


IDS = """{
  model: registry(organization: "acme", name: "model") {
    id
    churn: collection(name: "churn-classifier") { id }
    defect: collection(name: "defect-detector") { id }
  }
  reports: registry(organization: "acme", name: "eval-reports") {
    id evals: collection(name: "churn-evals") { id }
  }
}"""


@pytest.fixture(scope="module")
async def cluster(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async with new_database(server_url) as url:
        env = cairn_env(tmp_path_factory.mktemp("xdg-live"), DATABASE_URL=url)
        started: Cluster | None = None
        try:
            started = _start(env, tmp_path_factory.mktemp("live-logs"))
            started.a.wait_healthy()
            started.b.wait_healthy()
            data = await graphql(started.a, started.keys["ada"], IDS)
            started.ids = {
                "model": data["model"]["id"],
                "churn": data["model"]["churn"]["id"],
                "defect": data["model"]["defect"]["id"],
                "reports": data["reports"]["id"],
                "evals": data["reports"]["evals"]["id"],
            }
            yield started
            for server in (started.a, started.b):
                assert server.stop() == 0, server.output
                assert "Traceback" not in server.output
        finally:
            if started is not None:
                started.a.kill()
                started.b.kill()


async def graphql(server: Server, key: str, query: str, **variables: Any) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{server.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


ALIASES = """mutation M($input: AliasesInput!) {
  add: addAliases(input: $input) { artifactVersion { path aliases } errors { code message } } }"""
REMOVE_ALIASES = """mutation M($input: AliasesInput!) {
  remove: removeAliases(input: $input) { artifactVersion { aliases } errors { code message } } }"""
TAGS = """mutation M($input: TagsInput!) { addTags(input: $input) { errors { code } } }"""
LINK = """mutation M($input: LinkArtifactInput!) {
  linkArtifact(input: $input) { artifactVersion { path } errors { code message } } }"""


async def add_aliases(server: Server, key: str, path: str, *aliases: str) -> dict[str, Any]:
    data = await graphql(server, key, ALIASES, input={"path": path, "aliases": list(aliases)})
    payload: dict[str, Any] = data["add"]
    assert payload["errors"] == [], payload
    return payload


_probes = itertools.count()

# A harmless change in a subscription's scope: `probe(tag)` tags a collection in it.
Probe = Callable[[str], Awaitable[None]]


# --- a graphql-transport-ws client ---------------------------------------------------------------


class Subscription:
    """One subscription on one WebSocket; `event()` skips readiness probes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def message(self, within: float = WAIT) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), within)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def event(self, within: float = WAIT) -> dict[str, Any]:
        while True:
            message = await self.message(within)
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            event: dict[str, Any] = message["payload"]["data"]["registryEvents"]
            if not (event["tag"] or "").startswith("probe-"):
                return event

    async def ready(self, probe: Probe) -> None:
        """Waits until the server is listening for this subscription: makes harmless changes
        until one comes back. A probe that comes back late is skipped here or by `event()`."""
        for _ in range(40):
            tag = f"probe-{next(_probes)}"
            await probe(tag)
            with contextlib.suppress(TimeoutError):
                while True:
                    message = await self.message(within=0.25)
                    assert message["type"] == "next", message
                    event = message["payload"]["data"]["registryEvents"]
                    if event["tag"] == tag:
                        return
        raise AssertionError("the subscription never started")


async def nothing_pending(probe: Probe, *subscriptions: Subscription) -> None:
    """No event is on its way to any of `subscriptions`: one more harmless change in their scope
    is the very next event each of them receives. Events reach a subscriber in the order their
    transactions committed, so anything announced before the change would come first."""
    tag = f"marker-{next(_probes)}"
    await probe(tag)
    for subscription in subscriptions:
        event = await subscription.event()
        assert event["tag"] == tag, f"unexpected event {event}"


@contextlib.asynccontextmanager
async def websocket(server: Server, init: dict[str, Any] | None) -> AsyncIterator[ClientConnection]:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], open_timeout=10) as ws:
        assert ws.subprotocol == PROTOCOL
        message: dict[str, Any] = {"type": "connection_init"}
        if init is not None:
            message["payload"] = init
        await ws.send(json.dumps(message))
        yield ws


@contextlib.asynccontextmanager
async def subscribe(
    server: Server, key: str, registry: str, collection: str | None = None
) -> AsyncIterator[Subscription]:
    async with websocket(server, {"Authorization": f"Bearer {key}"}) as ws:
        ack = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": EVENTS,
                        "variables": {"registry": registry, "collection": collection},
                    },
                }
            )
        )
        yield Subscription(ws)


def tagger(server: Server, key: str, collection_id: str) -> Probe:
    async def probe(tag: str) -> None:
        data = await graphql(server, key, TAGS, input={"id": collection_id, "tags": [tag]})
        assert data["addTags"]["errors"] == [], data

    return probe


def assert_recent(moment: str) -> None:
    at = datetime.fromisoformat(moment)
    assert datetime.now(UTC) - timedelta(seconds=60) <= at <= datetime.now(UTC)


# --- holding back a subscription's access check ----------------------------------------------

# The table a user's registry roles are read from; an org ADMIN's changes never read it.
ROLES = "registry_user_roles"
WAITING_FOR = """SELECT count(*) FROM pg_locks
WHERE relation = to_regclass($1) AND NOT granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


class HeldTable:
    """A table locked by a connection of the test's own; sessions that read it wait."""

    def __init__(self, conn: asyncpg.Connection, table: str) -> None:
        self.conn = conn
        self.table = table

    async def waiting(self, count: int, within: float = WAIT) -> None:
        """Until `count` sessions wait for the table."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while await self.conn.fetchval(WAITING_FOR, self.table) < count:
            assert loop.time() < deadline, f"fewer than {count} waiting for {self.table}"
            await asyncio.sleep(0.01)

    async def read_by_another(self) -> None:
        """Until another session (a server) waits to read the table."""
        await self.waiting(1)


@contextlib.asynccontextmanager
async def held(database_url: str, table: str) -> AsyncIterator[HeldTable]:
    """Locks `table` against every reader, so that a server's next read of it waits; on leaving,
    lets the waiting reader go and returns once its statement is over. (A second lock is queued
    behind the waiting reader before the first is released, and granted only after it.)"""
    holder = await asyncpg.connect(database_url)
    follower = await asyncpg.connect(database_url)
    try:
        holding = holder.transaction()
        await holding.start()
        await holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        lock = HeldTable(holder, table)
        yield lock
        following = follower.transaction()
        await following.start()
        queued = asyncio.create_task(
            follower.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        )
        await lock.waiting(2)
        await holding.rollback()
        await asyncio.wait_for(queued, WAIT)
        await following.rollback()
    finally:
        await holder.close()
        await follower.close()


# --- tests ---------------------------------------------------------------------------------------


async def test_a_change_through_one_process_reaches_subscribers_on_both(
    cluster: Cluster,
) -> None:
    ada, bob = cluster.keys["ada"], cluster.keys["bob"]
    model = cluster.ids["model"]
    async with (
        subscribe(cluster.a, ada, model) as on_a,
        subscribe(cluster.b, ada, model) as on_b,
    ):
        await on_a.ready(tagger(cluster.b, bob, cluster.ids["churn"]))
        await on_b.ready(tagger(cluster.a, bob, cluster.ids["churn"]))

        path = "acme/wandb-registry-model/churn-classifier:v9"
        await add_aliases(cluster.b, bob, path, "canary")
        for subscriber in (on_a, on_b):
            event = await subscriber.event()
            assert_recent(event.pop("at"))
            assert event == {
                "type": "ADD_ARTIFACT_ALIAS",
                "alias": "canary",
                "tag": None,
                "registry": {"id": model, "name": "model"},
                "collection": {"id": cluster.ids["churn"], "name": "churn-classifier"},
                "artifactVersion": {
                    "id": event["artifactVersion"]["id"],
                    "path": path,
                    "version": "v9",
                },
                "actor": {"name": "bob"},
            }

        # A link into a collection that does not exist yet: the collection appears, then the
        # version is linked into it.
        name = f"live-{uuid.uuid4().hex[:6]}"
        data = await graphql(
            cluster.b,
            bob,
            LINK,
            input={
                "sourcePath": "acme/churn/churn-model:v2",
                "targetPath": f"wandb-registry-model/{name}",
            },
        )
        assert data["linkArtifact"]["errors"] == []
        linked = f"acme/wandb-registry-model/{name}:v0"
        assert data["linkArtifact"]["artifactVersion"]["path"] == linked
        for subscriber in (on_a, on_b):
            created = await subscriber.event()
            assert created["type"] == "CREATE_ARTIFACT"
            assert created["collection"]["name"] == name
            assert created["artifactVersion"] is None
            assert created["actor"] == {"name": "bob"}
            link = await subscriber.event()
            assert link["type"] == "LINK_ARTIFACT"
            assert link["alias"] is None
            assert link["collection"] == created["collection"]
            assert link["artifactVersion"]["path"] == linked
            assert link["actor"] == {"name": "bob"}
        await nothing_pending(tagger(cluster.b, bob, cluster.ids["churn"]), on_a, on_b)


async def test_a_collection_subscription_gets_only_that_collection(cluster: Cluster) -> None:
    bob = cluster.keys["bob"]
    async with subscribe(cluster.a, bob, cluster.ids["model"], cluster.ids["defect"]) as sub:
        await sub.ready(tagger(cluster.b, bob, cluster.ids["defect"]))
        # Announced in commit order: an event for the other collection would come first.
        await add_aliases(cluster.b, bob, "acme/wandb-registry-model/churn-classifier:v8", "eu")
        await add_aliases(cluster.b, bob, "acme/wandb-registry-model/defect-detector:v5", "eu")
        event = await sub.event()
        assert event["type"] == "ADD_ARTIFACT_ALIAS"
        assert event["collection"]["name"] == "defect-detector"
        assert event["artifactVersion"]["path"] == "acme/wandb-registry-model/defect-detector:v5"
        assert event["alias"] == "eu"
        await add_aliases(cluster.b, bob, "acme/wandb-registry-model/churn-classifier:v7", "us")
        await nothing_pending(tagger(cluster.b, bob, cluster.ids["defect"]), sub)


async def test_a_restricted_registry_is_invisible_to_those_without_a_role(
    cluster: Cluster,
) -> None:
    ada, bob, cy = cluster.keys["ada"], cluster.keys["bob"], cluster.keys["cy"]
    reports = cluster.ids["reports"]
    missing = global_id("Registry", 987_654_321)

    async def first_message(key: str, registry: str) -> dict[str, Any]:
        async with subscribe(cluster.a, key, registry) as sub:
            return await sub.message()

    refusals = [await first_message(key, reports) for key in (cy, bob)]
    absent = await first_message(cy, missing)
    assert absent["payload"]["errors"] == [
        {"message": "registry not found", "extensions": {"code": "NOT_FOUND"}}
    ], absent
    assert not absent["payload"].get("data")
    assert refusals == [absent, absent]  # word for word what a missing registry answers

    async with (
        subscribe(cluster.a, ada, reports) as admin_sub,
        subscribe(cluster.b, cy, cluster.ids["model"]) as cy_sub,
    ):
        await admin_sub.ready(tagger(cluster.b, ada, cluster.ids["evals"]))
        await cy_sub.ready(tagger(cluster.a, bob, cluster.ids["churn"]))
        await add_aliases(
            cluster.a, ada, "acme/wandb-registry-eval-reports/churn-evals:v0", "reviewed"
        )
        await add_aliases(cluster.a, ada, "acme/wandb-registry-model/churn-classifier:v5", "seen")
        reviewed = await admin_sub.event()
        assert reviewed["alias"] == "reviewed"
        assert reviewed["registry"]["name"] == "eval-reports"
        # cy's stream goes on with the model registry and never shows the restricted one.
        seen = await cy_sub.event()
        assert seen["alias"] == "seen"
        assert seen["registry"]["name"] == "model"
        await nothing_pending(tagger(cluster.a, bob, cluster.ids["churn"]), cy_sub)


async def test_access_is_checked_on_every_event(cluster: Cluster) -> None:
    ada, cy = cluster.keys["ada"], cluster.keys["cy"]
    reports = cluster.ids["reports"]
    cy_id = (await graphql(cluster.a, cy, "{ viewer { user { id } } }"))["viewer"]["user"]["id"]
    members = """mutation M($input: AddRegistryMembersInput!) {
        addRegistryMembers(input: $input) { errors { code } } }"""
    remove = """mutation M($input: RemoveRegistryMembersInput!) {
        removeRegistryMembers(input: $input) { errors { code } } }"""
    grant = {"registryId": reports, "members": [{"userId": cy_id, "role": "VIEWER"}]}
    granted = await graphql(cluster.b, ada, members, input=grant)
    assert granted["addRegistryMembers"]["errors"] == []
    try:
        async with subscribe(cluster.a, cy, reports) as sub:
            evals = tagger(cluster.b, ada, cluster.ids["evals"])
            await sub.ready(evals)
            revoked = await graphql(
                cluster.b, ada, remove, input={"registryId": reports, "userIds": [cy_id]}
            )
            assert revoked["removeRegistryMembers"]["errors"] == []
            # cy's subscription decides on an event when it takes it, by the roles of that
            # moment: cy's role is given back only once it has decided on this one.
            async with held(cluster.database_url, ROLES) as roles:
                await add_aliases(
                    cluster.b,
                    ada,
                    "acme/wandb-registry-eval-reports/churn-evals:v2",
                    "after-revoke",
                )
                await roles.read_by_another()  # cy's access check, waiting for the table
            regranted = await graphql(cluster.b, ada, members, input=grant)
            assert regranted["addRegistryMembers"]["errors"] == []
            await nothing_pending(evals, sub)
    finally:
        await graphql(cluster.b, ada, remove, input={"registryId": reports, "userIds": [cy_id]})


@pytest.mark.parametrize(
    "init",
    [
        None,
        {},
        {"Authorization": "Bearer cairn_" + "A" * 43},
        {"Authorization": "Basic YWRhOmFkYQ=="},
        {"Authorization": "Bearer "},
    ],
    ids=["no-payload", "empty", "forged-key", "basic", "blank"],
)
async def test_connection_init_without_a_valid_key_is_rejected(
    cluster: Cluster, init: dict[str, Any] | None
) -> None:
    async with websocket(cluster.a, init) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_rolled_back_change_announces_nothing(cluster: Cluster) -> None:
    bob = cluster.keys["bob"]
    path = "acme/wandb-registry-model/churn-classifier:v9"
    async with subscribe(cluster.a, bob, cluster.ids["model"]) as sub:
        await sub.ready(tagger(cluster.b, bob, cluster.ids["churn"]))
        # The first alias is removed (and announced inside the transaction), the second is not
        # there: the mutation fails and rolls back.
        data = await graphql(
            cluster.b,
            bob,
            REMOVE_ALIASES,
            input={"path": path, "aliases": ["staging", f"nope-{uuid.uuid4().hex[:6]}"]},
        )
        assert [e["code"] for e in data["remove"]["errors"]] == ["NOT_FOUND"]
        aliases = await graphql(
            cluster.a, bob, "query V($p: String!) { artifactVersion(path: $p) { aliases } }", p=path
        )
        assert "staging" in aliases["artifactVersion"]["aliases"]

        await add_aliases(cluster.b, bob, path, "after-rollback")
        event = await sub.event()
        assert event["type"] == "ADD_ARTIFACT_ALIAS", event
        assert event["alias"] == "after-rollback"
        await nothing_pending(tagger(cluster.b, bob, cluster.ids["churn"]), sub)


# --- access on a socket that stays open ----------------------------------------------------------

CREATE_KEY = """mutation M($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { id } secret errors { code } } }"""
REVOKE_KEY = """mutation M($input: RevokeApiKeyInput!) {
  revokeApiKey(input: $input) { errors { code } } }"""
MODEL = '{ registry(organization: "acme", name: "model") { name } }'


async def new_key(cluster: Cluster, admin: str, user_id: str | None = None) -> tuple[str, str]:
    """A new API key (its ID and secret), for `user_id` or the admin."""
    data = await graphql(cluster.a, admin, CREATE_KEY, input={"name": "socket", "userId": user_id})
    created = data["createApiKey"]
    assert created["errors"] == [], created
    return created["apiKey"]["id"], created["secret"]


async def run_operation(
    ws: ClientConnection, op_id: str, query: str, **variables: Any
) -> dict[str, Any]:
    """Runs a query or mutation over the socket; its one result."""
    payload = {"query": query, "variables": variables}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
    result: dict[str, Any] | None = None
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message.get("id") != op_id:
            continue
        if message["type"] == "complete":
            assert result is not None
            return result
        assert message["type"] == "next", message
        result = message["payload"]


async def closing_of(ws: ClientConnection) -> Close:
    """The close frame the server ends the socket with, skipping what comes before it."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    except ConnectionClosed as closed:
        frame = closed.rcvd
    if frame is None:
        raise AssertionError("the socket closed without a close frame")
    return frame


async def test_a_revoked_key_ends_its_subscription_and_its_socket(cluster: Cluster) -> None:
    ada = cluster.keys["ada"]
    key_id, secret = await new_key(cluster, ada)
    async with subscribe(cluster.a, secret, cluster.ids["model"]) as sub:
        probe = tagger(cluster.b, ada, cluster.ids["churn"])
        await sub.ready(probe)
        before = await run_operation(sub.ws, "2", MODEL)
        assert before == {"data": {"registry": {"name": "model"}}} | {
            "extensions": before["extensions"]
        }
        revoked = await graphql(cluster.b, ada, REVOKE_KEY, input={"keyId": key_id})
        assert revoked["revokeApiKey"]["errors"] == []
        # The next event finds the key revoked: the subscription ends with that error.
        await probe("after-revoke")
        ended = await sub.message()
        assert ended["id"] == "1"
        assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["UNAUTHENTICATED"]
        assert (await sub.message())["type"] == "complete"
        # The next operation on the socket closes it.
        await sub.ws.send(json.dumps({"id": "3", "type": "subscribe", "payload": {"query": MODEL}}))
        close = await closing_of(sub.ws)
        assert close.code == 4403
        assert "revoked" in close.reason


async def test_leaving_the_organization_takes_effect_on_an_open_socket(cluster: Cluster) -> None:
    """Each operation on a socket runs with the roles of its moment: once removed from the
    organization, an account reads nothing of it and changes nothing, on the same socket."""
    ada = cluster.keys["ada"]
    name = f"socket-bot-{uuid.uuid4().hex[:6]}"
    created = await graphql(
        cluster.a,
        ada,
        """mutation M($input: CreateServiceAccountInput!) {
          createServiceAccount(input: $input) { user { id } errors { code } } }""",
        input={"organization": "acme", "name": name},
    )
    bot = created["createServiceAccount"]["user"]["id"]
    _, secret = await new_key(cluster, ada, bot)
    tags = """mutation M($input: TagsInput!) {
      addTags(input: $input) { errors { code } } }"""
    tag = {"input": {"id": cluster.ids["churn"], "tags": ["from-socket"]}}
    async with websocket(cluster.a, {"Authorization": f"Bearer {secret}"}) as ws:
        ack = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert ack["type"] == "connection_ack", ack
        assert (await run_operation(ws, "1", MODEL))["data"] == {"registry": {"name": "model"}}
        assert (await run_operation(ws, "2", tags, **tag))["data"]["addTags"]["errors"] == []
        removed = await graphql(
            cluster.b,
            ada,
            """mutation M($input: RemoveOrganizationMemberInput!) {
              removeOrganizationMember(input: $input) { errors { code } } }""",
            input={"organization": "acme", "userId": bot},
        )
        assert removed["removeOrganizationMember"]["errors"] == []
        hidden = await run_operation(ws, "3", MODEL)
        assert hidden.get("data") in (None, {"registry": None})
        refused = await run_operation(ws, "4", tags, **tag)
        assert [e["code"] for e in refused["data"]["addTags"]["errors"]] == ["NOT_FOUND"]


# --- the listening connection lost ---------------------------------------------------------------

CHURN_PATH = "acme/wandb-registry-model/churn-classifier"
TERMINATE = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()"""
LISTENER_DOWN = {"status": "unavailable", "reason": "the live-event listener is reconnecting"}


async def readiness(server: Server) -> tuple[int, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{server.base_url}/readyz")
    return response.status_code, response.json()


async def until_ready_is(server: Server, expected: tuple[int, Any]) -> None:
    """Until /readyz answers `expected`: the server notices on its own, in its own time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3 * WAIT
    while (answer := await readiness(server)) != expected:
        assert loop.time() < deadline, f"/readyz still answers {answer}"
        await asyncio.sleep(0.05)


async def test_live_events_come_back_after_the_database_drops_every_connection(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every connection of the server is terminated, and none may be made for a while: readiness
    says the listener is down, then, once connections are allowed again, that all is well, and
    the subscription opened before receives events again, as does a new one."""
    async with new_database(server_url) as url:
        env = cairn_env(tmp_path_factory.mktemp("xdg-drop"), DATABASE_URL=url)
        assert cairn("migrate", env=env).returncode == 0
        assert cairn("demo", env=env).returncode == 0
        ada = the_key(cairn("keys", "create", "--user", "ada", "--org", "acme", env=env))
        server = Server(["--no-worker"], env, tmp_path_factory.mktemp("drop-logs"))
        admin = await asyncpg.connect(server_url)
        name = urlsplit(url).path.lstrip("/")
        try:
            server.wait_healthy()
            ids = await graphql(server, ada, IDS)
            model, churn = ids["model"]["id"], ids["model"]["churn"]["id"]
            probe = tagger(server, ada, churn)
            async with subscribe(server, ada, model) as before:
                await before.ready(probe)
                await until_ready_is(server, (200, {"status": "ready"}))
                await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                try:
                    assert await admin.fetchval(TERMINATE, name) >= 1
                    await until_ready_is(server, (503, LISTENER_DOWN))
                finally:
                    await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
                await until_ready_is(server, (200, {"status": "ready"}))
                await nothing_pending(probe, before)
                async with subscribe(server, ada, model) as after:
                    await after.ready(probe)
                    await add_aliases(server, ada, f"{CHURN_PATH}:v1", "after-the-drop")
                    for subscription in (before, after):
                        event = await subscription.event()
                        assert (event["type"], event["alias"]) == (
                            "ADD_ARTIFACT_ALIAS",
                            "after-the-drop",
                        )
            assert server.stop() == 0, server.output
            # asyncpg's pool reports its own failed reconnections with a traceback at WARNING;
            # nothing of Cairn's failed.
            assert " ERROR " not in server.output
            assert "lost its connection; reconnecting" in server.output
            assert "listens again" in server.output
        finally:
            server.kill()
            await admin.close()
