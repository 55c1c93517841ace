"""Input rules: names, aliases, tags, JSON and manifests are checked before anything is written,
and each refusal names the field at fault."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from db import json_values
from resolvers.errors import DomainError, ErrorCode

LATEST = "latest"
MAX_DESCRIPTION = 65_536
MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 64
MAX_FILES = 10_000
MAX_LABELS = 100

_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_RESERVED_VERSION = re.compile(r"^v\d+$")
_REGISTRY_FORBIDDEN = re.compile(r"[/\\#?%:\n\r\x00]")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def invalid(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_ARGUMENT, message, field)


def invalid_name(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_NAME, message, field)


def storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL: a name with one matches nothing, and must not reach the
    database, which would refuse the statement."""
    return "\x00" not in text


def exactly_one(a: object, b: object, names: tuple[str, str]) -> None:
    """Refuses unless exactly one of two alternative inputs is given, naming the first."""
    if (a is None) == (b is None):
        raise invalid(f"give exactly one of `{names[0]}` and `{names[1]}`", names[0])


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "…")


def registry_name(name: str, field: str = "name") -> str:
    if not 1 <= len(name) <= 113 or _REGISTRY_FORBIDDEN.search(name) or name != name.strip():
        raise invalid_name(
            f"registry name {_shown(name)} must be 1 to 113 characters without / \\ # ? % : "
            "or line breaks, and no surrounding spaces",
            field,
        )
    return name


def collection_name(name: str, field: str = "name") -> str:
    if not 1 <= len(name) <= 128 or re.search(r"[/:\n\r\x00]", name) or name != name.strip():
        raise invalid_name(
            f"collection name {_shown(name)} must be 1 to 128 characters without '/', ':' or "
            "line breaks, and no surrounding spaces",
            field,
        )
    return name


def _slug(name: str, kind: str, field: str) -> str:
    """A name that appears in paths: a letter or digit, then letters, digits, '-', '_', '.'."""
    if not _PROJECT.fullmatch(name) or name.startswith("wandb-registry-"):
        raise invalid_name(
            f"{kind} {_shown(name)} must start with a letter or digit and hold only letters,"
            " digits, '-', '_' and '.' (at most 128), and not start with 'wandb-registry-'",
            field,
        )
    return name


def project_name(name: str, field: str = "name") -> str:
    return _slug(name, "project name", field)


def organization_name(name: str, field: str = "name") -> str:
    return _slug(name, "organization name", field)


def label(name: str, kind: str, field: str) -> str:
    """A free-form name: 1 to 128 characters, no surrounding spaces."""
    if not 1 <= len(name) <= 128 or "\x00" in name or name != name.strip():
        raise invalid_name(
            f"{kind} {_shown(name)} must be 1 to 128 characters with no surrounding spaces",
            field,
        )
    return name


def run_name(name: str, field: str = "name") -> str:
    return label(name, "run name", field)


_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def user_name(name: str, field: str = "name") -> str:
    # fullmatch: `$` alone would also accept a trailing newline, which the database refuses.
    if not _USER.fullmatch(name):
        raise invalid_name(
            f"user name {_shown(name)} must start with a letter or digit and hold only letters, "
            "digits, '-', '_' and '.' (at most 64)",
            field,
        )
    return name


def artifact_type(value: str, field: str = "type") -> str:
    if not _TYPE.fullmatch(value):
        raise invalid_name(
            f"artifact type {_shown(value)} must start with a letter or digit and hold only "
            "letters, digits, '-', '_' and '.' (at most 128)",
            field,
        )
    return value


def role_name(role: str, allowed: Sequence[str], field: str) -> str:
    if role not in allowed:
        raise invalid(f"role must be one of {', '.join(allowed)}, got {role!r}", field)
    return role


def folded(value: str) -> str:
    """Aliases, protected aliases and tags are case-insensitive: kept and compared in lower
    case, so that `PRODUCTION` is `production` to every rule. (They are ASCII, where Python's
    and PostgreSQL's lower case agree.)"""
    return value.lower()


