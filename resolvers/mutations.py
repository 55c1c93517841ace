"""The API's changes: validate, find what is named, authorize, then one transaction.

Each function raises DomainError for anything the client can correct; nothing is written then.
After a write the request's loaders are cleared, so the payload shows the new state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from db.pool import Connection
from db.records import ArtifactVersion, Collection, Project, Registry, Run
from resolvers import commands, reads, validation
from resolvers.authorization import (
    registry_role,
    require_organization_role,
    require_registry_role,
)
from resolvers.commands import FileEntry
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.paths import parse_collection_path


class AuthorizationNotChecked(RuntimeError):
    """A write was about to start before any authorization check: a bug, never a user error."""


@asynccontextmanager
async def transaction(ctx: Context) -> AsyncIterator[Connection]:
    if not ctx.authorization_checked:
        raise AuthorizationNotChecked("a write started without an authorization check")
    async with ctx.pool.acquire() as conn, conn.transaction():
        yield conn
    ctx.loaders.clear_all()


async def reload_version(ctx: Context, version_id: int) -> ArtifactVersion | None:
    """The version as it is after a write (loaders were cleared by the transaction)."""
    return await reads.version(ctx, version_id)


def _exactly_one(a: object, b: object, names: tuple[str, str]) -> None:
    if (a is None) == (b is None):
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"give exactly one of `{names[0]}` and `{names[1]}`",
            (names[0],),
        )


async def _registry(ctx: Context, registry_id: int, field: str = "registryId") -> Registry:
    found = await reads.registry(ctx, registry_id)
    if found is None or await registry_role(ctx, found) is None:
        raise not_found("registry not found", (field,))
    return found


async def _version(
    ctx: Context, version_id: int | None, path: str | None, fields: tuple[str, str]
) -> ArtifactVersion:
    _exactly_one(version_id, path, fields)
    if path is not None:
        try:
            found: ArtifactVersion | None = await reads.version_by_path(ctx, path)
        except DomainError as error:
            # The path's errors name the input field that held it (`sourcePath`, `path`).
            raise DomainError(error.code, error.message, (fields[1],)) from None
    else:
        assert version_id is not None
        found = await reads.version(ctx, version_id)
    if found is None or not await _can_see_version(ctx, found):
        raise not_found("artifact version not found", (fields[0] if path is None else fields[1],))
    return found


async def _can_see_version(ctx: Context, version: ArtifactVersion) -> bool:
    if version.registry_id is None:
        return True
    registry = await reads.registry(ctx, version.registry_id)
    return registry is not None and await registry_role(ctx, registry) is not None


async def _collection(ctx: Context, collection_id: int, field: str) -> Collection:
    found = await reads.collection(ctx, collection_id)
    if found is None or found.registry_id is None:
        raise not_found("collection not found", (field,))
    await _registry(ctx, found.registry_id, field)
    return found


async def _run(ctx: Context, run_id: int, field: str = "runId") -> Run:
    found = await reads.run(ctx, run_id)
    if found is None:
        raise not_found("run not found", (field,))
    return found


async def _authorize_version_change(
    ctx: Context,
    version: ArtifactVersion,
    action: str,
    aliases: Sequence[str] = (),
    alias_field: str = "aliases",
) -> None:
    """Registry versions need MEMBER, and ADMIN for protected aliases; logged versions need an
    organization MEMBER."""
    if version.registry_id is None:
        require_organization_role(ctx, version.organization_id, "MEMBER", action)
        return
    registry = await _registry(ctx, version.registry_id, "versionId")
    role = await require_registry_role(ctx, registry, "MEMBER", action)
    protected = sorted(set(aliases) & set(registry.protected_aliases))
    if protected and role != "ADMIN":
        raise DomainError(
            ErrorCode.PROTECTED_ALIAS,
            f"alias '{protected[0]}' is protected in registry '{registry.name}': only its "
            "admins may add, move or remove it",
            (alias_field,),
        )


# Projects and runs


async def create_project(
    ctx: Context, organization: str, name: str, description: str | None
) -> Project:
    validation.project_name(name)
    validation.description(description)
    org = await reads.organization_by_name(ctx, organization)
    if org is None:
        raise not_found(f"organization '{organization}' not found", ("organization",))
    require_organization_role(ctx, org.id, "MEMBER", "creating a project")
    async with transaction(ctx) as conn:
        return await commands.create_project(conn, org.id, name, description or "")


async def create_run(ctx: Context, project_id: int, name: str, config: Any) -> Run:
    validation.run_name(name)
    config = validation.json_object(config, "config")
    project = await reads.project(ctx, project_id)
    if project is None:
        raise not_found("project not found", ("projectId",))
    require_organization_role(ctx, project.organization_id, "MEMBER", "creating a run")
    async with transaction(ctx) as conn:
        return await commands.create_run(conn, ctx.principal.user, project, name, config)


async def update_run(ctx: Context, run_id: int, state: str | None, summary: Any) -> Run:
    summary = validation.json_object(summary, "summary")
    run = await _run(ctx, run_id)
    require_organization_role(ctx, run.organization_id, "MEMBER", "updating a run")
    async with transaction(ctx) as conn:
        return await commands.update_run(conn, run, state=state, summary=summary)


async def finish_run(ctx: Context, run_id: int, state: str, summary: Any) -> Run:
    if state == "RUNNING":
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "a run finishes as FINISHED, FAILED or CRASHED", ("state",)
        )
    return await update_run(ctx, run_id, state, summary)


# Logging and using artifacts


async def log_artifact(
    ctx: Context,
    *,
    run_id: int | None,
    project_id: int | None,
    name: str,
    artifact_type: str,
    files: Sequence[tuple[str, str, int]],
    metadata: Any,
    description: str | None,
    aliases: Sequence[str],
) -> ArtifactVersion:
    _exactly_one(run_id, project_id, ("runId", "projectId"))
    validation.collection_name(name)
    validation.artifact_type(artifact_type)
    validation.manifest(files)
    metadata = validation.json_object(metadata, "metadata")
    validation.description(description)
    aliases = validation.aliases(aliases)
    run = None
    if run_id is not None:
        run = await _run(ctx, run_id)
        if run.state != "RUNNING":
            raise DomainError(
                ErrorCode.RUN_FINISHED,
                f"run '{run.name}' has ended ({run.state}); log from a running run",
                ("runId",),
            )
        project_id = run.project_id
    assert project_id is not None
    project = await reads.project(ctx, project_id)
    if project is None:
        raise not_found("project not found", ("projectId",))
    require_organization_role(ctx, project.organization_id, "MEMBER", "logging an artifact")
    entries = [FileEntry(path, digest, size) for path, digest, size in files]
    async with transaction(ctx) as conn:
        return await commands.log_artifact(
            conn,
            ctx.principal.user,
            project,
            name=name,
            artifact_type=artifact_type,
            files=entries,
            run=run,
            metadata=metadata,
            description=description or "",
            aliases=aliases,
        )


async def use_artifact(
    ctx: Context, run_id: int, version_id: int | None, path: str | None
) -> tuple[Run, ArtifactVersion]:
    run = await _run(ctx, run_id)
    version = await _version(ctx, version_id, path, ("versionId", "path"))
    require_organization_role(ctx, run.organization_id, "MEMBER", "recording a use")
    if version.registry_id is not None:
        registry = await _registry(ctx, version.registry_id, "versionId")
        await require_registry_role(ctx, registry, "VIEWER", "using a registry version")
    if version.organization_id != run.organization_id:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "the run and the version belong to different organizations",
            ("versionId",),
        )
    async with transaction(ctx) as conn:
        await commands.use_artifact(conn, run, version)
    return run, version


# Registries and collections


async def create_registry(
    ctx: Context,
    *,
    organization: str,
    name: str,
    description: str | None,
    visibility: str,
    accepted_types: Sequence[str],
    protected_aliases: Sequence[str],
) -> Registry:
    validation.registry_name(name)
    validation.description(description)
    for artifact_type in accepted_types:
        validation.artifact_type(artifact_type, "acceptedTypes")
    protected = [validation.alias(a, "protectedAliases") for a in protected_aliases]
    org = await reads.organization_by_name(ctx, organization)
    if org is None:
        raise not_found(f"organization '{organization}' not found", ("organization",))
    require_organization_role(ctx, org.id, "MEMBER", "creating a registry")
    async with transaction(ctx) as conn:
        return await commands.create_registry(
            conn,
            ctx.principal.user,
            org.id,
            name=name,
            description=description or "",
            visibility=visibility,
            accepted_types=list(dict.fromkeys(accepted_types)),
            protected_aliases=list(dict.fromkeys(protected)),
        )


async def update_registry(
    ctx: Context,
    registry_id: int,
    *,
    description: str | None,
    visibility: str | None,
    add_accepted_types: Sequence[str],
    accept_all_types: bool,
    protected_aliases: Sequence[str] | None,
) -> Registry:
    validation.description(description)
    for artifact_type in add_accepted_types:
        validation.artifact_type(artifact_type, "addAcceptedTypes")
    if protected_aliases is not None:
        protected_aliases = [validation.alias(a, "protectedAliases") for a in protected_aliases]
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "ADMIN", "changing a registry's settings")
    async with transaction(ctx) as conn:
        return await commands.update_registry(
            conn,
            ctx.principal.user,
            registry,
            description=description,
            visibility=visibility,
            accept_all_types=accept_all_types,
            add_accepted_types=add_accepted_types,
            protected_aliases=protected_aliases,
        )


async def delete_registry(ctx: Context, registry_id: int) -> None:
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "ADMIN", "deleting a registry")
    async with transaction(ctx) as conn:
        await commands.delete_registry(conn, ctx.principal.user, registry)


async def create_collection(
    ctx: Context,
    registry_id: int,
    *,
    name: str,
    artifact_type: str,
    description: str | None,
    tags: Sequence[str],
) -> Collection:
    validation.collection_name(name)
    validation.artifact_type(artifact_type)
    validation.description(description)
    tags = validation.labels(tags, "tag", "tags")
    registry = await _registry(ctx, registry_id)
    await require_registry_role(ctx, registry, "MEMBER", "creating a collection")
    async with transaction(ctx) as conn:
        return await commands.create_collection(
            conn,
            ctx.principal.user,
            registry,
            name=name,
            artifact_type=artifact_type,
            description=description or "",
            tags=tags,
        )


async def update_collection(
    ctx: Context, collection_id: int, *, name: str | None, description: str | None
) -> Collection:
    if name is not None:
        validation.collection_name(name)
    validation.description(description)
    collection = await _collection(ctx, collection_id, "collectionId")
    registry = await _registry(ctx, collection.registry_id or 0, "collectionId")
    await require_registry_role(ctx, registry, "MEMBER", "editing a collection")
    async with transaction(ctx) as conn:
        return await commands.update_collection(
            conn, ctx.principal.user, collection, name=name, description=description
        )


async def delete_collection(ctx: Context, collection_id: int) -> Collection:
    collection = await _collection(ctx, collection_id, "collectionId")
    registry = await _registry(ctx, collection.registry_id or 0, "collectionId")
    await require_registry_role(ctx, registry, "MEMBER", "deleting a collection")
    async with transaction(ctx) as conn:
        await commands.delete_collection(conn, ctx.principal.user, collection)
    return collection


# Links, aliases, tags


async def link_artifact(
    ctx: Context,
    *,
    version_id: int | None,
    source_path: str | None,
    target_path: str | None,
    collection_id: int | None,
    aliases: Sequence[str],
) -> ArtifactVersion:
    _exactly_one(target_path, collection_id, ("targetPath", "collectionId"))
    aliases = validation.aliases(aliases)
    version = await _version(ctx, version_id, source_path, ("versionId", "sourcePath"))
    if version.registry_id is not None:
        # Linking a linked version links its source: lineage and content stay one.
        source = await reads.source_version(ctx, version.content_id)
        assert source is not None
        version = source
    collection: Collection | None = None
    if collection_id is not None:
        collection = await _collection(ctx, collection_id, "collectionId")
        registry = await _registry(ctx, collection.registry_id or 0, "collectionId")
        collection_name = collection.name
    else:
        assert target_path is not None
        target = parse_collection_path(target_path)
        validation.collection_name(target.collection, "targetPath")
        org_name = target.organization
        if org_name is None:
            org = await reads.organization(ctx, version.organization_id)
            assert org is not None
            org_name = org.name
        found = await reads.registry_by_name(ctx, org_name, target.registry)
        if found is None or await registry_role(ctx, found) is None:
            raise not_found(
                f"registry '{target.registry}' not found in organization '{org_name}'",
                ("targetPath",),
            )
        registry = found
        collection_name = target.collection
    if registry.organization_id != version.organization_id:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "a version can only be linked into a registry of its own organization",
            ("targetPath",),
        )
    role = await require_registry_role(ctx, registry, "MEMBER", "linking")
    protected = sorted(set(aliases) & set(registry.protected_aliases))
    if protected and role != "ADMIN":
        raise DomainError(
            ErrorCode.PROTECTED_ALIAS,
            f"alias '{protected[0]}' is protected in registry '{registry.name}': only its "
            "admins may add, move or remove it",
            ("aliases",),
        )
    async with transaction(ctx) as conn:
        if collection is not None:
            return await commands.link_into(
                conn, ctx.principal.user, version, registry, collection, aliases
            )
        return await commands.link_artifact(
            conn, ctx.principal.user, version, registry, collection_name, aliases
        )


async def unlink_artifact(
    ctx: Context, version_id: int | None, path: str | None
) -> tuple[Collection, ArtifactVersion]:
    """The collection after the unlink, and the version unlinked (named by ID or by path)."""
    version = await _version(ctx, version_id, path, ("versionId", "path"))
    field = "versionId" if path is None else "path"
    if version.registry_id is None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "only versions in registry collections can be unlinked; logged versions stay",
            (field,),
        )
    held = await reads.version_aliases(ctx, version.id)
    # The version's protected aliases would go with it: the refusal names the version's field.
    await _authorize_version_change(ctx, version, "unlinking", held, alias_field=field)
    async with transaction(ctx) as conn:
        await commands.unlink_artifact(conn, ctx.principal.user, version)
    collection = await reads.collection(ctx, version.collection_id)
    assert collection is not None
    return collection, version


async def change_aliases(
    ctx: Context,
    version_id: int | None,
    path: str | None,
    aliases: Sequence[str],
    *,
    add: bool,
) -> ArtifactVersion:
    if not aliases:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, "give at least one alias", ("aliases",))
    aliases = validation.aliases(aliases)
    version = await _version(ctx, version_id, path, ("versionId", "path"))
    await _authorize_version_change(ctx, version, "changing aliases", aliases)
    async with transaction(ctx) as conn:
        if add:
            await commands.add_aliases(conn, ctx.principal.user, version, aliases)
        else:
            await commands.remove_aliases(conn, ctx.principal.user, version, aliases)
    return version


async def change_tags(
    ctx: Context, kind: str, target_id: int, tags: Sequence[str], *, add: bool
) -> Collection | ArtifactVersion:
    """Adds or removes tags on a registry collection or on a version."""
    if not tags:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, "give at least one tag", ("tags",))
    tags = validation.labels(tags, "tag", "tags")
    if kind == "Collection":
        collection = await _collection(ctx, target_id, "id")
        registry = await _registry(ctx, collection.registry_id or 0, "id")
        await require_registry_role(ctx, registry, "MEMBER", "tagging")
        async with transaction(ctx) as conn:
            await commands.change_collection_tags(
                conn, ctx.principal.user, collection, tags, add=add
            )
        return collection
    if kind != "ArtifactVersion":
        raise DomainError(
            ErrorCode.INVALID_ID, "tags go on collections and artifact versions", ("id",)
        )
    version = await _version(ctx, target_id, None, ("id", "path"))
    await _authorize_version_change(ctx, version, "tagging")
    async with transaction(ctx) as conn:
        await commands.change_version_tags(conn, ctx.principal.user, version, tags, add=add)
    return version


async def update_artifact_version(
    ctx: Context, version_id: int, description: str
) -> ArtifactVersion:
    validation.description(description)
    version = await _version(ctx, version_id, None, ("versionId", "path"))
    await _authorize_version_change(ctx, version, "editing a version")
    async with transaction(ctx) as conn:
        await commands.update_version_description(conn, ctx.principal.user, version, description)
    refreshed = await reads.version(ctx, version.id)
    assert refreshed is not None
    return refreshed
