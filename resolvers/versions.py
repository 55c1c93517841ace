"""Artifact versions: finding them (by ID, alias, index or path), their files and links, and the
changes to a version once it exists: aliases, tags and its description."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from db import collections, history, json_values, versions
from db.pool import Connection
from db.records import ArtifactFile, ArtifactVersion, Collection, Organization, User
from db.search import Search
from db.versions import FILES_BY_CONTENT, VERSIONS_BY_COLLECTION, VERSIONS_BY_CONTENT
from resolvers import authorization, events, validation
from resolvers.collections import project_sequence, registry_collection, require_collection
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn
from resolvers.organizations import organization as organization_by_id
from resolvers.organizations import organization_by_name, project_by_name, viewer_organizations
from resolvers.pages import ListQuery
from resolvers.paths import ArtifactPath, invalid_path, parse_path, read_path_at_once
from resolvers.registries import registry_in_organization, require_registry
from resolvers.soon import Soon
from resolvers.validation import LATEST, storable


class FileSpec(Protocol):
    """One file of a manifest, as a client declares it."""

    @property
    def path(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    digest: str
    size: int
    # A reference's URI: the file is recorded where it lives and has no bytes here.
    ref: str | None = None


def manifest_digest(files: Sequence[FileEntry]) -> str:
    """SHA-256 over the sorted manifest: the same files give the same digest in any order."""
    hasher = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f.path):
        line = f"{entry.path}\t{entry.digest}\t{entry.size}"
        if entry.ref is not None:
            line += f"\t{entry.ref}"
        hasher.update(f"{line}\n".encode())
    return hasher.hexdigest()


# Reading


async def version(ctx: Context, version_id: int) -> ArtifactVersion | None:
    return await authorization.visible(ctx, await ctx.loaders.version_by_id.load(version_id))


async def versions_by_id(ctx: Context, ids: Sequence[int]) -> list[ArtifactVersion | None]:
    found = await ctx.loaders.version_by_id.load_many(ids)
    return await authorization.visible_many(ctx, found)


def version_aliases(ctx: Context, version_id: int) -> Soon[list[str]]:
    return ctx.loaders.aliases_by_version.loaded(version_id)


def version_tags(ctx: Context, version_id: int) -> Soon[list[str]]:
    return ctx.loaders.tags_by_version.loaded(version_id)


async def preload(
    ctx: Context,
    found: Sequence[ArtifactVersion],
    *,
    aliases: bool = False,
    tags: bool = False,
    created_by: bool = False,
    linked_by: bool = False,
) -> None:
    """Loads what the chosen fields of a page of versions read, one batch each for the whole
    page (and for every page of the same level), so that each field then resolves at once."""
    ids = [v.id for v in found]
    loads: list[Awaitable[Any]] = []
    if aliases:
        loads.append(ctx.loaders.aliases_by_version.load_many(ids))
    if tags:
        loads.append(ctx.loaders.tags_by_version.load_many(ids))
    if created_by:
        run_ids = {v.created_by_run_id for v in found if v.created_by_run_id is not None}
        loads.append(ctx.loaders.run_by_id.load_many(run_ids))
    if linked_by:
        user_ids = {v.linked_by for v in found if v.linked_by is not None}
        loads.append(ctx.loaders.user_by_id.load_many(user_ids))
    await asyncio.gather(*loads)


async def source_version(ctx: Context, content_id: int) -> ArtifactVersion | None:
    """The logged version (in its artifact sequence) of a content."""
    found = await ctx.loaders.source_version_by_content.load(content_id)
    return await authorization.visible(ctx, found)


async def version_of_content_in(
    ctx: Context, collection_id: int, content_id: int
) -> ArtifactVersion | None:
    """The version of a content in a collection, if the content is there."""
    found = await ctx.loaders.version_by_collection_content.load((collection_id, content_id))
    return await authorization.visible(ctx, found)


async def version_of_content_named(
    ctx: Context,
    given: ArtifactVersion,
    organization: str | None,
    project: str | None,
    collection: str | None,
) -> ArtifactVersion:
    """The version of `given`'s content in the collection named by its organization, registry
    (`wandb-registry-<name>`) or project, and name; `given` itself when no collection is named."""
    if collection is None:
        return given
    if organization is None or project is None:
        owner = await organization_by_id(ctx, given.organization_id)
        assert owner is not None
        organization = organization or owner.name
        if project is None:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"name the registry or project that holds '{collection}'",
                ("projectName",),
            )
    coll = await collection_named(ctx, organization, project, collection)
    found = await version_of_content_in(ctx, coll.id, given.content_id)
    if found is None:
        raise not_found(f"this artifact is not in '{coll.name}'", ("artifactCollectionName",))
    return found


async def collection_named(
    ctx: Context, organization: str, project: str, collection: str
) -> Collection:
    """A registry collection (`wandb-registry-<name>` for `project`) or a project's artifact,
    by the names of its organization, registry or project, and its own."""
    parsed = parse_path(f"{organization}/{project}/{collection}")
    org = await _path_organization(ctx, parsed, None)
    return await _path_collection(ctx, parsed, org)


async def version_path(ctx: Context, found: ArtifactVersion) -> str:
    """`org/wandb-registry-<registry>/<collection>:v<N>`, or `org/<project>/<artifact>:v<N>`."""
    coll = await ctx.loaders.collection_by_id.load(found.collection_id)
    org = await ctx.loaders.organization_by_id.load(found.organization_id)
    assert coll is not None
    assert org is not None
    if coll.registry_id is not None:
        reg = await ctx.loaders.registry_by_id.load(coll.registry_id)
        assert reg is not None
        middle = f"wandb-registry-{reg.name}"
    else:
        assert coll.project_id is not None
        proj = await ctx.loaders.project_by_id.load(coll.project_id)
        assert proj is not None
        middle = proj.name
    return f"{org.name}/{middle}/{coll.name}:v{found.version_index}"


async def version_in_collection(
    ctx: Context, collection_id: int, *, alias: str | None, index: int | None
) -> ArtifactVersion | None:
    """The version holding `alias`, or the one at `index`; exactly one must be given."""
    validation.exactly_one(alias, index, ("alias", "index"))
    if index is not None:
        found = await ctx.loaders.version_by_collection_index.load((collection_id, index))
    else:
        assert alias is not None
        if not storable(alias):
            return None
        key = (collection_id, validation.folded(alias))
        found = await ctx.loaders.version_by_collection_alias.load(key)
    return await authorization.visible(ctx, found)


async def aliases_in_collection(
    ctx: Context, collection_id: int
) -> list[tuple[str, ArtifactVersion]]:
    """Every alias in use in a collection, by name, with the version holding it."""
    pairs = await ctx.loaders.aliases_by_collection.load(collection_id)
    held = await ctx.loaders.version_by_id.load_many([v for _, v in pairs])
    return [(alias, v) for (alias, _), v in zip(pairs, held, strict=True) if v is not None]


def versions_of(collection: Collection, search: Search | None = None) -> ListQuery[ArtifactVersion]:
    return ListQuery(VERSIONS_BY_COLLECTION, collection.id, search=search)


async def linked_versions(ctx: Context, found: ArtifactVersion) -> ListQuery[ArtifactVersion]:
    """The same content in the registry collections the caller may see."""
    visible = await authorization.registry_filter(ctx, found.organization_id)
    return ListQuery(VERSIONS_BY_CONTENT, found.content_id, visible)


def files(found: ArtifactVersion, paths: Sequence[str] | None = None) -> ListQuery[ArtifactFile]:
    """Every caller who sees the version sees its files' names and sizes (all of them, or those
    at `paths`); their bytes are for those who may download (`files.download_url`)."""
    only = None if paths is None else tuple(paths)
    return ListQuery(FILES_BY_CONTENT, found.content_id, only)


async def version_by_path(
    ctx: Context, path: str, default_organization: str | None = None
) -> ArtifactVersion:
    """Resolves a path to one version, or raises an error naming the part that is wrong."""
    parsed = parse_path(path)
    named = parsed.organization or default_organization
    if named is not None:
        await read_path_at_once(ctx, parsed, named)
    org = await _path_organization(ctx, parsed, default_organization)
    coll = await _path_collection(ctx, parsed, org)
    found = await version_in_collection(ctx, coll.id, alias=parsed.alias, index=parsed.index)
    if found is None:
        selector = parsed.alias if parsed.alias is not None else f"v{parsed.index}"
        kind = "alias" if parsed.alias is not None else "version"
        raise not_found(f"{kind} '{selector}' not found in '{coll.name}'", ("path",))
    return found


async def _path_collection(ctx: Context, parsed: ArtifactPath, org: Organization) -> Collection:
    """The registry collection or project artifact a parsed path names."""
    coll: Collection | None
    if parsed.registry is not None:
        reg = await registry_in_organization(ctx, org.id, parsed.registry)
        if reg is None:
            raise not_found(
                f"registry '{parsed.registry}' not found in organization '{org.name}'", ("path",)
            )
        coll = await registry_collection(ctx, reg.id, parsed.collection)
        if coll is None:
            raise not_found(
                f"collection '{parsed.collection}' not found in registry '{reg.name}'", ("path",)
            )
    else:
        assert parsed.project is not None
        proj = await project_by_name(ctx, org.id, parsed.project)
        if proj is None:
            raise not_found(
                f"project '{parsed.project}' not found in organization '{org.name}'", ("path",)
            )
        coll = await project_sequence(ctx, proj.id, parsed.collection)
        if coll is None:
            raise not_found(
                f"artifact '{parsed.collection}' not found in project '{proj.name}'", ("path",)
            )
    return coll


async def _path_organization(
    ctx: Context, parsed: ArtifactPath, default_organization: str | None
) -> Organization:
    name = parsed.organization or default_organization
    if name is None:
        orgs = await viewer_organizations(ctx)
        if len(orgs) != 1:
            raise invalid_path(
                f"the path names no organization and you belong to {len(orgs)}; "
                "start the path with one, like acme/wandb-registry-model/…"
            )
        return orgs[0]
    org = await organization_by_name(ctx, name)
    if org is None:
        raise not_found(f"organization '{name}' not found", ("path",))
    return org


async def require_version(
    ctx: Context, version_id: int | None, path: str | None, fields: tuple[str, str]
) -> ArtifactVersion:
    """The version an input names by ID or by path (exactly one), or a refusal naming the
    field that named it: `fields` are the names of the ID field and of the path field."""
    validation.exactly_one(version_id, path, fields)
    if path is not None:
        try:
            found: ArtifactVersion | None = await version_by_path(ctx, path)
        except DomainError as error:
            # The path's errors name the input field that held it (`sourcePath`, `path`).
            raise DomainError(error.code, error.message, (fields[1],)) from None
    else:
        assert version_id is not None
        found = await version(ctx, version_id)
    if found is None:
        raise not_found("artifact version not found", (fields[0] if path is None else fields[1],))
    return found


# Aliases


async def add_aliases(
    ctx: Context, *, version_id: int | None, path: str | None, aliases: Sequence[str]
) -> ArtifactVersion | None:
    """Gives the version each alias, moving it from whichever version held it."""
    found, aliases = await _version_for_aliases(ctx, version_id, path, aliases)
    async with ctx.transaction() as conn:
        await add_aliases_txn(conn, ctx.principal.user, found, aliases)
    return await version(ctx, found.id)


async def remove_aliases(
    ctx: Context, *, version_id: int | None, path: str | None, aliases: Sequence[str]
) -> ArtifactVersion | None:
    found, aliases = await _version_for_aliases(ctx, version_id, path, aliases)
    async with ctx.transaction() as conn:
        await remove_aliases_txn(conn, ctx.principal.user, found, aliases)
    return await version(ctx, found.id)


async def _version_for_aliases(
    ctx: Context, version_id: int | None, path: str | None, given: Sequence[str]
) -> tuple[ArtifactVersion, list[str]]:
    """The version to change, and the aliases as they are kept."""
    if not given:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, "give at least one alias", ("aliases",))
    aliases = validation.aliases(given)
    found = await require_version(ctx, version_id, path, ("versionId", "path"))
    await authorization.require_version_change(ctx, found, "changing aliases", aliases)
    return found, aliases


async def lock_version_txn(conn: Connection, found: ArtifactVersion) -> None:
    """Locks the version's collection, then checks the version is still there: a concurrent
    unlink or delete may have removed it (or its collection) since it was read."""
    await collections.lock_collection(conn, found.collection_id)
    if await versions.version_for_write(conn, found.id) is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            f"version v{found.version_index} not found: it was just unlinked or deleted",
            ("versionId",),
        )


async def set_latest_txn(conn: Connection, found: ArtifactVersion) -> None:
    await versions.assign_alias(conn, found.collection_id, LATEST, found.id)


async def add_aliases_txn(
    conn: Connection, actor: User, found: ArtifactVersion, aliases: Sequence[str]
) -> None:
    """Gives `found` each alias, moving it from whichever version held it."""
    if not aliases:
        return
    await lock_version_txn(conn, found)
    await assign_aliases_txn(conn, actor, found, aliases)


async def assign_aliases_txn(
    conn: Connection, actor: User, found: ArtifactVersion, aliases: Sequence[str]
) -> None:
    """`add_aliases_txn` for callers that hold the collection's lock and know the version
    exists."""
    for alias in aliases:
        previous, changed = await versions.assign_alias(conn, found.collection_id, alias, found.id)
        if changed and found.registry_id is not None:
            await audit_txn(
                conn,
                actor.id,
                "ADD_ARTIFACT_ALIAS" if previous is None else "MOVE_ARTIFACT_ALIAS",
                AuditTarget.version(found),
                before=None if previous is None else {"alias": alias, "version": f"v{previous}"},
                after={"alias": alias, "version": f"v{found.version_index}"},
            )
            await events.emit_for_version_txn(conn, "ADD_ARTIFACT_ALIAS", actor, found, alias=alias)


async def remove_aliases_txn(
    conn: Connection, actor: User, found: ArtifactVersion, aliases: Sequence[str]
) -> None:
    await lock_version_txn(conn, found)
    for alias in aliases:
        if not await versions.remove_alias(conn, found.collection_id, alias, found.id):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"version v{found.version_index} does not hold alias '{alias}'",
                ("aliases",),
            )
        if found.registry_id is not None:
            await audit_txn(
                conn,
                actor.id,
                "REMOVE_ARTIFACT_ALIAS",
                AuditTarget.version(found),
                before={"alias": alias, "version": f"v{found.version_index}"},
            )
            await events.emit_for_version_txn(
                conn, "REMOVE_ARTIFACT_ALIAS", actor, found, alias=alias
            )


# Tags and description


async def add_tags(
    ctx: Context, *, target: tuple[str, int], tags: Sequence[str]
) -> Collection | ArtifactVersion:
    """Tags a registry collection or a version; `target` is (kind, id)."""
    return await _change_tags(ctx, target, tags, add=True)


async def remove_tags(
    ctx: Context, *, target: tuple[str, int], tags: Sequence[str]
) -> Collection | ArtifactVersion:
    return await _change_tags(ctx, target, tags, add=False)


async def _change_tags(
    ctx: Context, target: tuple[str, int], tags: Sequence[str], *, add: bool
) -> Collection | ArtifactVersion:
    if not tags:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, "give at least one tag", ("tags",))
    tags = validation.labels(tags, "tag", "tags")
    kind, target_id = target
    if kind == "Collection":
        collection = await require_collection(ctx, target_id, "id")
        registry = await require_registry(ctx, collection.registry_id or 0, "id")
        await authorization.require_registry_role(ctx, registry, "MEMBER", "tagging")
        async with ctx.transaction() as conn:
            await change_collection_tags_txn(conn, ctx.principal.user, collection, tags, add=add)
        return collection
    found = await require_version(ctx, target_id, None, ("id", "path"))
    await authorization.require_version_change(ctx, found, "tagging")
    async with ctx.transaction() as conn:
        await change_version_tags_txn(conn, ctx.principal.user, found, tags, add=add)
    return found


async def change_version_tags_txn(
    conn: Connection, actor: User, found: ArtifactVersion, tags: Sequence[str], *, add: bool
) -> None:
    await lock_version_txn(conn, found)
    if add:
        changed = await versions.add_version_tags(conn, found.id, tags)
    else:
        changed = await versions.remove_version_tags(conn, found.id, tags)
    if found.registry_id is None:
        return
    target = AuditTarget.version(found)
    for tag in await _record_tag_change_txn(conn, actor, target, tags, changed, add=add):
        await events.emit_for_version_txn(conn, "ADD_TAG", actor, found, tag=tag)


async def change_collection_tags_txn(
    conn: Connection, actor: User, collection: Collection, tags: Sequence[str], *, add: bool
) -> None:
    if add:
        changed = await collections.add_collection_tags(conn, collection.id, tags)
    else:
        changed = await collections.remove_collection_tags(conn, collection.id, tags)
    if collection.registry_id is None:
        return
    target = AuditTarget.collection(collection)
    for tag in await _record_tag_change_txn(conn, actor, target, tags, changed, add=add):
        await events.emit_for_collection_txn(conn, "ADD_TAG", actor, collection, tag=tag)


async def _record_tag_change_txn(
    conn: Connection,
    actor: User,
    target: AuditTarget,
    asked: Sequence[str],
    changed: Sequence[str],
    *,
    add: bool,
) -> list[str]:
    """Audits the tags that really changed (in the order asked) and returns the added ones, for
    webhooks. Tags already there, or already gone, change nothing: no history, no webhooks."""
    tags = [t for t in asked if t in changed]
    if tags:
        await audit_txn(
            conn, actor.id, "ADD_TAG" if add else "REMOVE_TAG", target, after={"tags": tags}
        )
    return tags if add else []


# The longest time to live a version may carry: a hundred years.
MAX_TTL_SECONDS = 100 * 365 * 86_400


def ttl(seconds: int | None, field: str = "ttlSeconds") -> int | None:
    if seconds is not None and not 0 < seconds <= MAX_TTL_SECONDS:
        raise validation.invalid(
            f"a time to live is from 1 to {MAX_TTL_SECONDS} seconds, not {seconds}", field
        )
    return seconds


async def set_artifact_ttl(
    ctx: Context, *, version_id: int, ttl_seconds: int | None
) -> ArtifactVersion:
    """Gives the version's content a time to live, counted from when it was logged (None
    removes it): once it has passed, the files' bytes are let go, for every version of the
    content, unless a protected alias holds one of them."""
    ttl(ttl_seconds)
    found = await require_version(ctx, version_id, None, ("versionId", "path"))
    await authorization.require_version_change(ctx, found, "setting a time to live")
    if found.files_deleted_at is not None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "this version's files were let go at the end of its time to live; log them again "
            "to bring the version back",
            ("versionId",),
        )
    return await _change_version(
        ctx,
        found,
        lambda conn: versions.set_content_ttl(conn, found.content_id, ttl_seconds),
        before={"ttlSeconds": found.ttl_seconds},
        after={"ttlSeconds": ttl_seconds},
    )


async def set_artifact_metadata(ctx: Context, *, version_id: int, metadata: Any) -> ArtifactVersion:
    """Replaces the metadata of the version's content, which every version of it shares."""
    given = validation.json_object(metadata, "metadata")
    found = await require_version(ctx, version_id, None, ("versionId", "path"))
    await authorization.require_version_change(ctx, found, "editing metadata")
    if json_values.dumps(given) == json_values.dumps(found.metadata):
        return found
    return await _change_version(
        ctx,
        found,
        lambda conn: versions.set_content_metadata(conn, found.content_id, given),
        before={"metadata": found.metadata},
        after={"metadata": given},
    )


