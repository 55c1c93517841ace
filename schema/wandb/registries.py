"""Projects: W&B's name for both a registry (`wandb-registry-<name>`) and a project that logs
artifacts. Both hold collections of versions, found here by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField

from db import records
from resolvers import (
    accounts,
    authorization,
    collections,
    mongo_filters,
    organizations,
    paths,
    registries,
    runs,
    versions,
)
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.paths import REGISTRY_PREFIX
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.wandb.connection import Connection, connection, listed, whole_list
from schema.wandb.ids import number_of, opaque_id, wandb_id
from schema.wandb.mutations import ClientMutationId, SuccessPayload, mutation
from schema.wandb.organizations import After, Entity, Filters, First, Order
from schema.wandb.runs import Run

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

    @strawberry.field(
        description="A registry's accepted artifact types, or the types a project has logged."
    )
    async def artifact_types(
        self,
        info: Ctx,
        include_all: Annotated[bool | None, arg("Accepted for the SDK; no effect.")] = None,
        after: After = None,
        first: First = None,
    ) -> Connection[ArtifactType]:
        if self.registry is not None:
            names = sorted(self.registry.accepted_types)
        else:
            assert self.project is not None
            names = await collections.sequence_types(info.context, self.project)
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
            search = mongo_filters.collection_search(filters, order)
            if self.registry is not None:
                query = collections.collections_of(self.registry, search)
            else:
                assert self.project is not None
                query = collections.sequences_of(self.project, search=search)
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

    @strawberry.field(description="The users with a role of their own in a registry.")
    async def members(self, info: Ctx) -> list[ProjectMember]:
        if self.registry is None:
            return []
        found = await whole_list(info, registries.members_of(self.registry))
        users = await accounts.users_by_id(info.context, [m.user_id for m in found if m.user_id])
        roles = {m.user_id: m.role for m in found if m.user_id is not None}
        return [ProjectMember(user=u, role=role_of(roles[u.id])) for u in users if u is not None]

    @strawberry.field(description="The teams with a role in a registry.")
    async def team_members(self, info: Ctx) -> list[ProjectTeamMember]:
        if self.registry is None:
            return []
        found = await whole_list(info, registries.members_of(self.registry))
        grants = [(m.team_id, m.role) for m in found if m.team_id is not None]
        teams = await organizations.teams_by_id(info.context, [t for t, _ in grants])
        return [
            ProjectTeamMember(team=Entity(team_record=team), role=role_of(role))
            for team, (_, role) in zip(teams, grants, strict=True)
            if team is not None
        ]

    @strawberry.field(description="A run of a project, by name.")
    async def run(self, info: Ctx, name: Annotated[str, arg("The run's name.")]) -> Run | None:
        if self.project is None:
            return None
        found = await runs.run_by_name(info.context, self.project.id, name)
        return None if found is None else Run.of(found)

    @strawberry.field(description="The same: a run of a project, by name (its ID), if any.")
    async def bucket(
        self,
        info: Ctx,
        name: Annotated[str, arg("The run's name.")],
        missing_ok: Annotated[bool | None, arg("Ignored: a missing run is null.")] = None,
    ) -> Run | None:
        return await self.run(info, name)

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
        return opaque_id("ArtifactType", self.type_name)

    @strawberry.field(description="The type's name, e.g. `model`.")
    def name(self) -> str:
        return self.type_name

    @strawberry.field(description="Cairn keeps no description for types: null.")
    def description(self) -> str | None:
        return None

    @strawberry.field(
        description="When the registry or project holding the type was made (types are not "
        "kept apart)."
    )
    def created_at(self) -> datetime | None:
        if self.project is None:
            return None
        found = self.project.registry or self.project.project
        return None if found is None else found.created_at

    @strawberry.field(description="The collections of this type in the project or registry.")
    async def artifact_collections(
        self,
        info: Ctx,
        after: After = None,
        first: First = None,
        filters: Filters = None,
        order: Order = None,
    ) -> Connection[CollectionType]:
        from schema.wandb.collections import collection_of

        if self.project is None:
            raise GraphQLError(
                "reach an artifact type through its project to list its collections",
                extensions={"code": "INVALID_ARGUMENT"},
            )
        with raise_domain_errors():
            if self.project.registry is not None:
                search = mongo_filters.collection_search(filters, order, self.type_name)
                query = collections.collections_of(self.project.registry, search)
            else:
                assert self.project.project is not None
                search = mongo_filters.collection_search(filters, order)
                query = collections.sequences_of(self.project.project, self.type_name, search)
        return await connection(info, query, collection_of, first, after)

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
        version_name = _version_named_below(info)
        if version_name is not None:
            await paths.read_version_at_once(info.context, entity_name, name, version_name)
        organization = await organizations.organization_by_name(info.context, entity_name)
        if organization is None or not authorization.can_view_organization(
            info.context, organization.id
        ):
            return None
        return await project_named(info, organization, name)


def _version_named_below(info: Ctx) -> str | None:
    """The name a `project` selection's `artifactCollectionMembership` or `artifact` asks for
    (what `wandb.Api().artifact()` sends), so that the whole path can be read at once."""
    for selected in info.selected_fields:
        for child in selected.selections:
            if isinstance(child, SelectedField) and child.name in VERSION_BY_NAME_FIELDS:
                named = child.arguments.get("name")
                if isinstance(named, str):
                    return named
    return None


VERSION_BY_NAME_FIELDS = ("artifactCollectionMembership", "artifact")


@strawberry.type(description="A registry role.")
class Role:
    name: str = strawberry.field(description="`admin`, `member`, `viewer` or `restricted_viewer`.")


def role_of(cairn_role: str) -> Role:
    return Role(name=cairn_role.lower())


@strawberry.type(description="A user's role in a registry.")
class ProjectMember:
    user: strawberry.Private[records.User]
    role: Role = strawberry.field(description="The role.")

    @strawberry.field(description="The user's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("User", self.user.id)

    @strawberry.field(description="The name to show.")
    def name(self) -> str:
        return self.user.display_name or self.user.name

    @strawberry.field(description="The user name.")
    def username(self) -> str:
        return self.user.name

    @strawberry.field(description="Cairn keeps no e-mail addresses: null.")
    def email(self) -> str | None:
        return None


@strawberry.type(description="A team's role in a registry.")
class ProjectTeamMember:
    team: Entity = strawberry.field(description="The team.")
    role: Role = strawberry.field(description="The role.")


@strawberry.input(description="A registry to create, or the settings of one to change.")
class UpsertModelInput:
    name: str | None = strawberry.field(default=None, description="`wandb-registry-<name>`.")
    entity_name: str | None = strawberry.field(
        default=None, description="The organization holding it."
    )
    id: str | None = strawberry.field(default=None, description="Not used: give the name.")
    description: str | None = strawberry.field(default=None, description="Its description.")
    access: str | None = strawberry.field(
        default=None, description="`PRIVATE` (the organization) or `RESTRICTED` (its members)."
    )
    allow_all_artifact_types_in_registry: bool | None = strawberry.field(
        default=None, description="True: it accepts every artifact type."
    )
    artifact_types: list[ArtifactTypeInput] | None = strawberry.field(
        default=None, description="Types to accept too."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="An artifact type, by name.")
class ArtifactTypeInput:
    name: str = strawberry.field(description="The type's name.")
    description: str | None = strawberry.field(default=None, description="Not kept.")


@strawberry.type(description="The registry after the change.")
class UpsertModelPayload:
    inserted: bool = strawberry.field(description="True when it was created.")
    project: Project | None = strawberry.field(description="The registry.")
    client_mutation_id: str | None = ClientMutationId

    @strawberry.field(description="The same registry.")
    def model(self) -> Project | None:
        return self.project


@strawberry.input(description="A registry to rename.")
class RenameProjectInput:
    entity_name: str = strawberry.field(description="The organization holding it.")
    old_project_name: str = strawberry.field(description="`wandb-registry-<old name>`.")
    new_project_name: str = strawberry.field(description="`wandb-registry-<new name>`.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A registry to delete, with its collections and links.")
class DeleteModelInput:
    id: str = strawberry.field(description="The registry's ID.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Users and teams to give a role in a registry, or to remove.")
class CreateProjectMembersInput:
    project_id: strawberry.ID = strawberry.field(description="The registry's ID.")
    user_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Users' IDs.")
    team_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Teams' IDs.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Users and teams to remove from a registry.")
class DeleteProjectMembersInput(CreateProjectMembersInput):
    pass


@strawberry.input(description="A user's new role in a registry.")
class UpdateProjectMemberInput:
    project_id: strawberry.ID = strawberry.field(description="The registry's ID.")
    user_id: strawberry.ID = strawberry.field(description="The user's ID.")
    user_project_role: str = strawberry.field(
        description="`admin`, `member`, `viewer` or `restricted_viewer`."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A team's new role in a registry.")
class UpdateProjectTeamMemberInput:
    project_id: strawberry.ID = strawberry.field(description="The registry's ID.")
    team_id: strawberry.ID = strawberry.field(description="The team's ID.")
    team_project_role: str = strawberry.field(
        description="`admin`, `member`, `viewer` or `restricted_viewer`."
    )
    client_mutation_id: str | None = ClientMutationId


# New members of a registry start as members, as in W&B's registries.
NEW_MEMBER_ROLE = "MEMBER"
VISIBILITIES = {"PRIVATE": "ORGANIZATION", "RESTRICTED": "RESTRICTED"}


@dataclass(frozen=True, slots=True)
class Grant:
    user_id: int | None
    team_id: int | None
    role: str


def visibility_of(access: str | None) -> str | None:
    if access is None:
        return None
    found = VISIBILITIES.get(access)
    if found is None:
        raise GraphQLError(
            f"`input.access` must be PRIVATE or RESTRICTED, not {access[:40]!r}",
            extensions={"code": "INVALID_ARGUMENT"},
        )
    return found


def registry_name(project_name: str | None, field: str) -> str:
    if not project_name or not project_name.startswith(REGISTRY_PREFIX):
        raise GraphQLError(
            f"`{field}` names a registry as `{REGISTRY_PREFIX}<name>`; projects are made by "
            "logging to them",
            extensions={"code": "INVALID_ARGUMENT"},
        )
    return project_name.removeprefix(REGISTRY_PREFIX)


@strawberry.type
class RegistriesMutation:
    @strawberry.mutation(description="Creates a registry, or changes the one of that name.")
    async def upsert_model(
        self, info: Ctx, input: Annotated[UpsertModelInput, arg("The registry.")]
    ) -> UpsertModelPayload:
        async with mutation(info.context) as ctx:
            name = registry_name(input.name, "input.name")
            visibility = visibility_of(input.access)
            organization = await organizations.require_organization(ctx, input.entity_name or "")
            types = [t.name for t in input.artifact_types or ()]
            found = await registries.registry_in_organization(ctx, organization.id, name)
            if found is None:
                created = await registries.create_registry(
                    ctx,
                    organization=organization.name,
                    name=name,
                    description=input.description,
                    visibility=visibility or "ORGANIZATION",
                    accepted_types=[] if input.allow_all_artifact_types_in_registry else types,
                    protected_aliases=[],
                )
                return UpsertModelPayload(inserted=True, project=Project(registry=created))
            if input.allow_all_artifact_types_in_registry is False and found.accepts_all_types:
                raise DomainError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"registry '{found.name}' accepts every type; accepted types only grow",
                    ("allowAllArtifactTypesInRegistry",),
                )
            updated = await registries.update_registry(
                ctx,
                registry_id=found.id,
                description=input.description,
                visibility=visibility,
                add_accepted_types=types,
                accept_all_types=bool(input.allow_all_artifact_types_in_registry),
                protected_aliases=None,
            )
        return UpsertModelPayload(inserted=False, project=Project(registry=updated))

    @strawberry.mutation(description="Renames a registry.")
    async def rename_project(
        self, info: Ctx, input: Annotated[RenameProjectInput, arg("The registry and names.")]
    ) -> UpsertModelPayload:
        async with mutation(info.context) as ctx:
            old = registry_name(input.old_project_name, "input.oldProjectName")
            new = registry_name(input.new_project_name, "input.newProjectName")
            organization = await organizations.require_organization(ctx, input.entity_name)
            found = await registries.registry_in_organization(ctx, organization.id, old)
            if found is None:
                raise not_found(f"registry '{old}' not found", ("oldProjectName",))
            renamed = await registries.update_registry(
                ctx,
                registry_id=found.id,
                name=new,
                description=None,
                visibility=None,
                add_accepted_types=[],
                accept_all_types=False,
                protected_aliases=None,
            )
        return UpsertModelPayload(inserted=False, project=Project(registry=renamed))

    @strawberry.mutation(description="Deletes a registry with its collections and links.")
    async def delete_model(
        self, info: Ctx, input: Annotated[DeleteModelInput, arg("The registry.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            registry_id = number_of(input.id, "input.id", "Project")
            await registries.delete_registry(ctx, registry_id)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Gives users and teams the member role in a registry.")
    async def create_project_members(
        self, info: Ctx, input: Annotated[CreateProjectMembersInput, arg("Who.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            registry_id = number_of(input.project_id, "input.projectId", "Project")
            users, teams = member_numbers(input)
            grants = [Grant(u, None, NEW_MEMBER_ROLE) for u in users]
            grants += [Grant(None, t, NEW_MEMBER_ROLE) for t in teams]
            await registries.add_registry_members(ctx, registry_id, grants)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Removes users' and teams' roles in a registry.")
    async def delete_project_members(
        self, info: Ctx, input: Annotated[DeleteProjectMembersInput, arg("Who.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            registry_id = number_of(input.project_id, "input.projectId", "Project")
            users, teams = member_numbers(input)
            await registries.remove_registry_members(ctx, registry_id, users, teams)
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Changes a user's role in a registry.")
    async def update_project_member(
        self, info: Ctx, input: Annotated[UpdateProjectMemberInput, arg("Who and the role.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            await registries.update_registry_member_role(
                ctx,
                number_of(input.project_id, "input.projectId", "Project"),
                number_of(input.user_id, "input.userId", "User"),
                None,
                input.user_project_role.upper(),
            )
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Changes a team's role in a registry.")
    async def update_project_team_member(
        self, info: Ctx, input: Annotated[UpdateProjectTeamMemberInput, arg("Which and the role.")]
    ) -> SuccessPayload:
        async with mutation(info.context) as ctx:
            await registries.update_registry_member_role(
                ctx,
                number_of(input.project_id, "input.projectId", "Project"),
                None,
                number_of(input.team_id, "input.teamId", "Entity"),
                input.team_project_role.upper(),
            )
        return SuccessPayload(success=True, client_mutation_id=input.client_mutation_id)


def member_numbers(input: CreateProjectMembersInput) -> tuple[list[int], list[int]]:
    users = [number_of(u, "input.userIds", "User") for u in input.user_ids or ()]
    teams = [number_of(t, "input.teamIds", "Entity") for t in input.team_ids or ()]
    return users, teams