def labels(values: Sequence[str], kind: str, field: str) -> list[str]:
    """Tags: each a valid label, at most MAX_LABELS, in lower case, deduplicated."""
    if len(values) > MAX_LABELS:
        raise invalid(f"at most {MAX_LABELS} {kind}s at once, got {len(values)}", field)
    for value in values:
        if not _LABEL.fullmatch(value):
            raise invalid_name(
                f"{kind} {_shown(value)} may only hold letters, digits, '-', '_' and '.', "
                "1 to 128 characters",
                field,
            )
    return list(dict.fromkeys(folded(v) for v in values))


def alias(given: str, field: str = "aliases") -> str:
    value = folded(given)
    if value == LATEST or _RESERVED_VERSION.fullmatch(value):
        raise DomainError(
            ErrorCode.RESERVED_ALIAS,
            f"alias '{given}' is reserved: `latest` is kept by the server and v<N> names "
            "versions (in any case)",
            (field,),
        )
    if not _LABEL.fullmatch(value):
        raise invalid_name(
            f"alias {_shown(value)} may only hold letters, digits, '-', '_' and '.', "
            "1 to 128 characters",
            field,
        )
    return value


def aliases(values: Sequence[str], field: str = "aliases") -> list[str]:
    if len(values) > MAX_LABELS:
        raise invalid(f"at most {MAX_LABELS} aliases at once, got {len(values)}", field)
    return list(dict.fromkeys(alias(v, field) for v in values))


def description(value: str | None, field: str = "description") -> str | None:
    if value is not None and (len(value) > MAX_DESCRIPTION or "\x00" in value):
        raise invalid(
            f"the description is longer than {MAX_DESCRIPTION} characters or holds a NUL", field
        )
    return value


def json_object(value: Any, field: str) -> dict[str, Any]:
    """A JSON object (not an array, string or number) of bounded size and nesting."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"`{field}` must be a JSON object, got {type(value).__name__}", field)
    json_depth(value, field)
    try:
        text = json_values.dumps(value)
    except (TypeError, ValueError) as error:
        raise invalid(f"`{field}` is not valid JSON: {error}", field) from None
    if len(text) > MAX_JSON_BYTES:
        raise invalid(f"`{field}` is {len(text)} bytes of JSON; at most {MAX_JSON_BYTES}", field)
    if b"\\u0000" in text:
        raise invalid(f"`{field}` holds a NUL character, which cannot be stored", field)
    return value


def json_depth(value: Any, field: str) -> None:
    """Refuses JSON nested deeper than MAX_JSON_DEPTH: stored, it would have to be written back
    in every answer that shows it."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise invalid(f"`{field}` is nested more than {MAX_JSON_DEPTH} levels deep", field)
        stack.extend((child, depth + 1) for child in children)


def manifest(files: Sequence[tuple[str, str, int]], field: str = "files") -> None:
    """A manifest's rules: relative paths without `.` or `..` parts, each once; digests that
    are SHA-256s in lower-case hex; sizes from 0 to 2^63-1."""
    if not files:
        raise invalid("an artifact version needs at least one file", field)
    if len(files) > MAX_FILES:
        raise invalid(f"at most {MAX_FILES} files per version, got {len(files)}", field)
    seen: set[str] = set()
    for position, (path, digest, size) in enumerate(files):
        where = f"{field}[{position}]"
        problem = path_problem(path)
        if problem is not None:
            raise invalid(f"{where}: the path {_shown(path)} {problem}", field)
        if path in seen:
            raise invalid(f"{where}: the path {_shown(path)} appears twice", field)
        seen.add(path)
        if _SHA256.fullmatch(digest) is None:
            raise invalid(
                f"{where}: the digest of {_shown(path)} must be the SHA-256 of its bytes in "
                f"lower-case hex (64 characters), not {_shown(digest)}",
                field,
            )
        if not 0 <= size < 2**63:
            raise invalid(f"{where}: the size must be between 0 and 2^63-1 bytes", field)


def path_problem(path: str) -> str | None:
    """What is wrong with a file's path inside an artifact, or None: it must stay inside the
    artifact wherever it is unpacked."""
    if not 1 <= len(path) <= 1024:
        return "must be 1 to 1024 characters"
    if "\x00" in path or "\\" in path:
        return "must not hold NUL characters or backslashes"
    if path.startswith("/"):
        return "must be relative, not start with /"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "must not have empty, `.` or `..` parts"
    return None
