"""Organizations, their members and teams."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from db.accounts import USER_COLUMNS
from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import (
    Invitation,
    Organization,
    OrganizationMember,
    Team,
    User,
    from_record,
    records_by_id,
)

ORGANIZATION_COLUMNS = "o.id, o.name, o.display_name, o.created_at"

SELECT_ORGANIZATIONS_BY_ID = f"""
SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = ANY($1::bigint[])
"""


async def organizations_by_id(conn: Executor, ids: Sequence[int]) -> list[Organization | None]:
    return await records_by_id(conn, SELECT_ORGANIZATIONS_BY_ID, ids, Organization)


SELECT_ORGANIZATIONS_BY_NAME = f"""
SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.name = ANY($1::text[])
"""


async def organizations_by_name(conn: Executor, names: Sequence[str]) -> list[Organization | None]:
    rows = await conn.fetch(SELECT_ORGANIZATIONS_BY_NAME, list(names))
    found = {row["name"]: from_record(Organization, row) for row in rows}
    return [found.get(n) for n in names]


SELECT_ORGANIZATION_IDS_BY_USER = """
SELECT user_id, array_agg(organization_id ORDER BY organization_id) AS organization_ids
FROM organization_members WHERE user_id = ANY($1::bigint[]) GROUP BY user_id
"""


async def organization_ids_by_user(conn: Executor, user_ids: Sequence[int]) -> list[list[int]]:
    rows = await conn.fetch(SELECT_ORGANIZATION_IDS_BY_USER, list(user_ids))
    found = {row["user_id"]: row["organization_ids"] for row in rows}
    return [found.get(i, []) for i in user_ids]


MEMBERS_BY_ORGANIZATION: ListSpec[tuple[OrganizationMember, User]] = ListSpec(
    name="organization.members",
    columns=f"m.organization_id, m.user_id, m.role::text AS role, m.created_at AS member_since, "
    f"{USER_COLUMNS}",
    source="FROM organization_members m JOIN users u ON u.id = m.user_id "
    "WHERE m.organization_id = p.parent_id",
    keys=(SortKey("lower(u.name)", "text"),),
    descending=False,
    record=lambda row: (
        OrganizationMember(
            row["organization_id"], row["user_id"], row["role"], row["member_since"]
        ),
        from_record(User, row),
    ),
)

INSERT_ORGANIZATION = """
INSERT INTO organizations (name, display_name) VALUES ($1, $2)
RETURNING id, name, display_name, created_at
"""


async def insert_organization(conn: Connection, name: str, display_name: str) -> Organization:
    row = await fetch_one(conn, INSERT_ORGANIZATION, name, display_name)
    return from_record(Organization, row)


UPSERT_ORGANIZATION_MEMBER = """
INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3::org_role)
ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""


async def set_organization_member(
    conn: Connection, organization_id: int, user_id: int, role: str
) -> None:
    await conn.execute(UPSERT_ORGANIZATION_MEMBER, organization_id, user_id, role)


SELECT_ORGANIZATIONS_OF_USER = f"""
SELECT {ORGANIZATION_COLUMNS} FROM organizations o
JOIN organization_members m ON m.organization_id = o.id
WHERE m.user_id = $1 ORDER BY o.name
"""


async def organizations_of_user(conn: Executor, user_id: int) -> list[Organization]:
    rows = await conn.fetch(SELECT_ORGANIZATIONS_OF_USER, user_id)
    return [from_record(Organization, row) for row in rows]


TEAM_COLUMNS = "t.id, t.organization_id, t.name, t.created_at"

SELECT_TEAMS_BY_ID = f"SELECT {TEAM_COLUMNS} FROM teams t WHERE t.id = ANY($1::bigint[])"


async def teams_by_id(conn: Executor, ids: Sequence[int]) -> list[Team | None]:
    return await records_by_id(conn, SELECT_TEAMS_BY_ID, ids, Team)


