"""Organizations: their registries, projects, members, teams and history."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import records
from db.search import REGISTRIES
from resolvers import accounts, history, organizations, registries
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from schema.accounts import User
from schema.connection import connection_field
from schema.context import Ctx, arg, maybe, maybe_soon
from schema.history import Actions, AuditEvent, action_names
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node
from schema.search import Query, RegistryFilterArgument, RegistryOrderArgument, search_of

if TYPE_CHECKING:
    from schema.registries import Registry
    from schema.runs import Project

RegistryType = Annotated["Registry", strawberry.lazy("schema.registries")]
ProjectType = Annotated["Project", strawberry.lazy("schema.runs")]


@strawberry.enum(description="A user's role in an organization.")
class OrganizationRole(Enum):
    VIEWER = strawberry.enum_value("VIEWER", description="May read the organization's registries.")
    MEMBER = strawberry.enum_value("MEMBER", description="May also create registries and log.")
    ADMIN = strawberry.enum_value("ADMIN", description="Administers the whole organization.")


@node(load=organizations.teams_by_id)
@strawberry.type(description="A named group of an organization's users, given registry roles.")
class Team(Node):
    record: strawberry.Private[records.Team]
    name: str = strawberry.field(description="Team name, unique in the organization.")
    created_at: datetime = strawberry.field(description="When the team was made.")

    @classmethod
    def of(cls, r: records.Team) -> Team:
        return cls(id=global_id("Team", r.id), record=r, name=r.name, created_at=r.created_at)

    @connection_field(User, "The team's members, by name.")
    async def members(self, info: Ctx) -> ListQuery[records.User]:
        return organizations.team_members(self.record)


@strawberry.type(description="A user's membership of an organization.")
class OrganizationMember:
    record: strawberry.Private[records.OrganizationMember]
    user: User = strawberry.field(description="The member.")
    role: OrganizationRole = strawberry.field(description="Their role in the organization.")
    member_since: datetime = strawberry.field(description="When they joined.")

    @classmethod
    def of(cls, pair: tuple[records.OrganizationMember, records.User]) -> OrganizationMember:
        member, user = pair
        return cls(
            record=member,
            user=User.of(user),
            role=OrganizationRole(member.role),
            member_since=member.created_at,
        )


@node(load=organizations.invitations_by_id)
@strawberry.type(
    description="An invitation to join an organization, seen by the person it names and by the "
    "organization's admins."
)
class OrganizationInvitation(Node):
    record: strawberry.Private[records.Invitation]
    user_name: str = strawberry.field(description="The user name invited.")
    role: OrganizationRole = strawberry.field(description="The role accepting gives.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    expires_at: datetime = strawberry.field(description="When it stops being valid.")

    @classmethod
    def of(cls, r: records.Invitation) -> OrganizationInvitation:
        return cls(
            id=global_id("OrganizationInvitation", r.id),
            record=r,
            user_name=r.user_name,
            role=OrganizationRole(r.role),
            created_at=r.created_at,
            expires_at=r.expires_at,
        )

    @strawberry.field(description="The name of the organization that invites.")
    async def organization_name(self, info: Ctx) -> str:
        return await organizations.invitation_organization_name(info.context, self.record)

    @strawberry.field(
        description="Who sent it, when the invitee may see them.", graphql_type=User | None
    )
    def invited_by(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.invited_by))


@node(load=organizations.organizations_by_id)
@strawberry.type(description="An organization: it owns registries, projects, users and teams.")
class Organization(Node):
    record: strawberry.Private[records.Organization]
    name: str = strawberry.field(description="Unique slug used in paths, e.g. `acme`.")
    display_name: str = strawberry.field(description="Human-readable name.")
    created_at: datetime = strawberry.field(description="When the organization was created.")

    @classmethod
    def of(cls, r: records.Organization) -> Organization:
        return cls(
            id=global_id("Organization", r.id),
            record=r,
            name=r.name,
            display_name=r.display_name,
            created_at=r.created_at,
        )

    @strawberry.field(description="The caller's role in this organization.")
    def viewer_role(self, info: Ctx) -> OrganizationRole | None:
        role = organizations.viewer_role(info.context, self.record.id)
        return None if role is None else OrganizationRole(role)

    @connection_field(
        RegistryType,
        "The organization's registries you may see, by name unless `orderBy` says otherwise.",
    )
    async def registries(
        self,
        info: Ctx,
        filter: RegistryFilterArgument = None,
        query: Query = None,
        order_by: RegistryOrderArgument = None,
    ) -> ListQuery[records.Registry]:
        search = search_of(REGISTRIES, filter, order_by, query)
        return await registries.registries_of(info.context, self.record, search)

    @strawberry.field(description="One registry by name (case-insensitive), without the prefix.")
    async def registry(
        self, info: Ctx, name: Annotated[str, arg("Registry name, e.g. `model`.")]
    ) -> RegistryType | None:
        found = await registries.registry_in_organization(info.context, self.record.id, name)
        return maybe(RegistryType, found)

    @connection_field(ProjectType, "The organization's projects, by name.")
    async def projects(self, info: Ctx) -> ListQuery[records.Project]:
        return organizations.projects_of(self.record)

    @strawberry.field(description="One project by name.")
    async def project(
        self, info: Ctx, name: Annotated[str, arg("Project name.")]
    ) -> ProjectType | None:
        found = await organizations.project_by_name(info.context, self.record.id, name)
        return maybe(ProjectType, found)

    @connection_field(Team, "The organization's teams, by name.")
    async def teams(self, info: Ctx) -> ListQuery[records.Team]:
        return organizations.teams_of(self.record)

    @connection_field(
        AuditEvent,
        "Changes to members, teams, service accounts and API keys, and the whole history of "
        "deleted registries, newest first. Organization admins only.",
        nullable=True,
    )
    async def history(self, info: Ctx, actions: Actions = None) -> ListQuery[records.AuditEvent]:
        return history.organization_history(info.context, self.record.id, action_names(actions))

    @connection_field(
        OrganizationInvitation,
        "Pending invitations to join, newest first. Organization admins only.",
        nullable=True,
    )
    async def invitations(self, info: Ctx) -> ListQuery[records.Invitation]:
        return organizations.organization_invitations(info.context, self.record)

    @connection_field(OrganizationMember, "The organization's members, by user name.")
    async def members(
        self, info: Ctx
    ) -> ListQuery[tuple[records.OrganizationMember, records.User]]:
        return organizations.members_of(self.record)


@strawberry.type
class OrganizationsQuery:
    @strawberry.field(description="An organization by name, if the caller belongs to it.")
    async def organization(
        self, info: Ctx, name: Annotated[str, arg("Organization slug, e.g. `acme`.")]
    ) -> Organization | None:
        return maybe(Organization, await organizations.organization_by_name(info.context, name))


# Members


@strawberry.input(description="An existing user to add to an organization.")
class AddOrganizationMemberInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_name: str = strawberry.field(description="The user's name.")
    role: OrganizationRole = strawberry.field(description="Their organization role.")


@strawberry.input(description="A user name to invite into an organization.")
class InviteOrganizationMemberInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_name: str = strawberry.field(description="The user name to invite.")
    role: OrganizationRole = strawberry.field(description="The role accepting gives.")


@strawberry.input(description="An invitation to accept or decline.")
class InvitationInput:
    invitation_id: strawberry.ID = id_input("OrganizationInvitation", description="The invitation.")


@strawberry.type(description="The result of `inviteOrganizationMember` and `declineInvitation`.")
class InvitationPayload:
    invitation: OrganizationInvitation | None = strawberry.field(
        default=None, description="The invitation."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Invitation) -> InvitationPayload:
        return cls(invitation=OrganizationInvitation.of(changed))


@strawberry.input(description="A new organization role for a member.")
class UpdateOrganizationMemberRoleInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_id: strawberry.ID = id_input("User", description="The member.")
    role: OrganizationRole = strawberry.field(description="The new role.")


@strawberry.input(description="A member to remove from an organization.")
class RemoveOrganizationMemberInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_id: strawberry.ID = id_input("User", description="The member.")


@strawberry.type(description="The result of a change to an organization's members.")
class OrganizationMemberPayload:
    organization: Organization | None = strawberry.field(
        default=None, description="The organization."
    )
    user: User | None = strawberry.field(default=None, description="The member concerned.")
    errors: list[UserError] = Errors

    @classmethod
    def of(
        cls, changed: tuple[records.Organization, records.User | None]
    ) -> OrganizationMemberPayload:
        org, user = changed
        return cls(organization=Organization.of(org), user=maybe(User, user))


# Teams


@strawberry.input(description="A new team.")
class CreateTeamInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="Team name, unique in the organization.")


@strawberry.input(description="Users to add to or remove from a team.")
class TeamMembersInput:
    team_id: strawberry.ID = id_input("Team", description="The team.")
    user_ids: list[strawberry.ID] = id_input("User", description="Organization members.")


@strawberry.type(description="The result of a change to a team.")
class TeamPayload:
    team: Team | None = strawberry.field(default=None, description="The team.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Team) -> TeamPayload:
        return cls(team=Team.of(changed))


@strawberry.input(description="A team to delete (its registry roles go with it).")
class DeleteTeamInput:
    team_id: strawberry.ID = id_input("Team", description="The team.")


@strawberry.type(description="The result of `deleteTeam`.")
class DeleteTeamPayload:
    deleted_team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted team's ID."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, deleted: records.Team) -> DeleteTeamPayload:
        return cls(deleted_team_id=global_id("Team", deleted.id))


@strawberry.type
class OrganizationsMutation:
    @strawberry.mutation(
        description="Invites a user name to join an organization with a role (org ADMIN); the "
        "person joins by accepting. The answer is the same whether or not the name exists."
    )
    async def invite_organization_member(
        self, info: Ctx, input: Annotated[InviteOrganizationMemberInput, arg("The invitation.")]
    ) -> InvitationPayload:
        action = organizations.invite_organization_member
        return await mutate(info, InvitationPayload, action, input)

    @strawberry.mutation(description="Joins the organization an invitation to you is from.")
    async def accept_invitation(
        self, info: Ctx, input: Annotated[InvitationInput, arg("The invitation.")]
    ) -> OrganizationMemberPayload:
        action = organizations.accept_invitation
        return await mutate(info, OrganizationMemberPayload, action, input)

    @strawberry.mutation(
        description="Declines an invitation to you, or withdraws one of your organization's "
        "(org ADMIN)."
    )
    async def decline_invitation(
        self, info: Ctx, input: Annotated[InvitationInput, arg("The invitation.")]
    ) -> InvitationPayload:
        return await mutate(info, InvitationPayload, organizations.decline_invitation, input)

    @strawberry.mutation(
        description="Adds a user you already administer to an organization (org ADMIN): a "
        "member of an organization where you are ADMIN, or an account in no organization yet. "
        "Anyone else joins by invitation."
    )
    async def add_organization_member(
        self, info: Ctx, input: Annotated[AddOrganizationMemberInput, arg("The member.")]
    ) -> OrganizationMemberPayload:
        action = organizations.add_organization_member
        return await mutate(info, OrganizationMemberPayload, action, input)

    @strawberry.mutation(
        description="Changes a member's organization role (org ADMIN); the last admin stays."
    )
    async def update_organization_member_role(
        self, info: Ctx, input: Annotated[UpdateOrganizationMemberRoleInput, arg("The change.")]
    ) -> OrganizationMemberPayload:
        action = organizations.update_organization_member_role
        return await mutate(info, OrganizationMemberPayload, action, input)

    @strawberry.mutation(
        description="Removes a member, with their registry roles and team seats in the "
        "organization (org ADMIN); the last admin cannot be removed."
    )
    async def remove_organization_member(
        self, info: Ctx, input: Annotated[RemoveOrganizationMemberInput, arg("The member.")]
    ) -> OrganizationMemberPayload:
        action = organizations.remove_organization_member
        return await mutate(info, OrganizationMemberPayload, action, input)

    @strawberry.mutation(description="Creates a team (org ADMIN).")
    async def create_team(
        self, info: Ctx, input: Annotated[CreateTeamInput, arg("The team.")]
    ) -> TeamPayload:
        return await mutate(info, TeamPayload, organizations.create_team, input)

    @strawberry.mutation(description="Adds organization members to a team (org ADMIN).")
    async def add_team_members(
        self, info: Ctx, input: Annotated[TeamMembersInput, arg("The members.")]
    ) -> TeamPayload:
        return await mutate(info, TeamPayload, organizations.add_team_members, input)

    @strawberry.mutation(description="Removes users from a team (org ADMIN).")
    async def remove_team_members(
        self, info: Ctx, input: Annotated[TeamMembersInput, arg("The members.")]
    ) -> TeamPayload:
        return await mutate(info, TeamPayload, organizations.remove_team_members, input)

    @strawberry.mutation(description="Deletes a team and its registry roles (org ADMIN).")
    async def delete_team(
        self, info: Ctx, input: Annotated[DeleteTeamInput, arg("The team.")]
    ) -> DeleteTeamPayload:
        return await mutate(info, DeleteTeamPayload, organizations.delete_team, input)
