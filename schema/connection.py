"""Relay connections over keyset pages, with a lazily counted `totalCount`, and the one helper
that makes a connection field out of a function saying what to list."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any, Generic, TypeVar, cast

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode

from db.pagination import MAX_PAGE_SIZE
from resolvers import pages
from resolvers.pages import ListQuery
from schema.context import Ctx, type_of
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
        with raise_domain_errors():
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

_PAGE_ARGUMENTS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
    for name, annotation in (("first", First), ("after", After), ("last", Last), ("before", Before))
]

ListResolver = Callable[..., Awaitable[ListQuery[Any]]]


def node_fields(info: Ctx) -> set[str]:
    """The names of the fields selected on a connection's items, under `nodes` or `edges {
    node }`, through fragments; `@skip` and `@include` are not read (a field they drop is only
    loaded for nothing)."""
    raw = info._raw_info
    names: set[str] = set()

    def fields(
        selections: Iterable[SelectionNode], spread: set[str] | None = None
    ) -> Iterator[FieldNode]:
        # Each fragment once per level, as execution collects them: fragments that spread each
        # other twice over would otherwise be walked exponentially often.
        spread = set() if spread is None else spread
        for selection in selections:
            if isinstance(selection, FieldNode):
                yield selection
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = raw.fragments.get(name)
                if name in spread or fragment is None:
                    continue
                spread.add(name)
                found = fragment.selection_set
            else:
                found = cast(InlineFragmentNode, selection).selection_set
            yield from fields(found.selections, spread)

    def below(field: FieldNode) -> Iterable[SelectionNode]:
        return field.selection_set.selections if field.selection_set is not None else ()

    for connection in raw.field_nodes:
        for field in fields(below(connection)):
            if field.name.value == "nodes":
                names.update(f.name.value for f in fields(below(field)))
            elif field.name.value == "edges":
                for edge_field in fields(below(field)):
                    if edge_field.name.value == "node":
                        names.update(f.name.value for f in fields(below(edge_field)))
    return names


def connection_field(
    node: Any, description: str, *, nullable: bool = False
) -> Callable[[ListResolver], Any]:
    """A connection field of `node` items (a type, or a lazy reference to one defined later).

    The decorated method says what to list, after any check the list needs: it returns a
    `ListQuery` and may take arguments of its own. The field adds `first`, `after`, `last` and
    `before`, pages the list, and wraps each row with `node.of`. With `nullable`, a refusal
    nulls the field rather than its parent.
    """
    graphql_type: Any = Connection[node] | None if nullable else Connection[node]

    def decorate(listing: ListResolver) -> Any:
        async def resolve(self: Any, info: Ctx, **arguments: Any) -> Any:
            request = {name: arguments.pop(name) for name in ("first", "after", "last", "before")}
            ctx = info.context
            with raise_domain_errors():
                query = await listing(self, info, **arguments)
                page = await pages.page(ctx, query, **request)
            node_type = type_of(node)
            preload = getattr(node_type, "preload", None)
            if preload is not None and page.items:
                await preload(ctx, [item for _, item in page.items], node_fields(info))
            wrap = node_type.of
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

        own = list(inspect.signature(listing).parameters.values())
        # The resolver's arguments are the page's, then the listing's own (after self and info).
        resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*own[:2], *_PAGE_ARGUMENTS, *(p.replace(kind=p.KEYWORD_ONLY) for p in own[2:])]
        )
        resolve.__name__ = listing.__name__
        resolve.__qualname__ = listing.__qualname__
        # String annotations resolve where the listing was written.
        resolve.__module__ = listing.__module__
        return strawberry.field(
            resolver=resolve, description=description, graphql_type=graphql_type
        )

    return decorate
