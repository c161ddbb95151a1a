"""One behaviour suite for every Store backend (memory, sqlite, etcd): etcd semantics.

The etcd backend shares one etcd per session, so each test gets its own key prefix and never
assumes absolute revision numbers, only their order and spacing. The watch-related cases run
a second time through a WatchCache over the same backend.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kcore.storage import open_store
from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    Watch,
)
from kcore.storage.watchcache import CachedEvent, CacheWatcher, WatchCache

PODS = "/registry/pods/"
TIMEOUT = 10.0


@pytest.fixture(scope="module", params=["memory", "sqlite", "etcd"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name, or for etcd its endpoint. Module scope makes etcd start before the
    per-test leak check takes its snapshot of child processes."""
    if request.param == "etcd":
        endpoint: str = request.getfixturevalue("etcd_endpoint")
        return f"etcd://{endpoint}"
    return str(request.param)


@pytest.fixture
async def store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    if backend == "memory":
        url = "memory://"
    elif backend == "sqlite":
        url = f"sqlite://{tmp_path}/state.db"
    else:
        url = f"{backend}/conformance-{uuid.uuid4().hex[:12]}"
    opened = await open_store(url)
    await opened.create("/seed", b"so that revision 0 (= now) is never a test's start")
    yield opened
    await opened.close()


def decode(kv: KeyValue) -> dict[str, Any]:
    return {"value": kv.value.decode(), "rv": kv.mod_revision}


ENCODERS = {"json": lambda e: json.dumps({"type": e.type, "object": e.object}).encode()}


@pytest.fixture
async def cache(store: Store) -> AsyncIterator[WatchCache]:
    async with WatchCache(store, PODS, decode=decode, encoders=ENCODERS) as started:
        yield started


async def take(watch: Watch | CacheWatcher, count: int) -> list[Any]:
    """The next `count` events of a watch (fails the test if they do not come in time)."""

    async def gather() -> list[Any]:
        return [await watch.__anext__() for _ in range(count)]

    return await asyncio.wait_for(gather(), TIMEOUT)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for something another task does."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 - no event to await on another component
            await asyncio.sleep(0.005)


def summary(event: Event | CachedEvent) -> tuple[str, str, int]:
    if isinstance(event, Event):
        return (event.type, event.kv.key, event.revision)
    return (event.type, event.key, event.revision)


# -- basics ---------------------------------------------------------------------------------


async def test_create_then_get(store: Store) -> None:
    before = await store.current_revision()
    kv = await store.create(PODS + "ns/a", b"one")
    assert kv.key == PODS + "ns/a" and kv.value == b"one"
    assert kv.create_revision == kv.mod_revision == before + 1
    assert await store.get(PODS + "ns/a") == kv
    assert await store.get(PODS + "ns/missing") is None
    assert await store.current_revision() == kv.mod_revision


async def test_create_existing_key_fails_and_changes_nothing(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"one")
    with pytest.raises(KeyExistsError):
        await store.create(PODS + "ns/a", b"two")
    assert await store.get(PODS + "ns/a") == kv
    assert await store.current_revision() == kv.mod_revision


async def test_update_with_expected_revision(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"one")
    updated = await store.update(PODS + "ns/a", b"two", expected_revision=kv.mod_revision)
    assert updated.value == b"two"
    assert updated.create_revision == kv.create_revision
    assert updated.mod_revision == kv.mod_revision + 1
    with pytest.raises(ConflictError) as raised:
        await store.update(PODS + "ns/a", b"three", expected_revision=kv.mod_revision)
    assert raised.value.current == updated
    assert raised.value.expected == kv.mod_revision
    assert await store.get(PODS + "ns/a") == updated


async def test_update_any_revision_and_missing_key(store: Store) -> None:
    await store.create(PODS + "ns/a", b"one")
    updated = await store.update(PODS + "ns/a", b"two", expected_revision=0)
    assert (await store.get(PODS + "ns/a")) == updated
    with pytest.raises(KeyNotFoundError):
        await store.update(PODS + "ns/missing", b"x", expected_revision=0)


