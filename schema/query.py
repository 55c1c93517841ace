"""The root query type."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import reads
from schema.errors import raise_domain_errors
from schema.ids import decode_id
from schema.types import (
    ArtifactVersion,
    Ctx,
    Node,
    Organization,
    Registry,
    Viewer,
    node_of,
)

MAX_NODES = 100


@strawberry.type(description="Entry points for reading the registry graph.")
class Query:
    @strawberry.field(description="The authenticated caller.")
    def viewer(self, info: Ctx) -> Viewer:
        return Viewer(record=info.context.principal.user)

    @strawberry.field(description="An organization by name, if the caller belongs to it.")
    async def organization(
        self,
        info: Ctx,
        name: Annotated[str, strawberry.argument(description="Organization slug, e.g. `acme`.")],
    ) -> Organization | None:
        found = await reads.organization_by_name(info.context, name)
        return None if found is None else Organization.of(found)

    @strawberry.field(description="A registry by organization and registry name.")
    async def registry(
        self,
        info: Ctx,
        organization: Annotated[str, strawberry.argument(description="Organization slug.")],
        name: Annotated[
            str, strawberry.argument(description="Registry name, without `wandb-registry-`.")
        ],
    ) -> Registry | None:
        found = await reads.registry_by_name(info.context, organization, name)
        return None if found is None else Registry.of(found)

    @strawberry.field(
        description="One version by path: `[org/]wandb-registry-<registry>/<collection>"
        "[:<alias>|:v<N>]` or `org/<project>/<artifact>[:<alias>|:v<N>]`; no selector means "
        "`latest`. A malformed path (INVALID_PATH) or a missing part (NOT_FOUND) is an error "
        "whose message names the part."
    )
    async def artifact_version(
        self,
        info: Ctx,
        path: Annotated[str, strawberry.argument(description="The version's path.")],
        organization: Annotated[
            str | None,
            strawberry.argument(
                description="Organization for a path that names none; by default the "
                "caller's only organization."
            ),
        ] = None,
    ) -> ArtifactVersion | None:
        with raise_domain_errors():
            found = await reads.version_by_path(info.context, path, organization)
        return ArtifactVersion.of(found)

    @strawberry.field(description="Any object by its global ID; null if missing or not visible.")
    async def node(
        self, info: Ctx, id: Annotated[strawberry.ID, strawberry.argument(description="Global ID.")]
    ) -> Node | None:
        type_name, row_id = decode_id(id)
        (found,) = await reads.nodes_of_kind(info.context, type_name, [row_id])
        return None if found is None else node_of(type_name, found)

    @strawberry.field(
        description=f"Objects by global IDs, in order; null for each missing or not visible one. "
        f"At most {MAX_NODES} IDs."
    )
    async def nodes(
        self,
        info: Ctx,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global IDs.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            from graphql import GraphQLError

            raise GraphQLError(
                f"`ids` may hold at most {MAX_NODES} IDs, got {len(ids)}",
                extensions={"code": "INVALID_ARGUMENT"},
            )
        decoded = [decode_id(i) for i in ids]
        by_kind: dict[str, list[int]] = {}
        for type_name, row_id in decoded:
            by_kind.setdefault(type_name, []).append(row_id)
        found: dict[tuple[str, int], Node | None] = {}
        for type_name, row_ids in by_kind.items():
            objs = await reads.nodes_of_kind(info.context, type_name, row_ids)
            for row_id, obj in zip(row_ids, objs, strict=True):
                found[(type_name, row_id)] = None if obj is None else node_of(type_name, obj)
        return [found[key] for key in decoded]
