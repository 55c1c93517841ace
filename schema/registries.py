"""Registries: their settings, collections, members and roles, automations and history."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import records
from db.search import COLLECTIONS
from resolvers import accounts, automations, collections, history, organizations, registries
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from schema.accounts import User
from schema.connection import connection_field
from schema.context import Ctx, arg, maybe, maybe_soon
from schema.errors import still_there
from schema.history import Actions, AuditEvent, action_names
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node
from schema.organizations import Organization, Team
from schema.search import (
    CollectionFilterArgument,
    CollectionOrderArgument,
    Query,
    search_of,
)

if TYPE_CHECKING:
    from schema.automations import Automation
    from schema.collections import Collection

CollectionType = Annotated["Collection", strawberry.lazy("schema.collections")]
AutomationType = Annotated["Automation", strawberry.lazy("schema.automations")]


@strawberry.enum(description="A role in a registry, least to most.")
class RegistryRole(Enum):
    RESTRICTED_VIEWER = strawberry.enum_value(
        "RESTRICTED_VIEWER",
        description="Sees collections, versions, metadata, aliases, tags, history and lineage, "
        "but no files.",
    )
    VIEWER = strawberry.enum_value("VIEWER", description="Also sees files and may use versions.")
    MEMBER = strawberry.enum_value(
        "MEMBER",
        description="Also links, unlinks, sets non-protected aliases and tags, edits "
        "descriptions and creates, edits and deletes collections.",
    )
    ADMIN = strawberry.enum_value(
        "ADMIN",
        description="Also protected aliases, visibility, accepted types, members and roles, "
        "and deleting the registry.",
    )


@strawberry.enum(description="Who can see a registry.")
class RegistryVisibility(Enum):
    ORGANIZATION = strawberry.enum_value(
        "ORGANIZATION", description="Every member of the organization can see it."
    )
    RESTRICTED = strawberry.enum_value(
        "RESTRICTED", description="Only users and teams given a role in it can see it."
    )


@strawberry.type(description="A user's or a team's direct role in a registry.")
class RegistryMember:
    record: strawberry.Private[records.RegistryMember]
    role: RegistryRole = strawberry.field(description="The role given.")
    created_at: datetime = strawberry.field(description="When it was given.")

    @classmethod
    def of(cls, r: records.RegistryMember) -> RegistryMember:
        return cls(record=r, role=RegistryRole(r.role), created_at=r.created_at)

    @strawberry.field(description="The user, for a user's role.", graphql_type=User | None)
    def user(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.user_id))

    @strawberry.field(description="The team, for a team's role.")
    async def team(self, info: Ctx) -> Team | None:
        if self.record.team_id is None:
            return None
        return maybe(Team, await organizations.team(info.context, self.record.team_id))


@node(load=registries.registries_by_id)
@strawberry.type(description="An organization-wide catalog of artifacts of one kind.")
class Registry(Node):
    record: strawberry.Private[records.Registry]
    name: str = strawberry.field(description="Registry name, e.g. `model`.")
    full_name: str = strawberry.field(
        description="The name as a project in paths: `wandb-registry-<name>`."
    )
    description: str = strawberry.field(description="What the registry holds (Markdown).")
    visibility: RegistryVisibility = strawberry.field(description="Who can see the registry.")
    accepts_all_types: bool = strawberry.field(
        description="True when any artifact type may be linked; `acceptedTypes` is then empty."
    )
    accepted_types: list[str] = strawberry.field(
        description="Artifact types collections of this registry may have. Only ever grows."
    )
    protected_aliases: list[str] = strawberry.field(
        description="Aliases only registry admins may add, move or remove, e.g. `production`."
    )
    is_core: bool = strawberry.field(
        description="Core registries (`model`, `dataset`) exist in every organization."
    )
    created_at: datetime = strawberry.field(description="When the registry was created.")

    @classmethod
    def of(cls, r: records.Registry) -> Registry:
        return cls(
            id=global_id("Registry", r.id),
            record=r,
            name=r.name,
            full_name=f"wandb-registry-{r.name}",
            description=r.description,
            visibility=RegistryVisibility(r.visibility),
            accepts_all_types=r.accepts_all_types,
            # Documented: empty when every type is accepted (earlier types stay stored).
            accepted_types=[] if r.accepts_all_types else r.accepted_types,
            protected_aliases=r.protected_aliases,
            is_core=r.is_core,
            created_at=r.created_at,
        )

    @strawberry.field(description="The organization that owns the registry.")
    async def organization(self, info: Ctx) -> Organization:
        found = await organizations.organization(info.context, self.record.organization_id)
        return Organization.of(still_there(found, "organization"))

    @connection_field(
        CollectionType, "The registry's collections, newest first unless `orderBy` says otherwise."
    )
    async def collections(
        self,
        info: Ctx,
        filter: CollectionFilterArgument = None,
        query: Query = None,
        order_by: CollectionOrderArgument = None,
    ) -> ListQuery[records.Collection]:
        search = search_of(COLLECTIONS, filter, order_by, query)
        return collections.collections_of(self.record, search)

    @connection_field(
        AuditEvent, "Changes to the registry, its collections and their versions, newest first."
    )
    async def history(self, info: Ctx, actions: Actions = None) -> ListQuery[records.AuditEvent]:
        return history.registry_history(self.record, action_names(actions))

    @connection_field(
        RegistryMember,
        "Users and teams given a role in the registry (teams first, then users, by name). "
        "Organization-derived roles are not listed.",
    )
    async def members(self, info: Ctx) -> ListQuery[records.RegistryMember]:
        return registries.members_of(self.record)

    @connection_field(
        AutomationType,
        "Webhook automations on the registry, newest first (registry MEMBERs and ADMINs only: "
        "URLs and deliveries may be sensitive).",
        nullable=True,
    )
    async def automations(self, info: Ctx) -> ListQuery[records.Automation]:
        return await automations.registry_automations(info.context, self.record)

    @strawberry.field(description="The caller's effective role in this registry.")
    async def viewer_role(self, info: Ctx) -> RegistryRole | None:
        role = await registries.viewer_role(info.context, self.record)
        return None if role is None else RegistryRole(role)

    @strawberry.field(description="One collection by name.")
    async def collection(
        self, info: Ctx, name: Annotated[str, arg("Collection name.")]
    ) -> CollectionType | None:
        found = await collections.registry_collection(info.context, self.record.id, name)
        return maybe(CollectionType, found)


@strawberry.type
class RegistriesQuery:
    @strawberry.field(description="A registry by organization and registry name.")
    async def registry(
        self,
        info: Ctx,
        organization: Annotated[str, arg("Organization slug.")],
        name: Annotated[str, arg("Registry name, without `wandb-registry-`.")],
    ) -> Registry | None:
        found = await registries.registry_by_name(info.context, organization, name)
        return maybe(Registry, found)


# Registries


@strawberry.input(description="A new custom registry.")
class CreateRegistryInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="1 to 113 characters, none of / \\ # ? % :")
    description: str | None = strawberry.field(default=None, description="Description.")
    visibility: RegistryVisibility = strawberry.field(
        default=RegistryVisibility.ORGANIZATION, description="Who can see it."
    )
    accepted_types: list[str] = strawberry.field(
        default_factory=list, description="Artifact types it accepts; empty accepts all."
    )
    protected_aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases only its admins may change."
    )


@strawberry.type(description="The result of a mutation on a registry.")
class RegistryPayload:
    registry: Registry | None = strawberry.field(
        default=None, description="The registry as it is now."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Registry) -> RegistryPayload:
        return cls(registry=Registry.of(changed))


@strawberry.input(description="Changes to a registry's settings.")
class UpdateRegistryInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")
    name: str | None = strawberry.field(
        default=None,
        description="A new name (core registries keep theirs); paths with the old name stop "
        "resolving.",
    )
    description: str | None = strawberry.field(default=None, description="New description.")
    visibility: RegistryVisibility | None = strawberry.field(
        default=None, description="New visibility (core registries stay ORGANIZATION)."
    )
    add_accepted_types: list[str] = strawberry.field(
        default_factory=list, description="Types to accept too; accepted types only grow."
    )
    accept_all_types: bool = strawberry.field(
        default=False, description="True to accept every type from now on."
    )
    protected_aliases: list[str] | None = strawberry.field(
        default=None, description="The new list of protected aliases (replaces the old one)."
    )


@strawberry.input(description="A registry to delete, with its collections and links.")
class DeleteRegistryInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")


@strawberry.type(description="The result of `deleteRegistry`.")
class DeleteRegistryPayload:
    deleted_registry_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted registry."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.Registry) -> DeleteRegistryPayload:
        return cls(deleted_registry_id=global_id("Registry", deleted.id))


@strawberry.type
class RegistriesMutation:
    @strawberry.mutation(description="Creates a custom registry (organization MEMBER).")
    async def create_registry(
        self, info: Ctx, input: Annotated[CreateRegistryInput, arg("The registry.")]
    ) -> RegistryPayload:
        return await mutate(info, RegistryPayload, registries.create_registry, input)

    @strawberry.mutation(description="Changes a registry's settings (registry ADMIN).")
    async def update_registry(
        self, info: Ctx, input: Annotated[UpdateRegistryInput, arg("The changes.")]
    ) -> RegistryPayload:
        return await mutate(info, RegistryPayload, registries.update_registry, input)

    @strawberry.mutation(
        description="Deletes a registry with its collections and links; logged artifacts and "
        "runs stay (registry ADMIN; core registries cannot be deleted)."
    )
    async def delete_registry(
        self, info: Ctx, input: Annotated[DeleteRegistryInput, arg("The registry.")]
    ) -> DeleteRegistryPayload:
        return await mutate(info, DeleteRegistryPayload, registries.delete_registry, input)


# Members and roles


@strawberry.input(description="A user or a team (give exactly one) and the role to give.")
class RegistryMemberInput:
    user_id: strawberry.ID | None = id_input("User", default=None, description="A user.")
    team_id: strawberry.ID | None = id_input("Team", default=None, description="A team.")
    role: RegistryRole = strawberry.field(description="The role in the registry.")


@strawberry.input(description="Users and teams to give roles in a registry.")
class AddRegistryMembersInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")
    members: list[RegistryMemberInput] = strawberry.field(
        description="Members and roles; an existing role is replaced."
    )


@strawberry.input(description="A new role for a registry member.")
class UpdateRegistryMemberRoleInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")
    user_id: strawberry.ID | None = id_input("User", default=None, description="A user member.")
    team_id: strawberry.ID | None = id_input("Team", default=None, description="A team member.")
    role: RegistryRole = strawberry.field(description="The new role.")


@strawberry.input(description="Users and teams whose registry role to take away.")
class RemoveRegistryMembersInput:
    registry_id: strawberry.ID = id_input("Registry", description="The registry.")
    user_ids: list[strawberry.ID] = id_input("User", default_factory=list, description="Users.")
    team_ids: list[strawberry.ID] = id_input("Team", default_factory=list, description="Teams.")


@strawberry.type(description="The result of a change to a registry's members.")
class RegistryMembersPayload:
    registry: Registry | None = strawberry.field(default=None, description="The registry.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Registry) -> RegistryMembersPayload:
        return cls(registry=Registry.of(changed))


@strawberry.type
class RegistryMembersMutation:
    @strawberry.mutation(description="Gives users and teams roles in a registry (registry ADMIN).")
    async def add_registry_members(
        self, info: Ctx, input: Annotated[AddRegistryMembersInput, arg("The members.")]
    ) -> RegistryMembersPayload:
        return await mutate(info, RegistryMembersPayload, registries.add_registry_members, input)

    @strawberry.mutation(description="Changes a registry member's role (registry ADMIN).")
    async def update_registry_member_role(
        self, info: Ctx, input: Annotated[UpdateRegistryMemberRoleInput, arg("The change.")]
    ) -> RegistryMembersPayload:
        action = registries.update_registry_member_role
        return await mutate(info, RegistryMembersPayload, action, input)

    @strawberry.mutation(description="Takes registry roles away (registry ADMIN).")
    async def remove_registry_members(
        self, info: Ctx, input: Annotated[RemoveRegistryMembersInput, arg("The members.")]
    ) -> RegistryMembersPayload:
        action = registries.remove_registry_members
        return await mutate(info, RegistryMembersPayload, action, input)