SELECT_TEAMS_OF_USER = f"""
SELECT {TEAM_COLUMNS} FROM teams t JOIN team_members m ON m.team_id = t.id
WHERE m.user_id = $1 ORDER BY lower(t.name), t.id
"""


async def teams_of_user(conn: Executor, user_id: int) -> list[Team]:
    rows = await conn.fetch(SELECT_TEAMS_OF_USER, user_id)
    return [from_record(Team, row) for row in rows]


SELECT_TEAMS_NAMED = f"""
SELECT {TEAM_COLUMNS} FROM teams t
WHERE lower(t.name) = lower($1) AND t.organization_id = ANY($2::bigint[])
ORDER BY t.id
"""


async def teams_named(conn: Executor, name: str, organization_ids: Sequence[int]) -> list[Team]:
    """The teams of that name (in any case) in these organizations."""
    rows = await conn.fetch(SELECT_TEAMS_NAMED, name, list(organization_ids))
    return [from_record(Team, row) for row in rows]


TEAMS_BY_ORGANIZATION: ListSpec[Team] = ListSpec(
    name="organization.teams",
    columns=TEAM_COLUMNS,
    source="FROM teams t WHERE t.organization_id = p.parent_id",
    keys=(SortKey("lower(t.name)", "text"),),
    descending=False,
    record=lambda row: from_record(Team, row),
)

MEMBERS_BY_TEAM: ListSpec[User] = ListSpec(
    name="team.members",
    columns=USER_COLUMNS,
    source="FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = p.parent_id",
    keys=(SortKey("lower(u.name)", "text"),),
    descending=False,
    record=lambda row: from_record(User, row),
)

LOCK_ORGANIZATION = "SELECT id FROM organizations WHERE id = $1 FOR UPDATE"


async def lock_organization(conn: Connection, organization_id: int) -> None:
    """Serialises membership changes of one organization (the last-admin rule needs it)."""
    await conn.execute(LOCK_ORGANIZATION, organization_id)


SELECT_MEMBER_ROLE = """
SELECT role::text FROM organization_members WHERE organization_id = $1 AND user_id = $2
"""


async def member_role(conn: Executor, organization_id: int, user_id: int) -> str | None:
    role: str | None = await conn.fetchval(SELECT_MEMBER_ROLE, organization_id, user_id)
    return role


COUNT_ADMINS = """
SELECT count(*) FROM organization_members WHERE organization_id = $1 AND role = 'ADMIN'
"""


async def count_admins(conn: Connection, organization_id: int) -> int:
    count: int = await conn.fetchval(COUNT_ADMINS, organization_id)
    return count


# Leaving an organization also drops the roles and team seats held in it, so that coming back
# starts from nothing.
REMOVE_ORGANIZATION_MEMBER = """
WITH roles AS (
    DELETE FROM registry_user_roles ur USING registries r
    WHERE ur.registry_id = r.id AND r.organization_id = $1 AND ur.user_id = $2
), seats AS (
    DELETE FROM team_members tm USING teams t
    WHERE tm.team_id = t.id AND t.organization_id = $1 AND tm.user_id = $2
)
DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2
"""


async def remove_organization_member(conn: Connection, organization_id: int, user_id: int) -> None:
    await conn.execute(REMOVE_ORGANIZATION_MEMBER, organization_id, user_id)


INSERT_TEAM = f"""
INSERT INTO teams AS t (organization_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING
RETURNING {TEAM_COLUMNS}
"""


async def insert_team(conn: Connection, organization_id: int, name: str) -> Team | None:
    row = await conn.fetchrow(INSERT_TEAM, organization_id, name)
    return None if row is None else from_record(Team, row)


DELETE_TEAM = "DELETE FROM teams WHERE id = $1"


async def delete_team(conn: Connection, team_id: int) -> None:
    await conn.execute(DELETE_TEAM, team_id)


