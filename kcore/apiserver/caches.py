"""One watch cache per served resource, started with the server: lists and watches are served
from memory, and each watch event is encoded once per wire format (a JSON line, or a
length-prefixed msgpack frame) and the same bytes are written to every watcher.

Objects in the cache are shared by every reader: handlers must never mutate them.

A resource served in several versions has one cache, of its stored form (resources.
storage_info); the other versions' watchers get the events converted to their version, also
encoded once per event for all of them, under their own format key (`wire_format`), and their
lists convert the cached objects (`view`). The cache of a data dir from an older layout starts
after `resource_store.migrate_layout` has moved its objects into the one prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import get_args

from kcore.api import registry
from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources, wire
from kcore.apiserver.objects import Conversion, Obj, conversion_of, decode_stored
from kcore.apiserver.resource_store import migrate_layout
from kcore.storage.interface import KeyValue, Store
from kcore.storage.watchcache import CachedEvent, WatchCache


def decode(kv: KeyValue) -> Obj:
    return decode_stored(kv.value, kv.mod_revision)


def view(info: ResourceInfo, obj: Obj) -> Obj:
    """A cached (stored-form) object as `info`'s version serves it."""
    conversion = conversion_of(info)
    return obj if conversion is None else conversion.out(obj)


def wire_format(info: ResourceInfo, fmt: str) -> str:
    """The key of `info`'s encodings of cached events in wire format `fmt`."""
    return fmt if conversion_of(info) is None else f"{fmt}@{info.api_version}"


def _event_doc(
    info: ResourceInfo, conversion: Conversion | None, event: CachedEvent
) -> dict[str, object]:
    if event.type == "BOOKMARK":
        obj: object = {"kind": info.kind, "apiVersion": info.api_version,
                       "metadata": {"resourceVersion": str(event.revision)}}  # fmt: skip
    else:
        obj = event.object if conversion is None else conversion.out(event.object)
    return {"type": event.type, "object": obj}


def encoders(info: ResourceInfo) -> dict[str, Callable[[CachedEvent], bytes]]:
    """Event encoders of every served version of `info`'s resource, by `wire_format` key."""
    out: dict[str, Callable[[CachedEvent], bytes]] = {}
    for version in resources.served_versions(info):
        for fmt in get_args(wire.Format):
            out[wire_format(version, fmt)] = _encoder(version, fmt)
    return out


def _encoder(info: ResourceInfo, fmt: wire.Format) -> Callable[[CachedEvent], bytes]:
    conversion = conversion_of(info)
    return lambda ev: wire.frame(_event_doc(info, conversion, ev), fmt)


class Caches:
    """The watch caches of every registered resource, keyed by storage prefix."""

    def __init__(self, store: Store, *, capacity: int, bookmark_interval: float) -> None:
        self._store = store
        self._by_prefix: dict[str, WatchCache] = {}
        for info in registry.all_resources():
            if resources.storage_info(info) is not info:
                continue
            prefix = resources.prefix(info)
            self._by_prefix[prefix] = WatchCache(
                store, prefix, decode=decode, encoders=encoders(info), capacity=capacity,
                bookmark_interval=bookmark_interval,
            )  # fmt: skip

    async def start(self) -> None:
        await migrate_layout(self._store)
        await asyncio.gather(*(c.start() for c in self._by_prefix.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._by_prefix.values()))

    def get(self, info: ResourceInfo) -> WatchCache:
        return self._by_prefix[resources.prefix(info)]
