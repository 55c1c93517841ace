"""Collections: a registry's collections (created, renamed, re-described, deleted) and a project's
artifact sequences, which share their table and their reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import collections, versions
from db.collections import COLLECTIONS_BY_REGISTRY, SEQUENCES_BY_PROJECT
from db.pool import Connection
from db.records import Collection, Project, Registry, User
from db.search import Search
from resolvers import authorization, events, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.history import AuditTarget, audit_txn, changed_values
from resolvers.pages import ListQuery
from resolvers.registries import accepts, require_registry
from resolvers.soon import Soon
from resolvers.validation import storable

# Reading


async def collection(ctx: Context, collection_id: int) -> Collection | None:
    found = await ctx.loaders.collection_by_id.load(collection_id)
    return await authorization.visible(ctx, found)


async def _by_id(ctx: Context, ids: Sequence[int], *, in_registry: bool) -> list[Collection | None]:
    # One table holds both kinds; an id of one kind must not resolve as the other.
    found = await authorization.visible_many(ctx, await ctx.loaders.collection_by_id.load_many(ids))
    return [
        c if c is not None and (c.registry_id is not None) == in_registry else None for c in found
    ]


async def collections_by_id(ctx: Context, ids: Sequence[int]) -> list[Collection | None]:
    return await _by_id(ctx, ids, in_registry=True)


async def sequences_by_id(ctx: Context, ids: Sequence[int]) -> list[Collection | None]:
    return await _by_id(ctx, ids, in_registry=False)


async def registry_collection(ctx: Context, registry_id: int, name: str) -> Collection | None:
    if not storable(name):
        return None
    found = await ctx.loaders.collection_by_registry_name.load((registry_id, name))
    return await authorization.visible(ctx, found)


async def project_sequence(ctx: Context, project_id: int, name: str) -> Collection | None:
    if not storable(name):
        return None
    found = await ctx.loaders.sequence_by_project_name.load((project_id, name))
    return await authorization.visible(ctx, found)


def collection_tags(ctx: Context, collection_id: int) -> Soon[list[str]]:
    return ctx.loaders.tags_by_collection.loaded(collection_id)


async def preload(ctx: Context, found: Sequence[Collection], *, tags: bool = False) -> None:
    """Loads what the chosen fields of a page of collections read, one batch for the page."""
    if tags:
        await ctx.loaders.tags_by_collection.load_many([c.id for c in found])


def collections_of(registry: Registry, search: Search | None = None) -> ListQuery[Collection]:
    return ListQuery(COLLECTIONS_BY_REGISTRY, registry.id, search=search)


def sequences_of(
    project: Project, artifact_type: str | None = None, search: Search | None = None
) -> ListQuery[Collection]:
    """A project's logged artifacts (of one type, if given), by name."""
    return ListQuery(SEQUENCES_BY_PROJECT, project.id, artifact_type, search)


async def sequence_types(ctx: Context, project: Project) -> list[str]:
    return await collections.sequence_types(ctx.reads, project.id)


async def require_sequence(ctx: Context, sequence_id: int, field: str) -> Collection:
    """The project's logged artifact an input names, or a refusal naming `field`."""
    found = await collection(ctx, sequence_id)
    if found is None or found.project_id is None:
        raise not_found("logged artifact not found", (field,))
    return found


async def require_collection(ctx: Context, collection_id: int, field: str) -> Collection:
    """The registry collection an input names, or a refusal naming `field`."""
    found = await collection(ctx, collection_id)
    if found is None or found.registry_id is None:
        raise not_found("collection not found", (field,))
    await require_registry(ctx, found.registry_id, field)
    return found


# Changes


async def create_collection(
    ctx: Context,
    *,
    registry_id: int,
    name: str,
    artifact_type: str,
    description: str | None,
    tags: Sequence[str],
) -> Collection:
    validation.collection_name(name)
    validation.artifact_type(artifact_type)
    validation.description(description)
    tags = validation.labels(tags, "tag", "tags")
    registry = await require_registry(ctx, registry_id)
    await authorization.require_registry_role(ctx, registry, "MEMBER", "creating a collection")
    async with ctx.transaction() as conn:
        return await create_collection_txn(
            conn,
            ctx.principal.user,
            registry,
            name=name,
            artifact_type=artifact_type,
            description=description or "",
            tags=tags,
        )


