"""SqliteStore: the embedded default store, one SQLite file in WAL mode with synchronous=FULL.

Writes go to one writer thread (see _sqlite_writer) that group-commits everything pending in
one transaction, so a write is acknowledged only after the fsync that made it durable, yet many
concurrent writers share each fsync. Reads never wait for writes: point reads run directly on
the event loop over their own connection (a keyed lookup costs less than a thread hop); lists
and watch replays, which can be large, run in a small pool of reader threads, each with its own
connection. Committed events reach watchers in process through a WatchHub (see _hub), in the
same loop callback that acknowledges the writes, so a caller that saw its write acknowledged
also finds it in every watch.

One process owns a file at a time (an flock on FILE.lock). The file survives SIGKILL: SQLite's
WAL with synchronous=FULL and explicit transactions never leaves a torn state, and the revision
counter resumes from the `meta` table.
"""

from __future__ import annotations

import asyncio
import builtins
import fcntl
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kcore.storage import _sqlite_db as db
from kcore.storage._hub import HubWatch, WatchHub
from kcore.storage._sqlite_writer import OpKind, Result, WriteOp, Writer
from kcore.storage.interface import (
    CompactedError,
    Event,
    KeyValue,
    ListResult,
    StorageError,
    StoreClosedError,
)

READER_THREADS = 2


class SqliteStore:
    """The Store contract over one SQLite file."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._loop = loop
        self._reader = db.connect(path)
        self._writer = Writer(db.connect(path), loop, self._on_commit)
        self._hub = WatchHub(self._writer.revision)
        self._compacted = self._writer.compacted
        self._local = threading.local()
        self._pool_conns: builtins.list[sqlite3.Connection] = []
        self._pool = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="kcore-sqlite-read")
        self._closed = False
        self._writer.start()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
        """Open (creating if needed) the store file at `path`."""
        target = Path(path)
        lock_fd = await asyncio.to_thread(_initialise, target)
        try:
            return cls(str(target), asyncio.get_running_loop(), lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    # reads

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        self._check_open()
        return db.get_at(self._reader, key, revision)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        result: ListResult = await self._in_pool(db.list_at, prefix, revision, limit, start_after)
        return result

    async def count(self, prefix: str) -> int:
        self._check_open()
        return db.count(self._reader, prefix)

    async def current_revision(self) -> int:
        return self._hub.revision

    async def compacted_revision(self) -> int:
        return self._compacted

    async def _in_pool(self, function: Any, *args: Any) -> Any:
        self._check_open()
        return await self._loop.run_in_executor(self._pool, self._call_read, function, args)

    def _call_read(self, function: Any, args: tuple[Any, ...]) -> Any:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = db.connect(self.path)
            self._pool_conns.append(conn)
        return function(conn, *args)

    # writes

    async def create(self, key: str, value: bytes) -> KeyValue:
        result: KeyValue = await self._write("create", key, value, 0)
        return result

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        result: KeyValue = await self._write("update", key, value, expected_revision)
        return result

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        result: KeyValue = await self._write("delete", key, b"", expected_revision)
        return result

    async def compact(self, revision: int) -> None:
        await self._write("compact", "", b"", revision)

    async def _write(self, kind: OpKind, key: str, value: bytes, expected: int) -> Any:
        self._check_open()
        future: asyncio.Future[Any] = self._loop.create_future()
        self._writer.submit(WriteOp(kind, key, value, expected, future))
        return await future

    def _on_commit(
        self,
        batch: builtins.list[WriteOp],
        results: builtins.list[Result],
        events: builtins.list[Event],
        revision: int,
        compacted: int,
    ) -> None:
        """On the loop, after COMMIT: publish first, then acknowledge."""
        self._compacted = compacted
        self._hub.publish(events, revision)
        for op, result in zip(batch, results, strict=True):
            if op.future.done():
                continue
            if isinstance(result, BaseException):
                op.future.set_exception(result)
            else:
                op.future.set_result(result)

    # watch

    def watch(self, prefix: str, *, revision: int) -> HubWatch:
        error: StorageError | None = None
        if self._closed:
            error = StoreClosedError("store closed")
        elif revision and revision < self._compacted - 1:
            error = CompactedError(revision, self._compacted)
        after = revision or self._hub.revision
        return HubWatch(self._hub, prefix, after, replay=self._replay, error=error)

    async def _replay(self, prefix: str, after: int, upto: int) -> builtins.list[Event]:
        events: builtins.list[Event] = await self._in_pool(db.replay, prefix, after, upto)
        return events

    # lifecycle

    async def close(self) -> None:
        """Finish the writes already queued, end every watch, close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        await asyncio.to_thread(self._writer.join)
        await asyncio.sleep(0)  # let the last commit callback acknowledge its writers
        self._hub.close()
        await asyncio.to_thread(self._pool.shutdown)
        for conn in [self._reader, *self._pool_conns]:
            conn.close()
        os.close(self._lock_fd)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("store closed")


def _initialise(path: Path) -> int:
    """Create the file and schema if needed; returns the fd holding the file's lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = _lock(path)
    try:
        conn = db.connect(str(path))
        try:
            conn.executescript(db.SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(kv)")}
        finally:
            conn.close()
        if "value" in columns:
            raise StorageError(f"{path} has an older kcore layout; move it away to start anew")
    except BaseException:
        os.close(lock_fd)
        raise
    return lock_fd


def _lock(path: Path) -> int:
    """One process per store file: revisions are assigned in the owner's memory and events
    are fanned out in process, so a second writer would break both. The OS drops the lock
    when the owner dies, even by SIGKILL."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(f"{path} is in use by another process") from None
    return fd
