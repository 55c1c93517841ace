"""Lineage graphs, impact and diffs, and the arguments of the `lineage` fields of versions and
runs (whose modules build on this one)."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import records
from resolvers import lineage
from schema.context import Ctx, arg, type_of
from schema.errors import raise_domain_errors
from schema.nodes import global_id

if TYPE_CHECKING:
    from schema.runs import Run
    from schema.versions import ArtifactVersion

RunType = Annotated["Run", strawberry.lazy("schema.runs")]
VersionType = Annotated["ArtifactVersion", strawberry.lazy("schema.versions")]


@strawberry.enum(description="Which way to walk the lineage graph.")
class LineageDirection(Enum):
    UPSTREAM = strawberry.enum_value(
        "UPSTREAM", description="Towards what produced it: creating runs and their inputs."
    )
    DOWNSTREAM = strawberry.enum_value(
        "DOWNSTREAM", description="Towards what it fed: runs that used it and their outputs."
    )
    BOTH = strawberry.enum_value("BOTH", description="Both walks from the start, merged.")


LineageDirectionArg = Annotated[LineageDirection, arg("Which way to walk (default UPSTREAM).")]
LineageMaxDepth = Annotated[
    int | None,
    arg(f"How many edges to follow: default {lineage.DEFAULT_DEPTH}, at most {lineage.MAX_DEPTH}."),
]
LineageMaxNodes = Annotated[
    int | None,
    arg(
        f"How many nodes to return, nearest first: default {lineage.DEFAULT_NODES}, "
        f"at most {lineage.MAX_NODES}."
    ),
]


@strawberry.enum(description="What an edge of the lineage graph means.")
class LineageEdgeKind(Enum):
    INPUT = strawberry.enum_value("INPUT", description="Artifact version → the run that used it.")
    OUTPUT = strawberry.enum_value("OUTPUT", description="Run → the artifact version it logged.")


LineageEntity = Annotated[
    RunType | VersionType,
    strawberry.union("LineageEntity", description="A run or an artifact version."),
]


def _entity_id(entity: records.ArtifactVersion | records.Run) -> strawberry.ID:
    return global_id("Run" if isinstance(entity, records.Run) else "ArtifactVersion", entity.id)


def _wrap(entity: records.ArtifactVersion | records.Run) -> Any:
    return type_of(RunType if isinstance(entity, records.Run) else VersionType).of(entity)


def _versions(found: list[records.ArtifactVersion]) -> list[Any]:
    return [type_of(VersionType).of(v) for v in found]


@strawberry.type(description="A run or artifact version in a lineage graph, with its distance.")
class LineageNode:
    id: strawberry.ID = strawberry.field(description="The global ID of the run or version.")
    depth: int = strawberry.field(description="Edges from the start; the start is at 0.")
    node: LineageEntity = strawberry.field(description="The run or artifact version.")


@strawberry.type(description="A lineage edge between two nodes of the graph.")
class LineageEdge:
    from_: strawberry.ID = strawberry.field(name="from", description="The edge's source node ID.")
    to: strawberry.ID = strawberry.field(description="The edge's target node ID.")
    kind: LineageEdgeKind = strawberry.field(description="INPUT or OUTPUT.")


@strawberry.type(
    description="A flat lineage graph. Artifacts appear as their logged (source) versions: "
    "lineage belongs to content, so a linked version shows its source's lineage."
)
class LineageGraph:
    graph: strawberry.Private[lineage.LineageGraph]
    nodes: list[LineageNode] = strawberry.field(
        description="Nodes the caller may see, nearest first; the start is at depth 0."
    )
    edges: list[LineageEdge] = strawberry.field(description="Edges among those nodes.")
    truncated: bool = strawberry.field(
        description="True when `maxDepth` or `maxNodes` cut the walk short."
    )
    hidden_node_count: int = strawberry.field(
        default=0,
        description="Always 0.",
        deprecation_reason="What you may not see does not exist for you, not even as a count: "
        "nothing is left out.",
    )

    @classmethod
    def of(cls, g: lineage.LineageGraph) -> LineageGraph:
        return cls(
            graph=g,
            nodes=[
                LineageNode(id=_entity_id(n.entity), depth=n.depth, node=_wrap(n.entity))
                for n in g.nodes
            ],
            edges=[
                LineageEdge(
                    from_=_entity_id(e.source),
                    to=_entity_id(e.target),
                    kind=LineageEdgeKind[e.kind],
                )
                for e in g.edges
            ],
            truncated=g.truncated,
        )

    @strawberry.field(
        description="Impact: every registry version (that the caller may see) pointing at the "
        "content of any artifact in the graph, with its aliases. On a downstream graph, the "
        "registered models and datasets a bad input affects."
    )
    async def affected_versions(self, info: Ctx) -> list[VersionType]:
        return _versions(await lineage.impact(info.context, self.graph))

    @strawberry.field(
        description="Always 0.",
        deprecation_reason="What you may not see does not exist for you, not even as a count: "
        "nothing is left out.",
    )
    def hidden_affected_version_count(self) -> int:
        return 0


@strawberry.type(description="An artifact whose version differs between the two upstreams.")
class LineageVersionChange:
    artifact: str = strawberry.field(description="The artifact's name.")
    before: list[VersionType] = strawberry.field(
        description="Its versions in the other (`against`) version's upstream only."
    )
    after: list[VersionType] = strawberry.field(
        description="Its versions in this version's upstream only."
    )


@strawberry.type(description="How this version's upstream differs from another's.")
class LineageDiff:
    added_versions: list[VersionType] = strawberry.field(
        description="Inputs of artifacts the other version's upstream does not have."
    )
    removed_versions: list[VersionType] = strawberry.field(
        description="Inputs of artifacts only the other version's upstream has."
    )
    changed: list[LineageVersionChange] = strawberry.field(
        description="Artifacts in both upstreams, at different versions."
    )
    unchanged_versions: list[VersionType] = strawberry.field(description="Inputs the same in both.")
    added_runs: list[RunType] = strawberry.field(
        description="Runs only in this version's upstream."
    )
    removed_runs: list[RunType] = strawberry.field(description="Runs only in the other's upstream.")

    @classmethod
    def of(cls, d: lineage.LineageDiff) -> LineageDiff:
        runs = type_of(RunType)
        return cls(
            added_versions=_versions(d.added_versions),
            removed_versions=_versions(d.removed_versions),
            changed=[
                LineageVersionChange(
                    artifact=c.artifact, before=_versions(c.before), after=_versions(c.after)
                )
                for c in d.changed
            ],
            unchanged_versions=_versions(d.unchanged_versions),
            added_runs=[runs.of(r) for r in d.added_runs],
            removed_runs=[runs.of(r) for r in d.removed_runs],
        )


async def graph_of(walk: Awaitable[lineage.LineageGraph]) -> LineageGraph:
    """The graph a lineage walk finds, or the walk's refusal (bad limits) as a field error."""
    with raise_domain_errors():
        return LineageGraph.of(await walk)
