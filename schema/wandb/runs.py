"""Runs, as the SDK reads them for lineage: who logged a version and who used it, and what a
run used and logged."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import orjson
import strawberry

from db import records
from resolvers import accounts, organizations, runs
from schema.context import Ctx
from schema.errors import raise_domain_errors
from schema.wandb.accounts import User
from schema.wandb.connection import Connection, connection
from schema.wandb.ids import wandb_id
from schema.wandb.organizations import After, First

if TYPE_CHECKING:
    from schema.wandb.registries import Project
    from schema.wandb.versions import Artifact

ProjectType = Annotated["Project", strawberry.lazy("schema.wandb.registries")]
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

    @strawberry.field(description="The same name: runs have no other.")
    def display_name(self) -> str:
        return self.record.name

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

    @strawberry.field(description="Not kept: 0.")
    def history_line_count(self) -> int:
        return 0

    @strawberry.field(description="Runs have no tags here: empty.")
    def tags(self) -> list[str]:
        return []

    @strawberry.field(description="Not kept: null.")
    def sweep_name(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def group(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def job_type(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def commit(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def description(self) -> str | None:
        return None

    @strawberry.field(description="Not kept: null.")
    def notes(self) -> str | None:
        return None

    @strawberry.field(description="Whether the caller may not change the run.")
    def read_only(self, info: Ctx) -> bool:
        role = organizations.viewer_role(info.context, self.record.organization_id)
        return role not in ("MEMBER", "ADMIN")

    @strawberry.field(description="When the run started.")
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field(description="When the run was last heard from: its end, else its start.")
    def heartbeat_at(self) -> datetime:
        return self.record.finished_at or self.record.created_at

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
        found = await accounts.user(info.context, self.record.user_id)
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
