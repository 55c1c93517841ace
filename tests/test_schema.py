"""The exported schema is current, and every type, field and argument explains itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from schema.schema import schema
from schema.wandb.schema import wandb_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text() == schema.as_str() + "\n", (
        "schema.graphql is stale: run `cairn schema > schema.graphql`"
    )


def _own_types(of: strawberry.Schema = schema) -> list[object]:
    return [
        t
        for name, t in of._schema.type_map.items()
        if not name.startswith("__") and name not in ("String", "Int", "Float", "Boolean", "ID")
    ]


@pytest.mark.parametrize("of", [schema, wandb_schema], ids=["cairn", "wandb-dialect"])
def test_every_type_field_and_argument_has_a_description(of: strawberry.Schema) -> None:
    missing = []
    for graphql_type in _own_types(of):
        assert isinstance(
            graphql_type,
            GraphQLObjectType
            | GraphQLInterfaceType
            | GraphQLInputObjectType
            | GraphQLEnumType
            | GraphQLScalarType
            | GraphQLUnionType,
        )
        if not graphql_type.description:
            missing.append(graphql_type.name)
        if isinstance(graphql_type, GraphQLEnumType):
            missing += [
                f"{graphql_type.name}.{n}"
                for n, v in graphql_type.values.items()
                if not v.description
            ]
        if isinstance(
            graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{graphql_type.name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{graphql_type.name}.{field_name}({arg_name})")
    assert missing == []


def test_description_check_sees_the_whole_schema() -> None:
    names = {getattr(t, "name", "") for t in _own_types()}
    assert {"Query", "Registry", "ArtifactVersion", "RegistryConnection", "Node"} <= names
    dialect = {getattr(t, "name", "") for t in _own_types(wandb_schema)}
    assert {"Project", "ArtifactPortfolio", "ArtifactCollectionMembership", "JSONString"} <= dialect
