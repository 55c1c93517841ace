"""Registries written straight to the database, as a test's own setup: no audit event, no
permission check, any visibility."""

from __future__ import annotations

from collections.abc import Sequence

from db import registries
from db.pool import Connection
from db.records import Registry


async def insert_registry(
    conn: Connection,
    organization_id: int,
    name: str,
    visibility: str,
    *,
    protected_aliases: Sequence[str] = (),
) -> Registry:
    """A custom registry that accepts every type."""
    registry = await registries.insert_registry(
        conn,
        organization_id=organization_id,
        name=name,
        description="",
        visibility=visibility,
        accepted_types=[],
        accepts_all_types=True,
        protected_aliases=list(protected_aliases),
        is_core=False,
        created_by=None,
    )
    assert registry is not None
    return registry
