"""WatchCache: one resource's objects and recent events in memory, above any Store.

On start it lists the store's `prefix`, then watches it from the list's revision, keeping the
current objects (key → CachedObject) and a ring of recent CachedEvents. Lists and watches of
the API server are served from here:

- `list(prefix, revision=0)` is a consistent read: it waits (bounded) until the cache has seen
  the store's current revision, then answers from memory. With a revision, it answers from
  memory at the cache's revision if that is not older (Kubernetes' NotOlderThan); `exact=True`
  or an older revision reads the store at exactly that revision (continue tokens).
- `watch(prefix, revision=R)` replays the ring after R, then follows live events; R older than
  the ring raises CompactedError (the API server answers 410 Gone). Watchers filter by key
  prefix and an optional predicate on decoded objects (MODIFIED into / out of the filter turns
  into ADDED / DELETED, as in Kubernetes' cacher).

Each event is decoded at most once and encoded at most once per wire format; every watcher is
handed the same bytes (`CachedEvent.encoded(fmt)`). Knowing "I have seen every event up to R"
without an event under the prefix needs the store watch's `progress_revision()` (memory and
sqlite have it); without it, a consistent list falls back to reading the store.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import contextlib
from dataclasses import dataclass

from kcore.storage._cached import (
    CachedEvent,
    CachedObject,
    CacheEventType,
    Decode,
    Encoders,
    bookmark,
)
from kcore.storage._cachewatch import CacheWatcher, EventRing, Predicate
from kcore.storage._keys import prefix_end
from kcore.storage.interface import (
    CompactedError,
    Event,
    KeyValue,
    ProgressWatch,
    StorageError,
    Store,
    StoreClosedError,
    Watch,
    WatchTerminatedError,
)

__all__ = [
    "CacheEventType",
    "CacheList",
    "CacheWatcher",
    "CachedEvent",
    "CachedObject",
    "WatchCache",
    "WatchTerminatedError",
]


@dataclass(frozen=True, slots=True)
class CacheList:
    """A page of a list: `last_key` is the last key examined (the continue position, which
    with a predicate can be past the last item returned)."""

    items: list[CachedObject]
    revision: int
    more: bool
    remaining: int | None
    last_key: str


class WatchCache:
    """Serve list/watch of one key prefix from memory; see the module docstring."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        *,
        decode: Decode,
        encoders: Encoders,
        capacity: int = 10_000,
        bookmark_interval: float = 5.0,
        fresh_timeout: float = 3.0,
        page_size: int = 1000,
    ) -> None:
        self.prefix = prefix
        self.ring = EventRing(capacity, 0)
        self._store = store
        self._decode = decode
        self._encoders = encoders
        self._bookmark_interval = bookmark_interval
        self._fresh_timeout = fresh_timeout
        self._page_size = page_size
        self._objects: dict[str, CachedObject] = {}
        self._sorted: builtins.list[str] | None = None
        self._revision = 0
        self._watchers: set[CacheWatcher] = set()
        self._parked: dict[str, builtins.list[CacheWatcher]] = {}
        self._bookmarkers: set[CacheWatcher] = set()
        self._revision_waiters: builtins.list[tuple[int, asyncio.Future[None]]] = []
        self._store_watch: Watch | None = None
        self._store_parked = False
        self._progress_capable = False
        self._tasks: builtins.list[asyncio.Task[None]] = []
        self._running = False

    @property
    def current_revision(self) -> int:
        """Every event under the prefix up to this revision is in the cache."""
        return self._revision

    @property
    def running(self) -> bool:
        return self._running

    def __len__(self) -> int:
        return len(self._objects)

    # lifecycle

    async def start(self) -> None:
        """List the store, then follow it in the background."""
        await self._relist()
        self._running = True
        follow = self._follow(self._watch_store())
        self._tasks.append(asyncio.create_task(follow, name=f"watchcache {self.prefix}"))
        if self._bookmark_interval > 0:
            self._tasks.append(asyncio.create_task(self._tick_bookmarks()))

    async def stop(self) -> None:
        """Stop following the store; every watcher ends (cleanly)."""
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._end_watchers(None)
        self._wake_revision_waiters(force=True)

    async def __aenter__(self) -> WatchCache:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # following the store

    async def _relist(self) -> None:
        while True:
            try:
                objects, revision = await self._list_all()
                break
            except CompactedError:
                continue
        self._objects = objects
        self._sorted = None
        self._revision = revision
        self.ring.reset(revision)

    async def _list_all(self) -> tuple[dict[str, CachedObject], int]:
        objects: dict[str, CachedObject] = {}
        page = await self._store.list(self.prefix, limit=self._page_size)
        while True:
            for kv in page.items:
                objects[kv.key] = CachedObject(kv, self._decode)
            if not page.more:
                return objects, page.revision
            page = await self._store.list(
                self.prefix,
                revision=page.revision,
                limit=self._page_size,
                start_after=page.items[-1].key,
            )

    def _watch_store(self) -> Watch:
        watch = self._store_watch = self._store.watch(self.prefix, revision=self._revision)
        self._progress_capable = isinstance(watch, ProgressWatch)
        return watch

    async def _follow(self, watch: Watch) -> None:
        delay = 0.05
        try:
            while self._running:
                try:
                    await self._consume(watch)
                    return  # the store closed its watches
                except StoreClosedError:
                    return
                except StorageError:
                    await watch.close()
                    self._store_watch = None
                    if not await self._recover(delay):
                        return
                    delay = min(delay * 2, 2.0)
                    watch = self._watch_store()
        finally:
            self._store_watch = None
            await watch.close()
            if self._running:
                self._running = False
                self._end_watchers(None)

    async def _recover(self, delay: float) -> bool:
        """The store watch broke (compaction passed us, or the store failed): end every
        watcher, since their positions mean nothing after a relist, and relist. False if the
        store is gone."""
        self._end_watchers(WatchTerminatedError("the watch cache had to relist; watch again"))
        while True:
            try:
                await self._relist()
                return True
            except StoreClosedError:
                return False
            except StorageError:
                await asyncio.sleep(delay)

    async def _consume(self, watch: Watch) -> None:
        iterator = watch.__aiter__()
        progress = watch.progress_revision if isinstance(watch, ProgressWatch) else None
        while True:
            if progress is not None:
                self._note_progress(progress())
            self._store_parked = True
            try:
                event = await iterator.__anext__()
            except StopAsyncIteration:
                return
            finally:
                self._store_parked = False
            self._apply(event)

    def _apply(self, event: Event) -> None:
        kv = event.kv
        key = kv.key
        objects = self._objects
        prev = objects.get(key) if event.type != "ADDED" else None
        if prev is None and event.prev is not None:
            prev = CachedObject(event.prev, self._decode)
        current = CachedObject(kv, self._decode)
        if event.type == "DELETED":
            if objects.pop(key, None) is not None:
                self._forget_key(key)
        else:
            if key not in objects:
                self._add_key(key)
            objects[key] = current
        cached = CachedEvent(event.type, kv.mod_revision, current, prev, self._encoders)
        if self.ring.append(cached):
            self._drop_slow_watchers()
        self._revision = kv.mod_revision
        self._wake_parked(key)
        if self._revision_waiters:
            self._wake_revision_waiters()

    def _note_progress(self, revision: int | None) -> None:
        if revision is not None and revision > self._revision:
            self._revision = revision
            if self._revision_waiters:
                self._wake_revision_waiters()

    # watcher bookkeeping (the WatcherHost protocol)

    def park(self, watcher: CacheWatcher) -> None:
        self._parked.setdefault(watcher.prefix, []).append(watcher)

    def remove(self, watcher: CacheWatcher) -> None:
        self._watchers.discard(watcher)
        self._bookmarkers.discard(watcher)
        parked = self._parked.get(watcher.prefix)
        if parked and watcher in parked:
            parked.remove(watcher)
            if not parked:
                del self._parked[watcher.prefix]

    def _wake_parked(self, key: str) -> None:
        parked = self._parked
        if not parked:
            return
        for prefix in [prefix for prefix in parked if key.startswith(prefix)]:
            for watcher in parked.pop(prefix):
                watcher.wake()

    def _drop_slow_watchers(self) -> None:
        """After the ring trimmed: a watcher that still had unread events there is too slow;
        one that is parked had nothing to read there (no wake-up) and just moves on."""
        base = self.ring.base
        for watcher in list(self._watchers):
            if watcher.cursor < base and not watcher.skip_to(base):
                watcher.terminate(WatchTerminatedError("watcher too slow; watch again"))

    def _end_watchers(self, error: StorageError | None) -> None:
        for watcher in list(self._watchers):
            watcher.terminate(error)
        self._parked.clear()

    async def _tick_bookmarks(self) -> None:
        while True:
            await asyncio.sleep(self._bookmark_interval)
            if self._bookmarkers:
                self.send_bookmarks()

    def send_bookmarks(self) -> None:
        """Offer every bookmark-enabled watcher one shared BOOKMARK at the current revision
        (a watcher delivers it once it has read everything before it)."""
        event = bookmark(self._revision, self._encoders)
        for watcher in list(self._bookmarkers):
            watcher.offer_bookmark(event)

    # watch

    def watch(
        self,
        prefix: str = "",
        *,
        revision: int = 0,
        predicate: Predicate | None = None,
        send_initial: bool = False,
        bookmarks: bool = False,
    ) -> CacheWatcher:
        """Events under `prefix` (default: the cache's) newer than `revision` (0: from now).
        `send_initial` (only with revision 0) starts with an ADDED event per current object.
        Raises CompactedError for a revision older than the ring holds."""
        prefix = self._scoped(prefix)
        if not self._running:
            raise StoreClosedError("watch cache is not running")
        if revision:
            cursor, after = self.ring.seq_after(revision), revision
        else:
            cursor, after = self.ring.head, self._revision
        initial: builtins.list[CachedEvent] = []
        if send_initial and not revision:
            initial = [o.added_event(self._encoders) for o in self._select(prefix, predicate)]
        watcher = CacheWatcher(
            self, prefix=prefix, after=after, cursor=cursor, predicate=predicate, initial=initial
        )
        self._watchers.add(watcher)
        if bookmarks:
            self._bookmarkers.add(watcher)
        return watcher

    def _scoped(self, prefix: str) -> str:
        if not prefix:
            return self.prefix
        if not prefix.startswith(self.prefix):
            raise ValueError(f"{prefix!r} is outside the watch cache's prefix {self.prefix!r}")
        return prefix

    def _select(self, prefix: str, predicate: Predicate | None) -> builtins.list[CachedObject]:
        keys = self._sorted_keys()
        start, end = _key_range(keys, prefix, "")
        objects = [self._objects[key] for key in keys[start:end]]
        if predicate is None:
            return objects
        return [obj for obj in objects if predicate(obj.object)]

    # reads

    async def list(
        self,
        prefix: str = "",
        *,
        revision: int = 0,
        limit: int = 0,
        start_after: str = "",
        predicate: Predicate | None = None,
        exact: bool = False,
    ) -> CacheList:
        """Objects under `prefix` in key order; see the module docstring for `revision`."""
        prefix = self._scoped(prefix)
        target = revision or await self._store.current_revision()
        fresh = await self._catch_up(target, wait=self._has_progress())
        if not fresh or (exact and revision and revision != self._revision):
            return await self._list_store(prefix, revision, limit, start_after, predicate)
        return self._list_cached(prefix, limit, start_after, predicate)

    async def get(self, key: str) -> CachedObject | None:
        """The current object at `key` (a consistent read, like list with revision 0)."""
        self._scoped(key)
        target = await self._store.current_revision()
        if await self._catch_up(target, wait=self._has_progress()):
            return self._objects.get(key)
        kv = await self._store.get(key)
        return CachedObject(kv, self._decode) if kv is not None else None

    def _has_progress(self) -> bool:
        return self._progress_capable

    async def _catch_up(self, target: int, *, wait: bool) -> bool:
        """True once the cache has every event up to `target` (bounded wait)."""
        if self._store_parked and isinstance(self._store_watch, ProgressWatch):
            self._note_progress(self._store_watch.progress_revision())
        if self._revision >= target:
            return True
        if not wait or not self._running:
            return False
        future = asyncio.get_running_loop().create_future()
        entry = (target, future)
        self._revision_waiters.append(entry)
        try:
            await asyncio.wait_for(future, self._fresh_timeout)
        except TimeoutError:
            pass
        finally:
            if entry in self._revision_waiters:
                self._revision_waiters.remove(entry)
        return self._revision >= target

    def _wake_revision_waiters(self, *, force: bool = False) -> None:
        revision, waiting = self._revision, []
        for target, future in self._revision_waiters:
            if force or target <= revision:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._revision_waiters = waiting

    def _sorted_keys(self) -> builtins.list[str]:
        keys = self._sorted
        if keys is None:
            keys = self._sorted = sorted(self._objects)
        return keys

    def _add_key(self, key: str) -> None:
        if self._sorted is not None:
            bisect.insort(self._sorted, key)

    def _forget_key(self, key: str) -> None:
        keys = self._sorted
        if keys is not None:
            index = bisect.bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                del keys[index]

    def _list_cached(
        self, prefix: str, limit: int, start_after: str, predicate: Predicate | None
    ) -> CacheList:
        keys, objects = self._sorted_keys(), self._objects
        start, end = _key_range(keys, prefix, start_after)
        index = start
        items: builtins.list[CachedObject] = []
        while index < end and not (limit and len(items) == limit):
            obj = objects[keys[index]]
            index += 1
            if predicate is None or predicate(obj.object):
                items.append(obj)
        more = index < end
        remaining = None if more and predicate is not None else end - index
        last_key = keys[index - 1] if index > start else start_after
        return CacheList(items, self._revision, more, remaining, last_key)

    async def _list_store(
        self,
        prefix: str,
        revision: int,
        limit: int,
        start_after: str,
        predicate: Predicate | None,
    ) -> CacheList:
        found: builtins.list[CachedObject] = []
        page_limit = limit if limit and predicate is None else self._page_size
        cursor = start_after
        while True:
            page = await self._store.list(
                prefix, revision=revision, limit=page_limit, start_after=cursor
            )
            revision = page.revision
            for index, kv in enumerate(page.items):
                cursor = kv.key
                if self._keep(kv, predicate, found) and limit and len(found) == limit:
                    more = page.more or index + 1 < len(page.items)
                    exhausted_page = index + 1 == len(page.items)
                    remaining = page.remaining if predicate is None and exhausted_page else None
                    return CacheList(found, revision, more, remaining if more else 0, cursor)
            if not page.more:
                return CacheList(found, revision, False, 0, cursor)

    def _keep(
        self, kv: KeyValue, predicate: Predicate | None, found: builtins.list[CachedObject]
    ) -> bool:
        obj = CachedObject(kv, self._decode)
        if predicate is not None and not predicate(obj.object):
            return False
        found.append(obj)
        return True

    def objects(self) -> dict[str, CachedObject]:
        """A snapshot of the current objects (key → CachedObject), for callers that need all."""
        return dict(self._objects)


def _key_range(keys: list[str], prefix: str, start_after: str) -> tuple[int, int]:
    start = bisect.bisect_left(keys, prefix)
    if start_after:
        start = max(start, bisect.bisect_right(keys, start_after))
    end = bisect.bisect_left(keys, prefix_end(prefix)) if prefix_end(prefix) else len(keys)
    return start, max(start, end)
