"""SqliteStore specifics on real files: group commit semantics, restart, close."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kcore.storage.interface import (
    CompactedError,
    Event,
    KeyExistsError,
    KeyValue,
    StorageError,
    StoreClosedError,
    Watch,
)
from kcore.storage.sqlite import SqliteStore


async def test_a_batch_sees_its_own_earlier_writes(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        created, updated, deleted = await asyncio.gather(
            store.create("/k", b"1"),
            store.update("/k", b"2", expected_revision=0),
            store.delete("/k"),
        )
        assert updated.mod_revision == created.mod_revision + 1
        assert deleted.mod_revision == updated.mod_revision + 1 and deleted.value == b"2"
    finally:
        await store.close()


async def test_failed_writes_consume_no_revision(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        results = await asyncio.gather(
            store.create("/a", b"1"),
            store.create("/a", b"again"),
            store.create("/b", b"1"),
            return_exceptions=True,
        )
        assert isinstance(results[1], KeyExistsError)
        a, b = results[0], results[2]
        assert isinstance(a, KeyValue) and isinstance(b, KeyValue)
        assert b.mod_revision == a.mod_revision + 1
    finally:
        await store.close()


async def test_restart_resumes_revision_history_and_compaction(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "s.db"
    store = await SqliteStore.open(path)
    first = await store.create("/a", b"1")
    second = await store.update("/a", b"2", expected_revision=0)
    third = await store.create("/b", b"1")
    await store.compact(second.mod_revision)
    await store.close()

    store = await SqliteStore.open(path)
    try:
        assert await store.current_revision() == third.mod_revision
        assert await store.compacted_revision() == second.mod_revision
        with pytest.raises(CompactedError):
            await store.get("/a", revision=first.mod_revision)
        assert await store.get("/a", revision=second.mod_revision) == second
        watch = store.watch("/", revision=second.mod_revision)
        assert [e.kv async for e in _first(watch, 1)] == [third]
        fourth = await store.create("/c", b"1")
        assert fourth.mod_revision == third.mod_revision + 1
    finally:
        await store.close()


async def _first(watch: Watch, count: int) -> AsyncIterator[Event]:
    for _ in range(count):
        yield await asyncio.wait_for(watch.__anext__(), 5.0)
    await watch.close()


async def test_close_finishes_queued_writes_then_refuses(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    writes = [asyncio.create_task(store.create(f"/k{n}", b"v")) for n in range(50)]
    await asyncio.sleep(0)
    await store.close()
    assert len({(await w).mod_revision for w in writes}) == 50
    with pytest.raises(StoreClosedError):
        await store.create("/late", b"v")
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        assert await store.count("/") == 50
    finally:
        await store.close()


async def test_a_second_owner_of_the_file_is_refused(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        with pytest.raises(StorageError, match="in use"):
            await SqliteStore.open(tmp_path / "s.db")
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "s.db")
    await reopened.close()


async def test_a_file_in_an_older_layout_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute(
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB, create_rev INTEGER, mod_rev INTEGER)"
    )
    conn.close()
    with pytest.raises(StorageError, match="older kcore layout"):
        await SqliteStore.open(tmp_path / "s.db")
    fd = os.open(tmp_path / "s.db.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the refused open let go of the lock
    finally:
        os.close(fd)
