"""Strawberry's parse and validate steps, counted: they run only when the document caches
have nothing for a request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema


class Counting:
    """Counts the calls of the function it wraps."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


def count_parsing(monkeypatch: pytest.MonkeyPatch) -> tuple[Counting, Counting]:
    parse, validate = (
        Counting(strawberry_schema.parse),
        Counting(strawberry_schema.validate_document),
    )
    monkeypatch.setattr(strawberry_schema, "parse", parse)
    monkeypatch.setattr(strawberry_schema, "validate_document", validate)
    return parse, validate
