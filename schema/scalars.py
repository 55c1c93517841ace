"""Scalars whose values must be checked before anything uses them."""

from __future__ import annotations

from datetime import UTC, datetime

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
