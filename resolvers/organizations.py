"""Organizations: their members, teams and projects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from db import accounts as account_rows
from db import organizations, registries
from db.organizations import (
    INVITATIONS_BY_ORGANIZATION,
    INVITATIONS_BY_USER,
    MEMBERS_BY_ORGANIZATION,
    MEMBERS_BY_TEAM,
    TEAMS_BY_ORGANIZATION,
)
from db.pool import Connection
from db.records import Invitation, Organization, OrganizationMember, Project, Team, User
from db.runs import PROJECTS_BY_ORGANIZATION
from resolvers import authorization, validation
from resolvers.authorization import ORGANIZATION_ROLES
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn
from resolvers.pages import ListQuery
from resolvers.validation import invalid, label, role_name, storable

# Every organization starts with these registries (name, the one artifact type it accepts).
CORE_REGISTRIES = (("model", "model"), ("dataset", "dataset"))
MAX_MEMBERS_AT_ONCE = 100
INVITATION_VALID_SECONDS = 14 * 24 * 3600


# Reading


async def organization(ctx: Context, organization_id: int) -> Organization | None:
    found = await ctx.loaders.organization_by_id.load(organization_id)
    return await authorization.visible(ctx, found)


async def organizations_by_id(ctx: Context, ids: Sequence[int]) -> list[Organization | None]:
    found = await ctx.loaders.organization_by_id.load_many(ids)
    return await authorization.visible_many(ctx, found)


async def organization_by_name(ctx: Context, name: str) -> Organization | None:
    if not storable(name):
        return None
    return await authorization.visible(ctx, await ctx.loaders.organization_by_name.load(name))


async def require_organization(ctx: Context, name: str) -> Organization:
    """The organization an input names, or a refusal naming the `organization` field."""
    found = await organization_by_name(ctx, name)
    if found is None:
        raise not_found(f"organization '{name}' not found", ("organization",))
    return found


async def viewer_organizations(ctx: Context) -> list[Organization]:
    ids = sorted(ctx.principal.organization_roles)
    found = await ctx.loaders.organization_by_id.load_many(ids)
    return sorted((o for o in found if o is not None), key=lambda o: o.name)


async def viewer_teams(ctx: Context) -> list[Team]:
    """The teams the caller belongs to, in every organization."""
    return await organizations.teams_of_user(ctx.reads, ctx.principal.user.id)


async def viewer_team_by_name(ctx: Context, name: str) -> Team | None:
    """A team of the caller's organizations, by name; refused when several have one."""
    if not storable(name):
        return None
    found = await organizations.teams_named(
        ctx.reads, name, sorted(ctx.principal.organization_roles)
    )
    if len(found) > 1:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"{len(found)} of your organizations have a team named '{name}'",
            ("name",),
        )
    return found[0] if found else None


def viewer_role(ctx: Context, organization_id: int) -> str | None:
    return ctx.principal.organization_roles.get(organization_id)


def members_of(organization: Organization) -> ListQuery[tuple[OrganizationMember, User]]:
    return ListQuery(MEMBERS_BY_ORGANIZATION, organization.id)


def teams_of(organization: Organization) -> ListQuery[Team]:
    return ListQuery(TEAMS_BY_ORGANIZATION, organization.id)


async def project(ctx: Context, project_id: int) -> Project | None:
    return await authorization.visible(ctx, await ctx.loaders.project_by_id.load(project_id))


async def projects_by_id(ctx: Context, ids: Sequence[int]) -> list[Project | None]:
    return await authorization.visible_many(ctx, await ctx.loaders.project_by_id.load_many(ids))


async def project_by_name(ctx: Context, organization_id: int, name: str) -> Project | None:
    if not authorization.can_view_organization(ctx, organization_id) or not storable(name):
        return None
    found = await ctx.loaders.project_by_organization_name.load((organization_id, name))
    return await authorization.visible(ctx, found)


def projects_of(organization: Organization) -> ListQuery[Project]:
    return ListQuery(PROJECTS_BY_ORGANIZATION, organization.id)


