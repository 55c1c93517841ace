"""What a field receives (`Ctx`), the shorthand for describing its arguments, and how a field
builds the GraphQL object of a row whose type is defined in a module that imports this one."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, ForwardRef, get_args

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.lazy_type import StrawberryLazyReference

from resolvers.context import Context
from resolvers.enums import DescribedEnum
from resolvers.soon import Soon, then

Ctx = Info[Context, None]


class OperationContext(SchemaExtension):
    """Gives each operation a Context of its own where the transport holds a longer-lived
    session (a WebSocket) that makes one per operation with `for_operation()`."""

    def on_operation(self) -> Iterator[None]:
        make = getattr(self.execution_context.context, "for_operation", None)
        if make is not None:
            self.execution_context.context = make()
        yield
        if make is not None:
            self.execution_context.context.end()


def expose_enum(enum: type[DescribedEnum], *, name: str, description: str) -> None:
    """Makes a domain enumeration a GraphQL enum named `name`, each value described as the
    domain describes it."""
    strawberry.enum(enum, name=name, description=description)
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = enum[value.name].description


def arg(description: str) -> Any:
    """An argument's description: `name: Annotated[str, arg("Organization slug.")]`."""
    return strawberry.argument(description=description)


# Resolved lazy references by the identity of the reference, which each entry keeps alive: on
# the hot path, cheaper than hashing the annotation.
_RESOLVED: dict[int, tuple[Any, Any]] = {}


def type_of(node: Any) -> Any:
    """The class behind `node`: a type, or a lazy reference to one
    (`Annotated["Registry", strawberry.lazy("schema.registries")]`), resolved once its module is
    loaded. Domains reference the types of domains that import them this way."""
    if isinstance(node, type):
        return node
    entry = _RESOLVED.get(id(node))
    if entry is None:
        name, *extras = get_args(node)
        reference = next(e for e in extras if isinstance(e, StrawberryLazyReference))
        type_name = name.__forward_arg__ if isinstance(name, ForwardRef) else name
        found = getattr(importlib.import_module(reference.module), type_name)
        entry = _RESOLVED[id(node)] = (node, found)
    return entry[1]


def maybe(node: Any, row: Any) -> Any:
    """`node`'s object for `row` (built by its `of`), or None for no row."""
    return None if row is None else type_of(node).of(row)


def maybe_soon(node: Any, row: Soon[Any]) -> Soon[Any]:
    """`maybe` of a row that may not be loaded yet: a field returning it is a plain function
    (`graphql_type` names its type), which resolves at once when the row is loaded."""
    return then(row, lambda found: maybe(node, found))