async def create_collection_txn(
    conn: Connection,
    actor: User,
    registry: Registry,
    *,
    name: str,
    artifact_type: str,
    description: str = "",
    tags: Sequence[str] = (),
) -> Collection:
    if not accepts(registry, artifact_type):
        raise DomainError(
            ErrorCode.TYPE_NOT_ACCEPTED,
            f"registry '{registry.name}' does not accept artifact type '{artifact_type}' "
            f"(it accepts: {', '.join(registry.accepted_types)})",
            ("type",),
        )
    created = await collections.insert_collection(
        conn,
        organization_id=registry.organization_id,
        registry_id=registry.id,
        project_id=None,
        name=name,
        artifact_type=artifact_type,
        description=description,
    )
    if created is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN,
            f"registry '{registry.name}' already has a collection named '{name}'",
            ("name",),
        )
    await collections.add_collection_tags(conn, created.id, tags)
    await collection_created_txn(
        conn, actor, created, {"name": name, "type": artifact_type, "tags": list(tags)}
    )
    return created


async def collection_created_txn(
    conn: Connection, actor: User, created: Collection, state: dict[str, Any]
) -> None:
    """Records a new registry collection, made explicitly or by a link, and announces it."""
    await audit_txn(
        conn, actor.id, "CREATE_COLLECTION", AuditTarget.collection(created), after=state
    )
    await events.emit_for_collection_txn(conn, "CREATE_ARTIFACT", actor, created)


async def update_collection(
    ctx: Context, *, collection_id: int, name: str | None, description: str | None
) -> Collection:
    if name is not None:
        validation.collection_name(name)
    validation.description(description)
    found = await require_collection(ctx, collection_id, "collectionId")
    registry = await require_registry(ctx, found.registry_id or 0, "collectionId")
    await authorization.require_registry_role(ctx, registry, "MEMBER", "editing a collection")
    async with ctx.transaction() as conn:
        updated = await collections.update_collection(
            conn, found.id, name=name, description=description
        )
        if updated is None:
            raise DomainError(
                ErrorCode.NAME_TAKEN, f"a collection named '{name}' already exists here", ("name",)
            )
        state = {"name": found.name, "description": found.description}
        new_state = {"name": updated.name, "description": updated.description}
        if state != new_state:
            before, after = changed_values(state, new_state)
            await audit_txn(
                conn,
                ctx.principal.user.id,
                "UPDATE_COLLECTION",
                AuditTarget.collection(found),
                before=before,
                after=after,
            )
    return updated


async def delete_collection(ctx: Context, collection_id: int) -> Collection:
    """Deletes a collection with its versions. Its protected aliases would go with it: a
    collection holding one is deleted by the registry's admins only."""
    found = await require_collection(ctx, collection_id, "collectionId")
    registry = await require_registry(ctx, found.registry_id or 0, "collectionId")
    role = await authorization.require_registry_role(
        ctx, registry, "MEMBER", "deleting a collection"
    )
    async with ctx.transaction() as conn:
        # Under the collection's lock, so that an alias given meanwhile counts too.
        await collections.lock_collection(conn, found.id)
        (held,) = await versions.aliases_by_collection(conn, [found.id])
        aliases = [alias for alias, _ in held]
        authorization.require_protected_aliases_allowed(registry, role, aliases, "collectionId")
        await delete_collection_txn(conn, ctx.principal.user, found)
    return found


async def delete_collection_txn(conn: Connection, actor: User, found: Collection) -> None:
    if not await collections.delete_collection(conn, found.id):
        raise not_found("collection not found", ("collectionId",))
    await audit_txn(
        conn,
        actor.id,
        "DELETE_COLLECTION",
        AuditTarget.collection(found),
        before={"name": found.name, "type": found.artifact_type},
    )


# A project's logged artifacts


async def update_sequence(
    ctx: Context, *, sequence_id: int, name: str | None, description: str | None
) -> Collection:
    """Renames or describes a project's logged artifact; its paths follow the new name."""
    if name is not None:
        validation.collection_name(name)
    validation.description(description)
    found = await require_sequence(ctx, sequence_id, "sequenceId")
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "editing a logged artifact"
    )
    async with ctx.transaction() as conn:
        updated = await collections.update_collection(
            conn, found.id, name=name, description=description
        )
    if updated is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"the project already logs an artifact named '{name}'", ("name",)
        )
    return updated


async def delete_sequence(ctx: Context, *, sequence_id: int) -> Collection:
    """Deletes a project's logged artifact with every version, file and use of it; refused
    while a registry links any of its versions."""
    found = await require_sequence(ctx, sequence_id, "sequenceId")
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "deleting a logged artifact"
    )
    async with ctx.transaction() as conn:
        contents = await collections.lock_sequence_contents(conn, found.id)
        linked = await versions.registry_versions_of_contents(conn, contents)
        if linked:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"{len(linked)} of its versions are linked into registries; unlink them first",
                ("sequenceId",),
            )
        if not await collections.delete_collection(conn, found.id):
            raise not_found("logged artifact not found: it was just deleted", ("sequenceId",))
    return found
