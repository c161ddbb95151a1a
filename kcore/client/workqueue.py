"""A work queue of keys for controllers, shaped like client-go's util/workqueue.

Guarantees: a key is never handed to two workers at once; adding a key that is already waiting
is a no-op; adding a key while a worker holds it marks it dirty, and `done()` re-queues it once.
On top: `add_after` (delayed adds through the injected clock's timers, so a fake clock fires
them deterministically) and `add_rate_limited` (delay chosen by a `RateLimiter`, by default
client-go's controller limiter). `get()` returns None once the queue is shut down.
`run_worker` is the standard loop a controller runs N copies of.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kcore.client.clock import Clock, RealClock, Timer
from kcore.client.ratelimit import RateLimiter, default_controller_rate_limiter

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    """The basic queue: dedup, processing set, shutdown."""

    def __init__(self) -> None:
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._shutting_down = False
        self._drain = False
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._changed.set()

    async def get(self) -> K | None:
        """The next key, held until `done(key)`; None once shut down (and drained)."""
        while not self._queue:
            if self._shutting_down:
                return None
            self._changed.clear()
            await self._changed.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
        self._changed.set()

    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Stop handing out keys: waiting and future `get()`s return None."""
        self._shutting_down = True
        self._queue.clear()
        self._dirty.clear()
        self._changed.set()

    async def shutdown_with_drain(self) -> None:
        """Refuse new keys, let workers finish what is queued and held, then shut down."""
        self._shutting_down = True
        self._changed.set()
        while self._queue or self._processing:
            self._changed.clear()
            await self._changed.wait()
        self.shutdown()


class DelayingQueue(WorkQueue[K]):
    """Adds `add_after(key, seconds)`: the key enters the queue once the delay has passed."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock: Clock = clock or RealClock()
        self._waiting: list[tuple[float, int, K]] = []
        self._ready_at: dict[K, float] = {}
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._timer_at = float("inf")

    def add_after(self, key: K, seconds: float) -> None:
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        ready = self.clock.now() + seconds
        if self._ready_at.get(key, float("inf")) <= ready:
            return  # an earlier wake-up for this key is already scheduled
        self._ready_at[key] = ready
        heapq.heappush(self._waiting, (ready, next(self._seq), key))
        self._arm()

    def waiting(self) -> int:
        """Keys waiting for their delay to pass."""
        return len(self._ready_at)

    def _arm(self) -> None:
        if not self._waiting:
            return
        first = self._waiting[0][0]
        if first >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = first
        self._timer = self.clock.call_at(first, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = self.clock.now()
        while self._waiting and self._waiting[0][0] <= now:
            ready, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) == ready:
                del self._ready_at[key]
                self.add(key)
        self._arm()

    def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, float("inf")
        self._waiting.clear()
        self._ready_at.clear()
        super().shutdown()


class RateLimitingQueue(DelayingQueue[K]):
    """Adds `add_rate_limited`, `forget` and `num_requeues` over a `RateLimiter`."""

    def __init__(
        self, *, rate_limiter: RateLimiter | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(clock=clock)
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)


async def run_worker(
    queue: RateLimitingQueue[K],
    sync: Callable[[K], Awaitable[None]],
    *,
    max_retries: int | None = None,
) -> None:
    """One controller worker: take a key, sync it, and settle it, until the queue shuts down.

    Success forgets the key's failure history; an exception re-queues it with the rate
    limiter's backoff (dropped after `max_retries` requeues, if given). The key is always
    marked done, so an add that arrived meanwhile is processed next.
    """
    while (key := await queue.get()) is not None:
        try:
            await sync(key)
        except Exception:
            retries = queue.num_requeues(key)
            if max_retries is not None and retries >= max_retries:
                log.error("dropping %r after %d retries", key, retries, exc_info=True)
                queue.forget(key)
            else:
                log.info("sync %r failed; requeueing", key, exc_info=True)
                queue.add_rate_limited(key)
        else:
            queue.forget(key)
        finally:
            queue.done(key)
