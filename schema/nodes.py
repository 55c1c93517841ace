"""Global IDs and the node registry.

Every kind of object that has a global ID is a `Node`, registered here with `@node(load=…)` next
to its type: its type name is the kind its IDs carry, and `load` finds the objects of that kind
the caller may see. `node(id:)`, `nodes(ids:)` and the decoding of every ID an input carries go
through this one registry. IDs are `<Type>:<id>` in URL-safe base64; clients must not decode them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError

from resolvers.context import Context
from schema.context import Ctx, arg

MAX_NODES = 100


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global ID; pass it to `node(id:)`. Do not decode it."
    )


NodeLoader = Callable[[Context, Sequence[int]], Awaitable[Sequence[Any | None]]]


@dataclass(frozen=True, slots=True)
class NodeKind:
    wrap: Callable[[Any], Node]
    # The objects with these row ids, aligned with them; None for each missing or hidden one.
    load: NodeLoader


KINDS: dict[str, NodeKind] = {}

N = TypeVar("N", bound=type[Node])


def node(*, load: NodeLoader) -> Callable[[N], N]:
    """Registers a Node type, which builds itself from a row with `of`."""

    def register(cls: N) -> N:
        KINDS[cls.__name__] = NodeKind(wrap=cls.of, load=load)  # type: ignore[attr-defined]
        return cls

    return register


def global_id(kind: str, row_id: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode().rstrip("="))


def decode_id(value: str) -> tuple[str, int]:
    """(kind, row id); a GraphQLError with code INVALID_ID when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        kind, _, number = raw.partition(":")
        row_id = int(number)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_id(value) from None
    if kind not in KINDS or row_id <= 0 or row_id >= 2**63 or not number.isdigit():
        raise invalid_id(value)
    # Only the one spelling we hand out (not `Organization:٣`, `:03`, padded or '+/' base64), so
    # that `node(id: X) { id }` is always X.
    if global_id(kind, row_id) != value:
        raise invalid_id(value)
    return kind, row_id


def invalid_id(value: str) -> GraphQLError:
    return GraphQLError(f"'{value[:80]}' is not a valid ID", extensions={"code": "INVALID_ID"})


def row_id(value: str, kind: str) -> int:
    """The row id behind an ID argument that must name a `kind`."""
    found_kind, found_id = decode_id(value)
    if found_kind != kind:
        raise GraphQLError(f"expected the ID of a {kind}", extensions={"code": "INVALID_ID"})
    return found_id


async def load_nodes(ctx: Context, kind: str, row_ids: Sequence[int]) -> list[Node | None]:
    registered = KINDS[kind]
    found = await registered.load(ctx, row_ids)
    return [None if obj is None else registered.wrap(obj) for obj in found]


@strawberry.type
class NodesQuery:
    @strawberry.field(description="Any object by its global ID; null if missing or not visible.")
    async def node(self, info: Ctx, id: Annotated[strawberry.ID, arg("Global ID.")]) -> Node | None:
        kind, found_id = decode_id(id)
        (found,) = await load_nodes(info.context, kind, [found_id])
        return found

    @strawberry.field(
        description=f"Objects by global IDs, in order; null for each missing or not visible one. "
        f"At most {MAX_NODES} IDs."
    )
    async def nodes(
        self, info: Ctx, ids: Annotated[list[strawberry.ID], arg("Global IDs.")]
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise GraphQLError(
                f"`ids` may hold at most {MAX_NODES} IDs, got {len(ids)}",
                extensions={"code": "INVALID_ARGUMENT"},
            )
        decoded = [decode_id(i) for i in ids]
        by_kind: dict[str, list[int]] = {}
        for kind, found_id in decoded:
            by_kind.setdefault(kind, []).append(found_id)
        found: dict[tuple[str, int], Node | None] = {}
        for kind, row_ids in by_kind.items():
            for found_id, obj in zip(
                row_ids, await load_nodes(info.context, kind, row_ids), strict=True
            ):
                found[(kind, found_id)] = obj
        return [found[key] for key in decoded]
