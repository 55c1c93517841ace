"""Opaque global IDs: `<Type>:<id>` in URL-safe base64. Clients must not decode them."""

from __future__ import annotations

import base64
import binascii

from graphql import GraphQLError

NODE_TYPES = frozenset(
    {
        "Organization",
        "Registry",
        "Collection",
        "ArtifactSequence",
        "ArtifactVersion",
        "Project",
        "Run",
        "Team",
        "ApiKey",
        "Automation",
        "Delivery",
        "User",
    }
)


def encode_id(type_name: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{row_id}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int]:
    """(type name, row id); a GraphQLError with code INVALID_ID when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, number = raw.partition(":")
        row_id = int(number)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_id(global_id) from None
    if type_name not in NODE_TYPES or row_id <= 0 or row_id >= 2**63 or not number.isdigit():
        raise invalid_id(global_id)
    # Only the one spelling we hand out (not `Organization:٣`, `:03`, padded or '+/' base64), so
    # that `node(id: X) { id }` is always X.
    if encode_id(type_name, row_id) != global_id:
        raise invalid_id(global_id)
    return type_name, row_id


def invalid_id(global_id: str) -> GraphQLError:
    return GraphQLError(f"'{global_id[:80]}' is not a valid ID", extensions={"code": "INVALID_ID"})