async def test_delete_returns_last_value_at_delete_revision(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"one")
    deleted = await store.delete(PODS + "ns/a")
    assert deleted.value == b"one"
    assert deleted.create_revision == kv.create_revision
    assert deleted.mod_revision == kv.mod_revision + 1
    assert await store.get(PODS + "ns/a") is None
    assert await store.current_revision() == deleted.mod_revision
    with pytest.raises(KeyNotFoundError):
        await store.delete(PODS + "ns/a")


async def test_delete_with_expected_revision(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"one")
    updated = await store.update(PODS + "ns/a", b"two", expected_revision=0)
    with pytest.raises(ConflictError) as raised:
        await store.delete(PODS + "ns/a", expected_revision=kv.mod_revision)
    assert raised.value.current == updated
    assert await store.get(PODS + "ns/a") == updated
    deleted = await store.delete(PODS + "ns/a", expected_revision=updated.mod_revision)
    assert deleted.mod_revision == updated.mod_revision + 1
    assert await store.get(PODS + "ns/a") is None


async def test_recreate_after_delete_starts_a_new_life(store: Store) -> None:
    await store.create(PODS + "ns/a", b"one")
    await store.delete(PODS + "ns/a")
    again = await store.create(PODS + "ns/a", b"two")
    assert again.create_revision == again.mod_revision


async def test_count_and_prefix_isolation(store: Store) -> None:
    for name in ("a", "b", "c"):
        await store.create(f"{PODS}ns/{name}", name.encode())
    await store.create("/registry/podsx/ns/z", b"z")
    await store.create("/registry/pod", b"p")
    assert await store.count(PODS) == 3
    listed = await store.list(PODS)
    assert [kv.key for kv in listed.items] == [PODS + "ns/a", PODS + "ns/b", PODS + "ns/c"]
    assert not listed.more
    assert [kv.key for kv in (await store.list("/registry/podsx/")).items] == [
        "/registry/podsx/ns/z"
    ]
    assert await store.count("/registry/") == 5


async def test_racing_updates_with_same_expected_revision_one_wins(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"start")

    async def attempt(n: int) -> KeyValue | ConflictError:
        try:
            return await store.update(
                PODS + "ns/a", f"v{n}".encode(), expected_revision=kv.mod_revision
            )
        except ConflictError as error:
            return error

    results = await asyncio.gather(*(attempt(n) for n in range(40)))
    winners = [r for r in results if isinstance(r, KeyValue)]
    assert len(winners) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 39
    assert await store.get(PODS + "ns/a") == winners[0]


async def test_racing_creates_of_one_key_one_wins(store: Store) -> None:
    async def attempt(n: int) -> KeyValue | KeyExistsError:
        try:
            return await store.create(PODS + "ns/a", f"v{n}".encode())
        except KeyExistsError as error:
            return error

    results = await asyncio.gather(*(attempt(n) for n in range(20)))
    assert sum(isinstance(r, KeyValue) for r in results) == 1


async def test_concurrent_writes_get_distinct_consecutive_revisions(store: Store) -> None:
    before = await store.current_revision()
    kvs = await asyncio.gather(*(store.create(f"{PODS}ns/k{n}", b"x") for n in range(60)))
    revisions = sorted(kv.mod_revision for kv in kvs)
    assert revisions == list(range(before + 1, before + 61))


async def test_future_revision_is_refused(store: Store) -> None:
    await store.create(PODS + "ns/a", b"one")
    current = await store.current_revision()
    with pytest.raises(FutureRevisionError):
        await store.list(PODS, revision=current + 100)


# -- list at a revision, paging -------------------------------------------------------------


