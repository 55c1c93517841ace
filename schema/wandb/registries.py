"""Projects: W&B's name for both a registry (`wandb-registry-<name>`) and a project that logs
artifacts. Both hold collections of versions, found here by name."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import records
from resolvers import (
    authorization,
    collections,
    mongo_filters,
    organizations,
    paths,
    registries,
    versions,
)
from resolvers.mongo_filters import REGISTRY_PREFIX
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.wandb.connection import Connection, connection, listed
from schema.wandb.ids import wandb_id
from schema.wandb.organizations import After, Entity, Filters, First, Order

if TYPE_CHECKING:
    from schema.wandb.collections import ArtifactCollection
    from schema.wandb.versions import Artifact, ArtifactCollectionMembership

CollectionType = Annotated["ArtifactCollection", strawberry.lazy("schema.wandb.collections")]
MembershipType = Annotated["ArtifactCollectionMembership", strawberry.lazy("schema.wandb.versions")]
ArtifactType_ = Annotated["Artifact", strawberry.lazy("schema.wandb.versions")]


@strawberry.type(description="A project: a registry, or a project that logs artifacts.")
class Project:
    registry: strawberry.Private[records.Registry | None] = None
    project: strawberry.Private[records.Project | None] = None
    organization: strawberry.Private[records.Organization | None] = None

    @classmethod
    def of(cls, registry: records.Registry) -> Project:
        return cls(registry=registry)

    @property
    def organization_id(self) -> int:
        found = self.registry or self.project
        assert found is not None
        return found.organization_id

    @strawberry.field(description="The project's ID.")
    def id(self) -> strawberry.ID:
        if self.registry is not None:
            return wandb_id("Project", self.registry.id)
        assert self.project is not None
        return wandb_id("LoggingProject", self.project.id)

    @strawberry.field(description="The project's ID as a number, inside an ID.")
    def internal_id(self) -> strawberry.ID:
        if self.registry is not None:
            return wandb_id("ProjectInternalId", self.registry.id)
        assert self.project is not None
        return wandb_id("LoggingProjectInternalId", self.project.id)

    @strawberry.field(description="`wandb-registry-<name>` for a registry, else the name.")
    def name(self) -> str:
        if self.registry is not None:
            return REGISTRY_PREFIX + self.registry.name
        assert self.project is not None
        return self.project.name

    @strawberry.field(description="The project's description.")
    def description(self) -> str:
        found = self.registry or self.project
        assert found is not None
        return found.description

    @strawberry.field(description="When the project was made.")
    def created_at(self) -> datetime:
        found = self.registry or self.project
        assert found is not None
        return found.created_at

    @strawberry.field(description="Cairn keeps no last-change time for projects: null.")
    def updated_at(self) -> datetime | None:
        return None

    @strawberry.field(description="The organization's entity that holds the project.")
    async def entity(self, info: Ctx) -> Entity | None:
        found = await organizations.organization(info.context, self.organization_id)
        return None if found is None else Entity(organization_record=found)

    @strawberry.field(description="The name of the organization's entity that holds it.")
    async def entity_name(self, info: Ctx) -> str | None:
        found = await organizations.organization(info.context, self.organization_id)
        return None if found is None else found.name

    @strawberry.field(
        description="A registry's visibility: `PRIVATE` (the whole organization) or `RESTRICTED` "
        "(its members only)."
    )
    def access(self) -> str | None:
        if self.registry is None:
            return "PRIVATE"
        return "RESTRICTED" if self.registry.visibility == "RESTRICTED" else "PRIVATE"

    @strawberry.field(description="Whether a registry accepts every artifact type.")
    def allow_all_artifact_types_in_registry(self) -> bool:
        return self.registry is not None and self.registry.accepts_all_types

    @strawberry.field(
        description="Whether the caller may not change what the project holds (link, alias, "
        "tag, edit)."
    )
    async def read_only(self, info: Ctx) -> bool:
        if self.registry is not None:
            role = await registries.viewer_role(info.context, self.registry)
            return role not in ("MEMBER", "ADMIN")
        role = organizations.viewer_role(info.context, self.organization_id)
        return role not in ("MEMBER", "ADMIN")

    @strawberry.field(description="A registry's accepted artifact types.")
    def artifact_types(
        self,
        include_all: Annotated[bool | None, arg("Accepted for the SDK; no effect.")] = None,
        after: After = None,
        first: First = None,
    ) -> Connection[ArtifactType]:
        names = [] if self.registry is None else sorted(self.registry.accepted_types)
        return listed([ArtifactType(project=self, type_name=n) for n in names])

    @strawberry.field(description="An artifact type of the project, by name.")
    def artifact_type(self, name: Annotated[str, arg("The type's name.")]) -> ArtifactType:
        return ArtifactType(project=self, type_name=name)

    @strawberry.field(description="A collection of the project, by name.")
    async def artifact_collection(
        self, info: Ctx, name: Annotated[str, arg("The collection's name.")]
    ) -> CollectionType | None:
        from schema.wandb.collections import collection_of

        found = await self.find_collection(info, name)
        return None if found is None else collection_of(found)

    @strawberry.field(description="The project's collections, newest first.")
    async def artifact_collections(
        self,
        info: Ctx,
        after: After = None,
        first: First = None,
        filters: Filters = None,
        order: Order = None,
    ) -> Connection[CollectionType]:
        from schema.wandb.collections import collection_of

        with raise_domain_errors():
            if self.registry is not None:
                search = mongo_filters.collection_search(filters, order)
                query = collections.collections_of(self.registry, search)
            else:
                assert self.project is not None
                mongo_filters.refuse_search_of_sequences(filters, order)
                query = collections.sequences_of(self.project)
        return await connection(info, query, collection_of, first, after)

    @strawberry.field(description="A version by `<collection>:<alias>` or `<collection>:v<N>`.")
    async def artifact_collection_membership(
        self, info: Ctx, name: Annotated[str, arg("`<collection>:<alias or vN>`.")]
    ) -> MembershipType | None:
        from schema.wandb.versions import ArtifactCollectionMembership

        found = await self.find_version(info, name)
        return None if found is None else ArtifactCollectionMembership.of(found)

    @strawberry.field(description="A version by `<collection>:<alias>` or `<collection>:v<N>`.")
    async def artifact(
        self, info: Ctx, name: Annotated[str, arg("`<collection>:<alias or vN>`.")]
    ) -> ArtifactType_ | None:
        from schema.wandb.versions import Artifact

        found = await self.find_version(info, name)
        return None if found is None else Artifact.of(found)

    async def find_collection(self, info: Ctx, name: str) -> records.Collection | None:
        if self.registry is not None:
            return await collections.registry_collection(info.context, self.registry.id, name)
        assert self.project is not None
        return await collections.project_sequence(info.context, self.project.id, name)

    async def find_version(self, info: Ctx, name: str) -> records.ArtifactVersion | None:
        collection_name, _, selector = name.partition(":")
        found = await self.find_collection(info, collection_name)
        return None if found is None else await selected_version(info, found, selector)


async def selected_version(
    info: Ctx, collection: records.Collection, selector: str | None
) -> records.ArtifactVersion | None:
    """The collection's version holding an alias, or at `v<N>`; `latest` without a selector."""
    with raise_domain_errors():
        alias, index = paths.parse_selector(selector or "latest")
        return await versions.version_in_collection(
            info.context, collection.id, alias=alias, index=index
        )


