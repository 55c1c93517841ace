"""Runs and what they do: projects to hold them, runs that start, report and finish, the versions
they log, and the versions they use (the lineage graph's edges)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from db import collections, runs, versions
from db.pool import Connection, Executor
from db.records import (
    ArtifactUpload,
    ArtifactVersion,
    Collection,
    HistoryRow,
    Organization,
    Project,
    Run,
    RunFile,
    User,
)
from db.runs import FILES_BY_RUN, HISTORY_BY_RUN, RUNS_BY_PROJECT, RUNS_USING_CONTENT, RunDetails
from db.search import Search
from db.versions import INPUTS_BY_RUN, OUTPUTS_BY_RUN
from resolvers import authorization, validation
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.files import require_stored_txn, run_file_upload_url
from resolvers.organizations import (
    organization_by_name,
    project,
    project_by_name,
    require_organization,
    viewer_organizations,
)
from resolvers.pages import ListQuery
from resolvers.registries import require_registry
from resolvers.soon import Soon, settled, then
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


def run(ctx: Context, run_id: int | None) -> Soon[Run | None]:
    if run_id is None:
        return None
    return then(
        ctx.loaders.run_by_id.loaded(run_id), lambda found: authorization.visible_soon(ctx, found)
    )


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
    found = await settled(run(ctx, run_id))
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
    files: Sequence[FileEntry],
    run: Run | None = None,
    metadata: dict[str, Any] | None = None,
    description: str = "",
    aliases: Sequence[str] = (),
    ttl_seconds: int | None = None,
    upload: ArtifactUpload | None = None,
) -> ArtifactVersion:
    """Logs a version of `name` in the project. The same manifest again returns the existing
    version, with `aliases` added to it, and `ttl_seconds` when given; if its files were let go
    at the end of a time to live, they refer to their bytes again. A new version made from
    the wandb SDK's `upload` takes its id, digest and client ID."""
    sequence = await sequence_txn(conn, found, name, artifact_type)
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
        files=[(f.path, f.digest, f.size, f.ref) for f in files],
        metadata=metadata or {},
        description=description,
        created_by_run_id=None if run is None else run.id,
        wandb_digest=None if upload is None else upload.wandb_digest,
        client_id=None if upload is None else upload.client_id,
    )
    assert content_id is not None
    if ttl_seconds is not None:
        await versions.set_content_ttl(conn, content_id, ttl_seconds)
    index = await collections.take_next_index(conn, sequence.id)
    logged = await versions.insert_version(
        conn,
        sequence.id,
        content_id,
        index,
        actor.id,
        description,
        version_id=None if upload is None else upload.id,
    )
    assert logged is not None, "the content was inserted in this transaction"
    await set_latest_txn(conn, logged)
    await assign_aliases_txn(conn, actor, logged, aliases)
    return logged


async def sequence_txn(
    conn: Connection, found: Project, name: str, artifact_type: str
) -> Collection:
    """The project's artifact named `name`, made when missing; refused when it has another
    type."""
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
    return sequence


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


# The wandb SDK's run path: a run made and updated by name, its history, summary and end
# streamed as it goes, its files uploaded at the end.

# A run keeps this many history lines (`run.log` calls) of at most this size; later lines are
# dropped, a larger one refused.
MAX_HISTORY_LINES = 100_000
MAX_LINE_BYTES = 64 * 1024
# A run keeps this many files.
MAX_RUN_FILES = 1_000
# The SDK is heard from every few seconds while its run lives; a run silent this long crashed.
RUN_SILENT = timedelta(minutes=10)
HISTORY_FILE = "wandb-history.jsonl"
SUMMARY_FILE = "wandb-summary.json"
# The SDK's own bookkeeping in a config or summary, not the user's values.
SDK_KEY = "_wandb"


