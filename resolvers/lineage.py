"""Lineage: what produced a version, what it fed into, what is affected, and what changed.

Lineage belongs to content: a version's graph starts from its content, so a linked version shows
its source's lineage, and moving an alias never changes an earlier version's graph. Artifacts in
the graph appear as their logged (source) versions.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from db import lineage
from db.lineage import ARTIFACT, RUN
from db.records import ArtifactVersion, Run
from db.versions import registry_versions_of_contents
from resolvers import authorization, versions
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found

DEFAULT_DEPTH = 5
MAX_DEPTH = 20
DEFAULT_NODES = 200
MAX_NODES = 2000


@dataclass(frozen=True, slots=True)
class GraphNode:
    depth: int
    entity: ArtifactVersion | Run


@dataclass(frozen=True, slots=True)
class GraphEdge:
    kind: str  # INPUT: artifact version → run; OUTPUT: run → artifact version
    source: ArtifactVersion | Run
    target: ArtifactVersion | Run


@dataclass(slots=True)
class LineageGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool
    content_ids: list[int] = field(default_factory=list)


def _limits(max_depth: int | None, max_nodes: int | None) -> tuple[int, int]:
    depth = DEFAULT_DEPTH if max_depth is None else max_depth
    nodes = DEFAULT_NODES if max_nodes is None else max_nodes
    if not 0 <= depth <= MAX_DEPTH:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"`maxDepth` must be between 0 and {MAX_DEPTH}, got {depth}",
            ("maxDepth",),
        )
    if not 1 <= nodes <= MAX_NODES:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"`maxNodes` must be between 1 and {MAX_NODES}, got {nodes}",
            ("maxNodes",),
        )
    return depth, nodes


async def _graph(
    ctx: Context,
    start_kind: str,
    start_id: int,
    direction: str,
    max_depth: int | None,
    max_nodes: int | None,
) -> LineageGraph:
    """The lineage graph from a content (ARTIFACT) or a run (RUN), without what the caller may
    not see: they do not exist for the caller, so neither do the edges that lead to them."""
    depth, nodes = _limits(max_depth, max_nodes)
    walked = await lineage.walk(
        ctx.reads,
        start_kind,
        start_id,
        downstream=direction in ("DOWNSTREAM", "BOTH"),
        upstream=direction in ("UPSTREAM", "BOTH"),
        max_depth=depth,
        max_nodes=nodes,
    )
    content_ids = [n.id for n in walked.nodes if n.kind == ARTIFACT]
    run_ids = [n.id for n in walked.nodes if n.kind == RUN]
    versions, runs = await asyncio.gather(
        ctx.loaders.source_version_by_content.load_many(content_ids),
        ctx.loaders.run_by_id.load_many(run_ids),
    )
    entities: dict[tuple[str, int], ArtifactVersion | Run] = {}
    candidates = [
        *(((ARTIFACT, i), v) for i, v in zip(content_ids, versions, strict=True)),
        *(((RUN, i), r) for i, r in zip(run_ids, runs, strict=True)),
    ]
    visible = await asyncio.gather(
        *(authorization.can_view(ctx, entity) for _, entity in candidates)
    )
    for (key, entity), seen in zip(candidates, visible, strict=True):
        if seen and entity is not None:
            entities[key] = entity
    result_nodes = [
        GraphNode(n.depth, entities[(n.kind, n.id)])
        for n in walked.nodes
        if (n.kind, n.id) in entities
    ]
    edges = []
    for e in walked.edges:
        run = entities.get((RUN, e.run_id))
        artifact = entities.get((ARTIFACT, e.content_id))
        if run is None or artifact is None:
            continue
        if e.kind == "INPUT":
            edges.append(GraphEdge("INPUT", artifact, run))
        else:
            edges.append(GraphEdge("OUTPUT", run, artifact))
    return LineageGraph(
        nodes=result_nodes,
        edges=edges,
        truncated=walked.truncated,
        content_ids=[i for i in content_ids if (ARTIFACT, i) in entities],
    )


async def version_graph(
    ctx: Context,
    version: ArtifactVersion,
    direction: str,
    max_depth: int | None,
    max_nodes: int | None,
) -> LineageGraph:
    return await _graph(ctx, ARTIFACT, version.content_id, direction, max_depth, max_nodes)


async def run_graph(
    ctx: Context, run: Run, direction: str, max_depth: int | None, max_nodes: int | None
) -> LineageGraph:
    return await _graph(ctx, RUN, run.id, direction, max_depth, max_nodes)


async def impact(ctx: Context, graph: LineageGraph) -> list[ArtifactVersion]:
    """The registry versions the caller may see that point at any artifact of the graph."""
    found = await registry_versions_of_contents(ctx.reads, graph.content_ids)
    visible = await asyncio.gather(*(authorization.can_view(ctx, v) for v in found))
    return [v for v, seen in zip(found, visible, strict=True) if seen]


@dataclass(frozen=True, slots=True)
class VersionChange:
    artifact: str
    before: list[ArtifactVersion]
    after: list[ArtifactVersion]


@dataclass(frozen=True, slots=True)
class LineageDiff:
    added_versions: list[ArtifactVersion]
    removed_versions: list[ArtifactVersion]
    changed: list[VersionChange]
    unchanged_versions: list[ArtifactVersion]
    added_runs: list[Run]
    removed_runs: list[Run]


async def diff(
    ctx: Context, version: ArtifactVersion, against_id: int | None, max_depth: int | None
) -> LineageDiff:
    """How `version`'s upstream differs from that of the version `against_id` (None: an ID of
    something else): artifacts added, removed, or changed to another version of the same
    artifact, and runs added or removed."""
    against = None if against_id is None else await versions.version(ctx, against_id)
    if against is None:
        raise not_found("`against` is not an artifact version you can see", ("against",))
    new, old = await asyncio.gather(
        version_graph(ctx, version, "UPSTREAM", max_depth, MAX_NODES),
        version_graph(ctx, against, "UPSTREAM", max_depth, MAX_NODES),
    )
    starts = {version.content_id, against.content_id}

    def artifacts(g: LineageGraph) -> dict[int, dict[int, ArtifactVersion]]:
        by_sequence: dict[int, dict[int, ArtifactVersion]] = defaultdict(dict)
        for node in g.nodes:
            entity = node.entity
            if isinstance(entity, ArtifactVersion) and entity.content_id not in starts:
                by_sequence[entity.sequence_id][entity.content_id] = entity
        return by_sequence

    def runs(g: LineageGraph) -> dict[int, Run]:
        return {n.entity.id: n.entity for n in g.nodes if isinstance(n.entity, Run)}

    new_artifacts, old_artifacts = artifacts(new), artifacts(old)
    added: list[ArtifactVersion] = []
    removed: list[ArtifactVersion] = []
    unchanged: list[ArtifactVersion] = []
    changed: list[VersionChange] = []
    sequence_ids = sorted(set(new_artifacts) | set(old_artifacts))
    sequences = await ctx.loaders.collection_by_id.load_many(sequence_ids)
    names = {c.id: c.name for c in sequences if c is not None}
    for sequence_id in sequence_ids:
        after = new_artifacts.get(sequence_id, {})
        before = old_artifacts.get(sequence_id, {})
        if not before:
            added.extend(after.values())
        elif not after:
            removed.extend(before.values())
        elif set(before) == set(after):
            unchanged.extend(after.values())
        else:
            # Versions of the artifact in both upstreams are unchanged, the rest changed.
            unchanged.extend(v for c, v in after.items() if c in before)
            changed.append(
                VersionChange(
                    artifact=names.get(sequence_id, ""),
                    before=[v for c, v in sorted(before.items()) if c not in after],
                    after=[v for c, v in sorted(after.items()) if c not in before],
                )
            )
    new_runs, old_runs = runs(new), runs(old)
    return LineageDiff(
        added_versions=added,
        removed_versions=removed,
        changed=changed,
        unchanged_versions=unchanged,
        added_runs=[r for i, r in sorted(new_runs.items()) if i not in old_runs],
        removed_runs=[r for i, r in sorted(old_runs.items()) if i not in new_runs],
    )
