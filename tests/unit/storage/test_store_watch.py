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
