"""Global IDs: of rows, of rows that do not exist, and back to row ids."""

from __future__ import annotations

from schema.nodes import decode_id, global_id

# A row id no table will reach: its IDs are well-formed but name nothing.
MISSING_ROW = 2**62


def gid(kind: str, row_id: int) -> str:
    return str(global_id(kind, row_id))


def missing(kind: str) -> str:
    """A well-formed ID of `kind` that names nothing."""
    return gid(kind, MISSING_ROW)


def row_id(node_id: str) -> int:
    return decode_id(node_id)[1]