async def update_artifact_version(
    ctx: Context, *, version_id: int, description: str
) -> ArtifactVersion:
    """Changes this version's description; the content's other versions keep theirs."""
    validation.description(description)
    found = await require_version(ctx, version_id, None, ("versionId", "path"))
    await authorization.require_version_change(ctx, found, "editing a version")
    return await _change_version(
        ctx,
        found,
        lambda conn: versions.update_version_description(conn, found.id, description),
        before={"description": found.description},
        after={"description": description},
    )


async def _change_version(
    ctx: Context,
    found: ArtifactVersion,
    change: Callable[[Connection], Awaitable[None]],
    *,
    before: dict[str, Any],
    after: dict[str, Any],
) -> ArtifactVersion:
    """Makes a change to a version, recorded in its registry's history when it is in one."""
    async with ctx.transaction() as conn:
        await change(conn)
        if found.registry_id is not None:
            await audit_txn(
                conn,
                ctx.principal.user.id,
                "UPDATE_ARTIFACT_VERSION",
                AuditTarget.version(found),
                before=before,
                after=after,
            )
    refreshed = await version(ctx, found.id)
    assert refreshed is not None
    return refreshed


# The wandb SDK's `updateArtifact`: several changes at once. Every part is checked before any is
# made; each change is then its own audited step.
TTL_UNCHANGED = -1
TTL_REMOVED = -2


