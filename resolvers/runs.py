"""Runs and what they do: projects to hold them, runs that start, report and finish, the versions
they log, and the versions they use (the lineage graph's edges)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import collections, runs, versions
from db.pool import Connection
from db.records import ArtifactVersion, Project, Run, User
from db.runs import RUNS_BY_PROJECT, RUNS_USING_CONTENT
from db.search import Search
from db.versions import INPUTS_BY_RUN, OUTPUTS_BY_RUN
from resolvers import authorization, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.files import require_stored_txn
from resolvers.organizations import project, require_organization
from resolvers.pages import ListQuery
from resolvers.registries import require_registry
from resolvers.versions import (
    FileEntry,
    FileSpec,
    assign_aliases_txn,
    manifest_digest,
    require_version,
    set_latest_txn,
    ttl,
)

# Reading


async def run(ctx: Context, run_id: int | None) -> Run | None:
    if run_id is None:
        return None
    return await authorization.visible(ctx, await ctx.loaders.run_by_id.load(run_id))


async def runs_by_id(ctx: Context, ids: Sequence[int]) -> list[Run | None]:
    return await authorization.visible_many(ctx, await ctx.loaders.run_by_id.load_many(ids))


async def run_by_name(ctx: Context, project_id: int, name: str) -> Run | None:
    if not validation.storable(name):
        return None
    found = await ctx.loaders.run_by_project_name.load((project_id, name))
    return await authorization.visible(ctx, found)


def runs_of(found: Project, search: Search | None = None) -> ListQuery[Run]:
    return ListQuery(RUNS_BY_PROJECT, found.id, search=search)


def runs_using(version: ArtifactVersion) -> ListQuery[Run]:
    """Runs that used the version's content, most recent use first."""
    return ListQuery(RUNS_USING_CONTENT, version.content_id)


async def inputs_of(ctx: Context, found: Run) -> ListQuery[ArtifactVersion]:
    """The versions the run used, in the registries the caller may see."""
    visible = await authorization.registry_filter(ctx, found.organization_id)
    return ListQuery(INPUTS_BY_RUN, found.id, visible)


def outputs_of(found: Run) -> ListQuery[ArtifactVersion]:
    return ListQuery(OUTPUTS_BY_RUN, found.id)


async def _run(ctx: Context, run_id: int, field: str = "runId") -> Run:
    found = await run(ctx, run_id)
    if found is None:
        raise not_found("run not found", (field,))
    return found


# Projects and runs


async def create_project(
    ctx: Context, organization: str, name: str, description: str | None
) -> Project:
    validation.project_name(name)
    validation.description(description)
    org = await require_organization(ctx, organization)
    authorization.require_organization_role(ctx, org.id, "MEMBER", "creating a project")
    async with ctx.transaction() as conn:
        return await create_project_txn(conn, org.id, name, description or "")


async def create_project_txn(
    conn: Connection, organization_id: int, name: str, description: str = ""
) -> Project:
    created = await runs.insert_project(conn, organization_id, name, description)
    if created is None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"project '{name}' already exists", ("name",))
    return created


async def create_run(ctx: Context, project_id: int, name: str, config: Any) -> Run:
    validation.run_name(name)
    config = validation.json_object(config, "config")
    found = await project(ctx, project_id)
    if found is None:
        raise not_found("project not found", ("projectId",))
    authorization.require_organization_role(ctx, found.organization_id, "MEMBER", "creating a run")
    async with ctx.transaction() as conn:
        return await create_run_txn(conn, ctx.principal.user, found, name, config)


async def create_run_txn(
    conn: Connection,
    actor: User,
    found: Project,
    name: str,
    config: dict[str, Any] | None = None,
) -> Run:
    created = await runs.insert_run(conn, found.id, name, config or {}, actor.id)
    if created is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"project '{found.name}' already has a run '{name}'", ("name",)
        )
    return created


async def update_run(ctx: Context, run_id: int, state: str | None, summary: Any) -> Run:
    summary = validation.json_object(summary, "summary")
    found = await _run(ctx, run_id)
    authorization.require_organization_role(ctx, found.organization_id, "MEMBER", "updating a run")
    async with ctx.transaction() as conn:
        return await update_run_txn(conn, found, state=state, summary=summary)


async def finish_run(ctx: Context, run_id: int, state: str, summary: Any) -> Run:
    if state == "RUNNING":
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "a run finishes as FINISHED, FAILED or CRASHED", ("state",)
        )
    return await update_run(ctx, run_id, state, summary)


async def update_run_txn(
    conn: Connection,
    found: Run,
    *,
    state: str | None = None,
    summary: dict[str, Any] | None = None,
) -> Run:
    """Merges `summary` into the run's; a state other than RUNNING finishes the run."""
    if found.state != "RUNNING" and state not in (None, found.state):
        raise DomainError(
            ErrorCode.RUN_FINISHED,
            f"run '{found.name}' has already ended as {found.state}",
            ("state",),
        )
    if state == "RUNNING":
        state = None
    return await runs.update_run(conn, found.id, state, summary or {})


async def finish_run_txn(
    conn: Connection,
    found: Run,
    state: str = "FINISHED",
    summary: dict[str, Any] | None = None,
) -> Run:
    return await update_run_txn(conn, found, state=state, summary=summary)


# Logging and using artifacts