async def run_organization(ctx: Context, entity: str | None) -> Organization:
    """The organization an SDK entity names: an organization by name, or, for the caller's own
    user name or none, the caller's one organization."""
    if entity and entity.lower() != ctx.principal.user.name.lower():
        found = await organization_by_name(ctx, entity)
        if found is None:
            raise not_found(
                f"entity '{entity}' is not an organization you belong to", ("entityName",)
            )
        return found
    orgs = await viewer_organizations(ctx)
    if len(orgs) != 1:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"you belong to {len(orgs)} organizations; name one as the run's entity "
            "(wandb.init(entity=...) or WANDB_ENTITY)",
            ("entityName",),
        )
    return orgs[0]


async def upsert_run(
    ctx: Context, *, entity: str | None, project: str, name: str, details: RunDetails
) -> tuple[Run, bool]:
    """Makes the run named `name` (the SDK's run ID) in the project, made too when missing, or
    updates it; and says whether it was made."""
    validation.project_name(project, "modelName")
    validation.run_name(name)
    if details.config is not None:
        details = replace(details, config=_without_sdk_keys(details.config, "config"))
    if details.summary is not None:
        details = replace(details, summary=_without_sdk_keys(details.summary, "summaryMetrics"))
    if details.tags is not None:
        details = replace(details, tags=validation.labels(details.tags, "tag", "tags"))
    validation.description(details.notes, "notes")
    org = await run_organization(ctx, entity)
    authorization.require_organization_role(ctx, org.id, "MEMBER", "logging a run")
    async with ctx.transaction() as conn:
        found = await project_by_name(ctx, org.id, project)
        if found is None:
            found = await runs.insert_project(conn, org.id, project, "")
        if found is None:  # made by a concurrent run meanwhile
            [found] = await runs.projects_by_organization_name(conn, [(org.id, project)])
            assert found is not None
        return await runs.upsert_run(conn, found.id, name, ctx.principal.user.id, details)


def _without_sdk_keys(value: Any, field: str) -> dict[str, Any]:
    checked = validation.json_object(value, field)
    return {key: item for key, item in checked.items() if key != SDK_KEY}


async def streamed_run(ctx: Context, entity: str, project: str, name: str) -> Run:
    """The run the SDK streams to or uploads for, which the caller may log to."""
    org = await run_organization(ctx, entity)
    found_project = await project_by_name(ctx, org.id, project)
    found = None if found_project is None else await run_by_name(ctx, found_project.id, name)
    if found is None:
        raise not_found(f"run '{entity}/{project}/{name}' not found", ("run",))
    authorization.require_organization_role(ctx, org.id, "MEMBER", "logging a run")
    return found


async def stream_run(
    ctx: Context, entity: str, project: str, name: str, sent: dict[str, Any]
) -> None:
    """What the SDK's file stream sends: new history lines, the whole summary, and, at the end,
    `complete` with the exit code. Console output and system metrics are not kept."""
    found = await streamed_run(ctx, entity, project, name)
    files = sent.get("files") or {}
    if not isinstance(files, dict):
        raise validation.invalid("`files` must be an object of files by name", "files")
    history = files.get(HISTORY_FILE)
    history_rows: list[dict[str, Any]] = []
    offset = 0
    if history is not None:
        offset, lines = _stream_lines(history, HISTORY_FILE)
        history_rows = [
            _line_object(line, f"{HISTORY_FILE}[{offset + i}]") for i, line in enumerate(lines)
        ]
    summary = None
    if files.get(SUMMARY_FILE) is not None:
        _, lines = _stream_lines(files[SUMMARY_FILE], SUMMARY_FILE)
        if lines:
            summary = _without_sdk_keys(_line_object(lines[-1], SUMMARY_FILE), SUMMARY_FILE)
    state = exit_code = None
    if sent.get("complete") is True:
        exit_code = sent.get("exitcode")
        if exit_code is not None and (
            type(exit_code) is not int or not -(2**31) <= exit_code < 2**31
        ):
            raise validation.invalid("`exitcode` must be a 32-bit integer", "exitcode")
        state = "FINISHED" if exit_code in (0, None) else "FAILED"
    async with ctx.transaction() as conn:
        if history_rows:
            await runs.insert_history(conn, found.id, offset, history_rows, MAX_HISTORY_LINES)
        await runs.update_streamed_run(conn, found.id, summary, state, exit_code)


