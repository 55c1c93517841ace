"""Collections: a registry's collection is an `ArtifactPortfolio`, a project's logged artifact
an `ArtifactSequence`; the SDK tells them apart by `__typename`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import records
from resolvers import collections, organizations, registries, versions
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.wandb.connection import Connection, connection, listed
from schema.wandb.ids import wandb_id
from schema.wandb.organizations import After, First

if TYPE_CHECKING:
    from schema.wandb.registries import ArtifactType, Project
    from schema.wandb.versions import ArtifactAlias, ArtifactCollectionMembership, Tag

ProjectType = Annotated["Project", strawberry.lazy("schema.wandb.registries")]
ArtifactTypeType = Annotated["ArtifactType", strawberry.lazy("schema.wandb.registries")]
MembershipType = Annotated["ArtifactCollectionMembership", strawberry.lazy("schema.wandb.versions")]
AliasType = Annotated["ArtifactAlias", strawberry.lazy("schema.wandb.versions")]
TagType = Annotated["Tag", strawberry.lazy("schema.wandb.versions")]


@strawberry.interface(description="A collection of versions: a portfolio or a sequence.")
class ArtifactCollection:
    record: strawberry.Private[records.Collection]

    @strawberry.field(description="The collection's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ArtifactCollection", self.record.id)

    @strawberry.field(description="The collection's name.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The collection's description (a registry collection's card).")
    def description(self) -> str:
        return self.record.description

    @strawberry.field(description="When the collection was made.")
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="Cairn keeps no last-change time for collections: null.")
    def updated_at(self) -> datetime | None:
        return None

    @strawberry.field(description="`READY`: deleted collections are gone at once.")
    def state(self) -> str:
        return "READY"

    @strawberry.field(description="The registry or project holding the collection.")
    async def project(self, info: Ctx) -> ProjectType | None:
        return await project_of(info, self.record)

    @strawberry.field(description="The collection's artifact type.")
    async def default_artifact_type(self, info: Ctx) -> ArtifactTypeType:
        from schema.wandb.registries import ArtifactType

        return ArtifactType(project=None, type_name=self.record.artifact_type)

    @strawberry.field(description="The collection's tags.")
    async def tags(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[TagType]:
        from schema.wandb.versions import Tag

        found = await collections.collection_tags(info.context, self.record.id)
        return listed([Tag.of(self.record.id, t) for t in found])

    @strawberry.field(description="The aliases in use in the collection.")
    async def aliases(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[AliasType]:
        from schema.wandb.versions import ArtifactAlias

        held = await versions.aliases_in_collection(info.context, self.record.id)
        return listed([ArtifactAlias(alias=a, version=v) for a, v in held])

    @strawberry.field(description="A version of the collection by alias or `v<N>`.")
    async def artifact_membership(
        self,
        info: Ctx,
        alias_name: Annotated[str | None, arg("An alias or `v<N>`.")] = None,
    ) -> MembershipType | None:
        from schema.wandb.registries import selected_version
        from schema.wandb.versions import ArtifactCollectionMembership

        found = await selected_version(info, self.record, alias_name)
        return None if found is None else ArtifactCollectionMembership.of(found)

    @strawberry.field(description="The collection's versions, newest first.")
    async def artifact_memberships(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[MembershipType]:
        from schema.wandb.versions import ArtifactCollectionMembership

        query = versions.versions_of(self.record)
        return await connection(info, query, ArtifactCollectionMembership.of, first, after)


@strawberry.type(description="A registry's collection.")
class ArtifactPortfolio(ArtifactCollection):
    pass


@strawberry.type(description="A project's logged artifact: its versions as they were logged.")
class ArtifactSequence(ArtifactCollection):
    pass


def collection_of(record: records.Collection) -> Any:
    if record.registry_id is not None:
        return ArtifactPortfolio(record=record)
    return ArtifactSequence(record=record)


async def project_of(info: Ctx, record: records.Collection) -> Any:
    from schema.wandb.registries import Project

    ctx = info.context
    with raise_domain_errors():
        if record.registry_id is not None:
            registry = await registries.registry(ctx, record.registry_id)
            return None if registry is None else Project(registry=registry)
        project = await organizations.project(ctx, record.project_id or 0)
        return None if project is None else Project(project=project)
