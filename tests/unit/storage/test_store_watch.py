"""Store-level watches (the hub shared by memory and sqlite): bounded buffering."""

from __future__ import annotations

import asyncio

import pytest

from kcore.storage import _hub
from kcore.storage.interface import WatchTerminatedError
from kcore.storage.memory import MemoryStore


async def test_unread_backlog_past_the_bound_ends_the_watch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_hub, "MAX_BUFFERED", 10)
    store = MemoryStore()
    start = (await store.create("/seed", b"")).mod_revision
    slow = store.watch("/k/", revision=start)
    kvs = [await store.create(f"/k/{n}", b"v") for n in range(20)]
    with pytest.raises(WatchTerminatedError):
        await asyncio.wait_for(slow.__anext__(), 5)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(slow.__anext__(), 5)
    again = store.watch("/k/", revision=start)  # re-watching replays from history
    assert [(await again.__anext__()).kv for _ in kvs] == kvs
    await again.close()
    await store.close()


PREFIXES = ["", "/", "/registry/", "/registry/pods", "/registry/pods/", "/registry/pods/a/"]
KEYS = [
    "/registry/pods/a/x",
    "/registry/pods/b/y",
    "/registry/podsx/a/z",
    "/registry/services/a/s",
    "/registry/pods",
    "/other",
    "plain",
]


async def test_every_watch_sees_exactly_the_keys_under_its_prefix() -> None:
    """Watches are grouped by route (first two key segments): long prefixes, short ones that
    have no route, and keys outside any route each reach exactly the watches they match."""
    store = MemoryStore()
    start = (await store.create("/seed", b"")).mod_revision
    watches = {p: store.watch(p, revision=start) for p in PREFIXES}
    end = "/registry/pods/a/last"  # under every prefix: nothing may come between
    for key in [*KEYS, end]:
        await store.create(key, b"v")
    for prefix, watch in watches.items():
        want = [k for k in KEYS if k.startswith(prefix)] + [end]
        got = [(await asyncio.wait_for(watch.__anext__(), 5)).kv.key for _ in want]
        assert got == want, prefix
        await watch.close()
    await store.close()


def test_routes() -> None:
    assert _hub.route_of("/registry/pods/a/x") == "/registry/pods/"
    assert _hub.route_of("/registry/pods/") == "/registry/pods/"
    assert _hub.route_of("/registry/pods") is None
    assert _hub.route_of("registry/pods/a") is None
    assert _hub.route_of("") is None
