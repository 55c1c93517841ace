"""History: audit events (who changed what, when, before and after) and alias periods."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from db import records
from resolvers import accounts
from resolvers.soon import Soon
from schema.accounts import User
from schema.context import Ctx, maybe_soon
from schema.nodes import global_id


@strawberry.enum(description="What an audit event records.")
class AuditAction(Enum):
    CREATE_REGISTRY = strawberry.enum_value("CREATE_REGISTRY", description="A registry was made.")
    UPDATE_REGISTRY = strawberry.enum_value(
        "UPDATE_REGISTRY", description="A registry's settings changed."
    )
    DELETE_REGISTRY = strawberry.enum_value(
        "DELETE_REGISTRY", description="A registry was deleted."
    )
    CREATE_COLLECTION = strawberry.enum_value(
        "CREATE_COLLECTION", description="A collection was made, explicitly or by a link."
    )
    UPDATE_COLLECTION = strawberry.enum_value(
        "UPDATE_COLLECTION", description="A collection was renamed or re-described."
    )
    DELETE_COLLECTION = strawberry.enum_value(
        "DELETE_COLLECTION", description="A collection was deleted."
    )
    LINK_ARTIFACT = strawberry.enum_value(
        "LINK_ARTIFACT", description="A version was linked into a collection."
    )
    UNLINK_ARTIFACT = strawberry.enum_value(
        "UNLINK_ARTIFACT", description="A version was removed from a collection."
    )
    ADD_ARTIFACT_ALIAS = strawberry.enum_value(
        "ADD_ARTIFACT_ALIAS", description="An alias no version held was given to a version."
    )
    MOVE_ARTIFACT_ALIAS = strawberry.enum_value(
        "MOVE_ARTIFACT_ALIAS", description="An alias moved from one version to another."
    )
    REMOVE_ARTIFACT_ALIAS = strawberry.enum_value(
        "REMOVE_ARTIFACT_ALIAS", description="An alias was taken off a version."
    )
    ADD_TAG = strawberry.enum_value("ADD_TAG", description="Tags were added.")
    REMOVE_TAG = strawberry.enum_value("REMOVE_TAG", description="Tags were removed.")
    UPDATE_ARTIFACT_VERSION = strawberry.enum_value(
        "UPDATE_ARTIFACT_VERSION", description="A version's description or time to live changed."
    )
    EXPIRE_ARTIFACT_FILES = strawberry.enum_value(
        "EXPIRE_ARTIFACT_FILES",
        description="A version's files were let go at the end of its time to live.",
    )
    ADD_REGISTRY_MEMBER = strawberry.enum_value(
        "ADD_REGISTRY_MEMBER", description="A user or team was given a registry role."
    )
    UPDATE_REGISTRY_MEMBER_ROLE = strawberry.enum_value(
        "UPDATE_REGISTRY_MEMBER_ROLE", description="A registry role changed."
    )
    REMOVE_REGISTRY_MEMBER = strawberry.enum_value(
        "REMOVE_REGISTRY_MEMBER", description="A registry role was taken away."
    )
    ADD_ORGANIZATION_MEMBER = strawberry.enum_value(
        "ADD_ORGANIZATION_MEMBER", description="A user joined the organization."
    )
    UPDATE_ORGANIZATION_MEMBER_ROLE = strawberry.enum_value(
        "UPDATE_ORGANIZATION_MEMBER_ROLE", description="A member's organization role changed."
    )
    REMOVE_ORGANIZATION_MEMBER = strawberry.enum_value(
        "REMOVE_ORGANIZATION_MEMBER", description="A user left the organization."
    )
    INVITE_ORGANIZATION_MEMBER = strawberry.enum_value(
        "INVITE_ORGANIZATION_MEMBER", description="A user name was invited to join."
    )
    DECLINE_INVITATION = strawberry.enum_value(
        "DECLINE_INVITATION", description="An invitation was declined or withdrawn."
    )
    CREATE_TEAM = strawberry.enum_value("CREATE_TEAM", description="A team was made.")
    ADD_TEAM_MEMBERS = strawberry.enum_value("ADD_TEAM_MEMBERS", description="Users joined a team.")
    REMOVE_TEAM_MEMBERS = strawberry.enum_value(
        "REMOVE_TEAM_MEMBERS", description="Users left a team."
    )
    DELETE_TEAM = strawberry.enum_value("DELETE_TEAM", description="A team was deleted.")
    CREATE_SERVICE_ACCOUNT = strawberry.enum_value(
        "CREATE_SERVICE_ACCOUNT", description="A service account was made."
    )
    CREATE_API_KEY = strawberry.enum_value("CREATE_API_KEY", description="An API key was made.")
    REVOKE_API_KEY = strawberry.enum_value("REVOKE_API_KEY", description="An API key was revoked.")
    CREATE_AUTOMATION = strawberry.enum_value(
        "CREATE_AUTOMATION", description="A webhook automation was made."
    )
    UPDATE_AUTOMATION = strawberry.enum_value(
        "UPDATE_AUTOMATION", description="An automation changed (secrets are never shown)."
    )
    DELETE_AUTOMATION = strawberry.enum_value(
        "DELETE_AUTOMATION", description="An automation was deleted."
    )


Actions = Annotated[
    list[AuditAction] | None,
    strawberry.argument(description="Only events with one of these actions."),
]


@strawberry.type(description="One recorded change: who did what to which object, and when.")
class AuditEvent:
    record: strawberry.Private[records.AuditEvent]
    action: AuditAction = strawberry.field(description="What happened.")
    target_type: str = strawberry.field(
        description="The kind of object changed: Registry, Collection or ArtifactVersion."
    )
    target_id: strawberry.ID | None = strawberry.field(
        description="Global ID of the object changed (it may no longer exist)."
    )
    before: JSON | None = strawberry.field(description="The changed values before, if any.")
    after: JSON | None = strawberry.field(description="The changed values after, if any.")
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def of(cls, r: records.AuditEvent) -> AuditEvent:
        return cls(
            record=r,
            action=AuditAction(r.action),
            target_type=r.target_type,
            target_id=None if r.target_id is None else global_id(r.target_type, r.target_id),
            before=None if r.before is None else JSON(r.before),
            after=None if r.after is None else JSON(r.after),
            created_at=r.created_at,
        )

    @strawberry.field(description="Who made the change.", graphql_type=User | None)
    def actor(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.actor_id))


@strawberry.type(description="A span of time during which a version held an alias.")
class AliasPeriod:
    alias: str = strawberry.field(description="The alias.")
    assigned_at: datetime = strawberry.field(description="When the version got it.")
    removed_at: datetime | None = strawberry.field(
        description="When it moved away or was removed; null while the version holds it."
    )

    @classmethod
    def of(cls, p: records.AliasPeriod) -> AliasPeriod:
        return cls(alias=p.alias, assigned_at=p.assigned_at, removed_at=p.removed_at)


def action_names(actions: list[AuditAction] | None) -> list[str] | None:
    return None if actions is None else [a.name for a in actions]
