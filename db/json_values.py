"""JSON for values users store (metadata, config, summary) and the answers that carry them:
numbers exactly as given, whatever their size, and nesting within bounds.

orjson is fast but turns integers beyond 64 bits into floats when reading and refuses them when
writing, and refuses to write nesting deeper than 254 levels. Reading falls back to the standard
library when the text holds a number that long; writing falls back when orjson refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A run of 20 digits may be an integer beyond 64 bits (2**64 has 20 digits).
_LONG_NUMBER = re.compile(r"\d{20}")
_LONG_NUMBER_BYTES = re.compile(rb"\d{20}")


def loads(text: str | bytes) -> Any:
    """JSON text as Python values, integers of any size kept exact; ValueError when it is not
    JSON (or is nested past what can be read)."""
    pattern = _LONG_NUMBER if isinstance(text, str) else _LONG_NUMBER_BYTES
    if pattern.search(text) is None:  # type: ignore[arg-type]
        return orjson.loads(text)
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def dumps(value: Any) -> bytes:
    """Python values as JSON text; raises ValueError when they cannot be written at all (nesting
    past the interpreter's recursion limit)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        except RecursionError:
            raise ValueError("a value is nested too deeply to be written as JSON") from None
