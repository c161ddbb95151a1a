"""EtcdStore against a real etcd: the etcd-specific parts of the contract.

What every backend shares is in test_conformance.py; here are the things only etcd has: keys
under the store prefix, etcd's own revisions, compaction reported by etcd (at a watch's start
and mid-stream, and on reads), and durability across a SIGKILL of the etcd process.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator

import etcd_server
import pytest
from etcd_server import kill_etcd, start_etcd, stop_etcd

from kcore.storage.etcd import EtcdStore, prefix_end
from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StorageError,
    StoreClosedError,
    Watch,
    WatchTerminatedError,
)

pytestmark = pytest.mark.etcd

_prefixes = itertools.count()


def _host_port(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.rsplit(":", 1)
    return host, int(port)


async def _open(endpoint: str, prefix: str) -> EtcdStore:
    host, port = _host_port(endpoint)
    return await EtcdStore.open(host, port, prefix=prefix)


@pytest.fixture
async def store(etcd_endpoint: str) -> AsyncIterator[EtcdStore]:
    """A store on the shared etcd under a prefix no other test uses."""
    opened = await _open(etcd_endpoint, f"/t{next(_prefixes)}-{id(object())}")
    yield opened
    await opened.close()


async def _take(watch: Watch, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(10):
        async for event in watch:
            events.append(event)
            if len(events) == count:
                break
    return events


def test_the_etcd_launcher_fails_loudly_without_etcd(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture must error (never skip) where etcd-server is missing."""
    monkeypatch.setattr(etcd_server, "ETCD_BINARY", "/nonexistent/etcd")
    with pytest.raises(RuntimeError, match="etcd-server"), etcd_server.running_etcd():
        pass


async def test_open_fails_when_nothing_listens() -> None:
    with pytest.raises(StorageError, match="not reachable"):
        await EtcdStore.open("127.0.0.1", _unused_port(), connect_timeout=0.5)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_prefix_end() -> None:
    assert prefix_end(b"/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\0"
    assert prefix_end(b"") == b"\0"


async def test_revisions_are_etcds(store: EtcdStore) -> None:
    before = await store.current_revision()
    created = await store.create("/registry/pods/ns/a", b"one")
    assert created.create_revision == created.mod_revision == before + 1
    updated = await store.update("/registry/pods/ns/a", b"two", expected_revision=before + 1)
    assert (updated.create_revision, updated.mod_revision) == (before + 1, before + 2)
    assert await store.current_revision() == before + 2
    old = await store.get("/registry/pods/ns/a", revision=before + 1)
    assert old is not None and old.value == b"one"


async def test_prefixes_isolate_keys_but_share_revisions(
    store: EtcdStore, etcd_endpoint: str
) -> None:
    other = await _open(etcd_endpoint, f"other-{id(store)}")
    try:
        await store.create("/registry/x", b"mine")
        theirs = await other.create("/registry/x", b"theirs")
        assert (await store.get("/registry/x")).value == b"mine"  # type: ignore[union-attr]
        assert (await other.list("/registry/")).items == [theirs]
        assert await store.current_revision() == theirs.mod_revision
    finally:
        await other.close()


async def test_two_connections_on_one_prefix_see_each_others_writes(etcd_endpoint: str) -> None:
    """Two API servers sharing one etcd: one's writes reach the other's watch and reads."""
    writer, peer = [await _open(etcd_endpoint, "shared") for _ in range(2)]
    try:
        watch = peer.watch("/registry/", revision=await peer.current_revision())
        written = await writer.create("/registry/shared", b"v")
        assert [e.kv for e in await _take(watch, 1)] == [written]
        assert await peer.get("/registry/shared") == written
    finally:
        await writer.close()
        await peer.close()


async def test_lists_larger_than_grpcs_default_message_limit(store: EtcdStore) -> None:
    big = b"x" * (256 * 1024)
    await asyncio.gather(*(store.create(f"/registry/big/{i:02}", big) for i in range(24)))
    listed = await store.list("/registry/big/")
    assert len(listed.items) == 24 and all(kv.value == big for kv in listed.items)


async def test_conditional_writes(store: EtcdStore) -> None:
    first = await store.create("/registry/k", b"v1")
    with pytest.raises(KeyExistsError):
        await store.create("/registry/k", b"again")
    second = await store.update("/registry/k", b"v2", expected_revision=0)
    with pytest.raises(ConflictError) as conflict:
        await store.update("/registry/k", b"v3", expected_revision=first.mod_revision)
    assert conflict.value.current == second
    with pytest.raises(KeyNotFoundError):
        await store.update("/registry/missing", b"v", expected_revision=0)
    with pytest.raises(ConflictError):
        await store.delete("/registry/k", expected_revision=first.mod_revision)
    deleted = await store.delete("/registry/k", expected_revision=second.mod_revision)
    assert deleted.value == b"v2" and deleted.create_revision == first.create_revision
    assert deleted.mod_revision == await store.current_revision()
    with pytest.raises(KeyNotFoundError):
        await store.delete("/registry/k")


async def test_list_pages_with_remaining_count(store: EtcdStore) -> None:
    for name in "abcde":
        await store.create(f"/registry/pods/{name}", name.encode())
    await store.create("/registry/podsx", b"not under /registry/pods/")
    page = await store.list("/registry/pods/", limit=2)
    assert [kv.key for kv in page.items] == ["/registry/pods/a", "/registry/pods/b"]
    assert (page.more, page.remaining) == (True, 3)
    rest = await store.list(
        "/registry/pods/", revision=page.revision, start_after=page.items[-1].key
    )
    assert [kv.value for kv in rest.items] == [b"c", b"d", b"e"]
    assert (rest.more, rest.revision) == (False, page.revision)
    assert await store.count("/registry/pods/") == 5


async def test_list_at_an_old_revision(store: EtcdStore) -> None:
    first = await store.create("/registry/a", b"1")
    await store.create("/registry/b", b"2")
    old = await store.list("/registry/", revision=first.mod_revision)
    assert [kv.key for kv in old.items] == ["/registry/a"]
    assert old.revision == first.mod_revision


async def test_future_revision(store: EtcdStore) -> None:
    current = await store.current_revision()
    with pytest.raises(FutureRevisionError) as error:
        await store.get("/registry/a", revision=current + 100)
    assert error.value.current >= current


async def test_watch_translates_event_types(store: EtcdStore) -> None:
    start = await store.current_revision()
    watch = store.watch("/registry/pods/", revision=start)
    added = await store.create("/registry/pods/p", b"1")
    modified = await store.update("/registry/pods/p", b"2", expected_revision=added.mod_revision)
    await store.create("/registry/other", b"ignored")
    deleted = await store.delete("/registry/pods/p")
    events = await _take(watch, 3)
    await watch.close()
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0].kv == added and events[0].prev is None
    assert events[1].kv == modified and events[1].prev == added
    assert events[2].kv == deleted and events[2].prev == modified


