"""Links: putting a logged version into a registry collection, and taking it out again.

A link never copies content: the new version points at the source's content, gets the
collection's next index (never reused, even after an unlink) and `latest`.
"""

from __future__ import annotations

from collections.abc import Sequence

from db import collections, history, versions
from db.pool import Connection
from db.records import ArtifactVersion, Collection, Registry, User
from resolvers import authorization, events, validation
from resolvers.collections import collection, collection_created_txn, require_collection
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn
from resolvers.organizations import organization
from resolvers.paths import parse_collection_path
from resolvers.registries import accepts, registry_by_name, require_registry
from resolvers.soon import settled
from resolvers.validation import LATEST
from resolvers.versions import (
    assign_aliases_txn,
    lock_version_txn,
    require_version,
    set_latest_txn,
    source_version,
    version_aliases,
)


async def link_artifact(
    ctx: Context,
    *,
    version_id: int | None,
    source_path: str | None,
    target_path: str | None,
    collection_id: int | None,
    aliases: Sequence[str],
) -> ArtifactVersion:
    """Links a version (by ID or path) into a collection (by ID, or by path, created with the
    version's type when missing); linking a linked version links its source."""
    validation.exactly_one(target_path, collection_id, ("targetPath", "collectionId"))
    aliases = validation.aliases(aliases)
    found = await require_version(ctx, version_id, source_path, ("versionId", "sourcePath"))
    if found.registry_id is not None:
        # Linking a linked version links its source: lineage and content stay one.
        source = await source_version(ctx, found.content_id)
        assert source is not None
        found = source
    target: Collection | None = None
    if collection_id is not None:
        target = await require_collection(ctx, collection_id, "collectionId")
        registry = await require_registry(ctx, target.registry_id or 0, "collectionId")
        collection_name = target.name
    else:
        assert target_path is not None
        parsed = parse_collection_path(target_path)
        validation.collection_name(parsed.collection, "targetPath")
        org_name = parsed.organization
        if org_name is None:
            org = await organization(ctx, found.organization_id)
            assert org is not None
            org_name = org.name
        named = await registry_by_name(ctx, org_name, parsed.registry)
        if named is None:
            raise not_found(
                f"registry '{parsed.registry}' not found in organization '{org_name}'",
                ("targetPath",),
            )
        registry = named
        collection_name = parsed.collection
    if registry.organization_id != found.organization_id:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "a version can only be linked into a registry of its own organization",
            ("targetPath",),
        )
    role = await authorization.require_registry_role(ctx, registry, "MEMBER", "linking")
    authorization.require_protected_aliases_allowed(registry, role, aliases, "aliases")
    source_field = "versionId" if version_id is not None else "sourcePath"
    async with ctx.transaction() as conn:
        if target is not None:
            return await link_into_txn(
                conn, ctx.principal.user, found, registry, target, aliases, source_field
            )
        return await link_artifact_txn(
            conn, ctx.principal.user, found, registry, collection_name, aliases, source_field
        )


async def link_artifact_txn(
    conn: Connection,
    actor: User,
    source: ArtifactVersion,
    registry: Registry,
    collection_name: str,
    aliases: Sequence[str] = (),
    source_field: str = "versionId",
) -> ArtifactVersion:
    """Links `source`'s content into a registry collection, creating the collection if needed.
    Content already there returns the existing version, with the aliases added. A refusal
    about the version names `source_field`, the input that gave it."""
    if not accepts(registry, source.artifact_type):
        raise DomainError(
            ErrorCode.TYPE_NOT_ACCEPTED,
            f"registry '{registry.name}' does not accept artifact type '{source.artifact_type}'",
            ("targetPath",),
        )
    target = await collections.collection_in_registry(conn, registry.id, collection_name)
    if target is None:
        target = await collections.insert_collection(
            conn,
            organization_id=registry.organization_id,
            registry_id=registry.id,
            project_id=None,
            name=collection_name,
            artifact_type=source.artifact_type,
            description="",
        )
        if target is not None:
            state = {"name": target.name, "type": target.artifact_type}
            await collection_created_txn(conn, actor, target, state)
        else:
            # A concurrent link created it first; its transaction has committed by now.
            target = await collections.collection_in_registry(conn, registry.id, collection_name)
            assert target is not None
    return await link_into_txn(conn, actor, source, registry, target, aliases, source_field)


