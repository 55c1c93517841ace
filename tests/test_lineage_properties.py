"""`db.lineage.walk` against a plain Python breadth-first walk, on random lineage graphs.

A graph is bipartite: contents ('A') and runs ('R'). Each content has at most one creating run
(an OUTPUT edge run → content); a run may use any contents (INPUT edges content → run),
including ones it created itself, so graphs have cycles. Each generated graph is written with a
few bulk statements into a database of this module's own, inside a transaction that is rolled
back afterwards, and walked from random starts in every direction with random limits.

The reference: the nodes within `max_depth` of the start, each at its smallest depth (BOTH takes
the smaller of the upstream and downstream distances), ordered by (depth, kind, id), the first
`max_nodes` kept; the edges are every edge between two kept nodes; `truncated` says whether
some node lies at depth max_depth + 1 or more nodes than `max_nodes` lie within `max_depth`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from db import lineage
from db.lineage import ARTIFACT, RUN
from tests.support.databases import new_database

MAX_CONTENTS = 14
MAX_RUNS = 10


@dataclass(frozen=True)
class Graph:
    """Contents and runs by index; `creator[c]` is the run index that logged content c."""

    contents: int
    runs: int
    creator: tuple[int | None, ...]
    inputs: frozenset[tuple[int, int]]  # (run index, content index)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """Mostly connected graphs: most contents have a creating run, every run uses a few
    contents (any of them, its own outputs too)."""
    contents = draw(st.integers(min_value=1, max_value=MAX_CONTENTS))
    runs = draw(st.integers(min_value=0, max_value=MAX_RUNS))
    if runs == 0:
        return Graph(contents, 0, (None,) * contents, frozenset())
    # No creating run (an upload from outside any run): one chance in four.
    created_by = st.integers(0, runs - 1) | st.integers(0, runs - 1) | st.integers(0, runs - 1)
    creator = tuple(draw(created_by | st.none()) for _ in range(contents))
    inputs = frozenset(
        (r, c)
        for r in range(runs)
        for c in draw(
            st.sets(st.sampled_from(range(contents)), min_size=1, max_size=3)
            | st.just(set()),  # a run with no inputs, such as an ingest
            label=f"inputs of {r}",
        )
    )
    return Graph(contents, runs, creator, inputs)


@dataclass(frozen=True)
class Stored:
    """A graph as written: database ids of its contents and runs, and its edges by id."""

    content_ids: list[int]
    run_ids: list[int]
    outputs: set[tuple[int, int]]  # (run id, content id)
    inputs: set[tuple[int, int]]  # (run id, content id)

    def downstream(self, kind: str, node_id: int) -> Iterable[tuple[str, int]]:
        if kind == ARTIFACT:
            return [(RUN, r) for r, c in self.inputs if c == node_id]
        return [(ARTIFACT, c) for r, c in self.outputs if r == node_id]

    def upstream(self, kind: str, node_id: int) -> Iterable[tuple[str, int]]:
        if kind == ARTIFACT:
            return [(RUN, r) for r, c in self.outputs if c == node_id]
        return [(ARTIFACT, c) for r, c in self.inputs if r == node_id]


def distances(
    start: tuple[str, int], step: Callable[[str, int], Iterable[tuple[str, int]]]
) -> dict[tuple[str, int], int]:
    """Breadth-first: the smallest number of steps from `start` to every reachable node."""
    found = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for neighbour in step(*node):
            if neighbour not in found:
                found[neighbour] = found[node] + 1
                queue.append(neighbour)
    return found


def expected(
    stored: Stored,
    start: tuple[str, int],
    *,
    downstream: bool,
    upstream: bool,
    max_depth: int,
    max_nodes: int,
) -> lineage.LineageWalk:
    reached: dict[tuple[str, int], int] = {}
    for wanted, step in ((downstream, stored.downstream), (upstream, stored.upstream)):
        if wanted:
            for node, depth in distances(start, step).items():
                reached[node] = min(depth, reached.get(node, depth))
    within = sorted(
        (depth, kind, node_id) for (kind, node_id), depth in reached.items() if depth <= max_depth
    )
    kept = within[:max_nodes]
    kept_keys = {(kind, node_id) for _, kind, node_id in kept}
    edges = [
        lineage.LineageEdge(kind, r, c)
        for kind, pairs in (("INPUT", stored.inputs), ("OUTPUT", stored.outputs))
        for r, c in pairs
        if (RUN, r) in kept_keys and (ARTIFACT, c) in kept_keys
    ]
    edges.sort(key=lambda e: (e.kind, e.run_id, e.content_id))
    truncated = len(within) > max_nodes or any(d == max_depth + 1 for d in reached.values())
    return lineage.LineageWalk(
        nodes=[lineage.LineageNode(kind, node_id, depth) for depth, kind, node_id in kept],
        edges=edges,
        truncated=truncated,
    )


@dataclass(frozen=True)
class Database:
    conn: asyncpg.Connection
    organization_id: int
    project_id: int
    sequence_id: int


@pytest.fixture(scope="module")
async def database(server_url: str) -> AsyncIterator[Database]:
    """A migrated database of this module's own, with one organization, project and artifact
    sequence; every example writes its graph inside a transaction that it rolls back."""
    async with new_database(server_url, migrated=True) as url:
        conn = await asyncpg.connect(url)
        try:
            organization_id = await conn.fetchval(
                "INSERT INTO organizations (name, display_name) VALUES ('props', 'Props') "
                "RETURNING id"
            )
            project_id = await conn.fetchval(
                "INSERT INTO projects (organization_id, name) VALUES ($1, 'graphs') RETURNING id",
                organization_id,
            )
            sequence_id = await conn.fetchval(
                "INSERT INTO collections (organization_id, project_id, name, artifact_type) "
                "VALUES ($1, $2, 'things', 'dataset') RETURNING id",
                organization_id,
                project_id,
            )
            yield Database(conn, organization_id, project_id, sequence_id)
        finally:
            await conn.close()


RESERVE_IDS = """
SELECT array(SELECT nextval('artifact_contents_id_seq') FROM generate_series(1, $1)),
       array(SELECT nextval('runs_id_seq') FROM generate_series(1, $2))