async def test_watch_replays_history_after_revision(store: EtcdStore) -> None:
    first = await store.create("/registry/a", b"1")
    second = await store.create("/registry/b", b"2")
    watch = store.watch("/registry/", revision=first.mod_revision)
    events = await _take(watch, 1)
    await watch.close()
    assert [e.kv for e in events] == [second]


async def test_compaction_on_reads_and_at_watch_start(store: EtcdStore) -> None:
    first = await store.create("/registry/a", b"1")
    second = await store.update("/registry/a", b"2", expected_revision=0)
    await store.compact(second.mod_revision)
    assert await store.compacted_revision() == second.mod_revision
    await store.compact(first.mod_revision)  # already compacted: no-op
    with pytest.raises(CompactedError) as on_get:
        await store.get("/registry/a", revision=first.mod_revision)
    assert on_get.value.compacted == second.mod_revision
    with pytest.raises(CompactedError):
        await store.list("/registry/", revision=first.mod_revision)
    watch = store.watch("/registry/", revision=first.mod_revision - 1)
    with pytest.raises(CompactedError) as on_watch:
        await _take(watch, 1)
    assert on_watch.value.compacted == second.mod_revision
    assert await _take(watch, 1) == []  # the stream has ended


@pytest.mark.slow
async def test_compaction_mid_stream(store: EtcdStore) -> None:
    """etcd feeds a lagging watcher 1,000 revisions per 100 ms sync; compacting after the
    first event cancels it before it catches up."""
    start = await store.current_revision()
    keys = [f"/registry/k{i:05}" for i in range(3000)]
    for at in range(0, len(keys), 100):
        await asyncio.gather(*(store.create(key, b"v") for key in keys[at : at + 100]))
    watch = store.watch("/registry/", revision=start)
    seen = await _take(watch, 1)
    await store.compact(await store.current_revision())
    with pytest.raises(CompactedError):
        async with asyncio.timeout(10):
            async for event in watch:
                seen.append(event)
    assert 0 < len(seen) < len(keys)


async def test_close_ends_watches_and_calls(etcd_endpoint: str) -> None:
    store = await _open(etcd_endpoint, "closing")
    idle = store.watch("/registry/", revision=0)
    waiter = asyncio.create_task(_take(idle, 1))
    await asyncio.sleep(0.2)
    await store.close()
    assert await waiter == []
    with pytest.raises(StoreClosedError):
        await store.get("/registry/a")


async def test_close_fails_in_flight_calls_cleanly(etcd_endpoint: str) -> None:
    store = await _open(etcd_endpoint, "in-flight")
    calls = [asyncio.create_task(store.create(f"/registry/k{i}", b"v")) for i in range(200)]
    await asyncio.sleep(0)
    await store.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(f, StoreClosedError) for f in failures), failures


async def test_watch_close_stops_a_pending_iteration(store: EtcdStore) -> None:
    watch = store.watch("/registry/", revision=await store.current_revision())
    waiter = asyncio.create_task(_take(watch, 1))
    await asyncio.sleep(0.2)
    await watch.close()
    assert await waiter == []


@pytest.mark.slow
async def test_acknowledged_writes_survive_sigkill() -> None:
    server = start_etcd()
    try:
        store = await _open(server.endpoint, "durable")
        written = await asyncio.gather(
            *(store.create(f"/registry/k{i}", b"v%d" % i) for i in range(50))
        )
        await store.close()
        kill_etcd(server)
        server = start_etcd(server.data_dir)
        store = await _open(server.endpoint, "durable")
        listed = await store.list("/registry/")
        await store.close()
    finally:
        stop_etcd(server)
    assert sorted(listed.items, key=lambda kv: kv.mod_revision) == sorted(
        written, key=lambda kv: kv.mod_revision
    )


@pytest.mark.slow
async def test_a_watch_whose_etcd_dies_is_terminated() -> None:
    server = start_etcd()
    try:
        store = await _open(server.endpoint, "dying")
        watch = store.watch("/registry/", revision=await store.current_revision())
        written = await store.create("/registry/a", b"v")
        assert [e.kv for e in await _take(watch, 1)] == [written]
        kill_etcd(server)
        with pytest.raises(WatchTerminatedError):
            await _take(watch, 1)
        await store.close()
    finally:
        stop_etcd(server)
