"""Relay connections over keyset pages, with a lazily counted `totalCount`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from db.pagination import MAX_PAGE_SIZE, ListSpec
from resolvers import reads
from resolvers.context import Context
from schema.errors import raise_domain_errors

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list, and the cursors to move on from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more items follow the last one of this page."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede the first one of this page."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item, to pass as `before`; null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item, to pass as `after`; null on an empty page."
    )


@strawberry.type(description="An item in a connection, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this item, for `after`/`before`.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(
    description="A page of a list: its items, their cursors, and the size of the whole list."
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, with cursors.")
    nodes: list[T] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The number of items in the whole list, across all pages.")
    async def total_count(self) -> int:
        return await self.count_total()


First = Annotated[
    int | None,
    strawberry.argument(
        description=f"Return the first N items after `after` (0 to {MAX_PAGE_SIZE}; default 20)."
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=f"Return the last N items before `before` (0 to {MAX_PAGE_SIZE})."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Start after this cursor (an `endCursor` or edge cursor)."),
]
Before = Annotated[
    str | None,
    strawberry.argument(description="End before this cursor (a `startCursor` or edge cursor)."),
]


async def resolve_connection(
    info: Info[Context, Any],
    spec: ListSpec[Any],
    parent_id: int,
    wrap: Callable[[Any], T],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    filter_value: Any = None,
) -> Connection[T]:
    ctx = info.context
    with raise_domain_errors():
        result = await reads.page(
            ctx,
            spec,
            parent_id,
            first=first,
            last=last,
            after=after,
            before=before,
            filter_value=filter_value,
        )
    edges = [Edge(cursor=cursor, node=wrap(item)) for cursor, item in result.items]
    return Connection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=result.has_next_page,
            has_previous_page=result.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=lambda: reads.total_count(ctx, spec, parent_id, filter_value),
    )
