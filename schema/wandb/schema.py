"""The W&B dialect's schema: its root types assembled from the dialect's domains, with the same
limits, caches and error masking as Cairn's own schema."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.scalars import DateTime, Int64, Int64Definition
from schema.schema import EXTENSIONS, CairnSchema
from schema.wandb.accounts import AccountsQuery
from schema.wandb.collections import ArtifactPortfolio, ArtifactSequence, CollectionsMutation
from schema.wandb.links import LinksMutation
from schema.wandb.organizations import OrganizationsQuery
from schema.wandb.registries import RegistriesMutation, RegistriesQuery
from schema.wandb.runs import RunsMutation, RunsQuery
from schema.wandb.scalars import JSONString, JSONStringDefinition
from schema.wandb.uploads import UploadsMutation, UploadsQuery
from schema.wandb.versions import VersionsMutation, VersionsQuery


@strawberry.type(description="Entry points of the W&B dialect.")
class Query(
    AccountsQuery, OrganizationsQuery, RegistriesQuery, VersionsQuery, UploadsQuery, RunsQuery
):
    pass


@strawberry.type(description="Changes, in the W&B dialect.")
class Mutation(
    LinksMutation,
    VersionsMutation,
    CollectionsMutation,
    RegistriesMutation,
    RunsMutation,
    UploadsMutation,
):
    pass


wandb_schema = CairnSchema(
    query=Query,
    mutation=Mutation,
    types=[ArtifactPortfolio, ArtifactSequence],
    config=StrawberryConfig(disable_field_suggestions=False),
    scalar_overrides={
        datetime: DateTime,
        Int64: Int64Definition,
        JSONString: JSONStringDefinition,
    },
    extensions=EXTENSIONS,
)
