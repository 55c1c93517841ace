"""Mutations on who belongs where: registry members, organization members, teams, service
accounts and API keys. Same conventions as `schema.mutations`."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from resolvers import memberships
from schema.mutations import Errors, UserError, input_id, maybe, run_mutation
from schema.types import (
    ApiKey,
    Ctx,
    Organization,
    OrganizationRole,
    Registry,
    RegistryRole,
    Team,
    User,
)

USER = ("User",)
TEAM = ("Team",)
REGISTRY = ("Registry",)


@strawberry.input(description="A user or a team (give exactly one) and the role to give.")
class RegistryMemberInput:
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A user.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="A team.")
    role: RegistryRole = strawberry.field(description="The role in the registry.")


@strawberry.input(description="Users and teams to give roles in a registry.")
class AddRegistryMembersInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")
    members: list[RegistryMemberInput] = strawberry.field(
        description="Members and roles; an existing role is replaced."
    )


@strawberry.input(description="A new role for a registry member.")
class UpdateRegistryMemberRoleInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A user member.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="A team member.")
    role: RegistryRole = strawberry.field(description="The new role.")


@strawberry.input(description="Users and teams whose registry role to take away.")
class RemoveRegistryMembersInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")
    user_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Users.")
    team_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Teams.")


@strawberry.type(description="The result of a change to a registry's members.")
class RegistryMembersPayload:
    registry: Registry | None = strawberry.field(description="The registry.")
    errors: list[UserError] = Errors


@strawberry.input(description="An existing user to add to an organization.")
class AddOrganizationMemberInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_name: str = strawberry.field(description="The user's name.")
    role: OrganizationRole = strawberry.field(description="Their organization role.")


@strawberry.input(description="A new organization role for a member.")
class UpdateOrganizationMemberRoleInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_id: strawberry.ID = strawberry.field(description="The member.")
    role: OrganizationRole = strawberry.field(description="The new role.")


@strawberry.input(description="A member to remove from an organization.")
class RemoveOrganizationMemberInput:
    organization: str = strawberry.field(description="Organization slug.")
    user_id: strawberry.ID = strawberry.field(description="The member.")


@strawberry.type(description="The result of a change to an organization's members.")
class OrganizationMemberPayload:
    organization: Organization | None = strawberry.field(description="The organization.")
    user: User | None = strawberry.field(description="The member concerned.")
    errors: list[UserError] = Errors


@strawberry.input(description="A new team.")
class CreateTeamInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="Team name, unique in the organization.")


@strawberry.input(description="Users to add to or remove from a team.")
class TeamMembersInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    user_ids: list[strawberry.ID] = strawberry.field(description="Organization members.")


@strawberry.type(description="The result of a change to a team.")
class TeamPayload:
    team: Team | None = strawberry.field(description="The team.")
    errors: list[UserError] = Errors


@strawberry.input(description="A team to delete (its registry roles go with it).")
class DeleteTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")


@strawberry.type(description="The result of `deleteTeam`.")
class DeleteTeamPayload:
    deleted_team_id: strawberry.ID | None = strawberry.field(description="The deleted team's ID.")
    errors: list[UserError] = Errors


@strawberry.input(description="A new service account: a SERVICE user for automation.")
class CreateServiceAccountInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="User name, unique across Cairn.")
    display_name: str | None = strawberry.field(default=None, description="Name to show.")


@strawberry.type(description="The result of `createServiceAccount`.")
class ServiceAccountPayload:
    user: User | None = strawberry.field(description="The service account.")
    errors: list[UserError] = Errors


@strawberry.input(description="A new API key, for yourself or for a service account.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="A label, e.g. `ci`.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A service account in an organization you administer; yourself if omitted.",
    )


@strawberry.type(description="The result of `createApiKey`: the secret is shown this once.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key.")
    secret: str | None = strawberry.field(
        description="The key itself, for `Authorization: Bearer`; it cannot be shown again."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="A key to revoke.")
class RevokeApiKeyInput:
    key_id: strawberry.ID = strawberry.field(description="The key's ID.")


@strawberry.type(description="The result of `revokeApiKey`.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The revoked key.")
    errors: list[UserError] = Errors


def _arg(description: str) -> Any:
    return strawberry.argument(description=description)


@strawberry.type(description="Changes to members, roles, teams and keys.")
class MembershipMutation:
    @strawberry.mutation(description="Gives users and teams roles in a registry (registry ADMIN).")
    async def add_registry_members(
        self, info: Ctx, input: Annotated[AddRegistryMembersInput, _arg("The members.")]
    ) -> RegistryMembersPayload:
        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            members = [
                (
                    input_id(m.user_id, USER, "members"),
                    input_id(m.team_id, TEAM, "members"),
                    m.role.name,
                )
                for m in input.members
            ]
            return await memberships.add_registry_members(info.context, registry_id, members)

        result, errors = await run_mutation(info, action)
        return RegistryMembersPayload(registry=maybe(Registry.of, result), errors=errors)

    @strawberry.mutation(description="Changes a registry member's role (registry ADMIN).")
    async def update_registry_member_role(
        self, info: Ctx, input: Annotated[UpdateRegistryMemberRoleInput, _arg("The change.")]
    ) -> RegistryMembersPayload:
        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            return await memberships.update_registry_member_role(
                info.context,
                registry_id,
                input_id(input.user_id, USER, "userId"),
                input_id(input.team_id, TEAM, "teamId"),
                input.role.name,
            )

        result, errors = await run_mutation(info, action)
        return RegistryMembersPayload(registry=maybe(Registry.of, result), errors=errors)

    @strawberry.mutation(description="Takes registry roles away (registry ADMIN).")
    async def remove_registry_members(
        self, info: Ctx, input: Annotated[RemoveRegistryMembersInput, _arg("The members.")]
    ) -> RegistryMembersPayload:
        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            users = [input_id(u, USER, "userIds") for u in input.user_ids]
            teams = [input_id(t, TEAM, "teamIds") for t in input.team_ids]
            return await memberships.remove_registry_members(
                info.context,
                registry_id,
                [u for u in users if u is not None],
                [t for t in teams if t is not None],
            )

        result, errors = await run_mutation(info, action)
        return RegistryMembersPayload(registry=maybe(Registry.of, result), errors=errors)

    @strawberry.mutation(description="Adds an existing user to an organization (org ADMIN).")
    async def add_organization_member(
        self, info: Ctx, input: Annotated[AddOrganizationMemberInput, _arg("The member.")]
    ) -> OrganizationMemberPayload:
        result, errors = await run_mutation(
            info,
            lambda: memberships.add_organization_member(
                info.context, input.organization, input.user_name, input.role.name
            ),
        )
        return _member_payload(result, errors)

    @strawberry.mutation(
        description="Changes a member's organization role (org ADMIN); the last admin stays."
    )
    async def update_organization_member_role(
        self, info: Ctx, input: Annotated[UpdateOrganizationMemberRoleInput, _arg("The change.")]
    ) -> OrganizationMemberPayload:
        async def action() -> Any:
            user_id = input_id(input.user_id, USER, "userId")
            assert user_id is not None
            return await memberships.update_organization_member_role(
                info.context, input.organization, user_id, input.role.name
            )

        result, errors = await run_mutation(info, action)
        return _member_payload(result, errors)

    @strawberry.mutation(
        description="Removes a member, with their registry roles and team seats in the "
        "organization (org ADMIN); the last admin cannot be removed."
    )
    async def remove_organization_member(
        self, info: Ctx, input: Annotated[RemoveOrganizationMemberInput, _arg("The member.")]
    ) -> OrganizationMemberPayload:
        async def action() -> Any:
            user_id = input_id(input.user_id, USER, "userId")
            assert user_id is not None
            org = await memberships.remove_organization_member(
                info.context, input.organization, user_id
            )
            return org, None

        result, errors = await run_mutation(info, action)
        return _member_payload(result, errors)

    @strawberry.mutation(description="Creates a team (org ADMIN).")
    async def create_team(
        self, info: Ctx, input: Annotated[CreateTeamInput, _arg("The team.")]
    ) -> TeamPayload:
        result, errors = await run_mutation(
            info, lambda: memberships.create_team(info.context, input.organization, input.name)
        )
        return TeamPayload(team=maybe(Team.of, result), errors=errors)

    @strawberry.mutation(description="Adds organization members to a team (org ADMIN).")
    async def add_team_members(
        self, info: Ctx, input: Annotated[TeamMembersInput, _arg("The members.")]
    ) -> TeamPayload:
        return await _team_members(info, input, add=True)

    @strawberry.mutation(description="Removes users from a team (org ADMIN).")
    async def remove_team_members(
        self, info: Ctx, input: Annotated[TeamMembersInput, _arg("The members.")]
    ) -> TeamPayload:
        return await _team_members(info, input, add=False)

    @strawberry.mutation(description="Deletes a team and its registry roles (org ADMIN).")
    async def delete_team(
        self, info: Ctx, input: Annotated[DeleteTeamInput, _arg("The team.")]
    ) -> DeleteTeamPayload:
        async def action() -> Any:
            team_id = input_id(input.team_id, TEAM, "teamId")
            assert team_id is not None
            await memberships.delete_team(info.context, team_id)
            return input.team_id

        result, errors = await run_mutation(info, action)
        return DeleteTeamPayload(deleted_team_id=result, errors=errors)

    @strawberry.mutation(
        description="Creates a service account, a SERVICE user that joins the organization as "
        "MEMBER and has at least MEMBER in the registries it can see (org ADMIN)."
    )
    async def create_service_account(
        self, info: Ctx, input: Annotated[CreateServiceAccountInput, _arg("The account.")]
    ) -> ServiceAccountPayload:
        result, errors = await run_mutation(
            info,
            lambda: memberships.create_service_account(
                info.context, input.organization, input.name, input.display_name
            ),
        )
        return ServiceAccountPayload(user=maybe(User.of, result), errors=errors)

    @strawberry.mutation(
        description="Creates an API key for yourself, or for a service account of an "
        "organization you administer. The secret is in the payload, once."
    )
    async def create_api_key(
        self, info: Ctx, input: Annotated[CreateApiKeyInput, _arg("The key.")]
    ) -> CreateApiKeyPayload:
        async def action() -> Any:
            return await memberships.create_api_key(
                info.context, input.name, input_id(input.user_id, USER, "userId")
            )

        result, errors = await run_mutation(info, action)
        if result is None:
            return CreateApiKeyPayload(api_key=None, secret=None, errors=errors)
        key, secret = result
        return CreateApiKeyPayload(api_key=ApiKey.of(key), secret=secret, errors=errors)

    @strawberry.mutation(description="Revokes an API key at once.")
    async def revoke_api_key(
        self, info: Ctx, input: Annotated[RevokeApiKeyInput, _arg("The key.")]
    ) -> ApiKeyPayload:
        async def action() -> Any:
            key_id = input_id(input.key_id, ("ApiKey",), "keyId")
            assert key_id is not None
            return await memberships.revoke_api_key(info.context, key_id)

        result, errors = await run_mutation(info, action)
        return ApiKeyPayload(api_key=maybe(ApiKey.of, result), errors=errors)


def _member_payload(result: Any, errors: list[UserError]) -> OrganizationMemberPayload:
    org, user = result if result is not None else (None, None)
    return OrganizationMemberPayload(
        organization=maybe(Organization.of, org), user=maybe(User.of, user), errors=errors
    )


async def _team_members(info: Ctx, input: TeamMembersInput, *, add: bool) -> TeamPayload:
    async def action() -> Any:
        team_id = input_id(input.team_id, TEAM, "teamId")
        assert team_id is not None
        users = [input_id(u, USER, "userIds") for u in input.user_ids]
        return await memberships.change_team_members(
            info.context, team_id, [u for u in users if u is not None], add=add
        )

    result, errors = await run_mutation(info, action)
    return TeamPayload(team=maybe(Team.of, result), errors=errors)
