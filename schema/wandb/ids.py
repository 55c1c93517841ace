"""IDs as the wandb SDK expects them: standard base64 of `<Type>:<number>`, which it decodes in
places (a registry's `internalId` becomes a filter on its number; a member's kind picks the
mutation that changes its role)."""

from __future__ import annotations

import base64
import binascii

import strawberry
from graphql import GraphQLError

from resolvers import uploads
from resolvers.context import Context


def wandb_id(kind: str, number: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{kind}:{number}".encode()).decode())


def opaque_id(kind: str, *parts: object) -> strawberry.ID:
    """An ID the SDK only passes back or compares, never decodes: a kind and the parts that make
    the object unique."""
    text = ":".join([kind, *(str(p) for p in parts)])
    return strawberry.ID(base64.b64encode(text.encode()).decode())


def decode(value: str | None, field: str, *kinds: str) -> tuple[str, int]:
    """(kind, number) of an ID that must be of one of `kinds`; an error naming `field` when it
    is not one."""
    if value is None:
        raise invalid(field, "is required")
    try:
        kind, _, number = base64.b64decode(value, validate=True).decode().partition(":")
        found = int(number)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid(field, f"{value[:80]!r} is not an ID this server handed out") from None
    if kind not in kinds or not number.isdigit() or not 0 < found < 2**63:
        expected = " or ".join(kinds)
        raise invalid(field, f"{value[:80]!r} is not the ID of a {expected}")
    return kind, found


def number_of(value: str | None, field: str, *kinds: str) -> int:
    return decode(value, field, *kinds)[1]


def invalid(field: str, problem: str) -> GraphQLError:
    return GraphQLError(f"`{field}` {problem}", extensions={"code": "INVALID_ID"})


async def artifact_number(ctx: Context, value: str | None, field: str) -> int:
    """The version an `Artifact` ID names, including the ID the SDK was given for an artifact
    whose content another run committed first."""
    return await uploads.artifact_version_id(ctx, number_of(value, field, "Artifact"))
