"""Why a request was refused: the domain's error codes, and the exception that carries one to the
transport layer, where it becomes a payload error of a mutation or an error of a query field."""

from __future__ import annotations

from resolvers.enums import DescribedEnum


class ErrorCode(DescribedEnum):
    """Stable codes a client can branch on; each says, for people, what it means."""

    UNAUTHENTICATED = "UNAUTHENTICATED", "The API key is unknown or was revoked."
    NOT_FOUND = "NOT_FOUND", "The object named does not exist, or you may not see it."
    PERMISSION_DENIED = (
        "PERMISSION_DENIED",
        "You may see the object but your role does not allow this change.",
    )
    INVALID_PATH = "INVALID_PATH", "A path is malformed; the message names the part."
    INVALID_ID = "INVALID_ID", "An ID is malformed or names the wrong kind of object."
    INVALID_ARGUMENT = (
        "INVALID_ARGUMENT",
        "An argument is out of range, of the wrong shape, or inconsistent.",
    )
    INVALID_NAME = "INVALID_NAME", "A name, type, alias or tag breaks the naming rules."
    TYPE_MISMATCH = (
        "TYPE_MISMATCH",
        "The artifact type does not match the collection's or the artifact's.",
    )
    TYPE_NOT_ACCEPTED = "TYPE_NOT_ACCEPTED", "The registry does not accept this artifact type."
    RESERVED_ALIAS = "RESERVED_ALIAS", "`latest` and `v<N>` are kept by the server."
    PROTECTED_ALIAS = "PROTECTED_ALIAS", "Only registry admins may add, move or remove this alias."
    NAME_TAKEN = "NAME_TAKEN", "The name is already in use."
    RUN_FINISHED = "RUN_FINISHED", "The run has ended and can no longer change or log."
    ALREADY_MEMBER = "ALREADY_MEMBER", "The user already belongs to the organization."
    LAST_ADMIN = "LAST_ADMIN", "The change would leave the organization without an admin."
    INVALID_TEMPLATE = (
        "INVALID_TEMPLATE",
        "A payload template is not JSON or names an unknown variable.",
    )
    FILES_NOT_STORED = (
        "FILES_NOT_STORED",
        "Some files' bytes are not in the blob store yet: upload them, then log again.",
    )
    BLOCKED_DESTINATION = (
        "BLOCKED_DESTINATION",
        "A webhook URL points at a loopback, link-local or private address.",
    )


class DomainError(Exception):
    """A refusal the client can act on: a stable code, a message, and the input field at fault."""

    def __init__(self, code: ErrorCode, message: str, field: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def not_found(message: str, field: tuple[str, ...] = ()) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, message, field)