async def team(ctx: Context, team_id: int) -> Team | None:
    return await authorization.visible(ctx, await ctx.loaders.team_by_id.load(team_id))


async def teams_by_id(ctx: Context, ids: Sequence[int]) -> list[Team | None]:
    return await authorization.visible_many(ctx, await ctx.loaders.team_by_id.load_many(ids))


def team_members(team: Team) -> ListQuery[User]:
    return ListQuery(MEMBERS_BY_TEAM, team.id)


async def _team(ctx: Context, team_id: int, field: str = "teamId") -> Team:
    found = await team(ctx, team_id)
    if found is None:
        raise not_found("team not found", (field,))
    return found


async def _visible_user(ctx: Context, user_id: int) -> User:
    """A user the caller shares an organization with; anyone else answers as missing."""
    user = await ctx.loaders.user_by_id.load(user_id)
    if user is None or not await authorization.can_view_user(ctx, user):
        raise not_found("user not found", ("userId",))
    return user


async def require_members(
    ctx: Context, organization_id: int, user_ids: Sequence[int], field: str
) -> None:
    """Refuses user ids that are not members of the organization (as not found)."""
    found = await organizations.members_among(ctx.reads, organization_id, user_ids)
    if missing := [u for u in user_ids if u not in found]:
        raise not_found(
            f"{len(missing)} of the users are not members of the organization", (field,)
        )


# Organizations and members


async def create_organization_txn(conn: Connection, name: str, display_name: str) -> Organization:
    """A new organization with its core registries (an operator's or a test's step)."""
    org = await organizations.insert_organization(conn, name, display_name)
    for registry_name, artifact_type in CORE_REGISTRIES:
        await registries.insert_registry(
            conn,
            organization_id=org.id,
            name=registry_name,
            description=f"The organization's core {registry_name} registry.",
            visibility="ORGANIZATION",
            accepted_types=[artifact_type],
            accepts_all_types=False,
            protected_aliases=[],
            is_core=True,
            created_by=None,
        )
    return org


async def add_member_txn(conn: Connection, org: Organization, user: User, role: str) -> None:
    """Puts a user in an organization with `role` (an operator's step, as `cairn users create`)."""
    await organizations.set_organization_member(conn, org.id, user.id, role)


async def add_organization_member(
    ctx: Context, organization: str, user_name: str, role: str
) -> tuple[Organization, User]:
    role_name(role, ORGANIZATION_ROLES, "role")
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    user = await account_rows.user_by_name(ctx.reads, user_name)
    if user is None or not await authorization.may_add_directly(ctx, user):
        # The same answer whether or not the name exists: adding does not probe for accounts.
        raise not_found(
            f"user '{user_name}' not found among the people you administer: invite them with "
            "`inviteOrganizationMember`, and they join by accepting",
            ("userName",),
        )
    async with ctx.transaction() as conn:
        await organizations.lock_organization(conn, org.id)
        if await organizations.member_role(conn, org.id, user.id) is not None:
            raise DomainError(
                ErrorCode.ALREADY_MEMBER,
                f"'{user.name}' is already a member of '{org.name}'",
                ("userName",),
            )
        await organizations.set_organization_member(conn, org.id, user.id, role)
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "ADD_ORGANIZATION_MEMBER",
            AuditTarget.member(org.id, "User", user.id),
            after={"user": user.name, "role": role},
        )
    return org, user


async def _check_last_admin(
    conn: Connection, org: Organization, current: str, new: str | None
) -> None:
    if (
        current == "ADMIN"
        and new != "ADMIN"
        and await organizations.count_admins(conn, org.id) <= 1
    ):
        raise DomainError(
            ErrorCode.LAST_ADMIN,
            f"'{org.name}' needs at least one admin: make another member ADMIN first",
            ("userId",),
        )


