"""Runs: as the SDK reads them for lineage (who logged a version and who used it, what a run
used and logged), and as it makes, updates and uploads them while one runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON

from db import json_values, records
from db.runs import RunDetails
from resolvers import accounts, organizations, pages, runs, validation
from resolvers.soon import settled
from schema.context import Ctx, arg
from schema.errors import raise_domain_errors
from schema.wandb.accounts import User
from schema.wandb.connection import Connection, connection
from schema.wandb.ids import artifact_number, wandb_id
from schema.wandb.mutations import ClientMutationId, mutation
from schema.wandb.organizations import After, First
from schema.wandb.scalars import JSONString, parsed_json

if TYPE_CHECKING:
    from schema.wandb.registries import Project
    from schema.wandb.versions import Artifact

ProjectType = Annotated["Project", strawberry.lazy("schema.wandb.registries")]
# History lines `run.history()` reads unless told, and specs one `sampledHistory` reads.
SAMPLES = 500
MAX_SPECS = 10
ArtifactType_ = Annotated["Artifact", strawberry.lazy("schema.wandb.versions")]


@strawberry.type(description="A run of a project.")
class Run:
    record: strawberry.Private[records.Run]

    @classmethod
    def of(cls, record: records.Run) -> Run:
        return cls(record=record)

    @strawberry.field(description="The run's ID.")
    def id(self) -> strawberry.ID:
        return wandb_id("Run", self.record.id)

    @strawberry.field(description="The run's name, unique in its project.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The name to show, else the run's name.")
    def display_name(self) -> str:
        return self.record.display_name or self.record.name

    @strawberry.field(description="`running`, `finished`, `failed` or `crashed`.")
    def state(self) -> str:
        return self.record.state.lower()

    @strawberry.field(description="The run's configuration, as JSON text of `{key: {value}}`.")
    def config(self) -> str:
        wrapped = {key: {"value": value} for key, value in self.record.config.items()}
        return orjson.dumps(wrapped).decode()

    @strawberry.field(description="The run's summary metrics, as JSON text.")
    def summary_metrics(self) -> str:
        return orjson.dumps(self.record.summary).decode()

    @strawberry.field(description="Not kept: an empty JSON object.")
    def system_metrics(self) -> str:
        return "{}"

    @strawberry.field(description="Not kept: null.")
    def history_keys(self) -> str | None:
        return None

    @strawberry.field(
        description="Up to `samples` lines of the run's history (500 unless said), spread evenly "
        "over all of it with the last included, each as JSON text."
    )
    async def history(
        self,
        info: Ctx,
        samples: Annotated[int | None, arg("How many lines at most: up to 10,000.")] = None,
    ) -> list[str]:
        with raise_domain_errors():
            rows = await runs.history_sample(info.context, self.record, samples or SAMPLES)
        return [json_values.dumps(row).decode() for row in rows]

    @strawberry.field(
        description="The history of the keys each spec names (`{keys: [x axis, …], samples}`, "
        "JSON text): for each spec, up to `samples` lines holding any of them."
    )
    async def sampled_history(
        self,
        info: Ctx,
        specs: Annotated[list[JSONString], arg("What to read: at most 10 specs.")],
    ) -> list[JSON]:
        answers = []
        with raise_domain_errors():
            if len(specs) > MAX_SPECS:
                raise validation.invalid(f"at most {MAX_SPECS} specs, got {len(specs)}", "specs")
            for position, text in enumerate(specs):
                where = f"specs[{position}]"
                spec = parsed_json(text, where)
                keys = spec.get("keys") if isinstance(spec, dict) else None
                if (
                    not keys
                    or not isinstance(keys, list)
                    or not all(isinstance(k, str) for k in keys)
                ):
                    raise validation.invalid(f"`{where}.keys` must list metric names", "specs")
                samples = spec.get("samples", SAMPLES)
                if type(samples) is not int:
                    raise validation.invalid(f"`{where}.samples` must be a number", "specs")
                rows = await runs.history_sample(info.context, self.record, samples, keys)
                answers.append(JSON(rows))
        return answers

    @strawberry.field(description="System metrics: not kept here, so none.")
    def events(
        self, samples: Annotated[int | None, arg("How many lines at most.")] = None
    ) -> list[str]:
        return []

    @strawberry.field(description="The last history line, in a JSON list of JSON texts.")
    async def history_tail(self, info: Ctx) -> str:
        with raise_domain_errors():
            last = await runs.last_history_line(info.context, self.record)
        tail = [] if last is None else [json_values.dumps(last).decode()]
        return orjson.dumps(tail).decode()

    @strawberry.field(description="System metrics are not kept: an empty JSON list.")
    def events_tail(self) -> str:
        return "[]"

    @strawberry.field(description="System metrics are not kept: 0.")
    def events_line_count(self) -> int:
        return 0

    @strawberry.field(description="Console lines are not streamed here: 0.")
    def log_line_count(self) -> int:
        return 0

    @strawberry.field(
        description="The SDK's own configuration of the run, which Cairn does not keep: `t` "
        "(empty) when the SDK started the run, so that it may resume it; else nothing."
    )
    def wandb_config(
        self, keys: Annotated[list[str] | None, arg("The keys wanted.")] = None
    ) -> str:
        started: dict[str, object] = {"t": {}} if self.record.heartbeat_at is not None else {}
        if keys is not None:
            started = {k: v for k, v in started.items() if k in keys}
        return orjson.dumps(started).decode()

    @strawberry.field(description="How many history lines the run has kept.")
    async def history_line_count(self, info: Ctx) -> int:
        with raise_domain_errors():
            return await pages.total_count(info.context, runs.history_of(self.record))

    @strawberry.field(description="The run's tags.")
    def tags(self) -> list[str]:
        return self.record.tags

    @strawberry.field(description="Not kept: null.")
    def sweep_name(self) -> str | None:
        return None

    @strawberry.field(description="The run's group.")
    def group(self) -> str | None:
        return self.record.group_name

    @strawberry.field(description="The run's job type.")
    def job_type(self) -> str | None:
        return self.record.job_type

    @strawberry.field(description="Not kept: null.")
    def commit(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def description(self) -> str | None:
        return None

    @strawberry.field(description="The run's notes.")
    def notes(self) -> str | None:
        return self.record.notes

    @strawberry.field(description="Whether the caller may not change the run.")
    def read_only(self, info: Ctx) -> bool:
        role = organizations.viewer_role(info.context, self.record.organization_id)
        return role not in ("MEMBER", "ADMIN")

    @strawberry.field(description="When the run started.")
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="When the run was last heard from.")
    def heartbeat_at(self) -> datetime:
        return self.record.heartbeat_at or self.record.finished_at or self.record.created_at

    @strawberry.field(description="The number of the run's project.")
    def project_id(self) -> int:
        return self.record.project_id

    @strawberry.field(description="The run's project.")
    async def project(self, info: Ctx) -> ProjectType | None:
        from schema.wandb.registries import Project

        found = await organizations.project(info.context, self.record.project_id)
        return None if found is None else Project(project=found)

    @strawberry.field(description="Who started the run.")
    async def user(self, info: Ctx) -> User | None:
        found = await settled(accounts.user(info.context, self.record.user_id))
        return None if found is None else User.of(found)

    @strawberry.field(description="The versions the run used, most recent first.")
    async def input_artifacts(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[ArtifactType_]:
        from schema.wandb.versions import Artifact

        with raise_domain_errors():
            query = await runs.inputs_of(info.context, self.record)
        return await connection(info, query, Artifact.of, first, after)

    @strawberry.field(description="The versions the run logged, most recent first.")
    async def output_artifacts(
        self, info: Ctx, after: After = None, first: First = None
    ) -> Connection[ArtifactType_]:
        from schema.wandb.versions import Artifact

        return await connection(info, runs.outputs_of(self.record), Artifact.of, first, after)


@strawberry.input(description="A run to make or update, by name (the SDK's run ID).")
class UpsertBucketInput:
    id: str | None = strawberry.field(default=None, description="The run's ID, to update it.")
    name: str | None = strawberry.field(default=None, description="The run's name (its ID).")
    group_name: str | None = strawberry.field(default=None, description="Its group.")
    model_name: str | None = strawberry.field(
        default=None, description="Its project, made when missing."
    )
    entity_name: str | None = strawberry.field(
        default=None, description="Its organization; the caller's one organization when null."
    )
    description: str | None = strawberry.field(default=None, description="Ignored.")
    display_name: str | None = strawberry.field(default=None, description="The name to show.")
    notes: str | None = strawberry.field(default=None, description="Its notes.")
    config: JSONString | None = strawberry.field(
        default=None, description="Its configuration, as JSON text of `{key: {value}}`."
    )
    commit: str | None = strawberry.field(default=None, description="Not kept.")
    host: str | None = strawberry.field(default=None, description="Not kept.")
    debug: bool | None = strawberry.field(default=None, description="Ignored.")
    job_program: str | None = strawberry.field(default=None, description="Not kept.")
    job_repo: str | None = strawberry.field(default=None, description="Not kept.")
    job_type: str | None = strawberry.field(default=None, description="Its job type.")
    state: str | None = strawberry.field(default=None, description="Ignored: the stream ends it.")
    sweep: str | None = strawberry.field(default=None, description="Not supported: ignored.")
    tags: list[str] | None = strawberry.field(default=None, description="Its tags.")
    summary_metrics: JSONString | None = strawberry.field(
        default=None, description="Summary values to merge, as JSON text."
    )
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The run made or updated.")
class UpsertBucketPayload:
    bucket: Run = strawberry.field(description="The run.")
    inserted: bool = strawberry.field(description="Whether it was made.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="Files of a run to upload.")
class CreateRunFilesInput:
    entity_name: str = strawberry.field(description="The run's organization.")
    project_name: str = strawberry.field(description="The run's project.")
    run_name: str = strawberry.field(description="The run's name (its ID).")
    files: list[str] = strawberry.field(description="The files' names.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="Where a run's file goes.")
class RunFileUpload:
    name: str = strawberry.field(description="The file's name.")
    upload_url: str = strawberry.field(description="A signed URL to PUT its bytes to.")


@strawberry.type(description="Where the run's files go.")
class CreateRunFilesPayload:
    run_id: strawberry.ID = strawberry.field(name="runID", description="The run's ID.")
    upload_headers: list[str] = strawberry.field(description="Headers to send: none.")
    files: list[RunFileUpload] = strawberry.field(description="The files.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.input(description="A version a run used.")
class UseArtifactInput:
    entity_name: str = strawberry.field(description="The run's organization.")
    project_name: str = strawberry.field(description="The run's project.")
    run_name: str = strawberry.field(description="The run's name (its ID).")
    artifact_id: strawberry.ID = strawberry.field(name="artifactID", description="The version.")
    used_as: str | None = strawberry.field(default=None, description="Not kept.")
    artifact_entity_name: str | None = strawberry.field(default=None, description="Ignored.")
    artifact_project_name: str | None = strawberry.field(default=None, description="Ignored.")
    client_mutation_id: str | None = ClientMutationId


@strawberry.type(description="The version used.")
class UseArtifactPayload:
    artifact: ArtifactType_ = strawberry.field(description="The version.")
    client_mutation_id: str | None = ClientMutationId


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _config(text: str | None) -> Any:
    """The SDK's `{key: {"value": v}}` as `{key: v}`."""
    sent = parsed_json(text, "config")
    if not isinstance(sent, dict):
        return sent
    return {
        key: item["value"] if isinstance(item, dict) and "value" in item else item
        for key, item in sent.items()
    }