def _stream_lines(sent: Any, name: str) -> tuple[int, list[str]]:
    if not isinstance(sent, dict):
        raise validation.invalid(
            f"`files.{name}` must be an object with `offset` and `content`", "files"
        )
    offset = sent.get("offset", 0)
    content = sent.get("content", [])
    if type(offset) is not int or not 0 <= offset < 2**31:
        raise validation.invalid(f"`files.{name}.offset` must be a line number", "files")
    if not isinstance(content, list) or not all(isinstance(line, str) for line in content):
        raise validation.invalid(f"`files.{name}.content` must be a list of lines", "files")
    return offset, content


def _line_object(line: str, where: str) -> dict[str, Any]:
    """A streamed line as a JSON object; NaN and infinities (which the SDK writes as bare words
    and JSON values cannot hold) become the strings "NaN", "Infinity" and "-Infinity"."""
    if len(line) > MAX_LINE_BYTES:
        raise validation.invalid(
            f"`{where}` is {len(line)} characters; a line holds at most {MAX_LINE_BYTES}", "files"
        )
    try:
        value = json.loads(line, parse_constant=str)
    except (ValueError, RecursionError):
        raise validation.invalid(f"`{where}` is not a line of JSON", "files") from None
    return validation.json_object(value, where)


@dataclass(frozen=True, slots=True)
class RunFileUpload:
    name: str
    url: str


async def prepare_run_files(
    ctx: Context, entity: str, project: str, name: str, names: Sequence[str]
) -> tuple[Run, list[RunFileUpload]]:
    """A signed URL to upload each of the run's files to (again, for a file sent before)."""
    found = await streamed_run(ctx, entity, project, name)
    for position, file_name in enumerate(names):
        problem = validation.path_problem(file_name)
        if problem is not None:
            raise validation.invalid(
                f"files[{position}]: the name {file_name[:80]!r} {problem}", "files"
            )
    wanted = list(dict.fromkeys(names))
    others = await runs.count_other_run_files(ctx.reads, found.id, wanted)
    if others + len(wanted) > MAX_RUN_FILES:
        raise validation.invalid(
            f"a run keeps at most {MAX_RUN_FILES} files; this one has {others} others", "files"
        )
    urls = [await run_file_upload_url(ctx, found, file_name) for file_name in wanted]
    return found, [RunFileUpload(n, u) for n, u in zip(wanted, urls, strict=True)]


def files_of(found: Run) -> ListQuery[RunFile]:
    return ListQuery(FILES_BY_RUN, found.id)


def history_of(found: Run) -> ListQuery[HistoryRow]:
    return ListQuery(HISTORY_BY_RUN, found.id)


async def mark_crashed(pool: Executor) -> list[int]:
    """Ends as CRASHED the runs the SDK has not been heard from for RUN_SILENT."""
    return await runs.mark_crashed(pool, RUN_SILENT)


# The most history lines one read returns, however many are asked for.
MAX_HISTORY_SAMPLES = 10_000


async def history_sample(
    ctx: Context, found: Run, samples: int, keys: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Up to `samples` lines of the run's history spread over all of it, as the SDK's
    `run.history()` reads it; with `keys`, only those values, of the lines that hold any
    of them beyond the first key (the x axis)."""
    if not 1 <= samples <= MAX_HISTORY_SAMPLES:
        raise validation.invalid(
            f"`samples` must be from 1 to {MAX_HISTORY_SAMPLES}, not {samples}", "samples"
        )
    rows = await runs.history_sample(ctx.reads, found.id, samples)
    if keys is None:
        return rows
    wanted, measured = list(keys), set(keys[1:])
    return [
        {key: row[key] for key in wanted if key in row}
        for row in rows
        if not measured or measured & row.keys()
    ]


async def last_history_line(ctx: Context, found: Run) -> dict[str, Any] | None:
    """The run's last history line: where a resumed run goes on from."""
    return await runs.last_history_line(ctx.reads, found.id)
