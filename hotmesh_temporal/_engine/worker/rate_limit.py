"""A token bucket for ``Worker(max_activities_per_second=...)``.

Tokens refill continuously at ``rate`` per second up to a burst of one second's worth
(at least one). A worker claims at most as many activity tasks as it has whole tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("max_activities_per_second must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def available(self) -> int:
        self._refill()
        return int(self._tokens)

    def take(self, n: int) -> None:
        self._refill()
        self._tokens -= n

    def seconds_until_next(self) -> float | None:
        """How long until a whole token is there (0 when one is)."""
        self._refill()
        missing = 1.0 - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
