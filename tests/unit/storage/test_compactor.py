"""The compactor keeps one tick of history."""

from __future__ import annotations

import pytest

from kcore.storage.compactor import Compactor
from kcore.storage.interface import CompactedError
from kcore.storage.memory import MemoryStore


async def test_each_tick_compacts_at_the_previous_ticks_revision() -> None:
    store = MemoryStore()
    compactor = Compactor(store)
    first = await store.create("/a", b"1")
    assert await compactor.tick() == 0
    second = await store.update("/a", b"2", expected_revision=0)
    assert await compactor.tick() == first.mod_revision
    assert await store.compacted_revision() == first.mod_revision
    assert await store.get("/a", revision=first.mod_revision) == first
    await store.update("/a", b"3", expected_revision=0)
    assert await compactor.tick() == second.mod_revision
    with pytest.raises(CompactedError):
        await store.get("/a", revision=first.mod_revision)
    await store.close()


async def test_background_loop_starts_and_stops() -> None:
    store = MemoryStore()
    await store.create("/a", b"1")
    compactor = Compactor(store, interval=3600)
    compactor.start()
    await compactor.stop()
    await store.close()
