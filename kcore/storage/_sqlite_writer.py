"""The single writer thread of SqliteStore: group commit with preconditions checked inside.

Async callers enqueue `WriteOp`s. The thread takes everything pending, applies it in ONE
transaction (one fsync for the whole batch), assigning revisions in queue order; each op's
precondition (exists / not exists / expected mod revision) is checked against the state inside
that transaction, so of N racing updates with the same expected revision exactly one wins.
After COMMIT the results and the batch's events go to the event loop in one callback, which
publishes the events and then resolves the callers' futures.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kcore.storage._sqlite_db import ADDED, DELETED, GET_CURRENT, MODIFIED, read_meta
from kcore.storage.interface import (
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    StorageError,
)

OpKind = Literal["create", "update", "delete", "compact"]
Result = KeyValue | None | BaseException
OnCommit = Callable[[list["WriteOp"], list[Result], list[Event], int, int], None]

MAX_BATCH = 2000


@dataclass(slots=True)
class WriteOp:
    kind: OpKind
    key: str
    value: bytes
    expected: int
    future: asyncio.Future[Any] = field(repr=False)


class Writer(threading.Thread):
    """Owns the write connection; `submit` is thread-safe; `stop` ends after pending ops."""

    def __init__(
        self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop, on_commit: OnCommit
    ) -> None:
        super().__init__(name="kcore-sqlite-writer", daemon=True)
        self._conn = conn
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[WriteOp | None] = queue.SimpleQueue()
        self.revision, self.compacted = read_meta(conn)

    def submit(self, op: WriteOp) -> None:
        self._queue.put(op)

    def stop(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                if batch:
                    self._commit(batch)
        finally:
            self._conn.close()

    def _next_batch(self) -> list[WriteOp] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is None:
                self._queue.put(None)
                break
            batch.append(op)
        return batch

    def _commit(self, batch: list[WriteOp]) -> None:
        revision, compacted = self.revision, self.compacted
        events: list[Event] = []
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            results = [self._apply(op, events) for op in batch]
            self._conn.execute("UPDATE meta SET value = ? WHERE name = 'rev'", (self.revision,))
            self._conn.execute("COMMIT")
        except Exception as error:  # a failed batch must still answer every caller
            self._rollback()
            self.revision, self.compacted = revision, compacted
            events = []
            results = [StorageError(f"sqlite write failed: {error}") for _ in batch]
        self._loop.call_soon_threadsafe(
            self._on_commit, batch, results, events, self.revision, self.compacted
        )

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _apply(self, op: WriteOp, events: list[Event]) -> Result:
        try:
            if op.kind == "create":
                return self._create(op, events)
            if op.kind == "compact":
                self._compact(op.expected)
                return None
            return self._change(op, events)
        except StorageError as error:
            return error

    def _create(self, op: WriteOp, events: list[Event]) -> KeyValue:
        rev = self.revision + 1
        cursor = self._conn.execute(
            "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING", (op.key, rev, rev)
        )
        if cursor.rowcount != 1:
            raise KeyExistsError(op.key)
        self._log(rev, op.key, ADDED, op.value, rev, 0)
        kv = KeyValue(op.key, op.value, rev, rev)
        events.append(Event("ADDED", kv, None))
        return kv

    def _change(self, op: WriteOp, events: list[Event]) -> KeyValue:
        row = self._conn.execute(GET_CURRENT, (op.key,)).fetchone()
        if row is None:
            raise KeyNotFoundError(op.key)
        current = KeyValue(op.key, row[0], row[1], row[2])
        if op.expected and current.mod_revision != op.expected:
            raise ConflictError(op.key, op.expected, current)
        rev = self.revision + 1
        if op.kind == "delete":
            self._conn.execute("DELETE FROM kv WHERE key = ?", (op.key,))
            self._log(rev, op.key, DELETED, b"", current.create_revision, row[2])
            events.append(Event("DELETED", KeyValue(op.key, current.value, row[1], rev), current))
            return KeyValue(op.key, current.value, row[1], rev)
        self._conn.execute("UPDATE kv SET mod_rev = ? WHERE key = ?", (rev, op.key))
        self._log(rev, op.key, MODIFIED, op.value, current.create_revision, row[2])
        kv = KeyValue(op.key, op.value, row[1], rev)
        events.append(Event("MODIFIED", kv, current))
        return kv

    def _log(
        self, rev: int, key: str, kind: int, value: bytes, create_rev: int, prev_rev: int
    ) -> None:
        self._conn.execute(
            "INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)",
            (rev, key, kind, value, create_rev, prev_rev),
        )
        self.revision = rev

    def _compact(self, revision: int) -> None:
        """Keep every row from `revision` on and each key's newest older row unless it is a
        deletion (see MemoryStore for why that is exactly what reads and watches need)."""
        if revision > self.revision:
            raise FutureRevisionError(revision, self.revision)
        if revision <= self.compacted:
            return
        self._conn.execute(
            "DELETE FROM log WHERE rev < :c AND (type = 2 OR rev < (SELECT max(o.rev) FROM log"
            " AS o WHERE o.key = log.key AND o.rev < :c))",
            {"c": revision},
        )
        self._conn.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))
        self.compacted = revision