async def link_into_txn(
    conn: Connection,
    actor: User,
    source: ArtifactVersion,
    registry: Registry,
    target: Collection,
    aliases: Sequence[str] = (),
    source_field: str = "versionId",
) -> ArtifactVersion:
    if target.artifact_type != source.artifact_type:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"collection '{target.name}' holds type '{target.artifact_type}', "
            f"the version is '{source.artifact_type}'",
            (source_field,),
        )
    if not await collections.lock_collection(conn, target.id):
        raise DomainError(
            ErrorCode.NOT_FOUND, f"collection '{target.name}' not found: it was just deleted"
        )
    linked = await versions.version_of_content(conn, target.id, source.content_id)
    if linked is None:
        index = await collections.take_next_index(conn, target.id)
        # The link starts with its source's description, and has its own from then on.
        inserted = await versions.insert_version(
            conn, target.id, source.content_id, index, actor.id, source.description
        )
        if inserted is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, "the version to link was just deleted", (source_field,)
            )
        linked = inserted
        await set_latest_txn(conn, linked)
        await audit_txn(
            conn,
            actor.id,
            "LINK_ARTIFACT",
            AuditTarget.version(linked),
            after={"version": f"v{index}", "digest": linked.digest},
        )
        await events.emit_for_version_txn(conn, "LINK_ARTIFACT", actor, linked)
    await assign_aliases_txn(conn, actor, linked, aliases)
    return linked


async def unlink_artifact(
    ctx: Context, *, version_id: int | None, path: str | None
) -> tuple[Collection, ArtifactVersion]:
    """The collection after the unlink, and the version unlinked (named by ID or by path)."""
    found = await require_version(ctx, version_id, path, ("versionId", "path"))
    field = "versionId" if path is None else "path"
    if found.registry_id is None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "only versions in registry collections can be unlinked; logged versions stay",
            (field,),
        )
    held = await settled(version_aliases(ctx, found.id))
    # The version's protected aliases would go with it: the refusal names the version's field.
    checked = await authorization.require_version_change(
        ctx, found, "unlinking", held, alias_field=field
    )
    assert checked is not None
    registry, role = checked
    async with ctx.transaction() as conn:
        dropped = await unlink_artifact_txn(conn, ctx.principal.user, found)
        # Again on what the unlink really dropped, under the collection's lock: a protected
        # alias given to the version meanwhile counts too, and the refusal undoes the unlink.
        authorization.require_protected_aliases_allowed(registry, role, dropped, field)
    emptied = await collection(ctx, found.collection_id)
    assert emptied is not None
    return emptied, found


async def unlink_artifact_txn(conn: Connection, actor: User, found: ArtifactVersion) -> list[str]:
    """Removes a version from its registry collection and returns the aliases it held. Its
    index is never reused; `latest` moves to the newest remaining version."""
    await lock_version_txn(conn, found)
    held = await history.close_alias_periods_of_version(conn, found.id)
    await versions.delete_version(conn, found.id)
    if LATEST in held:
        newest = await versions.newest_version(conn, found.collection_id)
        if newest is not None:
            await set_latest_txn(conn, newest)
    await audit_txn(
        conn,
        actor.id,
        "UNLINK_ARTIFACT",
        AuditTarget.version(found),
        before={"version": f"v{found.version_index}", "digest": found.digest, "aliases": held},
    )
    await events.emit_for_version_txn(conn, "UNLINK_ARTIFACT", actor, found)
    return held
