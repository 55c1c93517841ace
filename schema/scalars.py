"""Scalars whose values must be checked before anything uses them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import wrap_parser
from strawberry.types.scalar import ScalarDefinition


def _in_utc(value: str) -> datetime:
    """An ISO 8601 date and time in UTC (UTC when it names no offset). A moment that has no UTC
    date a database can hold, such as 9999-12-31T23:59:59-14:00, is an input error, found here
    rather than when the database is handed it."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("it is outside the range of dates in UTC") from None


DateTime = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=wrap_parser(_in_utc, "DateTime"),
    parse_literal=None,
    origin=datetime,
)


INT64_MAX = 2**63 - 1


def _int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StrawberryInputCoercionError(
            f"Int64 cannot represent {str(value)[:40]!r}: give a whole number"
        )
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise StrawberryInputCoercionError(
            f"Int64 cannot represent {value}: it is outside -2^63 to 2^63-1"
        )
    return value


# Fields annotated `Int64` are this scalar (see `scalar_overrides` in schema/schema.py).
Int64 = NewType("Int64", int)

Int64Definition = ScalarDefinition(
    name="Int64",
    description="A whole number from -2^63 to 2^63-1, as a JSON number: sizes in bytes, which "
    "outgrow GraphQL's 32-bit Int at 2 GiB.",
    specified_by_url=None,
    serialize=int,
    parse_value=_int64,
    parse_literal=None,
    origin=Int64,
)
