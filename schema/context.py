"""What a field receives (`Ctx`), the shorthand for describing its arguments, and how a field
builds the GraphQL object of a row whose type is defined in a module that imports this one."""

from __future__ import annotations

import functools
import importlib
from typing import Annotated, Any, ForwardRef, get_args, get_origin

import strawberry
from strawberry.types import Info
from strawberry.types.lazy_type import StrawberryLazyReference

from resolvers.context import Context
from resolvers.enums import DescribedEnum

Ctx = Info[Context, None]


def expose_enum(enum: type[DescribedEnum], *, name: str, description: str) -> None:
    """Makes a domain enumeration a GraphQL enum named `name`, each value described as the
    domain describes it."""
    strawberry.enum(enum, name=name, description=description)
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = enum[value.name].description


def arg(description: str) -> Any:
    """An argument's description: `name: Annotated[str, arg("Organization slug.")]`."""
    return strawberry.argument(description=description)


@functools.cache
def type_of(node: Any) -> Any:
    """The class behind `node`: a type, or a lazy reference to one
    (`Annotated["Registry", strawberry.lazy("schema.registries")]`), resolved once its module is
    loaded. Domains reference the types of domains that import them this way."""
    if get_origin(node) is not Annotated:
        return node
    name, *extras = get_args(node)
    reference = next(e for e in extras if isinstance(e, StrawberryLazyReference))
    type_name = name.__forward_arg__ if isinstance(name, ForwardRef) else name
    return getattr(importlib.import_module(reference.module), type_name)


def maybe(node: Any, row: Any) -> Any:
    """`node`'s object for `row` (built by its `of`), or None for no row."""
    return None if row is None else type_of(node).of(row)
