"""Projects and runs, and what runs do: log artifact versions and use them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from db import records
from db.search import RUNS
from resolvers import accounts, collections, files, lineage, organizations, runs
from resolvers.pages import ListQuery
from resolvers.soon import Soon
from schema.accounts import User
from schema.collections import ArtifactSequence
from schema.connection import connection_field
from schema.context import Ctx, arg, maybe, maybe_soon
from schema.errors import still_there
from schema.files import ArtifactFileInput
from schema.lineage import (
    LineageDirection,
    LineageDirectionArg,
    LineageGraph,
    LineageMaxDepth,
    LineageMaxNodes,
    graph_of,
)
from schema.mutations import Errors, UserError, id_input, mutate
from schema.nodes import Node, global_id, node
from schema.organizations import Organization
from schema.scalars import Int64
from schema.search import (
    Direction,
    JsonFilter,
    OrderPath,
    StringFilter,
    TimeFilter,
    search_of,
)
from schema.versions import ArtifactVersion, ArtifactVersionPayload

RunType = Annotated["Run", strawberry.lazy("schema.runs")]


@strawberry.enum(description="The lifecycle state of a run.")
class RunState(Enum):
    RUNNING = strawberry.enum_value("RUNNING", description="Still running.")
    FINISHED = strawberry.enum_value("FINISHED", description="Finished successfully.")
    FAILED = strawberry.enum_value("FAILED", description="Finished with an error.")
    CRASHED = strawberry.enum_value("CRASHED", description="Stopped reporting without finishing.")


@strawberry.input(description="Runs matching all the conditions given.")
class RunFilter:
    and_: list[RunFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these holds."
    )
    or_: list[RunFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these holds."
    )
    not_: RunFilter | None = strawberry.field(
        default=None, name="not", description="This does not hold."
    )
    name: StringFilter | None = strawberry.field(default=None, description="Its name.")
    state: list[RunState] | None = strawberry.field(
        default=None, description="Any of these states."
    )
    user: StringFilter | None = strawberry.field(
        default=None, description="The user who started it (case-insensitive)."
    )
    created_at: TimeFilter | None = strawberry.field(default=None, description="When it started.")
    finished_at: TimeFilter | None = strawberry.field(
        default=None, description="When it finished (a running run matches no range)."
    )
    config: list[JsonFilter] | None = strawberry.field(
        default=None, description="Values inside its config; all hold."
    )
    summary: list[JsonFilter] | None = strawberry.field(
        default=None, description="Values inside its summary; all hold."
    )


@strawberry.enum(description="What runs can be ordered by.")
class RunOrderField(Enum):
    CREATED_AT = strawberry.enum_value(
        "CREATED_AT", description="When it was created (a version: when its content was logged)."
    )
    NAME = strawberry.enum_value(
        "NAME",
        description="Its name, by code point (a version: its collection's name, then its index).",
    )
    CONFIG = strawberry.enum_value("CONFIG", description="The value at `path` inside its config.")
    SUMMARY = strawberry.enum_value(
        "SUMMARY", description="The value at `path` inside its summary."
    )


@strawberry.input(
    description="An ordering of runs; ties are broken by id. CONFIG and SUMMARY order by the "
    "value at `path`, as METADATA does for versions."
)
class RunOrder:
    field: RunOrderField = strawberry.field(description="What to order by.")
    direction: Direction = None
    path: OrderPath = None


RunFilterArgument = Annotated[RunFilter | None, arg("Only runs matching this.")]
RunOrderArgument = Annotated[RunOrder | None, arg("The order (default: newest first).")]


@node(load=organizations.projects_by_id)
@strawberry.type(description="A project: it holds runs and the artifacts they log.")
class Project(Node):
    record: strawberry.Private[records.Project]
    name: str = strawberry.field(description="Project name, unique in the organization.")
    description: str = strawberry.field(description="What the project is for.")
    created_at: datetime = strawberry.field(description="When the project was created.")

    @classmethod
    def of(cls, r: records.Project) -> Project:
        return cls(
            id=global_id("Project", r.id),
            record=r,
            name=r.name,
            description=r.description,
            created_at=r.created_at,
        )

    @strawberry.field(description="The organization that owns the project.")
    async def organization(self, info: Ctx) -> Organization:
        found = still_there(
            await organizations.organization(info.context, self.record.organization_id),
            "organization",
        )
        return Organization.of(found)

    @connection_field(RunType, "The project's runs, newest first unless `orderBy` says otherwise.")
    async def runs(
        self, info: Ctx, filter: RunFilterArgument = None, order_by: RunOrderArgument = None
    ) -> ListQuery[records.Run]:
        return runs.runs_of(self.record, search_of(RUNS, filter, order_by))

    @connection_field(ArtifactSequence, "Artifacts logged in the project, by name.")
    async def artifact_sequences(self, info: Ctx) -> ListQuery[records.Collection]:
        return collections.sequences_of(self.record)

    @strawberry.field(description="One logged artifact by name.")
    async def artifact_sequence(
        self, info: Ctx, name: Annotated[str, arg("Artifact name.")]
    ) -> ArtifactSequence | None:
        found = await collections.project_sequence(info.context, self.record.id, name)
        return maybe(ArtifactSequence, found)


@strawberry.type(description="One line of a run's history: the values of one `run.log(...)`.")
class RunHistoryLine:
    record: strawberry.Private[records.HistoryRow]

    @classmethod
    def of(cls, record: records.HistoryRow) -> RunHistoryLine:
        return cls(record=record)

    @strawberry.field(description="The line's number, from 0.")
    def line(self) -> int:
        return self.record.line

    @strawberry.field(description="The step it was logged at (`_step`), if the client said.")
    def step(self) -> Int64 | None:
        step = self.record.row.get("_step")
        return Int64(step) if type(step) is int else None

    @strawberry.field(
        description="The values logged, with the client's `_step`, `_runtime` and `_timestamp`."
    )
    def values(self) -> JSON:
        return JSON(self.record.row)


@strawberry.type(description="A file a run saved.")
class RunFile:
    record: strawberry.Private[records.RunFile]

    @classmethod
    def of(cls, record: records.RunFile) -> RunFile:
        return cls(record=record)

    @strawberry.field(description="The file's name, e.g. `output.log`.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="Its size in bytes.")
    def size(self) -> Int64:
        return Int64(self.record.size)

    @strawberry.field(description="The SHA-256 of its bytes.")
    def sha256(self) -> str:
        return self.record.sha256

    @strawberry.field(description="When it was last uploaded.")
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field(
        description="A signed URL that serves the bytes to a plain GET, until it expires."
    )
    async def download_url(self, info: Ctx) -> str:
        return await files.run_file_download_url(info.context, self.record)


@node(load=runs.runs_by_id)
@strawberry.type(description="A run: one execution (training, evaluation, …) in a project.")
class Run(Node):
    record: strawberry.Private[records.Run]
    name: str = strawberry.field(description="Run name, unique in its project.")
    state: RunState = strawberry.field(description="Lifecycle state.")
    config: JSON = strawberry.field(description="Configuration the run was started with.")
    summary: JSON = strawberry.field(description="Summary metrics the run reported.")
    created_at: datetime = strawberry.field(description="When the run started.")
    finished_at: datetime | None = strawberry.field(description="When the run ended, if it has.")
    display_name: str = strawberry.field(
        description="The name to show (the wandb SDK's run name; its run ID is `name`); empty "
        "when none was given."
    )
    notes: str = strawberry.field(description="Notes about the run.")
    tags: list[str] = strawberry.field(description="The run's tags.")
    group: str | None = strawberry.field(description="The group the run belongs to.")
    job_type: str | None = strawberry.field(description="The kind of job, e.g. `train`.")
    exit_code: int | None = strawberry.field(
        description="The exit code the wandb SDK reported when the run finished."
    )
    heartbeat_at: datetime | None = strawberry.field(
        description="When the wandb SDK was last heard from while logging this run; null for "
        "runs made through this API. A RUNNING run silent for ten minutes is marked CRASHED."
    )

    @classmethod
    def of(cls, r: records.Run) -> Run:
        return cls(
            id=global_id("Run", r.id),
            record=r,
            name=r.name,
            state=RunState(r.state),
            config=JSON(r.config),
            summary=JSON(r.summary),
            created_at=r.created_at,
            finished_at=r.finished_at,
            display_name=r.display_name,
            notes=r.notes,
            tags=r.tags,
            group=r.group_name,
            job_type=r.job_type,
            exit_code=r.exit_code,
            heartbeat_at=r.heartbeat_at,
        )

    @connection_field(
        RunHistoryLine,
        "What the run logged, one line per `run.log(...)` in the order logged (at most "
        "100,000 lines are kept).",
    )
    async def history(self, info: Ctx) -> ListQuery[records.HistoryRow]:
        return runs.history_of(self.record)

    @connection_field(RunFile, "The files the run saved (console output, config, …), by name.")
    async def files(self, info: Ctx) -> ListQuery[records.RunFile]:
        return runs.files_of(self.record)

    @strawberry.field(description="Who started the run.", graphql_type=User | None)
    def user(self, info: Ctx) -> Soon[User | None]:
        return maybe_soon(User, accounts.user(info.context, self.record.user_id))

    @strawberry.field(description="The project the run is in.")
    async def project(self, info: Ctx) -> Project:
        found = still_there(
            await organizations.project(info.context, self.record.project_id), "project"
        )
        return Project.of(found)

    @connection_field(ArtifactVersion, "Versions the run used (lineage inputs), most recent first.")
    async def inputs(self, info: Ctx) -> ListQuery[records.ArtifactVersion]:
        return await runs.inputs_of(info.context, self.record)

    @connection_field(ArtifactVersion, "Versions the run logged (lineage outputs), newest first.")
    async def outputs(self, info: Ctx) -> ListQuery[records.ArtifactVersion]:
        return runs.outputs_of(self.record)

    @strawberry.field(description="The lineage graph around this run.")
    async def lineage(
        self,
        info: Ctx,
        direction: LineageDirectionArg = LineageDirection.UPSTREAM,
        max_depth: LineageMaxDepth = None,
        max_nodes: LineageMaxNodes = None,
    ) -> LineageGraph:
        walk = lineage.run_graph(info.context, self.record, direction.name, max_depth, max_nodes)
        return await graph_of(walk)


# Projects and runs


@strawberry.input(description="A new project.")
class CreateProjectInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="Project name, unique in the organization.")
    description: str | None = strawberry.field(default=None, description="What it is for.")


@strawberry.type(description="The result of `createProject`.")
class CreateProjectPayload:
    project: Project | None = strawberry.field(default=None, description="The new project.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, created: records.Project) -> CreateProjectPayload:
        return cls(project=Project.of(created))


@strawberry.input(description="A new run in a project.")
class CreateRunInput:
    project_id: strawberry.ID = id_input("Project", description="The project's ID.")
    name: str = strawberry.field(description="Run name, unique in the project.")
    config: JSON | None = strawberry.field(
        default=None, description="Configuration (a JSON object)."
    )


@strawberry.type(description="The result of a mutation on a run.")
class RunPayload:
    run: Run | None = strawberry.field(default=None, description="The run as it is now.")
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, changed: records.Run) -> RunPayload:
        return cls(run=Run.of(changed))


@strawberry.input(description="Changes to a run.")
class UpdateRunInput:
    run_id: strawberry.ID = id_input("Run", description="The run's ID.")
    state: RunState | None = strawberry.field(
        default=None, description="A new state; any but RUNNING ends the run."
    )
    summary: JSON | None = strawberry.field(
        default=None, description="Summary values to merge into the run's (a JSON object)."
    )


@strawberry.input(description="Ends a run.")
class FinishRunInput:
    run_id: strawberry.ID = id_input("Run", description="The run's ID.")
    state: RunState = strawberry.field(
        default=RunState.FINISHED, description="FINISHED (default), FAILED or CRASHED."
    )
    summary: JSON | None = strawberry.field(
        default=None, description="Final summary values to merge in (a JSON object)."
    )


# Logging and using artifacts


@strawberry.input(description="A version of an artifact to log, from a run or a project.")
class LogArtifactInput:
    run_id: strawberry.ID | None = id_input(
        "Run", default=None, description="The running run that logs it (give this or projectId)."
    )
    project_id: strawberry.ID | None = id_input(
        "Project", default=None, description="The project, for versions logged without a run."
    )
    name: str = strawberry.field(description="Artifact name, e.g. `churn-model`.")
    artifact_type: str = strawberry.field(name="type", description="Artifact type, e.g. `model`.")
    files: list[ArtifactFileInput] = strawberry.field(
        description="The file manifest; the content digest is computed from it."
    )
    metadata: JSON | None = strawberry.field(default=None, description="A JSON object.")
    description: str | None = strawberry.field(default=None, description="Description.")
    aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases to give the version in its sequence."
    )
    ttl_seconds: Int64 | None = strawberry.field(
        default=None,
        description="A time to live for the content, in seconds from when it was logged (see "
        "`setArtifactTtl`); logging the same files again with one sets it.",
    )


@strawberry.input(description="Records that a run used a version (a lineage input).")
class UseArtifactInput:
    run_id: strawberry.ID = id_input("Run", description="The run.")
    version_id: strawberry.ID | None = id_input(
        "ArtifactVersion", default=None, description="The version used (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The version's path.")


@strawberry.type(description="The result of `useArtifact`.")
class UseArtifactPayload:
    run: Run | None = strawberry.field(default=None, description="The run.")
    artifact_version: ArtifactVersion | None = strawberry.field(
        default=None, description="The version used."
    )
    errors: list[UserError] = Errors

    @classmethod
    def of(cls, used: tuple[records.Run, records.ArtifactVersion]) -> UseArtifactPayload:
        consumer, version = used
        return cls(run=Run.of(consumer), artifact_version=ArtifactVersion.of(version))


@strawberry.type
class RunsMutation:
    @strawberry.mutation(description="Creates a project (organization MEMBER).")
    async def create_project(
        self, info: Ctx, input: Annotated[CreateProjectInput, arg("The new project.")]
    ) -> CreateProjectPayload:
        return await mutate(info, CreateProjectPayload, runs.create_project, input)

    @strawberry.mutation(description="Starts a run in a project (organization MEMBER).")
    async def create_run(
        self, info: Ctx, input: Annotated[CreateRunInput, arg("The new run.")]
    ) -> RunPayload:
        return await mutate(info, RunPayload, runs.create_run, input)

    @strawberry.mutation(description="Changes a run's state and merges into its summary.")
    async def update_run(
        self, info: Ctx, input: Annotated[UpdateRunInput, arg("The changes.")]
    ) -> RunPayload:
        return await mutate(info, RunPayload, runs.update_run, input)

    @strawberry.mutation(description="Ends a run.")
    async def finish_run(
        self, info: Ctx, input: Annotated[FinishRunInput, arg("The run.")]
    ) -> RunPayload:
        return await mutate(info, RunPayload, runs.finish_run, input)

    @strawberry.mutation(
        description="Logs a version of an artifact. The same manifest in the same artifact "
        "returns the existing version; versions are numbered v0, v1, … and `latest` follows."
    )
    async def log_artifact(
        self, info: Ctx, input: Annotated[LogArtifactInput, arg("The version to log.")]
    ) -> ArtifactVersionPayload:
        return await mutate(info, ArtifactVersionPayload, runs.log_artifact, input)

    @strawberry.mutation(description="Records that a run used a version (a lineage input).")
    async def use_artifact(
        self, info: Ctx, input: Annotated[UseArtifactInput, arg("The use.")]
    ) -> UseArtifactPayload:
        return await mutate(info, UseArtifactPayload, runs.use_artifact, input)