async def _current_role_txn(conn: Connection, org: Organization, user: User) -> str:
    # The lock makes two admins demoting or removing each other at once take turns: one stays.
    await organizations.lock_organization(conn, org.id)
    current = await organizations.member_role(conn, org.id, user.id)
    if current is None:
        raise not_found(f"'{user.name}' is not a member of '{org.name}'", ("userId",))
    return current


async def update_organization_member_role(
    ctx: Context, organization: str, user_id: int, role: str
) -> tuple[Organization, User]:
    role_name(role, ORGANIZATION_ROLES, "role")
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    user = await _visible_user(ctx, user_id)
    async with ctx.transaction() as conn:
        current = await _current_role_txn(conn, org, user)
        await _check_last_admin(conn, org, current, role)
        await organizations.set_organization_member(conn, org.id, user.id, role)
        if current != role:
            await audit_txn(
                conn,
                ctx.principal.user.id,
                "UPDATE_ORGANIZATION_MEMBER_ROLE",
                AuditTarget.member(org.id, "User", user.id),
                before={"role": current},
                after={"role": role},
            )
    return org, user


async def remove_organization_member(
    ctx: Context, organization: str, user_id: int
) -> tuple[Organization, None]:
    """Removes a member with their registry roles and team seats; the payload names no user."""
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "managing organization members")
    user = await _visible_user(ctx, user_id)
    async with ctx.transaction() as conn:
        current = await _current_role_txn(conn, org, user)
        await _check_last_admin(conn, org, current, None)
        await organizations.remove_organization_member(conn, org.id, user.id)
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "REMOVE_ORGANIZATION_MEMBER",
            AuditTarget.member(org.id, "User", user.id),
            before={"user": user.name, "role": current},
        )
    return org, None


# Teams


async def create_team(ctx: Context, organization: str, name: str) -> Team:
    label(name, "team name", "name")
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "managing teams")
    async with ctx.transaction() as conn:
        created = await organizations.insert_team(conn, org.id, name)
        if created is None:
            raise DomainError(
                ErrorCode.NAME_TAKEN, f"'{org.name}' already has a team '{name}'", ("name",)
            )
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "CREATE_TEAM",
            AuditTarget.member(org.id, "Team", created.id),
            after={"name": name},
        )
    return created


async def add_team_members(ctx: Context, team_id: int, user_ids: Sequence[int]) -> Team:
    return await _change_team_members(ctx, team_id, user_ids, add=True)


async def remove_team_members(ctx: Context, team_id: int, user_ids: Sequence[int]) -> Team:
    return await _change_team_members(ctx, team_id, user_ids, add=False)


async def _change_team_members(
    ctx: Context, team_id: int, user_ids: Sequence[int], *, add: bool
) -> Team:
    if not user_ids or len(user_ids) > MAX_MEMBERS_AT_ONCE:
        raise invalid(f"give 1 to {MAX_MEMBERS_AT_ONCE} users", "userIds")
    found = await _team(ctx, team_id)
    authorization.require_organization_role(ctx, found.organization_id, "ADMIN", "managing teams")
    if add:
        await require_members(ctx, found.organization_id, user_ids, "userIds")
    async with ctx.transaction() as conn:
        await organizations.change_team_members(conn, found.id, user_ids, add=add)
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "ADD_TEAM_MEMBERS" if add else "REMOVE_TEAM_MEMBERS",
            AuditTarget.member(found.organization_id, "Team", found.id),
            after={"userIds": list(user_ids)},
        )
    return found


async def delete_team(ctx: Context, team_id: int) -> Team:
    found = await _team(ctx, team_id)
    authorization.require_organization_role(ctx, found.organization_id, "ADMIN", "managing teams")
    async with ctx.transaction() as conn:
        await organizations.delete_team(conn, found.id)
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "DELETE_TEAM",
            AuditTarget.member(found.organization_id, "Team", found.id),
            before={"name": found.name},
        )
    return found


# Invitations


def organization_invitations(ctx: Context, organization: Organization) -> ListQuery[Invitation]:
    authorization.require_organization_admin_to_see(ctx, organization.id, "invitations")
    return ListQuery(INVITATIONS_BY_ORGANIZATION, organization.id)