async def test_list_and_get_at_past_revision(store: Store) -> None:
    a = await store.create(PODS + "ns/a", b"a1")
    b = await store.create(PODS + "ns/b", b"b1")
    then = b.mod_revision
    await store.update(PODS + "ns/a", b"a2", expected_revision=0)
    await store.delete(PODS + "ns/b")
    await store.create(PODS + "ns/c", b"c1")
    past = await store.list(PODS, revision=then)
    assert past.revision == then
    assert past.items == [a, b]
    now = await store.list(PODS)
    assert [(kv.key, kv.value) for kv in now.items] == [
        (PODS + "ns/a", b"a2"),
        (PODS + "ns/c", b"c1"),
    ]
    assert await store.get(PODS + "ns/b", revision=then) == b
    assert await store.get(PODS + "ns/a", revision=a.mod_revision) == a
    assert await store.get(PODS + "ns/c", revision=then) is None


async def test_pages_at_one_revision_stay_consistent_under_writes(store: Store) -> None:
    names = [f"{PODS}ns/k{n:02d}" for n in range(25)]
    originals = {name: (await store.create(name, name.encode())).value for name in names}
    first = await store.list(PODS, limit=10)
    assert len(first.items) == 10 and first.more
    if first.remaining is not None:
        assert first.remaining == 15
    seen = list(first.items)

    async def churn() -> None:
        for n in range(0, 25, 2):
            await store.delete(names[n])
        for n in range(5):
            await store.create(f"{PODS}ns/k{n:02d}x", b"new")

    churner = asyncio.create_task(churn())
    page = first
    while page.more:
        await asyncio.sleep(0)
        page = await store.list(
            PODS, revision=first.revision, limit=10, start_after=page.items[-1].key
        )
        assert page.revision == first.revision
        seen.extend(page.items)
    await churner
    assert {kv.key: kv.value for kv in seen} == originals
    assert [kv.key for kv in seen] == names


async def test_limit_exactly_at_end_reports_no_more(store: Store) -> None:
    for n in range(3):
        await store.create(f"{PODS}ns/k{n}", b"x")
    page = await store.list(PODS, limit=3)
    assert len(page.items) == 3 and not page.more
    rest = await store.list(PODS, start_after=page.items[-1].key)
    assert rest.items == [] and not rest.more


# -- compaction -----------------------------------------------------------------------------


async def test_compaction_refuses_older_revisions(store: Store) -> None:
    first = await store.create(PODS + "ns/a", b"a1")
    await store.update(PODS + "ns/a", b"a2", expected_revision=0)
    b = await store.create(PODS + "ns/b", b"b1")
    await store.delete(PODS + "ns/b")
    c = await store.create(PODS + "ns/c", b"c1")
    await store.update(PODS + "ns/a", b"a3", expected_revision=0)
    await store.compact(c.mod_revision)
    assert await store.compacted_revision() >= c.mod_revision
    with pytest.raises(CompactedError):
        await store.list(PODS, revision=b.mod_revision)
    with pytest.raises(CompactedError):
        await store.get(PODS + "ns/a", revision=first.mod_revision)
    with pytest.raises(CompactedError):
        await take(store.watch(PODS, revision=first.mod_revision), 1)
    at_compaction = await store.list(PODS, revision=c.mod_revision)
    assert [(kv.key, kv.value) for kv in at_compaction.items] == [
        (PODS + "ns/a", b"a2"),
        (PODS + "ns/c", b"c1"),
    ]
    watch = store.watch(PODS, revision=c.mod_revision)
    [event] = await take(watch, 1)
    await watch.close()
    assert event.type == "MODIFIED" and event.kv.value == b"a3" and event.prev.value == b"a2"


async def test_writes_continue_after_compaction(store: Store) -> None:
    kv = await store.create(PODS + "ns/a", b"a1")
    await store.compact(kv.mod_revision)
    later = await store.update(PODS + "ns/a", b"a2", expected_revision=kv.mod_revision)
    assert later.mod_revision == kv.mod_revision + 1


# -- watch ----------------------------------------------------------------------------------


