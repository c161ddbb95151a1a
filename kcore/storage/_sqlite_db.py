"""The SQLite file layout of SqliteStore and the read queries over it.

Tables:
- `log`: one row per revision (rev PK, key, type 0/1/2 = ADDED/MODIFIED/DELETED, value, create
  revision, prev_rev = the revision of the version it replaced, 0 for ADDED). It holds every
  value exactly once: a DELETED row's value is empty (the last value is its prev_rev row's).
  Feeds watch replay and reads at past revisions.
- `kv`: the current state, one row per live key (key, create_rev, mod_rev), pointing at the
  log row that holds its value, for fast get/list/count. Keeping values out of it halves the
  bytes each write puts through the WAL (measured: +20-60% creates/s for 1-4 KiB values).
- `meta`: `rev` (the store revision, bumped in the same transaction as the writes) and
  `compacted`.

Readers use their own connections; a read that needs several statements runs them in one
transaction, which WAL turns into one consistent snapshot.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kcore.storage._keys import prefix_end
from kcore.storage.interface import (
    CompactedError,
    Event,
    EventType,
    FutureRevisionError,
    KeyValue,
    ListResult,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL, value BLOB NOT NULL,
    create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('rev', 0), ('compacted', 0);
"""

ADDED, MODIFIED, DELETED = 0, 1, 2
EVENT_TYPES: tuple[EventType, EventType, EventType] = ("ADDED", "MODIFIED", "DELETED")


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, fsync on commit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-16000")
    return conn


def read_meta(conn: sqlite3.Connection) -> tuple[int, int]:
    """(revision, compacted revision)."""
    rows = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    return int(rows["rev"]), int(rows["compacted"])


def checked_revision(conn: sqlite3.Connection, revision: int) -> tuple[int, bool]:
    """(the revision to read at, whether it is the current one); raises for compacted or
    future revisions."""
    current, compacted = read_meta(conn)
    if revision == 0 or revision == current:
        return current, True
    if revision < compacted:
        raise CompactedError(revision, compacted)
    if revision > current:
        raise FutureRevisionError(revision, current)
    return revision, False


GET_CURRENT = (
    "SELECT l.value, k.create_rev, k.mod_rev FROM kv AS k JOIN log AS l ON l.rev = k.mod_rev"
    " WHERE k.key = ?"
)


def get_at(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    if revision == 0:
        row = conn.execute(GET_CURRENT, (key,)).fetchone()
        return KeyValue(key, row[0], row[1], row[2]) if row else None
    conn.execute("BEGIN")
    try:
        at, is_current = checked_revision(conn, revision)
        if is_current:
            row = conn.execute(GET_CURRENT, (key,)).fetchone()
            return KeyValue(key, row[0], row[1], row[2]) if row else None
        row = conn.execute(
            "SELECT type, value, create_rev, rev FROM log WHERE key = ? AND rev <= ?"
            " ORDER BY rev DESC LIMIT 1",
            (key, at),
        ).fetchone()
        return KeyValue(key, row[1], row[2], row[3]) if row and row[0] != DELETED else None
    finally:
        conn.execute("COMMIT")


_LIST_CURRENT = (
    "SELECT k.key, l.value, k.create_rev, k.mod_rev FROM kv AS k JOIN log AS l ON l.rev = k.mod_rev"
    " WHERE k.key >= ? AND k.key > ? AND (? = '' OR k.key < ?) ORDER BY k.key LIMIT ?"
)
_COUNT_CURRENT = "SELECT count(*) FROM kv WHERE key >= ? AND key > ? AND (? = '' OR key < ?)"
_LIST_PAST = (
    "SELECT l.key, l.value, l.create_rev, l.rev FROM"
    " (SELECT key, max(rev) AS top FROM log WHERE key >= ? AND key > ? AND (? = '' OR key < ?)"
    "  AND rev <= ? GROUP BY key) AS m"
    " JOIN log AS l ON l.rev = m.top WHERE l.type != 2 ORDER BY l.key LIMIT ?"
)


def list_at(
    conn: sqlite3.Connection, prefix: str, revision: int, limit: int, start_after: str
) -> ListResult:
    end = prefix_end(prefix)
    bounds: tuple[Any, ...] = (prefix, start_after, end, end)
    fetch = limit + 1 if limit else -1
    conn.execute("BEGIN")
    try:
        at, is_current = checked_revision(conn, revision)
        if is_current:
            rows = conn.execute(_LIST_CURRENT, (*bounds, fetch)).fetchall()
        else:
            rows = conn.execute(_LIST_PAST, (*bounds, at, fetch)).fetchall()
        more = bool(limit) and len(rows) > limit
        items = [KeyValue(r[0], r[1], r[2], r[3]) for r in (rows[:limit] if more else rows)]
        remaining: int | None = 0
        if more and is_current:
            last = (prefix, items[-1].key, end, end)
            remaining = conn.execute(_COUNT_CURRENT, last).fetchone()[0]
        elif more:
            remaining = None
        return ListResult(items, at, more, remaining)
    finally:
        conn.execute("COMMIT")


def count(conn: sqlite3.Connection, prefix: str) -> int:
    end = prefix_end(prefix)
    return int(conn.execute(_COUNT_CURRENT, (prefix, "", end, end)).fetchone()[0])


_REPLAY = (
    "SELECT l.rev, l.key, l.type, l.value, l.create_rev, l.prev_rev, p.value"
    " FROM log AS l LEFT JOIN log AS p ON p.rev = l.prev_rev AND l.prev_rev > 0"
    " WHERE l.rev > ? AND l.rev <= ? AND l.key >= ? AND (? = '' OR l.key < ?) ORDER BY l.rev"
)


def replay(conn: sqlite3.Connection, prefix: str, after: int, upto: int) -> list[Event]:
    """The logged events under `prefix` with after < revision ≤ upto, in order."""
    end = prefix_end(prefix)
    conn.execute("BEGIN")
    try:
        compacted = read_meta(conn)[1]
        if after < compacted - 1:
            raise CompactedError(after, compacted)
        rows = conn.execute(_REPLAY, (after, upto, prefix, end, end)).fetchall()
    finally:
        conn.execute("COMMIT")
    return [_event(row) for row in rows]


def _event(row: tuple[Any, ...]) -> Event:
    rev, key, kind, value, create_rev, prev_rev, prev_value = row
    kv = KeyValue(key, value, create_rev, rev)
    if kind == ADDED:
        return Event("ADDED", kv, None)
    prev = KeyValue(key, value if prev_value is None else prev_value, create_rev, prev_rev)
    if kind == DELETED:
        return Event("DELETED", KeyValue(key, prev.value, create_rev, rev), prev)
    return Event("MODIFIED", kv, prev)
