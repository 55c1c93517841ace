"""How every mutation runs: one `input:` in, a payload out with `errors: [UserError!]!`.

A mutation field is one line, `return await mutate(info, XPayload, resolver, input)`:
`mutate` turns the input into the resolver's keyword arguments (`arguments`), runs it, and builds
the payload from its result (`XPayload.of`); a refusal becomes a payload error with the domain's
code, and a mutation that finished without an authorization check fails the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from types import SimpleNamespace
from typing import Any, Protocol, Self, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types.base import has_object_definition
from strawberry.utils.str_converters import to_camel_case

from resolvers.errors import DomainError, ErrorCode
from schema.context import Ctx, expose_enum
from schema.nodes import decode_id

expose_enum(
    ErrorCode,
    name="ErrorCode",
    description="Why a mutation was refused. Codes are stable; messages may change.",
)


@strawberry.type(description="Why a mutation was refused; nothing was changed.")
class UserError:
    code: ErrorCode = strawberry.field(description="A stable code to branch on.")
    message: str = strawberry.field(description="What is wrong, for people.")
    field: list[str] | None = strawberry.field(
        description='The path of the input field at fault, e.g. `["input", "aliases"]`.'
    )

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(
            code=error.code,
            message=error.message,
            field=["input", *error.field] if error.field else None,
        )


Errors = strawberry.field(
    default_factory=list, description="Why the mutation was refused; empty on success."
)

# The metadata key of an input field that holds global IDs: the kinds it accepts.
ID_KINDS = "cairn.id_kinds"


def id_input(*kinds: str, description: str, **field: Any) -> Any:
    """An input field holding the global ID (or a list of IDs) of one of `kinds`. The resolver
    receives the row id, or (kind, row id) when the field accepts several kinds."""
    return strawberry.field(description=description, metadata={ID_KINDS: kinds}, **field)


def arguments(input: Any) -> dict[str, Any]:
    """The resolver's keyword arguments for an input: each field by its Python name, global IDs
    decoded (a wrong kind is refused, naming the field), enums as their names, and nested
    inputs as objects with the same attributes."""
    return {
        f.python_name: _argument(getattr(input, f.python_name), f.metadata.get(ID_KINDS), _name(f))
        for f in input.__strawberry_definition__.fields
    }


def _name(field: Any) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def _argument(value: Any, kinds: tuple[str, ...] | None, field: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_argument(item, kinds, field) for item in value]
    if kinds is not None:
        return _row_id(value, kinds, field)
    if isinstance(value, Enum):
        return value.name
    if has_object_definition(value):
        # A nested input's errors name the field that holds it.
        nested = value.__strawberry_definition__.fields
        return SimpleNamespace(
            **{
                f.python_name: _argument(
                    getattr(value, f.python_name), f.metadata.get(ID_KINDS), field
                )
                for f in nested
            }
        )
    return value


def _row_id(value: str, kinds: tuple[str, ...], field: str) -> int | tuple[str, int]:
    try:
        kind, row_id = decode_id(value)
    except GraphQLError:
        kind, row_id = "", 0
    if kind not in kinds:
        raise DomainError(
            ErrorCode.INVALID_ID,
            f"`{field}` must be the ID of a {' or '.join(kinds)}",
            (field,),
        )
    return row_id if len(kinds) == 1 else (kind, row_id)


class Payload(Protocol):
    def __init__(self, *, errors: list[UserError]) -> None: ...

    @classmethod
    def of(cls, result: Any) -> Self: ...


P = TypeVar("P", bound=Payload)


async def mutate(
    info: Ctx, payload: type[P], action: Callable[..., Awaitable[Any]], input: Any
) -> P:
    """Runs `action(ctx, **arguments(input))` and answers with `payload.of(result)`, or with the
    refusal as the payload's error."""
    ctx = info.context
    ctx.authorization_checked = False
    try:
        result = await action(ctx, **arguments(input))
    except DomainError as error:
        return payload(errors=[UserError.of(error)])
    if not ctx.authorization_checked:
        raise RuntimeError("a mutation completed without an authorization check")
    return payload.of(result)
