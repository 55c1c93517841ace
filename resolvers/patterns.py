"""Automation filters: regular expressions matched in linear time. A filter runs on every event
of its registry, inside the change's transaction, so no pattern a user writes may take more than
time proportional to the text it is matched against (backtracking engines take exponential time
on patterns like `(a+)+b`). RE2 guarantees that, and refuses what it cannot do so (backreferences,
lookaround)."""

from __future__ import annotations

import functools
from typing import Any

import re2

from resolvers.errors import DomainError, ErrorCode

MAX_PATTERN = 512
# The compiled program's memory: plenty for any reasonable alias or tag filter.
MAX_PROGRAM_BYTES = 1 << 20


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, options=_OPTIONS)


def check(pattern: str, field: str = "filterRegex") -> None:
    """Refuses a pattern that is too long, holds a NUL, or is not one RE2 can run."""
    if len(pattern) > MAX_PATTERN:
        raise _invalid(f"the filter is longer than {MAX_PATTERN} characters", field)
    if "\x00" in pattern:
        raise _invalid("the filter holds a NUL character", field)
    try:
        _compiled(pattern)
    except re2.error as error:
        (reason,) = error.args or ("",)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise _invalid(
            f"the filter is not a valid regex: {reason} (filters use RE2 syntax, which runs in "
            "linear time: no backreferences or lookaround)",
            field,
        ) from None


def matches(pattern: str, text: str) -> bool:
    """Whether `pattern` matches all of `text`."""
    return _compiled(pattern).fullmatch(text) is not None


def _invalid(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_ARGUMENT, message, (field,))