"""
INSERT_RUNS = """
INSERT INTO runs (id, project_id, name) SELECT id, $2, 'run-' || id FROM unnest($1::bigint[]) AS id
"""
INSERT_CONTENTS = """
INSERT INTO artifact_contents (id, sequence_id, digest, size, created_by_run_id)
SELECT id, $3, lpad(to_hex(id), 64, '0'), 0, run_id
FROM unnest($1::bigint[], $2::bigint[]) AS t (id, run_id)
"""
INSERT_INPUTS = """
INSERT INTO run_inputs (run_id, content_id, version_id)
SELECT run_id, content_id, NULL FROM unnest($1::bigint[], $2::bigint[]) AS t (run_id, content_id)
"""


async def store(
    db: Database, graph: Graph, content_order: list[int], run_order: list[int]
) -> Stored:
    """Writes the graph. Ids are handed out in a shuffled order, so that ordering by id is not
    ordering by the generator's index."""
    reserved = await db.conn.fetchrow(RESERVE_IDS, graph.contents, max(graph.runs, 1))
    assert reserved is not None
    content_pool, run_pool = reserved
    content_ids = [content_pool[i] for i in content_order]
    run_ids = [run_pool[i] for i in run_order]
    await db.conn.execute(INSERT_RUNS, run_ids, db.project_id)
    creators = [None if r is None else run_ids[r] for r in graph.creator]
    await db.conn.execute(INSERT_CONTENTS, content_ids, creators, db.sequence_id)
    inputs = {(run_ids[r], content_ids[c]) for r, c in graph.inputs}
    pairs = sorted(inputs)
    await db.conn.execute(INSERT_INPUTS, [r for r, _ in pairs], [c for _, c in pairs])
    outputs = {(r, c) for r, c in zip(creators, content_ids, strict=True) if r is not None}
    return Stored(content_ids, run_ids, outputs, inputs)


