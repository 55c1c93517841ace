"""Error codes of the domain, and the exceptions that carry them to the transport layer."""

from __future__ import annotations

from enum import Enum


class ErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_PATH = "INVALID_PATH"
    INVALID_ID = "INVALID_ID"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_NAME = "INVALID_NAME"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TYPE_NOT_ACCEPTED = "TYPE_NOT_ACCEPTED"
    RESERVED_ALIAS = "RESERVED_ALIAS"
    PROTECTED_ALIAS = "PROTECTED_ALIAS"
    NAME_TAKEN = "NAME_TAKEN"
    RUN_FINISHED = "RUN_FINISHED"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    LAST_ADMIN = "LAST_ADMIN"
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    BLOCKED_DESTINATION = "BLOCKED_DESTINATION"


class DomainError(Exception):
    """A refusal the client can act on: a stable code, a message, and the input field at fault."""

    def __init__(self, code: ErrorCode, message: str, field: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def not_found(message: str, field: tuple[str, ...] = ()) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, message, field)
