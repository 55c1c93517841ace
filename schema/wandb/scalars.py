"""Scalars of W&B's schema that the SDK names in its variable definitions."""

from __future__ import annotations

from typing import Any, NewType

from strawberry.types.scalar import ScalarDefinition

from db import json_values
from resolvers import validation

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


def parsed_json(text: str | None, field: str) -> Any:
    """The value a JSONString holds (None for none); a refusal naming `field` when it is not
    JSON."""
    if text is None:
        return None
    try:
        return json_values.loads(text)
    except ValueError:
        raise validation.invalid(f"`{field}` is not JSON text", field) from None
