"""Scalars of W&B's schema that the SDK names in its variable definitions."""

from __future__ import annotations

from typing import NewType

from strawberry.types.scalar import ScalarDefinition

# Fields annotated `JSONString` are this scalar (see `scalar_overrides` in schema/wandb/schema.py).
JSONString = NewType("JSONString", str)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("JSONString takes JSON text, as a string")
    return value


JSONStringDefinition = ScalarDefinition(
    name="JSONString",
    description="A JSON value sent and answered as a string holding its JSON text.",
    specified_by_url=None,
    serialize=str,
    parse_value=_text,
    parse_literal=None,
    origin=JSONString,
)
