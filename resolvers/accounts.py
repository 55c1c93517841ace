"""Users, service accounts and API keys. Keys are random secrets shown once; only their SHA-256
is stored, so a leaked database does not leak working keys."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence

from db import accounts, organizations
from db.pool import Connection, Executor
from db.records import ApiKey, Organization, User
from resolvers import authorization, validation
from resolvers.context import Context, Principal
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn
from resolvers.organizations import (
    add_member_txn,
    create_organization_txn,
    require_organization,
)
from resolvers.soon import Soon
from resolvers.validation import label, storable, user_name

KEY_PREFIX = "cairn_"


def generate_key() -> str:
    # Hex: the wandb SDK refuses keys whose text after the first `-` is under 40 characters,
    # which a URL-safe base64 secret may hold.
    return KEY_PREFIX + secrets.token_hex(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class VerifiedKeys:
    """Keys this process has verified, with their user and the user's organization roles, so
    that a request does not pay a statement to authenticate.

    They are trusted only while the process listens for the database's notices of changed keys,
    users and memberships (`db.accounts.PRINCIPALS_CHANNEL`, sent by triggers whichever process
    made the change): a notice forgets that user's keys; a lost listener forgets every key and
    stops the trust until it listens again. An entry lapses after `seconds`, when the key is read
    again and its use recorded (once a minute). At most `max_keys` are kept, the least recently
    used going first; unknown keys are never kept."""

    def __init__(self, max_keys: int = 10_000, seconds: float = 60.0) -> None:
        self.max_keys = max_keys
        self.seconds = seconds
        self.trusted = False
        self._keys: OrderedDict[bytes, tuple[accounts.KeyHolder, float]] = OrderedDict()
        # Changes with every notice: a key read before one must not be kept after it.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key_hash: bytes) -> accounts.KeyHolder | None:
        if not self.trusted:
            return None
        entry = self._keys.get(key_hash)
        if entry is None:
            return None
        holder, lapses_at = entry
        if time.monotonic() >= lapses_at:
            del self._keys[key_hash]
            return None
        self._keys.move_to_end(key_hash)
        return holder

    def keep(self, key_hash: bytes, holder: accounts.KeyHolder, generation: int) -> None:
        """Keeps a key read at `generation`, unless something changed since."""
        if not self.trusted or generation != self.generation:
            return
        self._keys[key_hash] = (holder, time.monotonic() + self.seconds)
        self._keys.move_to_end(key_hash)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def forget_user(self, notice: str) -> None:
        """A notice: the user it names changed. One that names no user forgets everyone."""
        self.generation += 1
        try:
            user_id = int(notice)
        except ValueError:
            self._keys.clear()
            return
        for key_hash in [k for k, (h, _) in self._keys.items() if h.user.id == user_id]:
            del self._keys[key_hash]

    def trust(self, listening: bool) -> None:
        """Whether notices are heard now; either way, what was kept before is forgotten."""
        self.generation += 1
        self._keys.clear()
        self.trusted = listening


async def authenticate(
    reads: Executor, key: str, verified: VerifiedKeys | None = None
) -> Principal | None:
    """The principal behind a bearer key, or None for an unknown or revoked one."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    key_hash = hash_key(key)
    found = None if verified is None else verified.get(key_hash)
    if found is None:
        generation = 0 if verified is None else verified.generation
        found = await accounts.principal_by_key_hash(reads, key_hash)
        if found is not None and verified is not None:
            verified.keep(key_hash, found, generation)
    return None if found is None else _principal(found)


async def refresh_principal(ctx: Context) -> None:
    """Brings the caller's roles up to date, for a context that outlives one request (a live
    subscription); refuses once the caller's key is revoked."""
    key_id = ctx.principal.key_id
    if key_id is None:
        return
    found = await accounts.principal_by_key_id(ctx.reads, key_id)
    if found is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "the API key was revoked")
    ctx.principal = _principal(found)


def _principal(found: accounts.KeyHolder) -> Principal:
    return Principal(
        user=found.user, organization_roles=found.organization_roles, key_id=found.key_id
    )


# Reading


def user(ctx: Context, user_id: int | None) -> Soon[User | None]:
    """Users are visible by id to anyone signed in: their name is what shows on a link or run."""
    if user_id is None:
        return None
    return ctx.loaders.user_by_id.loaded(user_id)