async def update_version_as_given(
    ctx: Context,
    *,
    version_id: int,
    description: str | None,
    metadata: str | None,
    ttl_seconds: int | None,
    tags_to_add: Sequence[str],
    tags_to_remove: Sequence[str],
) -> ArtifactVersion:
    """Applies what differs from the version as it is: its description, its content's metadata
    (JSON text; shared by every version of the content) and time to live, and its tags."""
    found = await require_version(ctx, version_id, None, ("artifactID", ""))
    await authorization.require_version_change(ctx, found, "editing a version")
    validation.description(description)
    new_metadata: dict[str, Any] | None = None
    if metadata is not None:
        try:
            decoded = json_values.loads(metadata)
        except ValueError:
            raise validation.invalid("`metadata` is not valid JSON", "metadata") from None
        new_metadata = validation.json_object(decoded, "metadata")
    new_ttl: int | None = found.ttl_seconds
    if ttl_seconds is not None and ttl_seconds != TTL_UNCHANGED:
        new_ttl = None if ttl_seconds == TTL_REMOVED else ttl(ttl_seconds, "ttlDurationSeconds")
    added = validation.labels(tags_to_add, "tag", "tagsToAdd") if tags_to_add else []
    removed = validation.labels(tags_to_remove, "tag", "tagsToDelete") if tags_to_remove else []

    if description is not None and description != found.description:
        await update_artifact_version(ctx, version_id=found.id, description=description)
    if new_metadata is not None:
        await set_artifact_metadata(ctx, version_id=found.id, metadata=new_metadata)
    if new_ttl != found.ttl_seconds:
        await set_artifact_ttl(ctx, version_id=found.id, ttl_seconds=new_ttl)
    if added:
        await add_tags(ctx, target=("ArtifactVersion", found.id), tags=added)
    if removed:
        await remove_tags(ctx, target=("ArtifactVersion", found.id), tags=removed)
    changed = await version(ctx, found.id)
    assert changed is not None
    return changed


