"""Pages of lists: a resolver says which list to page (and for whom); the request's loaders fetch
the pages of all the parents asked for at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from db.pagination import InvalidPageRequest, ListSpec, Page, page_request
from db.search import Search
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListQuery(Generic[T]):
    """One parent's list, as the caller may see it: `filter_value` feeds the list's filter (the
    registries the caller may see), and None applies none; `search` narrows and orders it."""

    spec: ListSpec[T]
    parent_id: int
    filter_value: Any = None
    search: Search | None = None


async def page(
    ctx: Context,
    query: ListQuery[T],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
) -> Page[T]:
    try:
        request = page_request(
            query.spec, first=first, last=last, after=after, before=before, search=query.search
        )
        key = (query.spec, query.parent_id, request, query.filter_value, query.search)
        result: Page[T] = await ctx.loaders.page.load(key)
    except InvalidPageRequest as error:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, str(error), (error.argument,)) from None
    return result


async def total_count(ctx: Context, query: ListQuery[Any]) -> int:
    key = (query.spec, query.parent_id, query.filter_value, query.search)
    try:
        return await ctx.loaders.count.load(key)
    except InvalidPageRequest as error:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, str(error), (error.argument,)) from None
