"""Rate limiters for the work queue: how long an item must wait before it is retried.

Same shapes as client-go's util/workqueue rate limiters: per-item exponential backoff, an
overall token bucket, and the maximum of several. `when(item)` both answers and records a
failure; `forget(item)` clears an item's history once it succeeds. Time comes from an injected
`Clock` so tests see exact numbers.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from kcore.client.clock import Clock, RealClock


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialRateLimiter:
    """`base * 2**failures` seconds per item, capped at `cap`."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self._base = base
        self._cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 1023:  # 2**exp would overflow a float long before; the cap applies anyway
            return self._cap
        return min(self._base * 2.0**exp, self._cap)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketRateLimiter:
    """An overall limit of `qps` with bursts of `burst`, the same for every item.

    Each `when` reserves one token; the answer is how long until that token exists.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self._qps = qps
        self._burst = float(burst)
        self._clock = clock or RealClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: Hashable) -> float:
        now = self._clock.now()
        if self._last is not None:
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self._burst, self._tokens + elapsed * self._qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    def refund(self) -> None:
        """Give back the token the last `when` reserved (the caller chose not to wait)."""
        self._tokens = min(self._burst, self._tokens + 1.0)

    def forget(self, item: Hashable) -> None:
        return None

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest wait any of its limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self._limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: 5 ms..1000 s per item, 10 qps / 100 burst."""
    return MaxOfRateLimiter(
        ItemExponentialRateLimiter(0.005, 1000.0),
        TokenBucketRateLimiter(10.0, 100, clock),
    )
