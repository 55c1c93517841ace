"""Lineage traversal: one statement walks the graph of contents and runs in either direction.

Nodes are artifact contents ('A') and runs ('R'). Edges: INPUT, content → run (the run used the
content), and OUTPUT, run → content (the run logged it). Downstream follows edges forwards,
upstream backwards. The recursive CTE keeps distinct (node, depth, direction) rows, so however
many paths lead to a node, and whatever cycles there are, the work is bounded by
nodes times depth, and each node is reported once, at its smallest depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Executor

ARTIFACT = "A"
RUN = "R"


@dataclass(frozen=True, slots=True)
class LineageNode:
    kind: str  # ARTIFACT (a content id) or RUN (a run id)
    id: int
    depth: int


@dataclass(frozen=True, slots=True)
class LineageEdge:
    kind: str  # "INPUT" (content → run) or "OUTPUT" (run → content)
    run_id: int
    content_id: int


@dataclass(frozen=True, slots=True)
class LineageWalk:
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool


# $1 start kind, $2 start id, $3 walk downstream, $4 walk upstream, $5 max depth, $6 max nodes.
# The walk goes one level past the depth limit only to tell whether the limit cut anything.
WALK = """
WITH RECURSIVE walk (kind, id, depth, downstream) AS (
    SELECT $1::text, $2::bigint, 0, true WHERE $3
    UNION
    SELECT $1::text, $2::bigint, 0, false WHERE $4
    UNION
    SELECT step.kind, step.id, w.depth + 1, w.downstream
    FROM walk AS w
    CROSS JOIN LATERAL (
        SELECT 'R', ri.run_id FROM run_inputs AS ri
        WHERE w.downstream AND w.kind = 'A' AND ri.content_id = w.id
        UNION ALL
        SELECT 'A', c.id FROM artifact_contents AS c
        WHERE w.downstream AND w.kind = 'R' AND c.created_by_run_id = w.id
        UNION ALL
        SELECT 'R', c.created_by_run_id FROM artifact_contents AS c
        WHERE NOT w.downstream AND w.kind = 'A' AND c.id = w.id
          AND c.created_by_run_id IS NOT NULL
        UNION ALL
        SELECT 'A', ri.content_id FROM run_inputs AS ri
        WHERE NOT w.downstream AND w.kind = 'R' AND ri.run_id = w.id
    ) AS step (kind, id)
    WHERE w.depth <= $5
), reached AS (
    SELECT kind, id, min(depth) AS depth FROM walk GROUP BY kind, id
), kept AS (
    SELECT kind, id, depth FROM reached WHERE depth <= $5
    ORDER BY depth, kind, id LIMIT $6
), flags AS (
    SELECT (SELECT count(*) FROM reached WHERE depth <= $5) > $6
        OR EXISTS (SELECT 1 FROM reached WHERE depth > $5) AS truncated
), edges AS (
    -- Driven from one side through its index, the other side as an array: the planner cannot
    -- size `kept`, and a join of kept with kept would be quadratic in the nodes returned.
    SELECT 'INPUT' AS kind, ri.run_id, ri.content_id
    FROM kept AS r JOIN run_inputs AS ri ON ri.run_id = r.id
    WHERE r.kind = 'R' AND ri.content_id = ANY (ARRAY(SELECT id FROM kept WHERE kind = 'A'))
    UNION ALL
    SELECT 'OUTPUT', c.created_by_run_id, c.id
    FROM kept AS a JOIN artifact_contents AS c ON c.id = a.id
    WHERE a.kind = 'A' AND c.created_by_run_id = ANY (ARRAY(SELECT id FROM kept WHERE kind = 'R'))
)
SELECT 'node' AS row_type, kind, id, depth, NULL::bigint AS run_id, NULL::bigint AS content_id,
       NULL::boolean AS truncated
FROM kept
UNION ALL
SELECT 'edge', kind, NULL, NULL, run_id, content_id, NULL FROM edges
UNION ALL
SELECT 'flags', NULL, NULL, NULL, NULL, NULL, truncated FROM flags
"""


async def walk(
    conn: Executor,
    start_kind: str,
    start_id: int,
    *,
    downstream: bool,
    upstream: bool,
    max_depth: int,
    max_nodes: int,
) -> LineageWalk:
    """The nodes within `max_depth` of the start (itself at depth 0), nearest first, at most
    `max_nodes`; the edges among them; and whether either limit cut the walk."""
    rows = await conn.fetch(WALK, start_kind, start_id, downstream, upstream, max_depth, max_nodes)
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    truncated = False
    for row in rows:
        if row["row_type"] == "node":
            nodes.append(LineageNode(row["kind"], row["id"], row["depth"]))
        elif row["row_type"] == "edge":
            edges.append(LineageEdge(row["kind"], row["run_id"], row["content_id"]))
        else:
            truncated = row["truncated"]
    nodes.sort(key=lambda n: (n.depth, n.kind, n.id))
    edges.sort(key=lambda e: (e.kind, e.run_id, e.content_id))
    return LineageWalk(nodes, edges, truncated)
