"""The caller (`viewer`) and what this server can do (`serverInfo`), as the SDK asks first."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import records
from resolvers import accounts, organizations
from schema.context import Ctx, arg
from schema.wandb.connection import Connection, listed
from schema.wandb.ids import wandb_id

if TYPE_CHECKING:
    from schema.wandb.organizations import Organization

OrganizationType = Annotated["Organization", strawberry.lazy("schema.wandb.organizations")]

# The SDK's feature flags this server implements; the SDK shapes its requests by them and
# refuses features it does not see. Each is advertised because its behaviour is served:
FEATURES = (
    # api.registries(), api.registry() and their searches.
    "ARTIFACT_REGISTRY_SEARCH",
    # api.create_registry() and Registry.save(): registries' accepted types are given.
    "INCLUDE_ARTIFACT_TYPES_IN_REGISTRY_CREATION",
    # linkArtifact answers with the new membership.
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
    # filters= and order= on artifact collections; the SDK then asks the organization which
    # search it offers (advancedRegistryFeatures).
    "ARTIFACT_COLLECTIONS_FILTERING_SORTING",
    # Files are listed and downloaded through a registry version's membership.
    "ARTIFACT_COLLECTION_MEMBERSHIP_FILES",
    # File connections carry totalCount.
    "TOTAL_COUNT_IN_FILE_CONNECTION",
)


@strawberry.type(name="Team", description="A team's name, as a user's team list shows it.")
class TeamName:
    name: str = strawberry.field(description="The team's name.")


@strawberry.type(description="An API key, without its secret.")
class ApiKey:
    record: strawberry.Private[records.ApiKey]

    @strawberry.field(description="The key's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("ApiKey", self.record.id)

    @strawberry.field(description="The key's label.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The same label.")
    def description(self) -> str:
        return self.record.name


@strawberry.type(description="A user account.")
class User:
    record: strawberry.Private[records.User]

    @classmethod
    def of(cls, record: records.User) -> User:
        return cls(record=record)

    @strawberry.field(description="The user's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("User", self.record.id)

    @strawberry.field(description="The user name, unique across the server.")
    def username(self) -> str:
        return self.record.name

    @strawberry.field(description="The user's personal entity: their user name.")
    def entity(self) -> str:
        return self.record.name

    @strawberry.field(description="The name to show.")
    def name(self) -> str:
        return self.record.display_name or self.record.name

    @strawberry.field(description="Cairn keeps no e-mail addresses: always null.")
    def email(self) -> str | None:
        return None

    @strawberry.field(description="Whether the user administers the server: none does here.")
    def admin(self) -> bool:
        return False

    @strawberry.field(description="Users are not deleted here: null.")
    def deleted_at(self) -> datetime | None:
        return None

    @strawberry.field(
        description="The caller's own API keys (never their secrets); empty for others."
    )
    async def api_keys(self, info: Ctx) -> Connection[ApiKey]:
        if self.record.id != info.context.principal.user.id:
            return listed([])
        found = await accounts.viewer_api_keys(info.context)
        return listed([ApiKey(record=k) for k in found])

    @strawberry.field(description="Per-user feature flags: none on this server.")
    def flags(self) -> str | None:
        return None

    @strawberry.field(description="The teams the user belongs to (the caller's own only).")
    async def teams(self, info: Ctx) -> Connection[TeamName]:
        own = self.record.id == info.context.principal.user.id
        found = await organizations.viewer_teams(info.context) if own else []
        return listed([TeamName(name=t.name) for t in found])

    @strawberry.field(description="The organizations the user belongs to (the caller's own only).")
    async def organizations(self, info: Ctx) -> list[OrganizationType]:
        from schema.wandb.organizations import Organization

        if self.record.id != info.context.principal.user.id:
            return []
        return [Organization.of(o) for o in await organizations.viewer_organizations(info.context)]


@strawberry.type(name="ServerFeature", description="A feature of the W&B protocol.")
class Feature:
    name: str = strawberry.field(description="The feature's name in the SDK's enumeration.")
    is_enabled: bool = strawberry.field(description="Whether this server offers it.")


@strawberry.type(description="What this server offers.")
class ServerInfo:
    @strawberry.field(description="The protocol features this server implements.")
    def features(self) -> list[Feature]:
        return [Feature(name=name, is_enabled=True) for name in FEATURES]


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The caller, by the API key sent.")
    def viewer(self, info: Ctx) -> User:
        return User.of(info.context.principal.user)

    @strawberry.field(description="What this server offers.")
    def server_info(self) -> ServerInfo:
        return ServerInfo()

    @strawberry.field(
        description="Users who share an organization with the caller, by the start of their "
        "name; the one named exactly first."
    )
    async def users(
        self, info: Ctx, query: Annotated[str | None, arg("The start of a user name.")] = None
    ) -> Connection[User]:
        found = [] if query is None else await accounts.users_matching(info.context, query)
        return listed([User.of(u) for u in found])