@strawberry.type(description="An artifact type, within a project when reached from one.")
class ArtifactType:
    project: strawberry.Private[Project | None]
    type_name: strawberry.Private[str]

    @strawberry.field(description="The type's ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(base64.b64encode(f"ArtifactType:{self.type_name}".encode()).decode())

    @strawberry.field(description="The type's name, e.g. `model`.")
    def name(self) -> str:
        return self.type_name

    @strawberry.field(description="Cairn keeps no description for types: null.")
    def description(self) -> str | None:
        return None

    @strawberry.field(description="Cairn keeps no creation time for types: null.")
    def created_at(self) -> datetime | None:
        return None

    @strawberry.field(description="A collection of this type in the project, by name.")
    async def artifact_collection(
        self, info: Ctx, name: Annotated[str, arg("The collection's name.")]
    ) -> CollectionType | None:
        from schema.wandb.collections import collection_of

        if self.project is None:
            return None
        found = await self.project.find_collection(info, name)
        if found is None or found.artifact_type != self.type_name:
            return None
        return collection_of(found)


async def project_named(info: Ctx, organization: records.Organization, name: str) -> Project | None:
    """A registry (`wandb-registry-<name>`) or a project of the organization, by name."""
    ctx = info.context
    if name.startswith(REGISTRY_PREFIX):
        found = await registries.registry_in_organization(
            ctx, organization.id, name.removeprefix(REGISTRY_PREFIX)
        )
        return None if found is None else Project(registry=found)
    project = await organizations.project_by_name(ctx, organization.id, name)
    return None if project is None else Project(project=project)


@strawberry.type
class RegistriesQuery:
    @strawberry.field(description="A registry or project, by the name of its entity and its own.")
    async def project(
        self,
        info: Ctx,
        name: Annotated[str | None, arg("`wandb-registry-<name>` or a project's name.")] = None,
        entity_name: Annotated[str | None, arg("The organization's name.")] = None,
    ) -> Project | None:
        if name is None or entity_name is None:
            return None
        organization = await organizations.organization_by_name(info.context, entity_name)
        if organization is None or not authorization.can_view_organization(
            info.context, organization.id
        ):
            return None
        return await project_named(info, organization, name)
