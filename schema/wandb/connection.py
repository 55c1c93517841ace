"""Relay connections in the W&B dialect: Cairn's connection types, paged as the SDK asks.

The SDK asks for pages larger than Cairn serves (5,000 file URLs, 1,000 aliases at once) and
follows `hasNextPage` until it is false, so a larger `first` gets the largest page Cairn serves
rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers import pages
from resolvers.pages import ListQuery
from schema.connection import Connection, Edge, PageInfo
from schema.context import Ctx
from schema.errors import raise_domain_errors

T = TypeVar("T")


async def connection(
    info: Ctx,
    query: ListQuery[Any],
    wrap: Callable[[Any], T],
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """The page of `query` after `after`, of at most `first` items (capped at Cairn's page size),
    each built by `wrap`."""
    ctx = info.context
    size = DEFAULT_PAGE_SIZE if first is None else max(0, min(first, MAX_PAGE_SIZE))
    with raise_domain_errors():
        page = await pages.page(ctx, query, first=size, after=after, last=None, before=None)
    edges = [Edge(cursor=cursor, node=wrap(item)) for cursor, item in page.items]
    return Connection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=lambda: pages.total_count(ctx, query),
    )


def listed(items: list[T]) -> Connection[T]:
    """A short list the domain returns whole (a registry's accepted types), as one page."""
    edges = [Edge(cursor=str(position), node=item) for position, item in enumerate(items)]
    total = len(items)

    async def count() -> int:
        return total

    return Connection(
        edges=edges,
        nodes=items,
        page_info=PageInfo(
            has_next_page=False,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=count,
    )


# Lists W&B answers whole (a registry's members, a team's) are read a page at a time, up to
# this many items.
MAX_WHOLE_LIST = 1000


async def whole_list(info: Ctx, query: ListQuery[T]) -> list[T]:
    """Every item of a list W&B's schema answers as a plain list, up to MAX_WHOLE_LIST."""
    found: list[T] = []
    after = None
    with raise_domain_errors():
        while len(found) < MAX_WHOLE_LIST:
            page = await pages.page(
                info.context, query, first=MAX_PAGE_SIZE, after=after, last=None, before=None
            )
            found.extend(item for _, item in page.items)
            if not page.has_next_page or not page.items:
                return found
            after = page.items[-1][0]
    return found
