"""Limits on query cost, in this process: how fast each API key may spend it, and how much of it
may run at once.

Per-key rate limiting: a request takes its requested cost from its key's bucket before it runs
and gets back what it did not use; the bucket refills at a steady rate up to its capacity. A
bucket that has refilled is forgotten, so memory follows the keys active in the last few
seconds, not all keys ever seen.

The execution budget: the operations running at once hold their requested cost, together at
most the budget's capacity. A process runs one Python instruction at a time, so ten large reads
at once finish no sooner than one after another, but hold ten answers in memory while they run;
past the budget an operation waits its turn, first come, first served.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

# Forgetting full buckets walks them all: do it once per this many charges.
_PRUNE_EVERY = 1_000


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of taking points: whether they were taken, and the bucket afterwards."""

    allowed: bool
    available: float
    # Seconds until the bucket holds what was asked; 0 when it was taken.
    retry_after: float


class Throttle:
    def __init__(
        self,
        capacity: float,
        restore_rate: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0 or restore_rate <= 0:
            raise ValueError("a throttle needs a positive capacity and restore rate")
        self.capacity = capacity
        self.restore_rate = restore_rate
        self._clock = clock
        # key -> (points in the bucket, when they were counted)
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._charges = 0

    def _level(self, key: Hashable, now: float) -> float:
        level, counted = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, level + (now - counted) * self.restore_rate)

    def available(self, key: Hashable) -> float:
        return self._level(key, self._clock())

    def take(self, key: Hashable, points: float) -> Charge:
        """Takes `points` when the bucket holds them; otherwise takes nothing."""
        now = self._clock()
        level = self._level(key, now)
        self._charges += 1
        if self._charges % _PRUNE_EVERY == 0:
            self._forget_full(now)
        if points > level:
            wait = (points - level) / self.restore_rate
            return Charge(False, level, wait)
        self._buckets[key] = (level - points, now)
        return Charge(True, level - points, 0.0)

    def refund(self, key: Hashable, points: float) -> float:
        """Gives back points a request took but did not use; the bucket's level afterwards."""
        now = self._clock()
        level = min(self.capacity, self._level(key, now) + max(0.0, points))
        self._buckets[key] = (level, now)
        return level

    def _forget_full(self, now: float) -> None:
        full = [key for key in self._buckets if self._level(key, now) >= self.capacity]
        for key in full:
            del self._buckets[key]

    def tracked(self) -> int:
        """How many buckets are held (the rest are full)."""
        return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1: what `Retry-After` carries."""
    return str(max(1, math.ceil(seconds)))


class ExecutionBudget:
    """At most `capacity` cost points of operations running at once; the others wait their
    turn. An operation costing more than the capacity runs alone, and one costing a hundredth
    of it or less runs at once, uncounted (it holds little, and must not queue behind a large
    one)."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("an execution budget needs a positive capacity")
        self.capacity = capacity
        self.small = capacity // 100
        self.in_use = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def must_wait(self, points: int) -> bool:
        """Whether an operation of `points` would wait if it asked now."""
        if points <= self.small:
            return False
        return bool(self._waiting) or self.in_use + min(points, self.capacity) > self.capacity

    @asynccontextmanager
    async def running(self, points: int) -> AsyncIterator[None]:
        """Holds `points` (at most the capacity) while the block runs, once they fit."""
        if points <= self.small:
            yield
            return
        held = min(points, self.capacity)
        await self._take(held)
        try:
            yield
        finally:
            self._give(held)

    async def _take(self, points: int) -> None:
        if not self._waiting and self.in_use + points <= self.capacity:
            self.in_use += points
            return
        entry = (points, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            if entry[1].cancelled():
                self._waiting.remove(entry)
                self._wake()  # it may have held back smaller ones behind it
            else:
                self._give(points)  # its turn came as it was cancelled
            raise

    def _give(self, points: int) -> None:
        self.in_use -= points
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.in_use + self._waiting[0][0] <= self.capacity:
            points, turn = self._waiting.popleft()
            self.in_use += points
            turn.set_result(None)