# Deleting a logged version


async def delete_logged_version(
    ctx: Context, *, version_id: int, delete_aliases: bool = False
) -> ArtifactVersion:
    """Deletes a version logged in a project, with its content and files. Refused while the
    content is linked into a registry (unlink it there first), and while the version holds
    aliases other than `latest` unless `delete_aliases`."""
    found = await require_version(ctx, version_id, None, ("versionId", "path"))
    if found.registry_id is not None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "this version is a link in a registry collection: unlink it instead",
            ("versionId",),
        )
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "deleting a logged version"
    )
    async with ctx.transaction() as conn:
        await collections.lock_collection(conn, found.collection_id)
        if not await versions.lock_content(conn, found.content_id):
            raise not_found("this version was just deleted", ("versionId",))
        linked = await versions.registry_versions_of_contents(conn, [found.content_id])
        if linked:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"this version is linked into {len(linked)} registry collection(s); unlink it "
                "there first",
                ("versionId",),
            )
        (held,) = await versions.aliases_by_version(conn, [found.id])
        named = [a for a in held if a != LATEST]
        if named and not delete_aliases:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"this version holds the aliases {', '.join(named)}; delete them too with "
                "`deleteAliases`, or move them first",
                ("deleteAliases",),
            )
        await history.close_alias_periods_of_version(conn, found.id)
        await versions.delete_content(conn, found.content_id)
        if LATEST in held:
            newest = await versions.newest_version(conn, found.collection_id)
            if newest is not None:
                await set_latest_txn(conn, newest)
    return found
