"""Organizations and entities. An organization's entity (`orgEntity`) holds its registries, as
W&B's organization entity does; a user's entity lists the organizations the user belongs to,
which is how the SDK finds the organization of a path that names none."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import records
from resolvers import accounts, mongo_filters, organizations
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.scalars import Int64
from schema.wandb.accounts import User
from schema.wandb.connection import Connection, connection, listed, whole_list
from schema.wandb.ids import wandb_id
from schema.wandb.scalars import JSONString

if TYPE_CHECKING:
    from schema.wandb.collections import ArtifactCollection
    from schema.wandb.registries import Project
    from schema.wandb.versions import ArtifactCollectionMembership

ProjectType = Annotated["Project", strawberry.lazy("schema.wandb.registries")]
CollectionType = Annotated["ArtifactCollection", strawberry.lazy("schema.wandb.collections")]
MembershipType = Annotated["ArtifactCollectionMembership", strawberry.lazy("schema.wandb.versions")]

After = Annotated[str | None, arg("Start after this cursor.")]
First = Annotated[int | None, arg("At most this many items (100 at most per page).")]
Filters = Annotated[JSONString | None, arg("A Mongo-style filter, as JSON text.")]
Order = Annotated[str | None, arg("A field to order by, `-` in front for descending.")]


@strawberry.enum(description="Which kind of collections to list.")
class ArtifactCollectionType(Enum):
    PORTFOLIO = strawberry.enum_value("PORTFOLIO", description="Registry collections.")
    SEQUENCE = strawberry.enum_value("SEQUENCE", description="Projects' logged artifacts.")


@strawberry.type(description="Which registry search the organization offers.")
class AdvancedRegistryFeatures:
    advanced_search: bool = strawberry.field(
        description="True: versions are searched with metadata, sizes and link times."
    )


@strawberry.type(description="An organization.")
class Organization:
    record: strawberry.Private[records.Organization]

    @classmethod
    def of(cls, record: records.Organization) -> Organization:
        return cls(record=record)

    @strawberry.field(description="The organization's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("Organization", self.record.id)

    @strawberry.field(description="The organization's name, used in paths.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The entity that holds the organization's registries.")
    def org_entity(self) -> Entity:
        return Entity(organization_record=self.record)

    @strawberry.field(description="The registry search this server offers.")
    def advanced_registry_features(self) -> AdvancedRegistryFeatures:
        return AdvancedRegistryFeatures(advanced_search=True)


@strawberry.type(
    description="An organization's entity (its registries) or a user's personal entity."
)
class Entity:
    organization_record: strawberry.Private[records.Organization | None] = None
    user_record: strawberry.Private[records.User | None] = None
    team_record: strawberry.Private[records.Team | None] = None

    @strawberry.field(description="The entity's ID; a team's is `Entity:<number>`.")
    def id(self) -> strawberry.ID:
        if self.organization_record is not None:
            return wandb_id("OrganizationEntity", self.organization_record.id)
        if self.team_record is not None:
            return wandb_id("Entity", self.team_record.id)
        assert self.user_record is not None
        return wandb_id("UserEntity", self.user_record.id)

    @strawberry.field(description="The entity's name: the organization's, team's or user's.")
    def name(self) -> str:
        found = self.organization_record or self.team_record or self.user_record
        assert found is not None
        return found.name

    @strawberry.field(description="`organization`, `team` or `user`.")
    def entity_type(self) -> str:
        if self.organization_record is not None:
            return "organization"
        return "team" if self.team_record is not None else "user"

    @strawberry.field(description="Whether the entity is a team.")
    def is_team(self) -> bool:
        return self.team_record is not None

    @strawberry.field(description="A team's members.")
    async def members(self, info: Ctx) -> list[Member]:
        if self.team_record is None:
            return []
        found = await whole_list(info, organizations.team_members(self.team_record))
        return [Member(record=u) for u in found]

    @strawberry.field(description="Whether the caller may not change the entity.")
    def read_only(self, info: Ctx) -> bool:
        if self.organization_record is not None:
            organization_id = self.organization_record.id
        elif self.team_record is not None:
            organization_id = self.team_record.organization_id
        else:
            return True
        role = organizations.viewer_role(info.context, organization_id)
        return role not in ("MEMBER", "ADMIN")

    @strawberry.field(description="Not kept: false.")
    def read_only_admin(self) -> bool:
        return False

    @strawberry.field(description="Not kept: null.")
    def available(self) -> bool | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def photo_url(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: false.")
    def private_only(self) -> bool:
        return False

    @strawberry.field(description="Not kept: 0.")
    def storage_bytes(self) -> Int64:
        return Int64(0)

    @strawberry.field(description="Not kept: false.")
    def code_saving_enabled(self) -> bool:
        return False

    @strawberry.field(description="What new projects default to: `PRIVATE` (the organization).")
    def default_access(self) -> str:
        return "PRIVATE"

    @strawberry.field(description="Not kept: null.")
    def is_paid(self) -> bool | None:
        return None

    @strawberry.field(description="The organization whose entity this is.")
    def organization(self) -> Organization | None:
        return maybe_organization(self.organization_record)

    @strawberry.field(description="The user whose personal entity this is.")
    def user(self) -> User | None:
        return None if self.user_record is None else User.of(self.user_record)

    @strawberry.field(description="A registry of the organization, as `wandb-registry-<name>`.")
    async def project(
        self, info: Ctx, name: Annotated[str | None, arg("The project's name.")] = None
    ) -> ProjectType | None:
        from schema.wandb.registries import project_named

        if self.organization_record is None or name is None:
            return None
        return await project_named(info, self.organization_record, name)

    @strawberry.field(description="The organization's registries the caller may see.")
    async def projects(
        self,
        info: Ctx,
        filters: Filters = None,
        after: After = None,
        first: First = None,
        order: Order = None,
    ) -> Connection[ProjectType]:
        from schema.wandb.registries import Project

        filtered = {"filters": ("registries", filters)}
        return await self._search(info, "registries", filtered, order, Project.of, first, after)

    @strawberry.field(description="Collections in the organization's registries.")
    async def artifact_collections(
        self,
        info: Ctx,
        project_filters: Annotated[JSONString | None, arg("A registry filter.")] = None,
        filters: Annotated[JSONString | None, arg("A collection filter.")] = None,
        collection_types: Annotated[
            list[ArtifactCollectionType] | None, arg("Only PORTFOLIO is listed here.")
        ] = None,
        after: After = None,
        first: First = None,
        order: Order = None,
    ) -> Connection[CollectionType]:
        from schema.wandb.collections import collection_of

        filtered = {
            "projectFilters": ("registries", project_filters),
            "filters": ("collections", filters),
        }
        return await self._search(info, "collections", filtered, order, collection_of, first, after)

    @strawberry.field(description="Versions in the organization's registries.")
    async def artifact_memberships(
        self,
        info: Ctx,
        project_filters: Annotated[JSONString | None, arg("A registry filter.")] = None,
        collection_filters: Annotated[JSONString | None, arg("A collection filter.")] = None,
        filters: Annotated[JSONString | None, arg("A version filter.")] = None,
        after: After = None,
        first: First = None,
        order: Order = None,
    ) -> Connection[MembershipType]:
        from schema.wandb.versions import ArtifactCollectionMembership

        filtered = {
            "projectFilters": ("registries", project_filters),
            "collectionFilters": ("collections", collection_filters),
            "filters": ("versions", filters),
        }
        return await self._search(
            info, "versions", filtered, order, ArtifactCollectionMembership.of, first, after
        )

    async def _search(
        self,
        info: Ctx,
        subject: str,
        filters: Mapping[str, tuple[str, str | None]],
        order: str | None,
        wrap: Any,
        first: int | None,
        after: str | None,
    ) -> Any:
        if self.organization_record is None:
            return listed([])
        with raise_domain_errors():
            query = await mongo_filters.registry_search(
                info.context, subject, self.organization_record, filters, order
            )
        return await connection(info, query, wrap, first, after)


@strawberry.type(description="A member of a team.")
class Member:
    record: strawberry.Private[records.User]

    @strawberry.field(description="The user's ID.")
    def id(self) -> str:
        return wandb_id("User", self.record.id)

    @strawberry.field(description="The user name.")
    def username(self) -> str:
        return self.record.name

    @strawberry.field(description="The name to show.")
    def name(self) -> str:
        return self.record.display_name or self.record.name

    @strawberry.field(description="Teams have no roles of their own here: `member`.")
    def role(self) -> str:
        return "member"

    @strawberry.field(description="Teams have no admins of their own here: false.")
    def admin(self) -> bool:
        return False

    @strawberry.field(description="Whether an invitation is pending: never.")
    def pending(self) -> bool:
        return False

    @strawberry.field(description="Cairn keeps no e-mail addresses: null.")
    def email(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def photo_url(self) -> str | None:
        return None

    @strawberry.field(description="`USER` or `SERVICE`.")
    def account_type(self) -> str:
        return self.record.kind

    @strawberry.field(description="Never shown: null.")
    def api_key(self) -> str | None:
        return None


def maybe_organization(record: records.Organization | None) -> Organization | None:
    return None if record is None else Organization.of(record)


@strawberry.type
class OrganizationsQuery:
    @strawberry.field(description="An organization the caller belongs to, by name.")
    async def organization(
        self, info: Ctx, name: Annotated[str, arg("The organization's name.")]
    ) -> Organization | None:
        found = await organizations.organization_by_name(info.context, name)
        return maybe_organization(found)

    @strawberry.field(
        description="An entity by name: an organization the caller belongs to, else a user who "
        "shares one with the caller, else a team of the caller's organizations."
    )
    async def entity(
        self, info: Ctx, name: Annotated[str | None, arg("The entity's name.")] = None
    ) -> Entity | None:
        if name is None:
            return None
        found = await organizations.organization_by_name(info.context, name)
        if found is not None:
            return Entity(organization_record=found)
        user = await accounts.visible_user_by_name(info.context, name)
        if user is not None:
            return Entity(user_record=user)
        with raise_domain_errors():
            team = await organizations.viewer_team_by_name(info.context, name)
        return None if team is None else Entity(team_record=team)