@strawberry.type
class RunsQuery:
    @strawberry.field(
        description="A project by name, in the organization the entity names (the caller's one "
        "organization when none): how the SDK asks whether a run exists before resuming it."
    )
    async def model(
        self,
        info: Ctx,
        name: Annotated[str | None, arg("The project's name.")] = None,
        entity_name: Annotated[str | None, arg("The organization, or the caller's name.")] = None,
    ) -> ProjectType | None:
        from schema.wandb.registries import Project

        if name is None:
            return None
        with raise_domain_errors():
            organization = await runs.run_organization(info.context, entity_name)
            found = await organizations.project_by_name(info.context, organization.id, name)
        return None if found is None else Project(project=found)


@strawberry.type
class RunsMutation:
    @strawberry.mutation(description="Makes or updates a run, in a project made when missing.")
    async def upsert_bucket(
        self, info: Ctx, input: Annotated[UpsertBucketInput, arg("The run.")]
    ) -> UpsertBucketPayload:
        async with mutation(info.context) as ctx:
            if not input.name or not input.model_name:
                raise validation.invalid("`name` and `modelName` are required", "name")
            found, inserted = await runs.upsert_run(
                ctx,
                entity=input.entity_name,
                project=input.model_name,
                name=input.name,
                details=RunDetails(
                    config=_config(input.config),
                    summary=parsed_json(input.summary_metrics, "summaryMetrics"),
                    display_name=input.display_name,
                    notes=input.notes,
                    tags=input.tags,
                    group_name=input.group_name,
                    job_type=input.job_type,
                ),
            )
        return UpsertBucketPayload(
            bucket=Run.of(found), inserted=inserted, client_mutation_id=input.client_mutation_id
        )

    @strawberry.mutation(description="Where to upload a run's files.")
    async def create_run_files(
        self, info: Ctx, input: Annotated[CreateRunFilesInput, arg("The files.")]
    ) -> CreateRunFilesPayload:
        async with mutation(info.context) as ctx:
            found, prepared = await runs.prepare_run_files(
                ctx, input.entity_name, input.project_name, input.run_name, input.files
            )
        return CreateRunFilesPayload(
            run_id=wandb_id("Run", found.id),
            upload_headers=[],
            files=[RunFileUpload(name=p.name, upload_url=p.url) for p in prepared],
            client_mutation_id=input.client_mutation_id,
        )

    @strawberry.mutation(description="Records that a run used a version.")
    async def use_artifact(
        self, info: Ctx, input: Annotated[UseArtifactInput, arg("The run and the version.")]
    ) -> UseArtifactPayload:
        from schema.wandb.versions import Artifact

        async with mutation(info.context) as ctx:
            version_id = await artifact_number(ctx, input.artifact_id, "input.artifactID")
            consumer = await runs.streamed_run(
                ctx, input.entity_name, input.project_name, input.run_name
            )
            _, used = await runs.use_artifact(ctx, consumer.id, version_id, None)
        return UseArtifactPayload(
            artifact=Artifact.of(used), client_mutation_id=input.client_mutation_id
        )
