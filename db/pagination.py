"""Keyset pages of child rows for many parents at once.

A `ListSpec` describes one list (which rows belong to a parent, and their order with a unique
tiebreaker). `fetch_pages` answers the same page request for any number of parents in a single
statement (`unnest` + `LATERAL … LIMIT`), and `fetch_counts` their totals in another, so a
connection costs the same number of statements for one parent as for a hundred.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg
import orjson

from db import json_values
from db.pool import Executor

if TYPE_CHECKING:
    from db.search import Search

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class InvalidPageRequest(ValueError):
    """A page request that cannot be answered; the message names the argument at fault."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


class SearchFailed(InvalidPageRequest):
    """A search the database refused or cut off; the message says what to change."""


@dataclass(frozen=True, slots=True)
class SortKey:
    expression: str
    sql_type: str  # "integer", "bigint", "text", "timestamptz", "real" or "jsonb"


class Parameters:
    """The bound values of one statement, numbered from `first`: `add` returns the placeholder
    of the next one."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.values: list[Any] = []

    def add(self, value: Any, sql_type: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${self.first + len(self.values) - 1}"
        return placeholder if sql_type is None else f"{placeholder}::{sql_type}"


@dataclass(frozen=True, slots=True, eq=False)
class ListSpec(Generic[T]):
    """One list of child rows. `source` is `FROM … WHERE …` with `p.parent_id` for the parent.

    Compared by identity: each list is one module-level constant, and loaders key on it.
    """

    name: str
    columns: str
    source: str
    keys: tuple[SortKey, ...]
    descending: bool
    record: Callable[[asyncpg.Record], T]
    # An optional condition on a caller-given value, written with `$filter` for the value;
    # applied only when a value is given.
    filter: str | None = None
    # What `totalCount` counts when neither a filter nor a search narrows the list: the same
    # rows from fewer tables (joins that every row has, by its foreign keys, left out), so that
    # the count reads an index rather than joining every row to tables it does not need.
    count_source: str | None = None


CursorValues = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Validated connection arguments: exactly one of first/last, cursors decoded."""

    first: int | None
    last: int | None
    after: CursorValues | None
    before: CursorValues | None

    @property
    def size(self) -> int:
        size = self.first if self.first is not None else self.last
        assert size is not None
        return size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item) in connection order
    has_next_page: bool
    has_previous_page: bool


def encode_cursor(spec_name: str, values: Sequence[Any]) -> str:
    payload = [spec_name, *(v.isoformat() if isinstance(v, datetime) else v for v in values)]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _ordering(spec: ListSpec[Any], search: Search | None) -> tuple[str, tuple[SortKey, ...], bool]:
    """The cursor name, sort keys and direction of a list as a search orders it."""
    keys = None if search is None else search.keys(Parameters(1))
    if search is None or keys is None or search.order is None:
        return spec.name, spec.keys, spec.descending
    return search.cursor_name(spec.name), keys, search.order.descending


