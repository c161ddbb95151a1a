"""Shared informers: one list+watch per resource, a local cache, and event handlers.

A `SharedInformer` runs a `Reflector` into its `Indexer` and, after each cache change, calls
every registered handler: `on_add(obj)`, `on_update(old, new)`, `on_delete(obj)` (the last
state the cache held, or the final state the server sent). Handlers run inline on the event
loop in registration order, so they should be quick (enqueue a key and return); a handler
may also be a coroutine function. A relist diffs against the cache: new keys are adds,
changed resourceVersions are updates, vanished keys are deletes. An optional resync period
re-delivers every cached object as `on_update(obj, obj)`.

`SharedInformerFactory` hands every caller the same informer per (kind, namespace,
selectors), so several controllers share one watch. Objects from the cache are shared:
never mutate them; copy first (`kcore.api.codec.deep_copy`). With `detect_mutations=True` (or
KCORE_CACHE_MUTATION_DETECTOR=1) the informer checks for in-place changes and fails loudly.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kcore.api.labels import Selector
from kcore.client.cache import (
    NAMESPACE_INDEX,
    CacheMutationError,
    Indexer,
    IndexFunc,
    MutationDetector,
    namespace_index,
)
from kcore.client.meta import key_of, labels_of, resource_version_of
from kcore.client.reflector import ClientListerWatcher, ListerWatcher, Reflector
from kcore.client.rest import Client, Kind, WatchEvent, resource_info

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, eq=False)
class EventHandler(Generic[T]):
    """Callbacks for cache changes; each may be a plain or a coroutine function."""

    on_add: Callable[[T], Any] | None = None
    on_update: Callable[[T, T], Any] | None = None
    on_delete: Callable[[T], Any] | None = None


class SharedInformer(Generic[T]):
    def __init__(
        self,
        source: ListerWatcher[T],
        *,
        name: str = "",
        indexers: Mapping[str, IndexFunc[T]] | None = None,
        resync_period: float = 0.0,
        detect_mutations: bool | None = None,
    ) -> None:
        self.name = name
        self.indexer: Indexer[T] = Indexer({NAMESPACE_INDEX: namespace_index, **(indexers or {})})
        self.reflector: Reflector[T] = Reflector(source, self, name=name)
        self.resync_period = resync_period
        self._handlers: list[EventHandler[T]] = []
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Future[None]] = set()
        if detect_mutations is None:
            detect_mutations = os.environ.get("KCORE_CACHE_MUTATION_DETECTOR") == "1"
        self.mutations: MutationDetector | None = MutationDetector() if detect_mutations else None

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: str) -> T | None:
        """The cached object for "namespace/name" (or "name"); do not mutate it."""
        return self.indexer.get(key)

    def list(self, namespace: str | None = None, selector: Selector | None = None) -> list[T]:
        """Cached objects, optionally of one namespace and matching a label selector."""
        if namespace is None:
            objs = self.indexer.list()
        else:
            objs = self.indexer.by_index(NAMESPACE_INDEX, namespace)
        if selector is None or selector.empty:
            return objs
        return [obj for obj in objs if selector.matches(labels_of(obj))]

    def has_synced(self) -> bool:
        """True once the first list has been delivered to the cache and the handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        """Return once synced; bound the wait with `asyncio.timeout` if needed."""
        await self._synced.wait()

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_resource_version

    # -- handlers ----------------------------------------------------------------------------

    def add_indexers(self, indexers: Mapping[str, IndexFunc[T]]) -> None:
        self.indexer.add_indexers(indexers)

    def add_event_handler(
        self,
        handler: EventHandler[T] | None = None,
        *,
        on_add: Callable[[T], Any] | None = None,
        on_update: Callable[[T, T], Any] | None = None,
        on_delete: Callable[[T], Any] | None = None,
    ) -> EventHandler[T]:
        """Register callbacks; objects already cached are delivered to it as adds at once."""
        handler = handler or EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.indexer.list():
                self._call_now(handler.on_add, obj)
        return handler

    def _call_now(self, func: Callable[..., Any], *args: Any) -> None:
        """Call a handler from sync code; a coroutine result runs as a tracked task."""
        try:
            result = func(*args)
        except Exception:
            log.exception("informer handler %r failed", func)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_call(lambda: result))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def remove_event_handler(self, handler: EventHandler[T]) -> None:
        self._handlers.remove(handler)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start listing and watching in the background (idempotent)."""
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self.reflector.run(), name=f"reflector {self.name}"))
        if self.resync_period > 0:
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"resync {self.name}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, CacheMutationError):
                raise result  # a caller changed a cached object: make the test fail loudly

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if self.has_synced():
                await self.resync()

    async def resync(self) -> None:
        """Deliver every cached object to the handlers as an update to itself."""
        for obj in self.indexer.list():
            await self._notify_update(obj, obj)

    # -- the reflector's sink ----------------------------------------------------------------

    async def replace(self, items: builtins.list[T], resource_version: str) -> None:
        fresh = {key_of(obj): obj for obj in items}
        previous = dict(self.indexer.items())
        if self.mutations is not None:
            self.mutations.verify_all()
            self.mutations = MutationDetector()
            for key, obj in fresh.items():
                self.mutations.record(key, obj)
        self.indexer.replace(fresh)
        for key, gone in previous.items():
            if key not in fresh:
                await self._notify_delete(gone)
        for key, obj in fresh.items():
            old = previous.get(key)
            if old is None:
                await self._notify_add(obj)
            elif resource_version_of(old) != resource_version_of(obj):
                await self._notify_update(old, obj)
        self._synced.set()

    async def apply(self, event: WatchEvent[T]) -> None:
        key = key_of(event.object)
        if self.mutations is not None:
            self._track(key, event)
        if event.type == "DELETED":
            self.indexer.delete(key)
            await self._notify_delete(event.object)
            return
        old = self.indexer.upsert(key, event.object)
        if old is None:
            await self._notify_add(event.object)
        else:
            await self._notify_update(old, event.object)

    def _track(self, key: str, event: WatchEvent[T]) -> None:
        assert self.mutations is not None
        self.mutations.verify(key)
        if event.type == "DELETED":
            self.mutations.forget(key)
        else:
            self.mutations.record(key, event.object)

    async def _notify_add(self, obj: T) -> None:
        for h in list(self._handlers):
            if h.on_add is not None:
                await _call(h.on_add, obj)

    async def _notify_update(self, old: T, new: T) -> None:
        for h in list(self._handlers):
            if h.on_update is not None:
                await _call(h.on_update, old, new)

    async def _notify_delete(self, obj: T) -> None:
        for h in list(self._handlers):
            if h.on_delete is not None:
                await _call(h.on_delete, obj)


async def _call(func: Callable[..., Any], *args: Any) -> None:
    """Run a handler; its failure is logged, never allowed to stop the informer."""
    try:
        result = func(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("informer handler %r failed", func)


class SharedInformerFactory:
    """One informer per (kind, namespace, selectors), shared by everyone who asks."""

    def __init__(
        self, client: Client, *, resync_period: float = 0.0, namespace: str | None = None
    ) -> None:
        self.client = client
        self.resync_period = resync_period
        self.namespace = namespace
        self._informers: dict[tuple[Any, ...], SharedInformer[Any]] = {}

    def informer(
        self,
        kind: type[T],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc[T]] | None = None,
    ) -> SharedInformer[T]:
        return self.informer_for(
            kind,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            indexers=indexers,
        )

    def informer_for(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc[Any]] | None = None,
    ) -> SharedInformer[Any]:
        """Like `informer`, also accepting a ResourceInfo (e.g. one whose type is dict)."""
        info = resource_info(kind)
        ns = namespace if namespace is not None else self.namespace
        key = (info.group, info.version, info.plural, info.type, ns, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            source: ClientListerWatcher[Any] = ClientListerWatcher(
                self.client,
                info,
                namespace=ns,
                label_selector=label_selector,
                field_selector=field_selector,
            )
            informer = SharedInformer(
                source, name=info.group_resource, resync_period=self.resync_period
            )
            self._informers[key] = informer
        if indexers:
            informer.add_indexers(indexers)
        return informer

    def start(self) -> None:
        """Start every informer asked for so far (call again after asking for more)."""
        for informer in self._informers.values():
            informer.start()

    async def wait_for_sync(self) -> None:
        """Return once every started informer has synced (bound it with `asyncio.timeout`)."""
        await asyncio.gather(*(i.wait_for_sync() for i in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