async def log_artifact(
    ctx: Context,
    *,
    run_id: int | None,
    project_id: int | None,
    name: str,
    artifact_type: str,
    files: Sequence[FileSpec],
    metadata: Any,
    description: str | None,
    aliases: Sequence[str],
    ttl_seconds: int | None = None,
) -> ArtifactVersion:
    validation.exactly_one(run_id, project_id, ("runId", "projectId"))
    ttl(ttl_seconds)
    validation.collection_name(name)
    validation.artifact_type(artifact_type)
    entries = [FileEntry(f.path, f.digest, f.size) for f in files]
    validation.manifest([(f.path, f.digest, f.size) for f in entries])
    metadata = validation.json_object(metadata, "metadata")
    validation.description(description)
    aliases = validation.aliases(aliases)
    logging_run = None
    if run_id is not None:
        logging_run = await _run(ctx, run_id)
        if logging_run.state != "RUNNING":
            raise DomainError(
                ErrorCode.RUN_FINISHED,
                f"run '{logging_run.name}' has ended ({logging_run.state}); log from a running run",
                ("runId",),
            )
        project_id = logging_run.project_id
    assert project_id is not None
    found = await project(ctx, project_id)
    if found is None:
        raise not_found("project not found", ("projectId",))
    authorization.require_organization_role(
        ctx, found.organization_id, "MEMBER", "logging an artifact"
    )
    async with ctx.transaction() as conn:
        return await log_artifact_txn(
            conn,
            ctx.principal.user,
            found,
            name=name,
            artifact_type=artifact_type,
            files=entries,
            run=logging_run,
            metadata=metadata,
            description=description or "",
            aliases=aliases,
            ttl_seconds=ttl_seconds,
        )


async def log_artifact_txn(
    conn: Connection,
    actor: User,
    found: Project,
    *,
    name: str,
    artifact_type: str,
    files: Sequence[FileSpec],
    run: Run | None = None,
    metadata: dict[str, Any] | None = None,
    description: str = "",
    aliases: Sequence[str] = (),
    ttl_seconds: int | None = None,
) -> ArtifactVersion:
    """Logs a version of `name` in the project. The same manifest again returns the existing
    version, with `aliases` added to it, and `ttl_seconds` when given; if its files were let go
    at the end of a time to live, they refer to their bytes again."""
    sequence = await collections.sequence_in_project(conn, found.id, name)
    if sequence is None:
        await collections.insert_collection(
            conn,
            organization_id=found.organization_id,
            registry_id=None,
            project_id=found.id,
            name=name,
            artifact_type=artifact_type,
            description="",
        )
        # A concurrent logger may have created it first; either way it exists now.
        sequence = await collections.sequence_in_project(conn, found.id, name)
        assert sequence is not None
    if sequence.artifact_type != artifact_type:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"artifact '{name}' has type '{sequence.artifact_type}', not '{artifact_type}'",
            ("type",),
        )
    await collections.lock_collection(conn, sequence.id)
    digest = manifest_digest(files)
    existing = await versions.content_by_digest(conn, sequence.id, digest)
    if existing is not None:
        logged = await versions.version_of_content(conn, sequence.id, existing)
        assert logged is not None
        if logged.files_deleted_at is not None:
            await require_stored_txn(conn, files, found.organization_id)
            await versions.restore_content_files(conn, existing)
        if ttl_seconds is not None:
            await versions.set_content_ttl(conn, existing, ttl_seconds)
        await assign_aliases_txn(conn, actor, logged, aliases)
        if logged.files_deleted_at is None and ttl_seconds is None:
            return logged
        refreshed = await versions.version_of_content(conn, sequence.id, existing)
        assert refreshed is not None
        return refreshed
    await require_stored_txn(conn, files, found.organization_id)
    content_id = await versions.insert_content(
        conn,
        sequence_id=sequence.id,
        digest=digest,
        files=[(f.path, f.digest, f.size) for f in files],
        metadata=metadata or {},
        description=description,
        created_by_run_id=None if run is None else run.id,
    )
    assert content_id is not None
    if ttl_seconds is not None:
        await versions.set_content_ttl(conn, content_id, ttl_seconds)
    index = await collections.take_next_index(conn, sequence.id)
    logged = await versions.insert_version(
        conn, sequence.id, content_id, index, actor.id, description
    )
    assert logged is not None, "the content was inserted in this transaction"
    await set_latest_txn(conn, logged)
    await assign_aliases_txn(conn, actor, logged, aliases)
    return logged


async def use_artifact(
    ctx: Context, run_id: int, version_id: int | None, path: str | None
) -> tuple[Run, ArtifactVersion]:
    """Records that a run used a version: a lineage input."""
    consumer = await _run(ctx, run_id)
    used = await require_version(ctx, version_id, path, ("versionId", "path"))
    authorization.require_organization_role(
        ctx, consumer.organization_id, "MEMBER", "recording a use"
    )
    if used.registry_id is not None:
        registry = await require_registry(ctx, used.registry_id, "versionId")
        await authorization.require_registry_role(
            ctx, registry, "VIEWER", "using a registry version"
        )
    if used.organization_id != consumer.organization_id:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "the run and the version belong to different organizations",
            ("versionId",),
        )
    async with ctx.transaction() as conn:
        await use_artifact_txn(conn, consumer, used)
    return consumer, used


async def use_artifact_txn(conn: Connection, consumer: Run, used: ArtifactVersion) -> None:
    await runs.insert_run_input(conn, consumer.id, used.content_id, used.id)
