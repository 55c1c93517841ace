"""Per-key rate limiting: a bucket of cost points for each API key, in this process.

A request takes its requested cost from its key's bucket before it runs and gets back what it
did not use; the bucket refills at a steady rate up to its capacity. A bucket that has refilled
is forgotten, so memory follows the keys active in the last few seconds, not all keys ever seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
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
