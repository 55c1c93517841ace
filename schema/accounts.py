"""Users, the caller (`viewer`), service accounts and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import records
from resolvers import accounts, organizations
from resolvers.pages import ListQuery
from schema.connection import connection_field
from schema.context import Ctx, arg, type_of
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node

if TYPE_CHECKING:
    from schema.organizations import Organization, OrganizationInvitation

OrganizationType = Annotated["Organization", strawberry.lazy("schema.organizations")]
InvitationType = Annotated["OrganizationInvitation", strawberry.lazy("schema.organizations")]


@strawberry.enum(description="Whether an account belongs to a person or to an automated system.")
class UserKind(Enum):
    HUMAN = strawberry.enum_value("HUMAN", description="A person.")
    SERVICE = strawberry.enum_value("SERVICE", description="A service account, e.g. for CI.")


@node(load=accounts.users_by_id)
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
            id=global_id("User", r.id),
            record=r,
            name=r.name,
            display_name=r.display_name,
            kind=UserKind(r.kind),
            created_at=r.created_at,
        )


@node(load=accounts.api_keys_by_id)
@strawberry.type(description="An API key: a name and its use, never the secret.")
class ApiKey(Node):
    id: strawberry.ID = strawberry.field(
        description="The key's ID, for `revokeApiKey` and `node(id:)`."
    )
    name: str = strawberry.field(description="A label for the key.")
    created_at: datetime = strawberry.field(description="When it was made.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (updated at most once a minute)."
    )
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was.")

    @classmethod
    def of(cls, r: records.ApiKey) -> ApiKey:
        return cls(
            id=global_id("ApiKey", r.id),
            name=r.name,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            revoked_at=r.revoked_at,
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
    async def organizations(self, info: Ctx) -> list[OrganizationType]:
        found = await organizations.viewer_organizations(info.context)
        return [type_of(OrganizationType).of(o) for o in found]

    @connection_field(
        InvitationType,
        "Invitations to join organizations addressed to the caller's user name, newest first; "
        "accept one with `acceptInvitation`.",
    )
    async def invitations(self, info: Ctx) -> ListQuery[records.Invitation]:
        return organizations.viewer_invitations(info.context)

    @strawberry.field(description="The caller's API keys, newest first; never their secrets.")
    async def api_keys(self, info: Ctx) -> list[ApiKey]:
        return [ApiKey.of(k) for k in await accounts.viewer_api_keys(info.context)]


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The authenticated caller.")
    def viewer(self, info: Ctx) -> Viewer:
        return Viewer(record=info.context.principal.user)


@strawberry.input(description="A new service account: a SERVICE user for automation.")
class CreateServiceAccountInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="User name, unique across Cairn.")
    display_name: str | None = strawberry.field(default=None, description="Name to show.")


@strawberry.type(description="The result of `createServiceAccount`.")
class ServiceAccountPayload:
    user: User | None = strawberry.field(default=None, description="The service account.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, created: records.User) -> ServiceAccountPayload:
        return cls(user=User.of(created))


@strawberry.input(description="A new API key, for yourself or for a service account.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="A label, e.g. `ci`.")
    user_id: strawberry.ID | None = id_input(
        "User",
        default=None,
        description="A service account in an organization you administer; yourself if omitted.",
    )


@strawberry.type(description="The result of `createApiKey`: the secret is shown this once.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(default=None, description="The key.")
    secret: str | None = strawberry.field(
        default=None,
        description="The key itself, for `Authorization: Bearer`; it cannot be shown again.",
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, created: tuple[records.ApiKey, str]) -> CreateApiKeyPayload:
        key, secret = created
        return cls(api_key=ApiKey.of(key), secret=secret)


@strawberry.input(description="A key to revoke.")
class RevokeApiKeyInput:
    key_id: strawberry.ID = id_input("ApiKey", description="The key's ID.")


@strawberry.type(description="The result of `revokeApiKey`.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(default=None, description="The revoked key.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, revoked: records.ApiKey) -> ApiKeyPayload:
        return cls(api_key=ApiKey.of(revoked))


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Creates a service account, a SERVICE user that joins the organization as "
        "MEMBER and has at least MEMBER in the registries it can see (org ADMIN)."
    )
    async def create_service_account(
        self, info: Ctx, input: Annotated[CreateServiceAccountInput, arg("The account.")]
    ) -> ServiceAccountPayload:
        return await mutate(info, ServiceAccountPayload, accounts.create_service_account, input)

    @strawberry.mutation(
        description="Creates an API key for yourself, or for a service account of an "
        "organization you administer. The secret is in the payload, once."
    )
    async def create_api_key(
        self, info: Ctx, input: Annotated[CreateApiKeyInput, arg("The key.")]
    ) -> CreateApiKeyPayload:
        return await mutate(info, CreateApiKeyPayload, accounts.create_api_key, input)

    @strawberry.mutation(description="Revokes an API key at once.")
    async def revoke_api_key(
        self, info: Ctx, input: Annotated[RevokeApiKeyInput, arg("The key.")]
    ) -> ApiKeyPayload:
        return await mutate(info, ApiKeyPayload, accounts.revoke_api_key, input)
