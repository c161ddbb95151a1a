"""The watch cache's event ring and its watchers.

Fan-out is pull-based: the cache appends each event once to a shared ring; each watcher keeps
only a cursor into it and, when its consumer asks, scans forward applying its own key prefix
and predicate. The cache's hot path therefore does O(1) work per event plus one wake-up per
*parked* watcher whose prefix matches, however many watchers there are, and a watcher's
backlog is bounded by the ring: a watcher whose cursor falls behind the ring's trimmed tail is
terminated with WatchTerminatedError instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from kcore.storage._cached import CachedEvent
from kcore.storage.interface import CompactedError, StorageError, WatchTerminatedError

Predicate = Callable[[Any], bool]

SCAN_CHUNK = 1024


def _revision_of(event: CachedEvent) -> int:
    return event.revision


class EventRing:
    """Recent events in revision order, addressed by absolute sequence numbers. Holds between
    `capacity` and 2 x `capacity` events (trimming in halves keeps appends amortised O(1));
    every event with revision > `start_revision` is still here."""

    def __init__(self, capacity: int, start_revision: int) -> None:
        self.capacity = capacity
        self.events: list[CachedEvent] = []
        self.base = 0
        self.start_revision = start_revision

    @property
    def head(self) -> int:
        return self.base + len(self.events)

    def append(self, event: CachedEvent) -> bool:
        """Add the newest event; True if the oldest ones were trimmed."""
        events = self.events
        events.append(event)
        if len(events) < 2 * self.capacity:
            return False
        cut = len(events) - self.capacity
        self.start_revision = events[cut - 1].revision
        del events[:cut]
        self.base += cut
        return True

    def seq_after(self, revision: int) -> int:
        """The sequence number of the first event newer than `revision`."""
        if revision < self.start_revision:
            raise CompactedError(revision, self.start_revision)
        return self.base + bisect.bisect_right(self.events, revision, key=_revision_of)

    def reset(self, revision: int) -> None:
        self.base = self.head
        self.events.clear()
        self.start_revision = revision


class WatcherHost(Protocol):
    ring: EventRing
    prefix: str

    def park(self, watcher: CacheWatcher) -> None: ...

    def remove(self, watcher: CacheWatcher) -> None: ...


def filtered(event: CachedEvent, predicate: Predicate) -> CachedEvent | None:
    """The event as a watcher with `predicate` sees it (Kubernetes' cacher rules): MODIFIED
    into the filter is ADDED, out of it is DELETED, and outside it is nothing."""
    matches = predicate(event.object)
    if event.type != "MODIFIED":
        return event if matches else None
    matched = event.prev_object is not None and predicate(event.prev_object)
    if matches:
        return event if matched else event.as_added()
    return event.as_deleted() if matched else None


class CacheWatcher:
    """An async iterator of CachedEvents for one key prefix (+ optional predicate)."""

    def __init__(
        self,
        host: WatcherHost,
        *,
        prefix: str,
        after: int,
        cursor: int,
        predicate: Predicate | None,
        initial: list[CachedEvent],
    ) -> None:
        self.prefix = prefix
        self._host = host
        self._after = after
        self._cursor = cursor
        self._predicate = predicate
        self._ready: deque[CachedEvent] = deque(initial)
        self._everything = prefix == host.prefix and predicate is None
        self._waiter: asyncio.Future[None] | None = None
        self._bookmark: CachedEvent | None = None
        self._error: StorageError | None = None
        self._closed = False

    @property
    def last_revision(self) -> int:
        """The revision of the last event yielded (or the start revision)."""
        return self._after

    def __aiter__(self) -> AsyncIterator[CachedEvent]:
        return self

    async def __anext__(self) -> CachedEvent:
        ready = self._ready
        while not ready:
            if not await self._refill():
                raise StopAsyncIteration
        event = ready.popleft()
        if event.revision > self._after:
            self._after = event.revision
        return event

    async def next_batch(self) -> list[CachedEvent]:
        """Every event available now (waiting for at least one); [] once the watch ended."""
        while not self._ready:
            if not await self._refill():
                return []
        batch = list(self._ready)
        self._ready.clear()
        self._after = max(self._after, batch[-1].revision)
        return batch

    async def _refill(self) -> bool:
        """Fill `_ready` from the ring, a bookmark, or by waiting; False once ended."""
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                self._closed = True
                raise error
            if self._closed:
                return False
            self._scan()
            if self._ready:
                return True
            if self._error is not None or self._cursor < self._host.ring.head:
                continue  # the error, or more of the ring to scan: never park behind the head
            if self._take_bookmark():
                return True
            await self._park()

    def _scan(self) -> None:
        ring = self._host.ring
        start = self._cursor - ring.base
        if start < 0:
            self.terminate(WatchTerminatedError("watcher fell too far behind the watch cache"))
            return
        chunk = ring.events[start : start + SCAN_CHUNK]
        self._cursor += len(chunk)
        prefix, predicate, after, ready = self.prefix, self._predicate, self._after, self._ready
        if self._everything and chunk and chunk[0].revision > after:
            ready.extend(chunk)  # revisions ascend: the whole chunk is new, all of it ours
            return
        for event in chunk:
            if event.revision <= after or not event.key.startswith(prefix):
                continue
            if predicate is None:
                ready.append(event)
            elif (seen := filtered(event, predicate)) is not None:
                ready.append(seen)

    def _take_bookmark(self) -> bool:
        bookmark, self._bookmark = self._bookmark, None
        if bookmark is None or bookmark.revision <= self._after:
            return False
        self._ready.append(bookmark)
        return True

    async def _park(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        self._host.park(self)
        try:
            await self._waiter
        finally:
            self._waiter = None

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def skip_to(self, seq: int) -> bool:
        """Move a parked (not yet woken) watcher's cursor to `seq`: it was not woken, so
        nothing before the head matched it. False if it is not parked."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return False
        self._cursor = max(self._cursor, seq)
        return True

    def offer_bookmark(self, bookmark: CachedEvent) -> None:
        self._bookmark = bookmark
        self.wake()

    @property
    def cursor(self) -> int:
        return self._cursor

    def terminate(self, error: StorageError | None) -> None:
        """End the watch: with `error` raised after what is already queued, or cleanly."""
        if self._closed:
            return
        if error is None:
            self._closed = True
        else:
            self._error = error
        self._host.remove(self)
        self.wake()

    def close(self) -> None:
        self._ready.clear()
        self.terminate(None)
