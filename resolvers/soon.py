"""Values that may already be at hand. A field whose data the request has loaded (a list loads
it for all its rows at once) resolves at once, with no coroutine, task or event-loop turn per
row; one whose data is not loaded yet resolves when it is."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

T = TypeVar("T")
U = TypeVar("U")

Soon: TypeAlias = T | Awaitable[T]


def then(value: Soon[T], step: Callable[[T], Soon[U]]) -> Soon[U]:
    """`step` of `value`: at once when `value` is at hand, else once it is."""
    if inspect.isawaitable(value):
        return _later(value, step)
    return step(value)


async def _later(value: Awaitable[T], step: Callable[[T], Soon[U]]) -> U:
    return await settled(step(await value))


async def settled(value: Soon[T]) -> T:
    """The value, awaited if it is not at hand."""
    if inspect.isawaitable(value):
        return await value
    return value
