"""The registry graph's object types. Thin: each field reads a row attribute or calls one
resolver function; authorization and SQL live below."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from db import records
from resolvers import lineage, memberships, reads
from resolvers.context import Context
from schema.connection import After, Before, Connection, First, Last, resolve_connection
from schema.errors import raise_domain_errors
from schema.ids import decode_id, encode_id

if TYPE_CHECKING:
    from schema.automations import Automation
    from schema.lineage import LineageDiff, LineageGraph

Ctx = Info[Context, None]

# Lineage types live in schema.lineage, which builds on these; they are referenced lazily.
LineageGraphType = Annotated["LineageGraph", strawberry.lazy("schema.lineage")]
LineageDiffType = Annotated["LineageDiff", strawberry.lazy("schema.lineage")]
AutomationType = Annotated["Automation", strawberry.lazy("schema.automations")]


@strawberry.enum(description="Which way to walk the lineage graph.")
class LineageDirection(Enum):
    UPSTREAM = strawberry.enum_value(
        "UPSTREAM", description="Towards what produced it: creating runs and their inputs."
    )
    DOWNSTREAM = strawberry.enum_value(
        "DOWNSTREAM", description="Towards what it fed: runs that used it and their outputs."
    )
    BOTH = strawberry.enum_value("BOTH", description="Both walks from the start, merged.")


LineageDirectionArg = Annotated[
    LineageDirection,
    strawberry.argument(description="Which way to walk (default UPSTREAM)."),
]
LineageMaxDepth = Annotated[
    int | None,
    strawberry.argument(
        description=f"How many edges to follow: default {lineage.DEFAULT_DEPTH}, "
        f"at most {lineage.MAX_DEPTH}."
    ),
]
LineageMaxNodes = Annotated[
    int | None,
    strawberry.argument(
        description=f"How many nodes to return, nearest first: default {lineage.DEFAULT_NODES}, "
        f"at most {lineage.MAX_NODES}."
    ),
]


@strawberry.enum(description="A user's role in an organization.")
class OrganizationRole(Enum):
    VIEWER = strawberry.enum_value("VIEWER", description="May read the organization's registries.")
    MEMBER = strawberry.enum_value("MEMBER", description="May also create registries and log.")
    ADMIN = strawberry.enum_value("ADMIN", description="Administers the whole organization.")


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


@strawberry.enum(description="The lifecycle state of a run.")
class RunState(Enum):
    RUNNING = strawberry.enum_value("RUNNING", description="Still running.")
    FINISHED = strawberry.enum_value("FINISHED", description="Finished successfully.")
    FAILED = strawberry.enum_value("FAILED", description="Finished with an error.")
    CRASHED = strawberry.enum_value("CRASHED", description="Stopped reporting without finishing.")


@strawberry.enum(description="Whether an account belongs to a person or to an automated system.")
class UserKind(Enum):
    HUMAN = strawberry.enum_value("HUMAN", description="A person.")
    SERVICE = strawberry.enum_value("SERVICE", description="A service account, e.g. for CI.")


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global ID; pass it to `node(id:)`. Do not decode it."
    )


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
        "UPDATE_ARTIFACT_VERSION", description="A version's description changed."
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


def _action_filter(actions: list[AuditAction] | None) -> tuple[str, ...] | None:
    return None if actions is None else tuple(sorted({a.name for a in actions}))


@strawberry.type(description="One recorded change: who did what to which object, and when.")
class AuditEvent:
    record: strawberry.Private[Any]
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
    def of(cls, r: Any) -> AuditEvent:
        return cls(
            record=r,
            action=AuditAction(r.action),
            target_type=r.target_type,
            target_id=None
            if r.target_id is None
            else strawberry.ID(encode_id(r.target_type, r.target_id)),
            before=None if r.before is None else JSON(r.before),
            after=None if r.after is None else JSON(r.after),
            created_at=r.created_at,
        )

    @strawberry.field(description="Who made the change.")
    async def actor(self, info: Ctx) -> User | None:
        found = await reads.user(info.context, self.record.actor_id)
        return None if found is None else User.of(found)


@strawberry.type(description="A person or service account.")
class User(Node):
    record: strawberry.Private[records.User]
    name: str = strawberry.field(description="Unique user name.")
    display_name: str = strawberry.field(description="Name to show; may be empty.")
    kind: UserKind = strawberry.field(description="Person or service account.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    @classmethod
    def of(cls, r: records.User) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", r.id)),
            record=r,
            name=r.name,
            display_name=r.display_name,
            kind=UserKind(r.kind),
            created_at=r.created_at,
        )


@strawberry.type(description="The authenticated caller.")
class Viewer:
    record: strawberry.Private[records.User]

    @strawberry.field(description="The caller's user account.")
    def user(self) -> User:
        return User.of(self.record)

    @strawberry.field(description="The caller's user name.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="Organizations the caller belongs to, by name.")
    async def organizations(self, info: Ctx) -> list[Organization]:
        return [Organization.of(o) for o in await reads.viewer_organizations(info.context)]

    @strawberry.field(description="The caller's API keys, newest first; never their secrets.")
    async def api_keys(self, info: Ctx) -> list[ApiKey]:
        return [ApiKey.of(k) for k in await memberships.viewer_api_keys(info.context)]


@strawberry.type(description="An API key: a name and its use, never the secret.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="The key's ID, for `revokeApiKey`.")
    name: str = strawberry.field(description="A label for the key.")
    created_at: datetime = strawberry.field(description="When it was made.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (updated at most once a minute)."
    )
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was.")

    @classmethod
    def of(cls, r: records.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(encode_id("ApiKey", r.id)),
            name=r.name,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            revoked_at=r.revoked_at,
        )


@strawberry.type(description="A named group of an organization's users, given registry roles.")
class Team(Node):
    record: strawberry.Private[records.Team]
    name: str = strawberry.field(description="Team name, unique in the organization.")
    created_at: datetime = strawberry.field(description="When the team was made.")

    @classmethod
    def of(cls, r: records.Team) -> Team:
        return cls(
            id=strawberry.ID(encode_id("Team", r.id)),
            record=r,
            name=r.name,
            created_at=r.created_at,
        )

    @strawberry.field(description="The team's members, by name.")
    async def members(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[User]:
        return await resolve_connection(
            info,
            reads.MEMBERS_BY_TEAM,
            self.record.id,
            User.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )


@strawberry.type(description="A user's or a team's direct role in a registry.")
class RegistryMember:
    record: strawberry.Private[records.RegistryMember]
    role: RegistryRole = strawberry.field(description="The role given.")
    created_at: datetime = strawberry.field(description="When it was given.")

    @classmethod
    def of(cls, r: records.RegistryMember) -> RegistryMember:
        return cls(record=r, role=RegistryRole(r.role), created_at=r.created_at)

    @strawberry.field(description="The user, for a user's role.")
    async def user(self, info: Ctx) -> User | None:
        found = await reads.user(info.context, self.record.user_id)
        return None if found is None else User.of(found)

    @strawberry.field(description="The team, for a team's role.")
    async def team(self, info: Ctx) -> Team | None:
        if self.record.team_id is None:
            return None
        found = await reads.team(info.context, self.record.team_id)
        return None if found is None else Team.of(found)


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


@strawberry.type(description="An organization: it owns registries, projects, users and teams.")
class Organization(Node):
    record: strawberry.Private[records.Organization]
    name: str = strawberry.field(description="Unique slug used in paths, e.g. `acme`.")
    display_name: str = strawberry.field(description="Human-readable name.")
    created_at: datetime = strawberry.field(description="When the organization was created.")

    @classmethod
    def of(cls, r: records.Organization) -> Organization:
        return cls(
            id=strawberry.ID(encode_id("Organization", r.id)),
            record=r,
            name=r.name,
            display_name=r.display_name,
            created_at=r.created_at,
        )

    @strawberry.field(description="The caller's role in this organization.")
    def viewer_role(self, info: Ctx) -> OrganizationRole | None:
        role = reads.viewer_role(info.context, self.record.id)
        return None if role is None else OrganizationRole(role)

    @strawberry.field(description="The organization's registries, by name.")
    async def registries(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Registry]:
        return await resolve_connection(
            info,
            reads.REGISTRIES_BY_ORGANIZATION,
            self.record.id,
            Registry.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=await reads.registry_filter(info.context, self.record.id),
        )

    @strawberry.field(description="One registry by name (case-insensitive), without the prefix.")
    async def registry(
        self,
        info: Ctx,
        name: Annotated[str, strawberry.argument(description="Registry name, e.g. `model`.")],
    ) -> Registry | None:
        found = await reads.registry_in_organization(info.context, self.record.id, name)
        return None if found is None else Registry.of(found)

    @strawberry.field(description="The organization's projects, by name.")
    async def projects(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Project]:
        return await resolve_connection(
            info,
            reads.PROJECTS_BY_ORGANIZATION,
            self.record.id,
            Project.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="One project by name.")
    async def project(
        self, info: Ctx, name: Annotated[str, strawberry.argument(description="Project name.")]
    ) -> Project | None:
        found = await reads.project_by_name(info.context, self.record.id, name)
        return None if found is None else Project.of(found)

    @strawberry.field(description="The organization's teams, by name.")
    async def teams(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Team]:
        return await resolve_connection(
            info,
            reads.TEAMS_BY_ORGANIZATION,
            self.record.id,
            Team.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(
        description="Changes to members, teams, service accounts and API keys, newest first. "
        "Organization admins only."
    )
    async def history(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        actions: Actions = None,
    ) -> Connection[AuditEvent] | None:
        with raise_domain_errors():
            reads.require_organization_admin(info.context, self.record.id, "the history")
        return await resolve_connection(
            info,
            reads.HISTORY_BY_ORGANIZATION,
            self.record.id,
            AuditEvent.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=_action_filter(actions),
        )

    @strawberry.field(description="The organization's members, by user name.")
    async def members(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[OrganizationMember]:
        return await resolve_connection(
            info,
            reads.MEMBERS_BY_ORGANIZATION,
            self.record.id,
            OrganizationMember.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )


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
            id=strawberry.ID(encode_id("Registry", r.id)),
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
        found = await reads.organization(info.context, self.record.organization_id)
        assert found is not None
        return Organization.of(found)

    @strawberry.field(description="The registry's collections, newest first.")
    async def collections(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Collection]:
        return await resolve_connection(
            info,
            reads.COLLECTIONS_BY_REGISTRY,
            self.record.id,
            Collection.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(
        description="Changes to the registry, its collections and their versions, newest first."
    )
    async def history(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        actions: Actions = None,
    ) -> Connection[AuditEvent]:
        return await resolve_connection(
            info,
            reads.HISTORY_BY_REGISTRY,
            self.record.id,
            AuditEvent.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=_action_filter(actions),
        )

    @strawberry.field(
        description="Users and teams given a role in the registry (teams first, then users, "
        "by name). Organization-derived roles are not listed."
    )
    async def members(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[RegistryMember]:
        return await resolve_connection(
            info,
            reads.MEMBERS_BY_REGISTRY,
            self.record.id,
            RegistryMember.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(
        description="Webhook automations on the registry, newest first (registry MEMBERs and "
        "ADMINs only: URLs and deliveries may be sensitive)."
    )
    async def automations(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AutomationType] | None:
        from schema.automations import Automation

        with raise_domain_errors():
            await reads.require_registry_member(info.context, self.record.id, "automations")
        return await resolve_connection(
            info,
            reads.AUTOMATIONS_BY_REGISTRY,
            self.record.id,
            Automation.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="The caller's effective role in this registry.")
    async def viewer_role(self, info: Ctx) -> RegistryRole | None:
        role = await reads.viewer_registry_role(info.context, self.record)
        return None if role is None else RegistryRole(role)

    @strawberry.field(description="One collection by name.")
    async def collection(
        self, info: Ctx, name: Annotated[str, strawberry.argument(description="Collection name.")]
    ) -> Collection | None:
        found = await reads.registry_collection(info.context, self.record.id, name)
        return None if found is None else Collection.of(found)


@strawberry.type(description="A span of time during which a version held an alias.")
class AliasPeriod:
    alias: str = strawberry.field(description="The alias.")
    assigned_at: datetime = strawberry.field(description="When the version got it.")
    removed_at: datetime | None = strawberry.field(
        description="When it moved away or was removed; null while the version holds it."
    )


@strawberry.type(description="Which version holds an alias in a collection.")
class AliasAssignment:
    alias: str = strawberry.field(description="The alias, e.g. `production`.")
    version: ArtifactVersion = strawberry.field(description="The version that holds it.")


VersionAlias = Annotated[
    str | None,
    strawberry.argument(description="Alias to resolve, e.g. `production` or `latest`."),
]
VersionIndex = Annotated[
    int | None, strawberry.argument(description="Version index, e.g. 3 for `v3`.")
]


@strawberry.interface(
    description="A set of versions: a registry collection or a project's artifact sequence."
)
class ArtifactCollection(Node):
    record: strawberry.Private[records.Collection]
    name: str = strawberry.field(description="Name, unique in its registry or project.")
    type: str = strawberry.field(description="The artifact type every version has.")
    description: str = strawberry.field(description="Markdown description (the card).")
    created_at: datetime = strawberry.field(description="When it was created.")

    @strawberry.field(description="Its versions, newest (highest index) first.")
    async def versions(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactVersion]:
        return await resolve_connection(
            info,
            reads.VERSIONS_BY_COLLECTION,
            self.record.id,
            ArtifactVersion.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(
        description="One version, by alias or by index (give exactly one). With `asOf`, the "
        "version that held the alias at that time: null if none did, or it was since unlinked."
    )
    async def version(
        self,
        info: Ctx,
        alias: VersionAlias = None,
        index: VersionIndex = None,
        as_of: Annotated[
            datetime | None,
            strawberry.argument(description="Resolve the alias as it was at this time."),
        ] = None,
    ) -> ArtifactVersion | None:
        with raise_domain_errors():
            if as_of is not None:
                found = await reads.collection_version_as_of(
                    info.context, self.record.id, alias, index, as_of
                )
            else:
                found = await reads.collection_version(
                    info.context, self.record.id, alias=alias, index=index
                )
        return None if found is None else ArtifactVersion.of(found)

    @strawberry.field(description="Every alias in use, by name, with the version holding it.")
    async def aliases(self, info: Ctx) -> list[AliasAssignment]:
        pairs = await reads.collection_aliases(info.context, self.record.id)
        return [AliasAssignment(alias=a, version=ArtifactVersion.of(v)) for a, v in pairs]


def _collection_fields(type_name: str, r: records.Collection) -> dict[str, Any]:
    return {
        "id": strawberry.ID(encode_id(type_name, r.id)),
        "record": r,
        "name": r.name,
        "type": r.artifact_type,
        "description": r.description,
        "created_at": r.created_at,
    }


@strawberry.type(description="A collection in a registry: linked versions of one artifact type.")
class Collection(ArtifactCollection):
    @classmethod
    def of(cls, r: records.Collection) -> Collection:
        return cls(**_collection_fields("Collection", r))

    @strawberry.field(
        description="Webhook automations on this collection only, newest first (registry "
        "MEMBERs and ADMINs only)."
    )
    async def automations(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AutomationType] | None:
        from schema.automations import Automation

        with raise_domain_errors():
            await reads.require_registry_member(
                info.context, self.record.registry_id or 0, "automations"
            )
        return await resolve_connection(
            info,
            reads.AUTOMATIONS_BY_COLLECTION,
            self.record.id,
            Automation.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="Changes to the collection and its versions, newest first.")
    async def history(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        actions: Actions = None,
    ) -> Connection[AuditEvent]:
        return await resolve_connection(
            info,
            reads.HISTORY_BY_COLLECTION,
            self.record.id,
            AuditEvent.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=_action_filter(actions),
        )

    @strawberry.field(description="Tags on the collection, sorted.")
    async def tags(self, info: Ctx) -> list[str]:
        return await reads.collection_tags(info.context, self.record.id)

    @strawberry.field(description="The registry the collection is in.")
    async def registry(self, info: Ctx) -> Registry:
        assert self.record.registry_id is not None
        found = await reads.registry(info.context, self.record.registry_id)
        assert found is not None
        return Registry.of(found)


@strawberry.type(description="The versions a project logged under one artifact name.")
class ArtifactSequence(ArtifactCollection):
    @classmethod
    def of(cls, r: records.Collection) -> ArtifactSequence:
        return cls(**_collection_fields("ArtifactSequence", r))

    @strawberry.field(description="The project the artifact was logged in.")
    async def project(self, info: Ctx) -> Project:
        assert self.record.project_id is not None
        found = await reads.project(info.context, self.record.project_id)
        assert found is not None
        return Project.of(found)


def collection_of(r: records.Collection) -> ArtifactCollection:
    return Collection.of(r) if r.registry_id is not None else ArtifactSequence.of(r)


@strawberry.type(description="One file in an artifact version's manifest.")
class ArtifactFile:
    path: str = strawberry.field(description="Path inside the artifact.")
    digest: str = strawberry.field(description="Digest of the file's bytes.")
    size: int = strawberry.field(description="Size in bytes.")

    @classmethod
    def of(cls, r: records.ArtifactFile) -> ArtifactFile:
        return cls(path=r.path, digest=r.digest, size=r.size)


@strawberry.type(
    description="A version inside a collection: its index and aliases there, and the immutable "
    "content it shares with every other version of the same content."
)
class ArtifactVersion(Node):
    record: strawberry.Private[records.ArtifactVersion]
    version_index: int = strawberry.field(description="Index in its collection, from 0.")
    version: str = strawberry.field(description="The index as a label, e.g. `v3`.")
    linked_at: datetime = strawberry.field(
        description="When the version entered this collection (logged or linked)."
    )
    digest: str = strawberry.field(description="SHA-256 of the content's file manifest.")
    size: int = strawberry.field(description="Total size of the files in bytes.")
    type: str = strawberry.field(description="Artifact type, e.g. `model` or `dataset`.")
    metadata: JSON = strawberry.field(description="Metadata logged with the content.")
    description: str = strawberry.field(description="Description of the content.")
    created_at: datetime = strawberry.field(description="When the content was logged.")
    is_link: bool = strawberry.field(
        description="True for a version in a registry collection, false for a logged version."
    )

    @classmethod
    def of(cls, r: records.ArtifactVersion) -> ArtifactVersion:
        return cls(
            id=strawberry.ID(encode_id("ArtifactVersion", r.id)),
            record=r,
            version_index=r.version_index,
            version=f"v{r.version_index}",
            linked_at=r.linked_at,
            digest=r.digest,
            size=r.size,
            type=r.artifact_type,
            metadata=JSON(r.metadata),
            description=r.description,
            created_at=r.created_at,
            is_link=r.registry_id is not None,
        )

    @strawberry.field(description="Aliases this version holds in its collection, sorted.")
    async def aliases(self, info: Ctx) -> list[str]:
        return await reads.version_aliases(info.context, self.record.id)

    @strawberry.field(description="Tags on this version, sorted.")
    async def tags(self, info: Ctx) -> list[str]:
        return await reads.version_tags(info.context, self.record.id)

    @strawberry.field(description="Every alias this version has held, when it came and went.")
    async def alias_history(self, info: Ctx) -> list[AliasPeriod]:
        periods = await reads.alias_periods(info.context, self.record.id)
        return [
            AliasPeriod(alias=p.alias, assigned_at=p.assigned_at, removed_at=p.removed_at)
            for p in periods
        ]

    @strawberry.field(
        description="Full path of this version, e.g. `acme/wandb-registry-model/churn:v3`."
    )
    async def path(self, info: Ctx) -> str:
        return await reads.version_path(info.context, self.record)

    @strawberry.field(description="The collection or artifact sequence the version is in.")
    async def collection(self, info: Ctx) -> ArtifactCollection:
        found = await reads.collection(info.context, self.record.collection_id)
        assert found is not None
        return collection_of(found)

    @strawberry.field(description="Who put the version in this collection (logged or linked it).")
    async def linked_by(self, info: Ctx) -> User | None:
        found = await reads.user(info.context, self.record.linked_by)
        return None if found is None else User.of(found)

    @strawberry.field(
        description="The logged version this content came from; itself for a logged version."
    )
    async def source(self, info: Ctx) -> ArtifactVersion | None:
        found = await reads.source_version(info.context, self.record.content_id)
        return None if found is None else ArtifactVersion.of(found)

    @strawberry.field(description="The run that logged the content, when one did.")
    async def created_by(self, info: Ctx) -> Run | None:
        found = await reads.run(info.context, self.record.created_by_run_id)
        return None if found is None else Run.of(found)

    @strawberry.field(
        description="The content's file manifest, by path. Needs the VIEWER role in a "
        "registry: RESTRICTED_VIEWERs see metadata only, and get PERMISSION_DENIED here."
    )
    async def files(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactFile] | None:
        with raise_domain_errors():
            await reads.require_download(info.context, self.record)
        return await resolve_connection(
            info,
            reads.FILES_BY_CONTENT,
            self.record.content_id,
            ArtifactFile.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="Runs that used this content, most recent use first.")
    async def used_by(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Run]:
        return await resolve_connection(
            info,
            reads.RUNS_USING_CONTENT,
            self.record.content_id,
            Run.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(
        description="The same content in registry collections, this version included if linked."
    )
    async def linked_versions(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactVersion]:
        return await resolve_connection(
            info,
            reads.VERSIONS_BY_CONTENT,
            self.record.content_id,
            ArtifactVersion.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=await reads.registry_filter(info.context, self.record.organization_id),
        )

    @strawberry.field(
        description="The lineage graph of this version's content (a linked version shows its "
        "source's): runs and artifact versions upstream, downstream or both."
    )
    async def lineage(
        self,
        info: Ctx,
        direction: LineageDirectionArg = LineageDirection.UPSTREAM,
        max_depth: LineageMaxDepth = None,
        max_nodes: LineageMaxNodes = None,
    ) -> LineageGraphType:
        return await _lineage_graph(
            lineage.version_graph(info.context, self.record, direction.name, max_depth, max_nodes)
        )

    @strawberry.field(
        description="What changed upstream between this version and another: artifacts "
        "added, removed or at another version, and runs added or removed."
    )
    async def lineage_diff(
        self,
        info: Ctx,
        against: Annotated[
            strawberry.ID, strawberry.argument(description="The ArtifactVersion to compare with.")
        ],
        max_depth: LineageMaxDepth = None,
    ) -> LineageDiffType:
        from schema.lineage import LineageDiff

        kind, row_id = decode_id(against)
        other = await reads.version(info.context, row_id) if kind == "ArtifactVersion" else None
        if other is None:
            raise GraphQLError(
                "`against` is not an artifact version you can see",
                extensions={"code": "NOT_FOUND", "field": ["against"]},
            )
        with raise_domain_errors():
            found = await lineage.diff(info.context, self.record, other, max_depth)
        return LineageDiff.of(found)


@strawberry.type(description="A project: it holds runs and the artifacts they log.")
class Project(Node):
    record: strawberry.Private[records.Project]
    name: str = strawberry.field(description="Project name, unique in the organization.")
    description: str = strawberry.field(description="What the project is for.")
    created_at: datetime = strawberry.field(description="When the project was created.")

    @classmethod
    def of(cls, r: records.Project) -> Project:
        return cls(
            id=strawberry.ID(encode_id("Project", r.id)),
            record=r,
            name=r.name,
            description=r.description,
            created_at=r.created_at,
        )

    @strawberry.field(description="The organization that owns the project.")
    async def organization(self, info: Ctx) -> Organization:
        found = await reads.organization(info.context, self.record.organization_id)
        assert found is not None
        return Organization.of(found)

    @strawberry.field(description="The project's runs, newest first.")
    async def runs(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Run]:
        return await resolve_connection(
            info,
            reads.RUNS_BY_PROJECT,
            self.record.id,
            Run.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="Artifacts logged in the project, by name.")
    async def artifact_sequences(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactSequence]:
        return await resolve_connection(
            info,
            reads.SEQUENCES_BY_PROJECT,
            self.record.id,
            ArtifactSequence.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="One logged artifact by name.")
    async def artifact_sequence(
        self, info: Ctx, name: Annotated[str, strawberry.argument(description="Artifact name.")]
    ) -> ArtifactSequence | None:
        found = await reads.project_sequence(info.context, self.record.id, name)
        return None if found is None else ArtifactSequence.of(found)


@strawberry.type(description="A run: one execution (training, evaluation, …) in a project.")
class Run(Node):
    record: strawberry.Private[records.Run]
    name: str = strawberry.field(description="Run name, unique in its project.")
    state: RunState = strawberry.field(description="Lifecycle state.")
    config: JSON = strawberry.field(description="Configuration the run was started with.")
    summary: JSON = strawberry.field(description="Summary metrics the run reported.")
    created_at: datetime = strawberry.field(description="When the run started.")
    finished_at: datetime | None = strawberry.field(description="When the run ended, if it has.")

    @classmethod
    def of(cls, r: records.Run) -> Run:
        return cls(
            id=strawberry.ID(encode_id("Run", r.id)),
            record=r,
            name=r.name,
            state=RunState(r.state),
            config=JSON(r.config),
            summary=JSON(r.summary),
            created_at=r.created_at,
            finished_at=r.finished_at,
        )

    @strawberry.field(description="Who started the run.")
    async def user(self, info: Ctx) -> User | None:
        found = await reads.user(info.context, self.record.user_id)
        return None if found is None else User.of(found)

    @strawberry.field(description="The project the run is in.")
    async def project(self, info: Ctx) -> Project:
        found = await reads.project(info.context, self.record.project_id)
        assert found is not None
        return Project.of(found)

    @strawberry.field(description="Versions the run used (lineage inputs), most recent first.")
    async def inputs(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactVersion]:
        return await resolve_connection(
            info,
            reads.INPUTS_BY_RUN,
            self.record.id,
            ArtifactVersion.of,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=await reads.registry_filter(info.context, self.record.organization_id),
        )

    @strawberry.field(description="Versions the run logged (lineage outputs), newest first.")
    async def outputs(
        self,
        info: Ctx,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ArtifactVersion]:
        return await resolve_connection(
            info,
            reads.OUTPUTS_BY_RUN,
            self.record.id,
            ArtifactVersion.of,
            first=first,
            last=last,
            after=after,
            before=before,
        )

    @strawberry.field(description="The lineage graph around this run.")
    async def lineage(
        self,
        info: Ctx,
        direction: LineageDirectionArg = LineageDirection.UPSTREAM,
        max_depth: LineageMaxDepth = None,
        max_nodes: LineageMaxNodes = None,
    ) -> LineageGraphType:
        return await _lineage_graph(
            lineage.run_graph(info.context, self.record, direction.name, max_depth, max_nodes)
        )


async def _lineage_graph(walk: Awaitable[lineage.LineageGraph]) -> LineageGraph:
    from schema.lineage import LineageGraph

    with raise_domain_errors():
        found = await walk
    return LineageGraph.of(found)


def node_of(type_name: str, obj: Any) -> Node:
    """Wraps a record loaded for `node(id:)` in its GraphQL type."""
    wrappers: dict[str, Any] = {
        "Organization": Organization.of,
        "Registry": Registry.of,
        "Collection": Collection.of,
        "ArtifactSequence": ArtifactSequence.of,
        "ArtifactVersion": ArtifactVersion.of,
        "Project": Project.of,
        "Run": Run.of,
        "Team": Team.of,
        "User": User.of,
    }
    node: Node = wrappers[type_name](obj)
    return node