DIRECTIONS = {"DOWNSTREAM": (True, False), "UPSTREAM": (False, True), "BOTH": (True, True)}


@dataclass(frozen=True)
class Walk:
    start_is_run: bool
    start_index: int
    max_depth: int
    max_nodes: int


walks = st.builds(
    Walk,
    start_is_run=st.booleans(),
    start_index=st.integers(0, max(MAX_CONTENTS, MAX_RUNS) - 1),
    max_depth=st.sampled_from(range(7)),
    max_nodes=st.integers(1, 50),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), graph=graphs(), checks=st.lists(walks, min_size=1, max_size=3))
async def test_walk_matches_breadth_first_search(
    database: Database, data: st.DataObject, graph: Graph, checks: list[Walk]
) -> None:
    content_order = data.draw(st.permutations(range(graph.contents)), label="content ids")
    run_order = data.draw(st.permutations(range(graph.runs)), label="run ids")
    transaction = database.conn.transaction()
    await transaction.start()
    try:
        stored = await store(database, graph, list(content_order), list(run_order))
        deepest = 0
        for check in checks:
            if check.start_is_run and stored.run_ids:
                start = (RUN, stored.run_ids[check.start_index % len(stored.run_ids)])
            else:
                start = (ARTIFACT, stored.content_ids[check.start_index % len(stored.content_ids)])
            for direction, (downstream, upstream) in DIRECTIONS.items():
                got = await lineage.walk(
                    database.conn,
                    *start,
                    downstream=downstream,
                    upstream=upstream,
                    max_depth=check.max_depth,
                    max_nodes=check.max_nodes,
                )
                want = expected(
                    stored,
                    start,
                    downstream=downstream,
                    upstream=upstream,
                    max_depth=check.max_depth,
                    max_nodes=check.max_nodes,
                )
                context = (direction, start, check, stored)
                assert got.nodes == want.nodes, context
                assert got.edges == want.edges, context
                assert got.truncated == want.truncated, context
                # The start is always there, at depth 0, first; no node twice.
                assert got.nodes[0] == lineage.LineageNode(*start, 0), context
                assert len({(n.kind, n.id) for n in got.nodes}) == len(got.nodes), context
                event(f"truncated={got.truncated}")
                event(f"cut by max_nodes={len(got.nodes) == check.max_nodes and got.truncated}")
                event(f"deepest node={got.nodes[-1].depth}")
                deepest = max(deepest, got.nodes[-1].depth)
        # Steers generation towards deep walks, where cycles and the depth limit matter.
        target(deepest, label="deepest node")
    finally:
        await transaction.rollback()


async def test_walk_of_a_self_feeding_run_terminates(database: Database) -> None:
    """The smallest cycle: a run that uses the content it logged. Each node once, at its
    smallest depth, in every direction, with the deepest limit."""
    graph = Graph(contents=1, runs=1, creator=(0,), inputs=frozenset({(0, 0)}))
    transaction = database.conn.transaction()
    await transaction.start()
    try:
        stored = await store(database, graph, [0], [0])
        (content,), (run,) = stored.content_ids, stored.run_ids
        for downstream, upstream in DIRECTIONS.values():
            got = await lineage.walk(
                database.conn,
                ARTIFACT,
                content,
                downstream=downstream,
                upstream=upstream,
                max_depth=20,
                max_nodes=2000,
            )
            assert got.nodes == [
                lineage.LineageNode(ARTIFACT, content, 0),
                lineage.LineageNode(RUN, run, 1),
            ]
            assert got.edges == [
                lineage.LineageEdge("INPUT", run, content),
                lineage.LineageEdge("OUTPUT", run, content),
            ]
            assert got.truncated is False
    finally:
        await transaction.rollback()
