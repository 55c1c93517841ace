"""Relay connections over HTTP: keyset paging forwards and backwards, page info, sizes, cursors,
ties broken by id, and stability while rows are inserted. Every list is built in an
organization of this module's own, so the expected order is known exactly."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from db.records import ArtifactVersion, Organization, Project, Registry, Run, User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.collections import create_collection_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn, use_artifact_txn
from resolvers.versions import FileEntry
from tests.support.graphql import GraphQLClient
from tests.support.manifests import stored_entries

ITEMS = 23  # more than the default page of 20, not a multiple of the page sizes below
REGISTRY_NAMES = [f"reg{i:02d}" if i % 3 else f"REG{i:02d}" for i in range(ITEMS - 3)]
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


async def files(conn: Any, project: Project, seed: str, count: int = 1) -> list[FileEntry]:
    return await stored_entries(conn, project, seed, *(f"f{i:02d}.txt" for i in range(count)))


async def new_user(conn: Any, tag: str, suffix: str) -> User:
    return await create_user_txn(conn, f"u{tag}{suffix}")


@dataclass
class World:
    org: Organization
    tag: str
    key: str
    viewer: User
    many: Registry  # ITEMS collections
    project: Project  # ITEMS runs, sequences "seq" (ITEMS versions), "wide" (ITEMS files), "shared"
    expected: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool) -> World:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"conn-{tag}", "Connections")
        viewer = await new_user(conn, tag, "a-viewer")
        await add_member_txn(conn, org, viewer, "ADMIN")
        key = await create_api_key_txn(conn, viewer.name)
        members = [viewer]
        for i in range(ITEMS - 1):
            user = await new_user(conn, tag, f"m{i:02d}")
            await add_member_txn(conn, org, user, ("MEMBER", "VIEWER")[i % 2])
            members.append(user)

        # Registries sort by name, case-insensitively: two core ones and ITEMS - 2 more.
        for name in REGISTRY_NAMES:
            await create_registry_txn(conn, viewer, org.id, name=name)
        many = await create_registry_txn(conn, viewer, org.id, name="many")
        collections = []
        for i in range(ITEMS):
            collections.append(
                await create_collection_txn(
                    conn, viewer, many, name=f"c{i:02d}", artifact_type="model"
                )
            )

        project = await create_project_txn(conn, org.id, "p")
        producer = await create_run_txn(conn, viewer, project, "producer")
        logged: list[ArtifactVersion] = []
        for i in range(ITEMS):
            logged.append(
                await log_artifact_txn(
                    conn,
                    viewer,
                    project,
                    name="seq",
                    artifact_type="model",
                    run=producer,
                    files=await files(conn, project, f"seq-{i}"),
                )
            )
        for version in logged:
            await link_artifact_txn(conn, viewer, version, many, "c00")
        await log_artifact_txn(
            conn,
            viewer,
            project,
            name="wide",
            artifact_type="data",
            files=await files(conn, project, "w", ITEMS),
        )
        shared = await log_artifact_txn(
            conn,
            viewer,
            project,
            name="shared",
            artifact_type="model",
            files=await files(conn, project, "shared"),
        )
        # The shared content goes into ITEMS collections (c00 … c22) in that order.
        for coll in collections:
            await link_artifact_txn(conn, viewer, shared, many, coll.name)
        consumers: list[Run] = []
        for i in range(ITEMS):
            run = await create_run_txn(conn, viewer, project, f"r{i:02d}")
            await use_artifact_txn(conn, run, shared)
            consumers.append(run)
        # One run that used every logged version of "seq", in index order.
        for version in logged:
            await use_artifact_txn(conn, consumers[0], version)
        for i in range(ITEMS - 1):
            await create_project_txn(conn, org.id, f"proj{i:02d}")
        for i in range(ITEMS - 3):
            await log_artifact_txn(
                conn,
                viewer,
                project,
                name=f"s{i:02d}",
                artifact_type="model",
                files=await files(conn, project, f"s{i}"),
            )

    world = World(org, tag, key, viewer, many, project)
    names = sorted(["dataset", "model", "many", *REGISTRY_NAMES], key=str.lower)
    seq_paths = [f"{org.name}/p/seq:v{i}" for i in range(ITEMS)]
    world.expected = {
        "members": sorted((u.name for u in members), key=str.lower),
        "registries": names,
        "collections": [f"c{i:02d}" for i in range(ITEMS - 1, -1, -1)],
        # c00 holds the ITEMS seq links, then the shared content as v23.
        "versions": [f"v{i}" for i in range(ITEMS, -1, -1)],
        "runs": [f"r{i:02d}" for i in range(ITEMS - 1, -1, -1)] + ["producer"],
        "files": [f"f{i:02d}.txt" for i in range(ITEMS)],
        "usedBy": [f"r{i:02d}" for i in range(ITEMS - 1, -1, -1)],
        "inputs": [*reversed(seq_paths), f"{org.name}/p/shared:v0"],
        "outputs": list(reversed(seq_paths)),
        "linkedVersions": [
            f"{org.name}/wandb-registry-many/c{i:02d}:v{ITEMS if i == 0 else 0}"
            for i in range(ITEMS)
        ],
        "projects": ["p"] + [f"proj{i:02d}" for i in range(ITEMS - 1)],
        "artifactSequences": sorted(
            [f"s{i:02d}" for i in range(ITEMS - 3)] + ["seq", "shared", "wide"]
        ),
    }
    return world


@pytest.fixture
def viewer(client: httpx.AsyncClient, world: World) -> GraphQLClient:
    return GraphQLClient(client, world.key)


@dataclass(frozen=True)
class Case:
    """How to reach one connection: `{args}` marks its arguments, `key` names an item."""

    template: str
    path: tuple[str | int, ...]
    key: str
    value: Callable[[dict[str, Any]], str]


def by(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda node: str(node[name])


CASES: dict[str, Case] = {
    "members": Case(
        'organization(name: "{org}") {{ members{args} {{ SELECTION }} }}',
        ("organization", "members"),
        "user { name }",
        lambda node: str(node["user"]["name"]),
    ),
    "registries": Case(
        'organization(name: "{org}") {{ registries{args} {{ SELECTION }} }}',
        ("organization", "registries"),
        "name",
        by("name"),
    ),
    "projects": Case(
        'organization(name: "{org}") {{ projects{args} {{ SELECTION }} }}',
        ("organization", "projects"),
        "name",
        by("name"),
    ),
    "collections": Case(
        'registry(organization: "{org}", name: "many") {{ collections{args} {{ SELECTION }} }}',
        ("registry", "collections"),
        "name",
        by("name"),
    ),
    "versions": Case(
        'registry(organization: "{org}", name: "many") {{ collection(name: "c00") '
        "{{ versions{args} {{ SELECTION }} }} }}",
        ("registry", "collection", "versions"),
        "version",
        by("version"),
    ),
    "runs": Case(
        'organization(name: "{org}") {{ project(name: "p") {{ runs{args} {{ SELECTION }} }} }}',
        ("organization", "project", "runs"),
        "name",
        by("name"),
    ),
    "artifactSequences": Case(
        'organization(name: "{org}") {{ project(name: "p") '
        "{{ artifactSequences{args} {{ SELECTION }} }} }}",
        ("organization", "project", "artifactSequences"),
        "name",
        by("name"),
    ),
    "files": Case(
        'artifactVersion(path: "{org}/p/wide") {{ files{args} {{ SELECTION }} }}',
        ("artifactVersion", "files"),
        "path",
        by("path"),
    ),
    "usedBy": Case(
        'artifactVersion(path: "{org}/p/shared") {{ usedBy{args} {{ SELECTION }} }}',
        ("artifactVersion", "usedBy"),
        "name",
        by("name"),
    ),
    "linkedVersions": Case(
        'artifactVersion(path: "{org}/p/shared") {{ linkedVersions{args} {{ SELECTION }} }}',
        ("artifactVersion", "linkedVersions"),
        "path",
        by("path"),
    ),
    # r00 used every logged version of "seq"; it is the only run that used seq:v0.
    "inputs": Case(
        'artifactVersion(path: "{org}/p/seq:v0") {{ usedBy {{ nodes '
        "{{ inputs{args} {{ SELECTION }} }} }} }}",
        ("artifactVersion", "usedBy", "nodes", 0, "inputs"),
        "path",
        by("path"),
    ),
    "outputs": Case(
        'artifactVersion(path: "{org}/p/seq") {{ createdBy {{ outputs{args} {{ SELECTION }} }} }}',
        ("artifactVersion", "createdBy", "outputs"),
        "path",
        by("path"),
    ),
}
REQUIRED = ["registries", "collections", "versions", "runs", "files", "members", "usedBy"]
ALL_CASES = list(CASES)


def arguments(**values: Any) -> str:
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return ""
    return "(" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in given.items()) + ")"


class Pager:
    """Fetches pages of one connection and checks the invariants every page must keep."""

    def __init__(self, client: GraphQLClient, world: World, name: str) -> None:
        self.client = client
        self.world = world
        self.case = CASES[name]
        self.expected = world.expected[name]

    def query(self, args: str, selection: str | None = None) -> str:
        if selection is None:
            selection = (
                f"edges {{ cursor node {{ {self.case.key} }} }} nodes {{ {self.case.key} }} "
            )
            selection += f"{PAGE_INFO} totalCount"
        body = self.case.template.format(org=self.world.org.name, args=args)
        return "{ " + body.replace("SELECTION", selection) + " }"

    def extract(self, data: dict[str, Any]) -> dict[str, Any]:
        found: Any = data
        for step in self.case.path:
            found = found[step]
        result: dict[str, Any] = found
        return result

    async def page(self, **values: Any) -> dict[str, Any]:
        conn = self.extract(await self.client.data(self.query(arguments(**values))))
        edges = conn["edges"]
        assert conn["nodes"] == [e["node"] for e in edges]
        assert conn["totalCount"] == len(self.expected)
        info = conn["pageInfo"]
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        else:
            assert info["startCursor"] is None
            assert info["endCursor"] is None
        conn["keys"] = [self.case.value(e["node"]) for e in edges]
        return conn

    async def error(self, **values: Any) -> dict[str, Any]:
        body = await self.client.errors(self.query(arguments(**values), "totalCount"))
        (error,) = body["errors"]
        found: dict[str, Any] = error
        return found

    async def forward(self, size: int) -> list[dict[str, Any]]:
        pages = [await self.page(first=size)]
        while pages[-1]["pageInfo"]["hasNextPage"]:
            pages.append(await self.page(first=size, after=pages[-1]["pageInfo"]["endCursor"]))
            assert len(pages) <= len(self.expected) + 1
        return pages

    async def backward(self, size: int) -> list[dict[str, Any]]:
        pages = [await self.page(last=size)]
        while pages[-1]["pageInfo"]["hasPreviousPage"]:
            pages.append(await self.page(last=size, before=pages[-1]["pageInfo"]["startCursor"]))
            assert len(pages) <= len(self.expected) + 1
        return pages


@pytest.fixture
def pager(viewer: GraphQLClient, world: World) -> Callable[[str], Pager]:
    return lambda name: Pager(viewer, world, name)


def test_every_required_connection_is_covered() -> None:
    assert set(REQUIRED) <= set(CASES)


@pytest.mark.parametrize("name", ALL_CASES)
async def test_forward_paging_visits_every_item_once_in_order(
    pager: Callable[[str], Pager], name: str
) -> None:
    p = pager(name)
    assert 21 < len(p.expected) < 28  # four pages of seven, the last one short
    pages = await p.forward(7)
    assert [key for page in pages for key in page["keys"]] == p.expected
    assert [len(page["keys"]) for page in pages] == [7, 7, 7, len(p.expected) - 21]
    first, *middle, last = pages
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["hasNextPage"] is True
    for page in middle:
        assert page["pageInfo"]["hasPreviousPage"] is True
        assert page["pageInfo"]["hasNextPage"] is True
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert last["pageInfo"]["hasNextPage"] is False
    # Cursors are distinct, and each names its own item.
    cursors = [e["cursor"] for page in pages for e in page["edges"]]
    assert len(set(cursors)) == len(cursors)


@pytest.mark.parametrize("name", ALL_CASES)
async def test_backward_paging_visits_the_same_items_in_the_same_order(
    pager: Callable[[str], Pager], name: str
) -> None:
    p = pager(name)
    pages = await p.backward(7)
    keys = [key for page in reversed(pages) for key in page["keys"]]
    assert keys == p.expected
    assert [len(page["keys"]) for page in pages] == [7, 7, 7, len(p.expected) - 21]
    end, *middle, start = pages
    assert end["pageInfo"]["hasNextPage"] is False
    assert end["pageInfo"]["hasPreviousPage"] is True
    for page in middle:
        assert page["pageInfo"]["hasNextPage"] is True
        assert page["pageInfo"]["hasPreviousPage"] is True
    assert start["pageInfo"]["hasPreviousPage"] is False
    assert start["pageInfo"]["hasNextPage"] is True
    # An item has the same cursor whichever way it was reached.
    forward = await p.forward(7)
    assert [e["cursor"] for page in forward for e in page["edges"]] == [
        e["cursor"] for page in reversed(pages) for e in page["edges"]
    ]


@pytest.mark.parametrize("name", REQUIRED)
async def test_cursors_of_any_item_resume_right_after_or_before_it(
    pager: Callable[[str], Pager], name: str
) -> None:
    p = pager(name)
    everything = await p.page(first=100)
    edges = everything["edges"]
    for position in (0, 5, len(edges) - 2):
        cursor = edges[position]["cursor"]
        after = await p.page(first=3, after=cursor)
        assert after["keys"] == p.expected[position + 1 : position + 4]
        before = await p.page(last=3, before=cursor)
        assert before["keys"] == p.expected[max(0, position - 3) : position]
        assert before["pageInfo"]["hasPreviousPage"] is (position > 3)
        # Between two cursors.
        if position + 5 < len(edges):
            window = await p.page(first=100, after=cursor, before=edges[position + 5]["cursor"])
            assert window["keys"] == p.expected[position + 1 : position + 5]


@pytest.mark.parametrize("name", ALL_CASES)
async def test_pages_past_either_end_are_empty(pager: Callable[[str], Pager], name: str) -> None:
    p = pager(name)
    everything = await p.page(first=100)
    assert everything["keys"] == p.expected
    assert everything["pageInfo"]["hasNextPage"] is False
    assert everything["pageInfo"]["hasPreviousPage"] is False
    past_end = await p.page(first=5, after=everything["pageInfo"]["endCursor"])
    assert past_end["keys"] == []
    assert past_end["pageInfo"]["hasNextPage"] is False
    assert past_end["pageInfo"]["hasPreviousPage"] is True
    before_start = await p.page(last=5, before=everything["pageInfo"]["startCursor"])
    assert before_start["keys"] == []
    assert before_start["pageInfo"]["hasPreviousPage"] is False
    assert before_start["pageInfo"]["hasNextPage"] is True
    all_backwards = await p.page(last=100)
    assert all_backwards["keys"] == p.expected
    assert all_backwards["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize("name", REQUIRED)
async def test_sizes(pager: Callable[[str], Pager], name: str) -> None:
    p = pager(name)
    default = await p.page()
    assert default["keys"] == p.expected[:20]
    assert default["pageInfo"]["hasNextPage"] is True
    assert default["pageInfo"]["hasPreviousPage"] is False
    # With only `after`, the default size still applies.
    rest = await p.page(after=default["pageInfo"]["endCursor"])
    assert rest["keys"] == p.expected[20:]
    zero = await p.page(first=0)
    assert zero["keys"] == []
    assert zero["pageInfo"]["hasNextPage"] is True
    assert zero["pageInfo"]["hasPreviousPage"] is False
    zero_last = await p.page(last=0)
    assert zero_last["keys"] == []
    assert zero_last["pageInfo"]["hasPreviousPage"] is True
    one = await p.page(first=1)
    assert one["keys"] == p.expected[:1]
    hundred = await p.page(first=100)
    assert hundred["keys"] == p.expected
    last_hundred = await p.page(last=100)
    assert last_hundred["keys"] == p.expected
    last_two = await p.page(last=2)
    assert last_two["keys"] == p.expected[-2:]
    assert last_two["pageInfo"]["hasPreviousPage"] is True
    assert last_two["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize(
    ("values", "argument"),
    [
        ({"first": 101}, "first"),
        ({"last": 101}, "last"),
        ({"first": -1}, "first"),
        ({"last": -1}, "last"),
        ({"first": 1000000}, "first"),
        ({"first": 1, "last": 1}, "first"),
        ({"first": 0, "last": 0}, "first"),
    ],
)
async def test_sizes_out_of_range_are_refused(
    pager: Callable[[str], Pager], name: str, values: dict[str, int], argument: str
) -> None:
    error = await pager(name).error(**values)
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["field"] == [argument]
    assert f"`{argument}`" in error["message"]
    if "last" in values and "first" in values:
        assert "`last`" in error["message"]
    else:
        assert "100" in error["message"]


def cursor_of(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


BAD_CURSORS = {
    "empty": "",
    "not base64": "!!!not-base64!!!",
    "base64 of text": base64.urlsafe_b64encode(b"hello world").decode(),
    "non-ascii": "curs\u00f6r",
    "json object": base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    "json number": base64.urlsafe_b64encode(b"42").decode(),
    "empty list": cursor_of(),
    "unknown list": cursor_of("no.such.list", 1),
    "a global id": base64.urlsafe_b64encode(b"Organization:1").decode().rstrip("="),
    "invalid utf-8": base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
}


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("bad", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
@pytest.mark.parametrize("argument", ["after", "before"])
async def test_garbage_cursors_are_refused(
    pager: Callable[[str], Pager], name: str, bad: str, argument: str
) -> None:
    values: dict[str, Any] = {argument: bad, "first" if argument == "after" else "last": 3}
    error = await pager(name).error(**values)
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["field"] == [argument]
    assert f"`{argument}`" in error["message"]


@pytest.mark.parametrize("name", REQUIRED)
async def test_cursors_of_other_connections_are_refused(
    pager: Callable[[str], Pager], name: str
) -> None:
    p = pager(name)
    for other in REQUIRED:
        if other == name:
            continue
        cursor = (await pager(other).page(first=1))["pageInfo"]["endCursor"]
        for argument, size in (("after", "first"), ("before", "last")):
            error = await p.error(**{argument: cursor, size: 2})
            assert error["extensions"]["code"] == "INVALID_ARGUMENT", (name, other)
            assert error["extensions"]["field"] == [argument]


def wrong_values(name: str) -> dict[str, str]:
    """Cursors of the right list whose values have the wrong type, count or range."""
    spec = {
        "registries": ("organization.registries", ["text"]),
        "collections": ("registry.collections", ["timestamptz", "bigint"]),
        "versions": ("collection.versions", ["integer"]),
        "runs": ("project.runs", ["timestamptz", "bigint"]),
        "files": ("artifactVersion.files", ["text"]),
        "members": ("organization.members", ["text"]),
        "usedBy": ("artifactVersion.usedBy", ["timestamptz", "bigint"]),
    }[name]
    list_name, types = spec
    good = {
        "text": "m",
        "timestamptz": "2026-01-01T00:00:00+00:00",
        "bigint": 1,
        "integer": 1,
    }
    wrong: dict[str, list[Any]] = {
        "text": [1, None, True, ["m"], {"m": 1}, "nul\u0000byte"],
        "timestamptz": [
            "yesterday",
            "2026-01-01T00:00:00",  # ours always carry an offset
            1,
            None,
            "2026-13-01T00:00:00+00:00",
            "9999-12-31T23:59:59-23:59",  # past the end of time in UTC
            "0001-01-01T00:00:00+14:00",  # before its start
        ],
        "bigint": ["1", 1.5, None, True, 2**63, -(2**63) - 1, 2**70],
        "integer": ["1", 1.5, None, False, 2**31, -(2**31) - 1, 2**40],
    }
    cursors: dict[str, str] = {
        "too few values": cursor_of(list_name),
        "too many values": cursor_of(list_name, *[good[t] for t in types], 1),
    }
    for position, sql_type in enumerate(types):
        for bad in wrong[sql_type]:
            values = [good[t] for t in types]
            values[position] = bad
            cursors[f"{sql_type} {bad!r}"] = cursor_of(list_name, *values)
    return cursors


@pytest.mark.parametrize("name", REQUIRED)
async def test_cursors_with_wrong_values_are_refused(
    pager: Callable[[str], Pager], name: str
) -> None:
    p = pager(name)
    # A hand-made cursor with values of the right types works: it is only a position.
    valid = await p.page(first=100)
    assert valid["keys"] == p.expected
    for label, cursor in wrong_values(name).items():
        for argument, size in (("after", "first"), ("before", "last")):
            error = await p.error(**{argument: cursor, size: 2})
            assert error["extensions"]["code"] == "INVALID_ARGUMENT", (label, error)
            assert error["extensions"]["field"] == [argument], label
            assert f"`{argument}`" in error["message"]


async def test_hand_made_cursor_of_the_right_shape_is_a_position(
    pager: Callable[[str], Pager],
) -> None:
    p = pager("versions")
    page = await p.page(first=3, after=cursor_of("collection.versions", 10))
    assert page["keys"] == ["v9", "v8", "v7"]
    page = await p.page(last=2, before=cursor_of("collection.versions", 10))
    assert page["keys"] == ["v12", "v11"]


async def test_empty_connections(viewer: GraphQLClient, world: World) -> None:
    data = await viewer.data(
        """query($org: String!, $wide: String!) {
             registry(organization: $org, name: "many") {
               collection(name: "c05") { versions(first: 0) { totalCount } } }
             empty: registry(organization: $org, name: "reg01") {
               collections { totalCount edges { cursor } nodes { name } PAGE_INFO } }
             backwards: registry(organization: $org, name: "reg01") {
               collections(last: 5) { PAGE_INFO } }
             artifactVersion(path: $wide) {
               usedBy { totalCount nodes { name } PAGE_INFO }
               linkedVersions { totalCount PAGE_INFO } } }""".replace("PAGE_INFO", PAGE_INFO),
        {"org": world.org.name, "wide": f"{world.org.name}/p/wide"},
    )
    no_page = {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    assert data["registry"]["collection"]["versions"] == {"totalCount": 1}
    assert data["empty"]["collections"] == {
        "totalCount": 0,
        "edges": [],
        "nodes": [],
        "pageInfo": no_page,
    }
    assert data["backwards"]["collections"] == {"pageInfo": no_page}
    assert data["artifactVersion"]["usedBy"] == {"totalCount": 0, "nodes": [], "pageInfo": no_page}
    assert data["artifactVersion"]["linkedVersions"] == {"totalCount": 0, "pageInfo": no_page}


async def test_connections_of_many_parents_page_independently(
    viewer: GraphQLClient, world: World
) -> None:
    """Sibling connections are loaded together; each still gets its own page and total."""
    data = await viewer.data(
        """query($org: String!) { registry(organization: $org, name: "many") {
             collections(first: 4) { nodes { name versions(first: 2) {
               totalCount nodes { version } pageInfo { hasNextPage } } } } } }""",
        {"org": world.org.name},
    )
    got = {c["name"]: c["versions"] for c in data["registry"]["collections"]["nodes"]}
    assert list(got) == ["c22", "c21", "c20", "c19"]
    for versions in got.values():
        assert versions == {
            "totalCount": 1,
            "nodes": [{"version": "v0"}],
            "pageInfo": {"hasNextPage": False},
        }


# --- ties -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tied:
    org: str
    key: str
    user: User
    registry: Registry
    expected: list[str]  # the collections in the documented order (id descending)


async def tied_registry(pool: asyncpg.Pool, count: int) -> Tied:
    """An organization whose registry "tied" has `count` collections sharing one created_at."""
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"ties-{tag}", "Ties")
        user = await new_user(conn, tag, "tie")
        await add_member_txn(conn, org, user, "ADMIN")
        key = await create_api_key_txn(conn, user.name)
        registry = await create_registry_txn(conn, user, org.id, name="tied")
        created = []
        for i in range(count):
            # Names run against the id order, so a sort by name would show.
            created.append(
                await create_collection_txn(
                    conn, user, registry, name=f"t{count - i:02d}", artifact_type="model"
                )
            )
        moment = datetime(2020, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
        updated = await conn.execute(
            "UPDATE collections SET created_at = $1 WHERE registry_id = $2", moment, registry.id
        )
        assert updated == f"UPDATE {count}"
    ordered = sorted(created, key=lambda c: c.id, reverse=True)
    return Tied(org.name, key, user, registry, [c.name for c in ordered])


def collections_query(org: str) -> str:
    return (
        "query($first: Int, $after: String, $last: Int, $before: String) { "
        f'registry(organization: {json.dumps(org)}, name: "tied") {{ '
        "collections(first: $first, after: $after, last: $last, before: $before) "
        f"{{ nodes {{ name createdAt }} totalCount {PAGE_INFO} }} }} }}"
    )


async def walk(
    client: GraphQLClient,
    org: str,
    size: int,
    *,
    backward: bool = False,
    between: Callable[[], Any] | None = None,
) -> list[str]:
    """Every name of the tied registry's collections, page by page; `between` runs before each
    page after the first."""
    query = collections_query(org)
    first, after, last, before = (None, None, size, None) if backward else (size, None, None, None)
    seen: list[str] = []
    while True:
        variables = {"first": first, "after": after, "last": last, "before": before}
        conn = (await client.data(query, variables))["registry"]["collections"]
        names = [n["name"] for n in conn["nodes"]]
        seen = names + seen if backward else seen + names
        info = conn["pageInfo"]
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return seen
        assert len(seen) < 1000
        if between is not None:
            await between()
        if backward:
            before = info["startCursor"]
        else:
            after = info["endCursor"]


async def test_ties_are_broken_by_id_forward_and_backward(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    tied = await tied_registry(pool, 17)
    user = GraphQLClient(client, tied.key)
    everything = (await user.data(collections_query(tied.org), {"first": 100}))["registry"][
        "collections"
    ]
    assert everything["totalCount"] == 17
    assert [n["name"] for n in everything["nodes"]] == tied.expected
    assert len({n["createdAt"] for n in everything["nodes"]}) == 1
    for size in (1, 3, 4, 16, 17):
        assert await walk(user, tied.org, size) == tied.expected, size
        assert await walk(user, tied.org, size, backward=True) == tied.expected, size


# --- inserts while paging ---------------------------------------------------------------------


async def test_collections_inserted_during_a_walk(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """New collections are the newest, so they land at the front of the list: a forward walk
    (already past them) does not see them, a backward walk (heading there) does, and no old
    collection is skipped or repeated either way."""
    tied = await tied_registry(pool, 9)
    user = GraphQLClient(client, tied.key)
    inserted: list[str] = []

    async def insert() -> None:
        async with pool.acquire() as conn, conn.transaction():
            name = f"new{len(inserted):02d}"
            await create_collection_txn(
                conn, tied.user, tied.registry, name=name, artifact_type="model"
            )
            inserted.append(name)

    assert await walk(user, tied.org, 2, between=insert) == tied.expected
    assert len(inserted) == 4
    before_backward = list(reversed(inserted)) + tied.expected
    seen = await walk(user, tied.org, 3, backward=True, between=insert)
    assert len(inserted) > 4
    assert seen == list(reversed(inserted)) + tied.expected
    assert seen[-len(before_backward) :] == before_backward


async def test_registries_inserted_during_a_walk(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """An ascending list (registries by name): rows inserted behind the cursor are not seen,
    rows inserted ahead of it are, and no old row is skipped or repeated."""
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"ins-{tag}", "Inserts")
        user = await new_user(conn, tag, "ins")
        await add_member_txn(conn, org, user, "ADMIN")
        key = await create_api_key_txn(conn, user.name)
        for i in range(0, 20, 2):
            await create_registry_txn(conn, user, org.id, name=f"r{i:02d}")
    viewer = GraphQLClient(client, key)
    query = (
        "query($org: String!, $after: String) { organization(name: $org) { "
        "registries(first: 3, after: $after) { nodes { name } pageInfo { hasNextPage endCursor } } "
        "} }"
    )
    old = sorted(["dataset", "model"] + [f"r{i:02d}" for i in range(0, 20, 2)])
    seen: list[str] = []
    behind: list[str] = []
    ahead: list[str] = []
    after = None
    while True:
        variables = {"org": org.name, "after": after}
        page = (await viewer.data(query, variables))["organization"]["registries"]
        seen += [n["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        last = seen[-1]
        # A name sorting just before the cursor's, and one sorting just after it.
        pair = (f"{last[:-1]}-{len(behind)}", last + "a")
        async with pool.acquire() as conn, conn.transaction():
            for name, into in zip(pair, (behind, ahead), strict=True):
                if name not in seen + behind + ahead:
                    await create_registry_txn(conn, user, org.id, name=name)
                    into.append(name)
    assert [name for name in seen if name in old] == old
    assert len(seen) == len(set(seen))
    assert behind
    assert ahead
    assert not set(behind) & set(seen)
    assert set(ahead) <= set(seen)