async def test_watch_delivers_each_later_event_in_order(store: Store) -> None:
    start = await store.current_revision()
    watch = store.watch(PODS, revision=start)
    a = await store.create(PODS + "ns/a", b"a1")
    await store.create("/registry/podsx/ns/a", b"other prefix")
    a2 = await store.update(PODS + "ns/a", b"a2", expected_revision=0)
    gone = await store.delete(PODS + "ns/a")
    events = await take(watch, 3)
    await watch.close()
    assert [summary(e) for e in events] == [
        ("ADDED", PODS + "ns/a", a.mod_revision),
        ("MODIFIED", PODS + "ns/a", a2.mod_revision),
        ("DELETED", PODS + "ns/a", gone.mod_revision),
    ]
    assert events[0].prev is None
    assert events[1].prev == a and events[1].kv == a2
    assert events[2].kv.value == b"a2" and events[2].prev == a2


async def test_watch_from_past_revision_replays_then_follows(store: Store) -> None:
    start = await store.current_revision()
    early = [await store.create(f"{PODS}ns/e{n}", b"x") for n in range(5)]
    watch = store.watch(PODS, revision=start)
    late = [await store.create(f"{PODS}ns/l{n}", b"x") for n in range(5)]
    events = await take(watch, 10)
    await watch.close()
    assert [e.kv for e in events] == early + late


async def test_watch_from_the_middle_skips_older_events(store: Store) -> None:
    kvs = [await store.create(f"{PODS}ns/k{n}", b"x") for n in range(6)]
    watch = store.watch(PODS, revision=kvs[2].mod_revision)
    events = await take(watch, 3)
    await watch.close()
    assert [e.kv for e in events] == kvs[3:]


async def test_watch_exactly_once_with_concurrent_writers(store: Store) -> None:
    start = await store.current_revision()
    replaying = store.watch(PODS, revision=start)
    writers, per_writer = 8, 15

    async def writer(w: int) -> list[KeyValue]:
        done = []
        for n in range(per_writer):
            kv = await store.create(f"{PODS}ns/w{w}-{n}", b"v")
            done.append(await store.update(kv.key, b"v2", expected_revision=kv.mod_revision))
        return done

    tasks = [asyncio.create_task(writer(w)) for w in range(writers)]
    await asyncio.sleep(0)
    live = store.watch(PODS, revision=start)  # registered while writes are in flight
    results = await asyncio.gather(*tasks)
    marker = await store.create(PODS + "ns/zz-marker", b"end")
    total = writers * per_writer * 2 + 1
    for watch in (replaying, live):
        events = await take(watch, total)
        await watch.close()
        revisions = [e.revision for e in events]
        assert revisions == sorted(set(revisions)), "out of order or duplicated"
        assert revisions == list(range(start + 1, marker.mod_revision + 1))
        final = {e.kv.key: e.kv for e in events if e.type == "MODIFIED"}
        assert sorted(final.values(), key=lambda kv: kv.key) == sorted(
            (kv for batch in results for kv in batch), key=lambda kv: kv.key
        )


async def test_closed_watch_stops_iterating(store: Store) -> None:
    watch = store.watch(PODS, revision=await store.current_revision())
    await store.create(PODS + "ns/a", b"a")
    await take(watch, 1)
    await watch.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(watch.__anext__(), TIMEOUT)


async def test_watch_prefix_does_not_leak_siblings(store: Store) -> None:
    start = await store.current_revision()
    watch = store.watch(PODS + "ns1/", revision=start)
    await store.create(PODS + "ns10/a", b"no")
    await store.create(PODS + "ns1/a", b"yes")
    [event] = await take(watch, 1)
    await watch.close()
    assert event.kv.key == PODS + "ns1/a"


# -- the same watch behaviour through a WatchCache ------------------------------------------