def viewer_invitations(ctx: Context) -> ListQuery[Invitation]:
    return ListQuery(INVITATIONS_BY_USER, ctx.principal.user.id)


async def invitations_by_id(ctx: Context, ids: Sequence[int]) -> list[Invitation | None]:
    found = await organizations.invitations_by_id(ctx.reads, ids)
    return [i if authorization.can_view_invitation(ctx, i) else None for i in found]


async def invitation_organization_name(ctx: Context, invitation: Invitation) -> str:
    """The name of the organization that invites, which the invitee may see before joining."""
    found = await ctx.loaders.organization_by_id.load(invitation.organization_id)
    assert found is not None  # invitations go with their organization
    return found.name


async def invite_organization_member(
    ctx: Context, organization: str, user_name: str, role: str
) -> Invitation:
    """Invites the person with a user name to join with `role`; they join by accepting. The
    answer is the same whether or not the name exists."""
    role_name(role, ORGANIZATION_ROLES, "role")
    validation.user_name(user_name, "userName")
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "inviting members")
    async with ctx.transaction() as conn:
        await organizations.lock_organization(conn, org.id)
        existing = await account_rows.user_by_name(conn, user_name)
        if existing is not None and await organizations.member_role(conn, org.id, existing.id):
            raise DomainError(
                ErrorCode.ALREADY_MEMBER,
                f"'{existing.name}' is already a member of '{org.name}'",
                ("userName",),
            )
        invitation = await organizations.upsert_invitation(
            conn, org.id, user_name, role, ctx.principal.user.id, INVITATION_VALID_SECONDS
        )
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "INVITE_ORGANIZATION_MEMBER",
            AuditTarget.member(org.id, "OrganizationInvitation", invitation.id),
            after={"user": user_name, "role": role},
        )
    return invitation


async def _pending_invitation(ctx: Context, invitation_id: int) -> Invitation:
    (found,) = await organizations.invitations_by_id(ctx.reads, [invitation_id])
    if found is None:
        raise authorization.invitation_not_found()
    return found


async def accept_invitation(ctx: Context, invitation_id: int) -> tuple[Organization, User]:
    """Joins the organization with the role the invitation offers."""
    invitation = await _pending_invitation(ctx, invitation_id)
    authorization.require_invitee(ctx, invitation)
    me = ctx.principal.user
    async with ctx.transaction() as conn:
        await organizations.lock_organization(conn, invitation.organization_id)
        if not await organizations.delete_invitation(conn, invitation.id):
            raise authorization.invitation_not_found()
        if await organizations.member_role(conn, invitation.organization_id, me.id) is None:
            await organizations.set_organization_member(
                conn, invitation.organization_id, me.id, invitation.role
            )
            await audit_txn(
                conn,
                me.id,
                "ADD_ORGANIZATION_MEMBER",
                AuditTarget.member(invitation.organization_id, "User", me.id),
                after={"user": me.name, "role": invitation.role, "by": "invitation"},
            )
        (org,) = await organizations.organizations_by_id(conn, [invitation.organization_id])
    assert org is not None
    roles = ctx.principal.organization_roles | {org.id: invitation.role}
    ctx.principal = replace(ctx.principal, organization_roles=roles)
    return org, me


async def decline_invitation(ctx: Context, invitation_id: int) -> Invitation:
    """Declines an invitation (the person it names) or withdraws it (the organization's admins)."""
    invitation = await _pending_invitation(ctx, invitation_id)
    authorization.require_invitee_or_admin(ctx, invitation)
    async with ctx.transaction() as conn:
        if not await organizations.delete_invitation(conn, invitation.id):
            raise authorization.invitation_not_found()
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "DECLINE_INVITATION",
            AuditTarget.member(invitation.organization_id, "OrganizationInvitation", invitation.id),
            after={"user": invitation.user_name, "role": invitation.role},
        )
    return invitation
