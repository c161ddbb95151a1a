"""One watch cache per served resource, started with the server: lists and watches are served
from memory, and each watch event is encoded once per wire format (a JSON line, or a
length-prefixed msgpack frame) and the same bytes are written to every watcher.

Objects in the cache are shared by every reader: handlers must never mutate them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kcore.api import registry
from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources, wire
from kcore.apiserver.objects import Obj, decode_stored
from kcore.storage.interface import KeyValue, Store
from kcore.storage.watchcache import CachedEvent, WatchCache


def decode(kv: KeyValue) -> Obj:
    return decode_stored(kv.value, kv.mod_revision)


def _event_doc(info: ResourceInfo, event: CachedEvent) -> dict[str, object]:
    if event.type == "BOOKMARK":
        obj: object = {"kind": info.kind, "apiVersion": info.api_version,
                       "metadata": {"resourceVersion": str(event.revision)}}  # fmt: skip
    else:
        obj = event.object
    return {"type": event.type, "object": obj}


def encoders(info: ResourceInfo) -> dict[str, Callable[[CachedEvent], bytes]]:
    return {
        "json": lambda ev: wire.frame(_event_doc(info, ev), "json"),
        "msgpack": lambda ev: wire.frame(_event_doc(info, ev), "msgpack"),
    }


class Caches:
    """The watch caches of every registered resource, keyed by storage prefix."""

    def __init__(self, store: Store, *, capacity: int, bookmark_interval: float) -> None:
        self._by_prefix: dict[str, WatchCache] = {}
        for info in registry.all_resources():
            prefix = resources.prefix(info)
            self._by_prefix[prefix] = WatchCache(
                store, prefix, decode=decode, encoders=encoders(info), capacity=capacity,
                bookmark_interval=bookmark_interval,
            )  # fmt: skip

    async def start(self) -> None:
        await asyncio.gather(*(c.start() for c in self._by_prefix.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._by_prefix.values()))

    def get(self, info: ResourceInfo) -> WatchCache:
        return self._by_prefix[resources.prefix(info)]