async def users_by_id(ctx: Context, ids: Sequence[int]) -> list[User | None]:
    """Users looked up by ID, each visible to people who share an organization with them."""
    found = await ctx.loaders.user_by_id.load_many(ids)
    seen = await asyncio.gather(*(authorization.can_view_user(ctx, u) for u in found))
    return [u if see else None for u, see in zip(found, seen, strict=True)]


async def visible_user_by_name(ctx: Context, name: str) -> User | None:
    """A user by name, when the caller shares an organization with them (or is them)."""
    found = await accounts.user_by_name(ctx.reads, name)
    if found is None or found.id == ctx.principal.user.id:
        return found
    return found if await authorization.can_view_user(ctx, found) else None


MAX_USERS_MATCHING = 50
MAX_USER_NAME = 64


async def users_matching(ctx: Context, text: str) -> list[User]:
    """Users who share an organization with the caller, whose name starts with `text` (the one
    named exactly first); at most MAX_USERS_MATCHING."""
    if not storable(text) or len(text) > MAX_USER_NAME:
        return []
    organization_ids = sorted(ctx.principal.organization_roles)
    return await accounts.users_matching(ctx.reads, text, organization_ids, MAX_USERS_MATCHING)


async def viewer_api_keys(ctx: Context) -> list[ApiKey]:
    return await accounts.api_keys_of_user(ctx.reads, ctx.principal.user.id)


async def api_keys_by_id(ctx: Context, ids: Sequence[int]) -> list[ApiKey | None]:
    found = await ctx.loaders.api_key_by_id.load_many(ids)
    seen = await asyncio.gather(*(authorization.can_see_key(ctx, k) for k in found))
    return [k if see else None for k, see in zip(found, seen, strict=True)]


# Service accounts and keys, through the API


async def create_service_account(
    ctx: Context, organization: str, name: str, display_name: str | None
) -> User:
    """A SERVICE user in the organization (as MEMBER): automation such as CI links with it."""
    user_name(name)
    label(display_name or "-", "display name", "displayName")
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "ADMIN", "creating service accounts")
    if await accounts.user_by_name(ctx.reads, name) is not None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"user name '{name}' is taken", ("name",))
    async with ctx.transaction() as conn:
        created = await create_user_txn(conn, name, display_name or "", "SERVICE")
        await add_member_txn(conn, org, created, "MEMBER")
        await audit_txn(
            conn,
            ctx.principal.user.id,
            "CREATE_SERVICE_ACCOUNT",
            AuditTarget.member(org.id, "User", created.id),
            after={"name": name},
        )
    return created


async def create_api_key(ctx: Context, name: str, user_id: int | None) -> tuple[ApiKey, str]:
    """A new key for yourself or a service account; its secret is returned this once and
    stored only as a hash."""
    label(name, "key name", "name")
    owner = await authorization.require_key_owner(ctx, user_id, "making keys for a service account")
    secret = generate_key()
    async with ctx.transaction() as conn:
        key_id = await accounts.insert_api_key(conn, owner.id, name, hash_key(secret))
        (key,) = await accounts.api_keys_by_id(conn, [key_id])
        assert key is not None
        await _key_event_txn(conn, ctx.principal.user.id, "CREATE_API_KEY", owner, key.name)
    return key, secret


async def revoke_api_key(ctx: Context, key_id: int) -> ApiKey:
    """Revokes a key at once: the next request with it is refused."""
    (key,) = await accounts.api_keys_by_id(ctx.reads, [key_id])
    if key is None:
        raise not_found("API key not found", ("keyId",))
    try:
        owner = await authorization.require_key_owner(
            ctx, key.user_id, "revoking a service account's key"
        )
    except DomainError:
        raise not_found("API key not found", ("keyId",)) from None
    async with ctx.transaction() as conn:
        revoked = await accounts.revoke_api_key(conn, key.id)
        await _key_event_txn(conn, ctx.principal.user.id, "REVOKE_API_KEY", owner, revoked.name)
    return revoked


