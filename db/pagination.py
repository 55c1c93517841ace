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
from typing import Any, Generic, TypeVar

import asyncpg
import orjson

from db.pool import Executor

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class InvalidPageRequest(ValueError):
    """A page request that cannot be answered; the message names the argument at fault."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True, slots=True)
class SortKey:
    expression: str
    sql_type: str  # "integer", "bigint", "text" or "timestamptz"


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


def _decode_cursor(spec: ListSpec[Any], argument: str, cursor: str) -> CursorValues:
    invalid = InvalidPageRequest(
        argument, f"`{argument}` is not a cursor of this connection: {cursor[:80]!r}"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise invalid from None
    if (
        not isinstance(payload, list)
        or len(payload) != len(spec.keys) + 1
        or payload[0] != spec.name
    ):
        raise invalid
    values: list[Any] = []
    for key, value in zip(spec.keys, payload[1:], strict=True):
        if key.sql_type in ("integer", "bigint"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise invalid
            # Out of the column type's range, PostgreSQL would refuse the parameter.
            bound = 2**31 if key.sql_type == "integer" else 2**63
            if not -bound <= value < bound:
                raise invalid
            values.append(value)
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
            # PostgreSQL text cannot hold NUL.
            if not isinstance(value, str) or "\x00" in value:
                raise invalid
            values.append(value)
    return tuple(values)


def page_request(
    spec: ListSpec[Any],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
) -> PageRequest:
    """Validates connection arguments against `spec` (cursor kind, sizes, their combination)."""
    if first is not None and last is not None:
        raise InvalidPageRequest("first", "pass `first` or `last`, not both")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    for argument, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise InvalidPageRequest(
                argument, f"`{argument}` must be between 0 and {MAX_PAGE_SIZE}, got {value}"
            )
    return PageRequest(
        first=first,
        last=last,
        after=None if after is None else _decode_cursor(spec, "after", after),
        before=None if before is None else _decode_cursor(spec, "before", before),
    )


def _row_comparison(spec: ListSpec[Any], operator: str, first_param: int) -> str:
    keys = ", ".join(k.expression for k in spec.keys)
    params = ", ".join(f"${first_param + i}::{k.sql_type}" for i, k in enumerate(spec.keys))
    return f"({keys}) {operator} ({params})"


def _filter(spec: ListSpec[Any], filter_value: Any) -> tuple[list[str], list[Any]]:
    """The filter condition (as `$2`) and its parameter, when the list is filtered."""
    if spec.filter is None or filter_value is None:
        return [], []
    return [spec.filter.replace("$filter", "$2")], [filter_value]


def _page_sql(
    spec: ListSpec[Any], request: PageRequest, filter_value: Any
) -> tuple[str, list[Any]]:
    # Walking backwards (`last`) reads the list in reverse order and flips the result after.
    backwards = request.last is not None
    descending = spec.descending != backwards
    conditions, params = _filter(spec, filter_value)
    # "after" means further along the list's order; in a descending list that is smaller keys.
    after_op, before_op = ("<", ">") if spec.descending else (">", "<")
    if request.after is not None:
        conditions.append(_row_comparison(spec, after_op, len(params) + 2))
        params.extend(request.after)
    if request.before is not None:
        conditions.append(_row_comparison(spec, before_op, len(params) + 2))
        params.extend(request.before)
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f"{k.expression} {direction}" for k in spec.keys)
    sort_columns = ", ".join(f"{k.expression} AS sort_{i}" for i, k in enumerate(spec.keys))
    where = "".join(f" AND {c}" for c in conditions)
    limit_param = len(params) + 2
    params.append(request.size + 1)
    sql = (
        "SELECT p.parent_id, x.* FROM unnest($1::bigint[]) AS p(parent_id) "
        f"CROSS JOIN LATERAL (SELECT {spec.columns}, {sort_columns} {spec.source}{where} "
        f"ORDER BY {order} LIMIT ${limit_param}) AS x"
    )
    return sql, params


async def fetch_pages(
    conn: Executor,
    spec: ListSpec[T],
    parent_ids: Sequence[int],
    request: PageRequest,
    filter_value: Any = None,
) -> list[Page[T]]:
    """One page per parent, aligned with `parent_ids`, in one statement."""
    sql, params = _page_sql(spec, request, filter_value)
    rows = await conn.fetch(sql, list(parent_ids), *params)
    by_parent: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_id"], []).append(row)
    pages = []
    key_count = len(spec.keys)
    for parent_id in parent_ids:
        parent_rows = by_parent.get(parent_id, [])
        has_more = len(parent_rows) > request.size
        parent_rows = parent_rows[: request.size]
        if request.last is not None:
            parent_rows.reverse()
        items = [
            (
                encode_cursor(spec.name, [row[f"sort_{i}"] for i in range(key_count)]),
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
    conn: Executor, spec: ListSpec[Any], parent_ids: Sequence[int], filter_value: Any = None
) -> list[int]:
    """The number of rows in the list of each parent, aligned with `parent_ids`."""
    conditions, params = _filter(spec, filter_value)
    where = "".join(f" AND {c}" for c in conditions)
    sql = (
        "SELECT p.parent_id, (SELECT count(*) "
        f"{spec.source}{where}) AS total FROM unnest($1::bigint[]) AS p(parent_id)"
    )
    rows = await conn.fetch(sql, list(parent_ids), *params)
    totals = {row["parent_id"]: row["total"] for row in rows}
    return [totals[parent_id] for parent_id in parent_ids]