async def test_cache_watch_exactly_once_with_concurrent_writers(
    store: Store, cache: WatchCache
) -> None:
    start = cache.current_revision
    watcher = cache.watch(revision=start)

    async def writer(w: int) -> None:
        for n in range(10):
            kv = await store.create(f"{PODS}ns/w{w}-{n}", b"v")
            await store.delete(kv.key, expected_revision=kv.mod_revision)

    await asyncio.gather(*(writer(w) for w in range(6)))
    marker = await store.create(PODS + "ns/zz-marker", b"end")
    events = await take(watcher, 6 * 10 * 2 + 1)
    watcher.close()
    revisions = [e.revision for e in events]
    assert revisions == list(range(start + 1, marker.mod_revision + 1))
    per_key: dict[str, list[str]] = {}
    for event in events[:-1]:
        per_key.setdefault(event.key, []).append(event.type)
    assert len(per_key) == 60
    assert all(types == ["ADDED", "DELETED"] for types in per_key.values())


async def test_cache_watch_from_past_revision_replays_then_follows(
    store: Store, cache: WatchCache
) -> None:
    start = cache.current_revision
    early = [await store.create(f"{PODS}ns/e{n}", b"x") for n in range(4)]
    await cache.list()  # the cache has caught up with the early writes
    watcher = cache.watch(revision=start)
    late = [await store.create(f"{PODS}ns/l{n}", b"x") for n in range(4)]
    events = await take(watcher, 8)
    watcher.close()
    assert [e.kv for e in events] == early + late
    assert events[0].object == {"value": "x", "rv": early[0].mod_revision}


async def test_cache_list_reads_its_own_writes(store: Store, cache: WatchCache) -> None:
    kv = await store.create(PODS + "ns/a", b"a")
    listed = await cache.list()
    assert [o.kv for o in listed.items] == [kv]
    assert listed.revision >= kv.mod_revision
    other = await store.create("/registry/services/ns/s", b"s")
    after = await cache.list()
    assert after.revision >= other.mod_revision
    assert [o.kv for o in after.items] == [kv]
    gone = await store.delete(PODS + "ns/a")
    assert (await cache.list()).items == []
    assert await cache.get(PODS + "ns/a") is None
    assert gone.mod_revision <= (await cache.list()).revision


async def test_cache_exact_list_at_past_revision_reads_the_store(
    store: Store, cache: WatchCache
) -> None:
    a = await store.create(PODS + "ns/a", b"a1")
    await store.update(PODS + "ns/a", b"a2", expected_revision=0)
    past = await cache.list(revision=a.mod_revision, exact=True)
    assert past.revision == a.mod_revision
    assert [o.kv for o in past.items] == [a]


async def test_cache_watch_older_than_its_ring_is_compacted(store: Store) -> None:
    async with WatchCache(
        store, PODS, decode=decode, encoders=ENCODERS, capacity=4, bookmark_interval=0
    ) as small:
        first = await store.create(PODS + "ns/first", b"x")
        kvs = [await store.create(f"{PODS}ns/k{n}", b"x") for n in range(12)]
        await until(lambda: small.current_revision >= kvs[-1].mod_revision)
        with pytest.raises(CompactedError):
            small.watch(revision=first.mod_revision)
        recent = small.watch(revision=kvs[-3].mod_revision)
        assert [e.kv for e in await take(recent, 2)] == kvs[-2:]
        recent.close()


async def test_cache_watch_with_a_predicate(store: Store, cache: WatchCache) -> None:
    watcher = cache.watch(predicate=lambda obj: obj["value"] == "web")
    a = await store.create(PODS + "ns/a", b"db")
    into = await store.update(PODS + "ns/a", b"web", expected_revision=a.mod_revision)
    out = await store.update(PODS + "ns/a", b"db", expected_revision=into.mod_revision)
    events = await take(watcher, 2)
    watcher.close()
    assert [(e.type, e.revision) for e in events] == [
        ("ADDED", into.mod_revision),
        ("DELETED", out.mod_revision),
    ]
    assert events[1].object == {"value": "web", "rv": out.mod_revision}