async def _key_event_txn(
    conn: Connection, actor_id: int | None, action: str, owner: User, key_name: str
) -> None:
    """Key events go into the history of every organization the key's owner belongs to; an
    operator's, made from the command line, have no actor and say so."""
    after = {"user": owner.name, "key": key_name} | ({"by": "cli"} if actor_id is None else {})
    (organization_ids,) = await organizations.organization_ids_by_user(conn, [owner.id])
    for organization_id in organization_ids:
        await audit_txn(
            conn,
            actor_id,
            action,
            AuditTarget.member(organization_id, "User", owner.id),
            after=after,
        )


# An operator's steps (`cairn users`, `cairn keys`, the demo), inside the caller's transaction


async def create_user_txn(
    conn: Connection, name: str, display_name: str = "", kind: str = "HUMAN"
) -> User:
    return await accounts.insert_user(conn, name, display_name, kind)


async def create_user_with_membership_txn(
    conn: Connection,
    name: str,
    *,
    display_name: str = "",
    service: bool = False,
    organization: str | None = None,
    role: str = "MEMBER",
) -> User:
    """A new user, optionally added to an organization."""
    user_name(name, "name")
    if await accounts.user_by_name(conn, name) is not None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"user '{name}' already exists", ("name",))
    org = None
    if organization is not None:
        (org,) = await organizations.organizations_by_name(conn, [organization])
        if org is None:
            raise not_found(f"organization '{organization}' not found", ("organization",))
    created = await create_user_txn(conn, name, display_name, "SERVICE" if service else "HUMAN")
    if org is not None:
        await add_member_txn(conn, org, created, role)
    return created


async def create_api_key_txn(
    conn: Connection, owner_name: str, *, organization: str | None = None, key_name: str = "cli"
) -> str:
    """A new key for the user named `owner_name`; with `organization`, the user must belong to
    it. Returns the key itself."""
    owner = await accounts.user_by_name(conn, owner_name)
    if owner is None:
        raise not_found(f"user '{owner_name}' not found", ("user",))
    if organization is not None:
        orgs = await organizations.organizations_of_user(conn, owner.id)
        if organization not in {o.name for o in orgs}:
            raise not_found(
                f"user '{owner.name}' is not a member of organization '{organization}'",
                ("organization",),
            )
    label(key_name, "key name", "name")
    key = generate_key()
    await accounts.insert_api_key(conn, owner.id, key_name, hash_key(key))
    await _key_event_txn(conn, None, "CREATE_API_KEY", owner, key_name)
    return key


async def revoke_keys_txn(
    conn: Connection,
    *,
    key: str | None = None,
    owner_name: str | None = None,
    key_name: str | None = None,
) -> int:
    """Revokes one key by its secret, or every active key of a user with a given name."""
    if key is not None:
        revoked = await accounts.revoke_api_key_by_hash(conn, hash_key(key))
        return 0 if revoked is None else 1
    assert owner_name is not None
    assert key_name is not None
    owner = await accounts.user_by_name(conn, owner_name)
    if owner is None:
        raise not_found(f"user '{owner_name}' not found", ("user",))
    ids = await accounts.revoke_api_keys_by_name(conn, owner.id, key_name)
    if ids:
        await _key_event_txn(conn, None, "REVOKE_API_KEY", owner, key_name)
    return len(ids)


async def create_organization_with_admin_txn(
    conn: Connection, name: str, *, display_name: str, admin_name: str
) -> tuple[Organization, User]:
    """An operator's step: a new organization with its core registries and its first admin,
    an existing user or a new one. Audited with no actor, as made from the command line."""
    validation.organization_name(name)
    user_name(admin_name, "admin")
    (existing,) = await organizations.organizations_by_name(conn, [name])
    if existing is not None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"organization '{name}' already exists", ("name",))
    org = await create_organization_txn(conn, name, display_name or name)
    admin = await accounts.user_by_name(conn, admin_name)
    if admin is None:
        admin = await create_user_txn(conn, admin_name, "", "HUMAN")
    await add_member_txn(conn, org, admin, "ADMIN")
    await audit_txn(
        conn,
        None,
        "ADD_ORGANIZATION_MEMBER",
        AuditTarget.member(org.id, "User", admin.id),
        after={"user": admin.name, "role": "ADMIN", "by": "cli"},
    )
    return org, admin
