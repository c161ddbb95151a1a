"""WatchCache semantics over a real MemoryStore: filtering, shared encodings, bounded
watchers, bookmarks, initial events, lists served from memory."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kcore.storage import _hub
from kcore.storage.interface import CompactedError, FutureRevisionError, KeyValue, StoreClosedError
from kcore.storage.memory import MemoryStore
from kcore.storage.watchcache import CachedEvent, CacheWatcher, WatchCache, WatchTerminatedError

PODS = "/registry/pods/"
TIMEOUT = 5.0


class Codec:
    """Counts decodes and encodes, to check each happens once per event."""

    def __init__(self) -> None:
        self.decoded: Counter[int] = Counter()
        self.encoded: Counter[tuple[int, str]] = Counter()

    def decode(self, kv: KeyValue) -> dict[str, Any]:
        self.decoded[kv.mod_revision] += 1
        return {**json.loads(kv.value), "rv": kv.mod_revision}

    def encoders(self) -> dict[str, Any]:
        def encode(fmt: str) -> Any:
            def run(event: CachedEvent) -> bytes:
                self.encoded[(event.revision, fmt)] += 1
                return json.dumps({"type": event.type, "object": event.object}).encode()

            return run

        return {"json": encode("json"), "other": encode("other")}


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    opened = MemoryStore()
    await opened.create("/seed", b"{}")
    yield opened
    await opened.close()


@pytest.fixture
def codec() -> Codec:
    return Codec()


@pytest.fixture
async def cache(store: MemoryStore, codec: Codec) -> AsyncIterator[WatchCache]:
    cache = WatchCache(store, PODS, decode=codec.decode, encoders=codec.encoders(), capacity=8)
    async with cache:
        yield cache


def pod(labels: dict[str, str], **extra: Any) -> bytes:
    return json.dumps({"labels": labels, **extra}).encode()


async def take(watcher: CacheWatcher, count: int) -> list[CachedEvent]:
    async def gather() -> list[CachedEvent]:
        return [await watcher.__anext__() for _ in range(count)]

    return await asyncio.wait_for(gather(), TIMEOUT)


async def settle(cache: WatchCache) -> None:
    """Wait until the cache has applied every write so far (a consistent list does that)."""
    await cache.list()


def web(obj: Any) -> bool:
    return bool(obj["labels"].get("app") == "web")


async def test_predicate_turns_modifications_into_adds_and_deletes(
    store: MemoryStore, cache: WatchCache
) -> None:
    watcher = cache.watch(predicate=web)
    kv = await store.create(PODS + "ns/a", pod({"app": "db"}))
    into = await store.update(PODS + "ns/a", pod({"app": "web"}), expected_revision=0)
    within = await store.update(PODS + "ns/a", pod({"app": "web"}, n=1), expected_revision=0)
    out = await store.update(PODS + "ns/a", pod({"app": "db"}, n=2), expected_revision=0)
    await store.update(PODS + "ns/a", pod({"app": "db"}, n=3), expected_revision=0)
    back = await store.update(PODS + "ns/a", pod({"app": "web"}), expected_revision=0)
    gone = await store.delete(PODS + "ns/a")
    events = await take(watcher, 5)
    assert [(e.type, e.revision) for e in events] == [
        ("ADDED", into.mod_revision),
        ("MODIFIED", within.mod_revision),
        ("DELETED", out.mod_revision),
        ("ADDED", back.mod_revision),
        ("DELETED", gone.mod_revision),
    ]
    # leaving the filter: the last state that matched, stamped with the change's revision
    assert events[2].object == {"labels": {"app": "web"}, "n": 1, "rv": out.mod_revision}
    assert kv.mod_revision < into.mod_revision


async def test_every_watcher_gets_the_same_bytes_encoded_once(
    store: MemoryStore, cache: WatchCache, codec: Codec
) -> None:
    watchers = [cache.watch() for _ in range(5)] + [cache.watch(predicate=web) for _ in range(3)]
    kv = await store.create(PODS + "ns/a", pod({"app": "web"}))
    firsts = [(await take(w, 1))[0] for w in watchers]
    blobs = [event.encoded("json") for event in firsts]
    assert all(blob is blobs[0] for blob in blobs)
    assert firsts[0].encoded("other") is firsts[-1].encoded("other")
    assert codec.encoded[(kv.mod_revision, "json")] == 1
    assert codec.encoded[(kv.mod_revision, "other")] == 1
    assert codec.decoded[kv.mod_revision] == 1


async def test_transformed_events_are_shared_between_watchers(
    store: MemoryStore, cache: WatchCache
) -> None:
    watchers = [cache.watch(predicate=web) for _ in range(3)]
    await store.create(PODS + "ns/a", pod({}))
    await store.update(PODS + "ns/a", pod({"app": "web"}), expected_revision=0)
    events = [(await take(w, 1))[0] for w in watchers]
    assert {e.type for e in events} == {"ADDED"}
    assert all(e is events[0] for e in events)


async def test_prefix_watch_sees_only_its_namespace(store: MemoryStore, cache: WatchCache) -> None:
    watcher = cache.watch(PODS + "ns1/")
    await store.create(PODS + "ns10/a", pod({}))
    await store.create(PODS + "ns2/a", pod({}))
    mine = await store.create(PODS + "ns1/a", pod({}))
    [event] = await take(watcher, 1)
    assert event.kv == mine
    with pytest.raises(ValueError):
        cache.watch("/registry/services/")


async def test_slow_watcher_is_terminated_after_its_backlog(
    store: MemoryStore, cache: WatchCache
) -> None:
    slow = cache.watch()
    fast = cache.watch()
    idle_elsewhere = cache.watch(PODS + "quiet/")
    parked = asyncio.create_task(idle_elsewhere.__anext__())
    await asyncio.sleep(0)
    received = []
    for n in range(40):
        await store.create(f"{PODS}ns/k{n}", pod({}))
        received.extend(await take(fast, 1))
    assert len(received) == 40
    with pytest.raises(WatchTerminatedError):
        await take(slow, 41)
    assert not parked.done(), "a watcher with nothing to read is not too slow"
    idle_elsewhere.close()
    with pytest.raises(StopAsyncIteration):
        await parked


async def test_watch_older_than_the_ring_is_compacted(
    store: MemoryStore, cache: WatchCache
) -> None:
    first = await store.create(PODS + "ns/first", pod({}))
    for n in range(20):
        await store.create(f"{PODS}ns/k{n}", pod({}))
    await settle(cache)
    with pytest.raises(CompactedError):
        cache.watch(revision=first.mod_revision)
    recent = cache.watch(revision=cache.current_revision - 3)
    assert len(await take(recent, 3)) == 3


async def test_bookmarks_only_for_watchers_that_ask(store: MemoryStore, cache: WatchCache) -> None:
    wants = cache.watch(bookmarks=True)
    plain = cache.watch()
    kv = await store.create(PODS + "ns/a", pod({}))
    await settle(cache)
    await store.create("/registry/services/ns/s", b"{}")
    await settle(cache)
    cache.send_bookmarks()
    events = await take(wants, 2)
    assert [e.type for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1].revision == cache.current_revision > kv.mod_revision
    assert events[1].object is None
    assert [e.type for e in await take(plain, 1)] == ["ADDED"]
    pending = asyncio.create_task(plain.__anext__())
    await asyncio.sleep(0)
    assert not pending.done()
    plain.close()
    with pytest.raises(StopAsyncIteration):
        await pending


async def test_stale_bookmark_is_skipped(store: MemoryStore, cache: WatchCache) -> None:
    watcher = cache.watch(bookmarks=True)
    await settle(cache)
    cache.send_bookmarks()  # at the revision before the next write
    kv = await store.create(PODS + "ns/a", pod({}))
    [event] = await take(watcher, 1)
    assert event.type == "ADDED" and event.revision == kv.mod_revision
    pending = asyncio.create_task(watcher.__anext__())
    await asyncio.sleep(0.01)
    assert not pending.done(), "a bookmark older than the last event must not be sent"
    watcher.close()
    with pytest.raises(StopAsyncIteration):
        await pending


async def test_initial_events_then_live(store: MemoryStore, cache: WatchCache) -> None:
    a = await store.create(PODS + "ns/a", pod({"app": "web"}))
    await store.create(PODS + "ns/b", pod({"app": "db"}))
    await store.create(PODS + "other/c", pod({"app": "web"}))
    await settle(cache)
    watcher = cache.watch(PODS + "ns/", predicate=web, send_initial=True)
    d = await store.create(PODS + "ns/d", pod({"app": "web"}))
    events = await take(watcher, 2)
    assert [(e.type, e.kv) for e in events] == [("ADDED", a), ("ADDED", d)]
    again = cache.watch(PODS + "ns/", predicate=web, send_initial=True)
    assert (await take(again, 1))[0] is events[0]


async def test_next_batch_returns_everything_pending(store: MemoryStore, cache: WatchCache) -> None:
    watcher = cache.watch()
    for n in range(5):
        await store.create(f"{PODS}ns/k{n}", pod({}))
    await settle(cache)
    batch = await asyncio.wait_for(watcher.next_batch(), TIMEOUT)
    assert [e.key for e in batch] == [f"{PODS}ns/k{n}" for n in range(5)]
    assert watcher.last_revision == batch[-1].revision
    watcher.close()
    assert await watcher.next_batch() == []


async def test_list_pages_from_memory(store: MemoryStore, cache: WatchCache) -> None:
    for n in range(6):
        await store.create(f"{PODS}ns/k{n}", pod({"app": "web" if n % 2 else "db"}))
    first = await cache.list(limit=4)
    assert [o.key for o in first.items] == [f"{PODS}ns/k{n}" for n in range(4)]
    assert first.more and first.remaining == 2 and first.last_key == f"{PODS}ns/k3"
    rest = await cache.list(start_after=first.last_key, revision=first.revision, exact=True)
    assert [o.key for o in rest.items] == [f"{PODS}ns/k4", f"{PODS}ns/k5"]
    assert not rest.more
    webs = await cache.list(predicate=web, limit=2)
    assert [o.object["labels"]["app"] for o in webs.items] == ["web", "web"]
    assert webs.more and webs.remaining is None and webs.last_key == f"{PODS}ns/k3"


async def test_exact_list_at_a_past_revision_pages_through_the_store(
    store: MemoryStore, cache: WatchCache
) -> None:
    kvs = [await store.create(f"{PODS}ns/k{n}", pod({"app": "web"})) for n in range(4)]
    await store.delete(kvs[1].key)
    past = await cache.list(revision=kvs[-1].mod_revision, exact=True, predicate=web, limit=3)
    assert [o.kv for o in past.items] == kvs[:3]
    assert past.more and past.last_key == kvs[2].key


async def test_list_waits_for_a_revision_about_to_arrive(
    store: MemoryStore, cache: WatchCache
) -> None:
    target = await store.current_revision() + 1
    waiting = asyncio.create_task(cache.list(revision=target))
    await asyncio.sleep(0)
    kv = await store.create(PODS + "ns/a", pod({}))
    listed = await asyncio.wait_for(waiting, TIMEOUT)
    assert [o.kv for o in listed.items] == [kv]


async def test_list_at_a_revision_never_reached_fails(store: MemoryStore, codec: Codec) -> None:
    cache = WatchCache(
        store, PODS, decode=codec.decode, encoders=codec.encoders(), fresh_timeout=0.05
    )
    async with cache:
        with pytest.raises(FutureRevisionError):
            await cache.list(revision=await store.current_revision() + 10)


async def test_stop_ends_watchers(store: MemoryStore, codec: Codec) -> None:
    cache = WatchCache(store, PODS, decode=codec.decode, encoders=codec.encoders())
    await cache.start()
    watcher = cache.watch()
    pending = asyncio.create_task(watcher.__anext__())
    await asyncio.sleep(0)
    await cache.stop()
    with pytest.raises(StopAsyncIteration):
        await pending
    with pytest.raises(StoreClosedError):
        cache.watch()


async def test_store_close_ends_the_cache(store: MemoryStore, codec: Codec) -> None:
    cache = WatchCache(store, PODS, decode=codec.decode, encoders=codec.encoders())
    await cache.start()
    watcher = cache.watch()
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(watcher.__anext__(), TIMEOUT)
    assert not cache.running
    await cache.stop()


async def test_cache_relists_when_its_store_watch_breaks(
    store: MemoryStore, codec: Codec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_hub, "MAX_BUFFERED", 5)
    cache = WatchCache(store, PODS, decode=codec.decode, encoders=codec.encoders())
    await cache.start()  # the follower task has not run yet: nothing below yields
    try:
        watcher = cache.watch()
        kvs = [await store.create(f"{PODS}ns/k{n}", pod({})) for n in range(10)]
        with pytest.raises(WatchTerminatedError):  # the cache's store watch overflowed
            await take(watcher, 1)
        listed = await cache.list()
        assert [o.kv for o in listed.items] == kvs
        again = cache.watch()
        later = await store.create(PODS + "ns/later", pod({}))
        assert [e.kv for e in await take(again, 1)] == [later]
    finally:
        await cache.stop()


async def test_closed_watchers_leave_no_trace(store: MemoryStore, cache: WatchCache) -> None:
    watchers = [cache.watch(f"{PODS}ns{n}/", bookmarks=True) for n in range(20)]
    pending = [asyncio.create_task(w.__anext__()) for w in watchers]
    await asyncio.sleep(0)
    for watcher in watchers:
        watcher.close()
    for task in pending:
        with pytest.raises(StopAsyncIteration):
            await task
    assert not cache._parked and not cache._watchers and not cache._bookmarkers


async def test_a_filtered_watcher_scans_past_a_long_run_of_other_events(
    store: MemoryStore, codec: Codec
) -> None:
    async with WatchCache(
        store, PODS, decode=codec.decode, encoders=codec.encoders(), capacity=5000
    ) as cache:
        watcher = cache.watch(PODS + "mine/")
        for n in range(1500):
            await store.create(f"{PODS}other/k{n}", pod({}))
        mine = await store.create(PODS + "mine/a", pod({}))
        assert [e.kv for e in await take(watcher, 1)] == [mine]