ADD_TEAM_MEMBERS = """
INSERT INTO team_members (team_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) AS u
ON CONFLICT DO NOTHING
"""
REMOVE_TEAM_MEMBERS = "DELETE FROM team_members WHERE team_id = $1 AND user_id = ANY($2::bigint[])"


async def change_team_members(
    conn: Connection, team_id: int, user_ids: Sequence[int], *, add: bool
) -> None:
    await conn.execute(ADD_TEAM_MEMBERS if add else REMOVE_TEAM_MEMBERS, team_id, list(user_ids))


SELECT_MEMBER_IDS = """
SELECT user_id FROM organization_members WHERE organization_id = $1 AND user_id = ANY($2::bigint[])
"""


async def members_among(conn: Executor, organization_id: int, user_ids: Sequence[int]) -> set[int]:
    """Which of `user_ids` belong to the organization."""
    rows = await conn.fetch(SELECT_MEMBER_IDS, organization_id, list(user_ids))
    return {row["user_id"] for row in rows}


# Invitations

INVITATION_COLUMNS = (
    "i.id, i.organization_id, i.user_name, i.role::text AS role, i.invited_by, i.created_at, "
    "i.expires_at"
)

UPSERT_INVITATION = f"""
INSERT INTO organization_invitations AS i
    (organization_id, user_name, role, invited_by, expires_at)
VALUES ($1, $2, $3::org_role, $4, clock_timestamp() + $5 * interval '1 second')
ON CONFLICT (organization_id, lower(user_name)) DO UPDATE
SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by, created_at = clock_timestamp(),
    expires_at = EXCLUDED.expires_at
RETURNING {INVITATION_COLUMNS}
"""


async def upsert_invitation(
    conn: Connection,
    organization_id: int,
    user_name: str,
    role: str,
    invited_by: int,
    valid_seconds: int,
) -> Invitation:
    """An invitation to the organization for `user_name`, renewed when one is pending."""
    row = await fetch_one(
        conn, UPSERT_INVITATION, organization_id, user_name, role, invited_by, valid_seconds
    )
    return from_record(Invitation, row)


SELECT_INVITATIONS_BY_ID = f"""
SELECT {INVITATION_COLUMNS} FROM organization_invitations i
WHERE i.id = ANY($1::bigint[]) AND i.expires_at > clock_timestamp()
"""


async def invitations_by_id(conn: Executor, ids: Sequence[int]) -> list[Invitation | None]:
    """Pending invitations (expired ones are as good as gone)."""
    return await records_by_id(conn, SELECT_INVITATIONS_BY_ID, ids, Invitation)


DELETE_INVITATION = "DELETE FROM organization_invitations WHERE id = $1 RETURNING id"


async def delete_invitation(conn: Connection, invitation_id: int) -> bool:
    return await conn.fetchval(DELETE_INVITATION, invitation_id) is not None


def _invitation(row: asyncpg.Record) -> Invitation:
    return from_record(Invitation, row)


INVITATIONS_BY_ORGANIZATION: ListSpec[Invitation] = ListSpec(
    name="organization.invitations",
    columns=INVITATION_COLUMNS,
    source="FROM organization_invitations i "
    "WHERE i.organization_id = p.parent_id AND i.expires_at > clock_timestamp()",
    keys=(SortKey("i.created_at", "timestamptz"), SortKey("i.id", "bigint")),
    descending=True,
    record=_invitation,
)

INVITATIONS_BY_USER: ListSpec[Invitation] = ListSpec(
    name="viewer.invitations",
    columns=INVITATION_COLUMNS,
    source="FROM organization_invitations i JOIN users u ON lower(u.name) = lower(i.user_name) "
    "WHERE u.id = p.parent_id AND i.expires_at > clock_timestamp()",
    keys=(SortKey("i.created_at", "timestamptz"), SortKey("i.id", "bigint")),
    descending=True,
    record=_invitation,
)