def _decode_cursor(
    name: str, keys: tuple[SortKey, ...], argument: str, cursor: str
) -> CursorValues:
    invalid = InvalidPageRequest(
        argument, f"`{argument}` is not a cursor of this connection: {cursor[:80]!r}"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(payload, list) or len(payload) != len(keys) + 1 or payload[0] != name:
        raise invalid
    values: list[Any] = []
    for key, value in zip(keys, payload[1:], strict=True):
        if key.sql_type in ("integer", "bigint"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise invalid
            # Out of the column type's range, PostgreSQL would refuse the parameter.
            bound = 2**31 if key.sql_type == "integer" else 2**63
            if not -bound <= value < bound:
                raise invalid
            values.append(value)
        elif key.sql_type == "real":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise invalid
            values.append(float(value))
        elif key.sql_type == "timestamptz":
            try:
                moment = datetime.fromisoformat(value)
                # Ours always carry an offset; one that leaves datetime's range in UTC is not ours.
                if moment.tzinfo is None:
                    raise invalid
                moment.astimezone(UTC)
            except (TypeError, ValueError, OverflowError):
                raise invalid from None
            values.append(moment)
        else:
            # PostgreSQL text cannot hold NUL; a JSON key is JSON text.
            if not isinstance(value, str) or "\x00" in value:
                raise invalid
            if key.sql_type == "jsonb":
                try:
                    json_values.loads(value)
                except ValueError:
                    raise invalid from None
            values.append(value)
    return tuple(values)


def page_request(
    spec: ListSpec[Any],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    search: Search | None = None,
) -> PageRequest:
    """Validates connection arguments against the list as `search` orders it (cursor kind,
    sizes, their combination)."""
    if first is not None and last is not None:
        raise InvalidPageRequest("first", "pass `first` or `last`, not both")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    for argument, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise InvalidPageRequest(
                argument, f"`{argument}` must be between 0 and {MAX_PAGE_SIZE}, got {value}"
            )
    name, keys, _ = _ordering(spec, search)
    return PageRequest(
        first=first,
        last=last,
        after=None if after is None else _decode_cursor(name, keys, "after", after),
        before=None if before is None else _decode_cursor(name, keys, "before", before),
    )


def _key_parameter(key: SortKey, value: Any, params: Parameters) -> str:
    if key.sql_type == "jsonb":
        return params.add(value, "text") + "::jsonb"
    return params.add(value, key.sql_type)


def _row_comparison(
    keys: tuple[SortKey, ...], operator: str, values: CursorValues, params: Parameters
) -> str:
    """Rows beyond a cursor. The first key's bound is also stated on its own, which lets an
    index on it start at the cursor rather than scan from the top of the list."""
    placeholders = [_key_parameter(k, v, params) for k, v in zip(keys, values, strict=True)]
    expressions = ", ".join(k.expression for k in keys)
    comparison = f"({expressions}) {operator} ({', '.join(placeholders)})"
    if len(keys) == 1:
        return comparison
    return f"{keys[0].expression} {operator}= {placeholders[0]} AND {comparison}"


def _conditions(
    spec: ListSpec[Any], filter_value: Any, search: Search | None, params: Parameters
) -> list[str]:
    conditions = []
    if spec.filter is not None and filter_value is not None:
        conditions.append(spec.filter.replace("$filter", params.add(filter_value)))
    if search is not None:
        conditions.extend(search.conditions(params))
    return conditions


def page_statement(
    spec: ListSpec[Any], request: PageRequest, filter_value: Any, search: Search | None
) -> tuple[str, list[Any]]:
    """The statement of one page (its parents go in as `$1`) and its other parameters."""
    params = Parameters(2)  # $1 holds the parents
    conditions = _conditions(spec, filter_value, search, params)
    keys = spec.keys if search is None else search.keys(params) or spec.keys
    list_descending = _ordering(spec, search)[2]
    # Walking backwards (`last`) reads the list in reverse order and flips the result after.
    descending = list_descending != (request.last is not None)
    # "after" means further along the list's order; in a descending list that is smaller keys.
    after_op, before_op = ("<", ">") if list_descending else (">", "<")
    if request.after is not None:
        conditions.append(_row_comparison(keys, after_op, request.after, params))
    if request.before is not None:
        conditions.append(_row_comparison(keys, before_op, request.before, params))
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f"{k.expression} {direction}" for k in keys)
    sort_columns = ", ".join(
        f"({k.expression}){'::text' if k.sql_type == 'jsonb' else ''} AS sort_{i}"
        for i, k in enumerate(keys)
    )
    where = "".join(f" AND {c}" for c in conditions)
    limit = params.add(request.size + 1)
    sql = (
        "SELECT p.parent_id, x.* FROM unnest($1::bigint[]) AS p(parent_id) "
        f"CROSS JOIN LATERAL (SELECT {spec.columns}, {sort_columns} {spec.source}{where} "
        f"ORDER BY {order} LIMIT {limit}) AS x"
    )
    return sql, params.values


async def fetch_rows(conn: Executor, searched: bool, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Runs a list's statement; a search's own faults become a `SearchFailed` naming them."""
    if not searched:
        return await conn.fetch(sql, *args)
    try:
        return await conn.fetch(sql, *args)
    except asyncpg.InvalidRegularExpressionError:
        # The driver's text stays out of answers; what to change is said instead.
        raise SearchFailed(
            "filter",
            "a regular expression of the filter is not one PostgreSQL runs: it takes RE2's "
            "common syntax, not named groups, `\\z`, Unicode classes or `(?i)` past the start",
        ) from None
    except asyncpg.QueryCanceledError:
        raise SearchFailed(
            "filter",
            "the search ran past the server's time limit for one statement; narrow it (fewer "
            "regular expressions or `contains` over descriptions, a more selective condition)",
        ) from None


async def fetch_pages(
    conn: Executor,
    spec: ListSpec[T],
    parent_ids: Sequence[int],
    request: PageRequest,
    filter_value: Any = None,
    search: Search | None = None,
) -> list[Page[T]]:
    """One page per parent, aligned with `parent_ids`, in one statement."""
    sql, params = page_statement(spec, request, filter_value, search)
    rows = await fetch_rows(conn, search is not None, sql, list(parent_ids), *params)
    by_parent: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_id"], []).append(row)
    pages = []
    name, keys, _ = _ordering(spec, search)
    for parent_id in parent_ids:
        parent_rows = by_parent.get(parent_id, [])
        has_more = len(parent_rows) > request.size
        parent_rows = parent_rows[: request.size]
        if request.last is not None:
            parent_rows.reverse()
        items = [
            (
                encode_cursor(name, [row[f"sort_{i}"] for i in range(len(keys))]),
                spec.record(row),
            )
            for row in parent_rows
        ]
        if request.last is not None:
            page = Page(items, request.before is not None, has_more)
        else:
            page = Page(items, has_more, request.after is not None)
        pages.append(page)
    return pages


async def fetch_counts(
    conn: Executor,
    spec: ListSpec[Any],
    parent_ids: Sequence[int],
    filter_value: Any = None,
    search: Search | None = None,
) -> list[int]:
    """The number of rows in the list of each parent, aligned with `parent_ids`."""
    params = Parameters(2)
    conditions = _conditions(spec, filter_value, search, params)
    source = spec.source if conditions or spec.count_source is None else spec.count_source
    where = "".join(f" AND {c}" for c in conditions)
    sql = (
        "SELECT p.parent_id, (SELECT count(*) "
        f"{source}{where}) AS total FROM unnest($1::bigint[]) AS p(parent_id)"
    )
    rows = await fetch_rows(conn, search is not None, sql, list(parent_ids), *params.values)
    totals = {row["parent_id"]: row["total"] for row in rows}
    return [totals[parent_id] for parent_id in parent_ids]
