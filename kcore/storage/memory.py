"""MemoryStore: the whole Store contract in process memory, for tests and throwaway clusters.

Every key keeps its versions as (revision, KeyValue | None-for-deleted) in revision order, so
a read at revision R bisects one short list; a sorted key list serves prefix ranges. A global
event log (ascending revisions) feeds watch replay. All mutation happens synchronously inside
one coroutine step, which is what makes it safe under asyncio without locks.

Compaction at C keeps every version from C on, plus each key's newest version before C unless
that one is a deletion: enough to read the state at C and to know the previous value of every
event from C on, exactly what etcd keeps.
"""

from __future__ import annotations

import bisect
import builtins

from kcore.storage._hub import HubWatch, WatchHub
from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StorageError,
    StoreClosedError,
)

Version = tuple[int, KeyValue | None]


def _revision_of(version: Version) -> int:
    return version[0]


def _event_revision(event: Event) -> int:
    return event.kv.mod_revision


class MemoryStore:
    """MVCC key-value store with watches, held in memory."""

    def __init__(self) -> None:
        self._revision = 0
        self._compacted = 0
        self._history: dict[str, builtins.list[Version]] = {}
        self._keys: builtins.list[str] = []
        self._log: builtins.list[Event] = []
        self._hub = WatchHub(0)
        self._closed = False

    # reads

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        self._check_open()
        return self._version_at(key, self._read_revision(revision))

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        self._check_open()
        at = self._read_revision(revision)
        items: builtins.list[KeyValue] = []
        remaining = 0
        for key in self._keys_from(prefix, start_after):
            kv = self._version_at(key, at)
            if kv is None:
                continue
            if limit and len(items) == limit:
                remaining += 1
            else:
                items.append(kv)
        return ListResult(items, at, remaining > 0, remaining)

    async def count(self, prefix: str) -> int:
        self._check_open()
        at = self._revision
        return sum(self._version_at(key, at) is not None for key in self._keys_from(prefix, ""))

    async def current_revision(self) -> int:
        return self._revision

    async def compacted_revision(self) -> int:
        return self._compacted

    def _read_revision(self, revision: int) -> int:
        if revision == 0:
            return self._revision
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        return revision

    def _version_at(self, key: str, revision: int) -> KeyValue | None:
        versions = self._history.get(key)
        if not versions:
            return None
        index = bisect.bisect_right(versions, revision, key=_revision_of)
        return versions[index - 1][1] if index else None

    def _keys_from(self, prefix: str, start_after: str) -> builtins.list[str]:
        keys = self._keys
        start = bisect.bisect_left(keys, prefix)
        if start_after:
            start = max(start, bisect.bisect_right(keys, start_after))
        end = start
        while end < len(keys) and keys[end].startswith(prefix):
            end += 1
        return keys[start:end]

    # writes

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._check_open()
        if self._version_at(key, self._revision) is not None:
            raise KeyExistsError(key)
        revision = self._revision + 1
        kv = KeyValue(key, value, revision, revision)
        self._commit(Event("ADDED", kv, None), kv)
        return kv

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        current = self._current(key, expected_revision)
        kv = KeyValue(key, value, current.create_revision, self._revision + 1)
        self._commit(Event("MODIFIED", kv, current), kv)
        return kv

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        current = self._current(key, expected_revision)
        kv = KeyValue(key, current.value, current.create_revision, self._revision + 1)
        self._commit(Event("DELETED", kv, current), None)
        return kv

    def _current(self, key: str, expected_revision: int) -> KeyValue:
        self._check_open()
        current = self._version_at(key, self._revision)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision and current.mod_revision != expected_revision:
            raise ConflictError(key, expected_revision, current)
        return current

    def _commit(self, event: Event, version: KeyValue | None) -> None:
        key, revision = event.kv.key, event.kv.mod_revision
        versions = self._history.get(key)
        if versions is None:
            versions = self._history[key] = []
            bisect.insort(self._keys, key)
        versions.append((revision, version))
        self._log.append(event)
        self._revision = revision
        self._hub.publish((event,), revision)

    async def compact(self, revision: int) -> None:
        self._check_open()
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision <= self._compacted:
            return
        self._compacted = revision
        cut = bisect.bisect_left(self._log, revision, key=_event_revision)
        del self._log[:cut]
        for key in [key for key, versions in self._history.items() if _trim(versions, revision)]:
            del self._history[key]
            del self._keys[bisect.bisect_left(self._keys, key)]

    # watch

    def watch(self, prefix: str, *, revision: int) -> HubWatch:
        error: StorageError | None = None
        if self._closed:
            error = StoreClosedError("store closed")
        elif revision and revision < self._compacted - 1:
            error = CompactedError(revision, self._compacted)
        after = revision or self._revision
        return HubWatch(self._hub, prefix, after, replay=self._replay, error=error)

    async def _replay(self, prefix: str, after: int, upto: int) -> builtins.list[Event]:
        if after < self._compacted - 1:
            raise CompactedError(after, self._compacted)
        log = self._log
        start = bisect.bisect_right(log, after, key=_event_revision)
        end = bisect.bisect_right(log, upto, key=_event_revision)
        return [event for event in log[start:end] if event.kv.key.startswith(prefix)]

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("store closed")


def _trim(versions: list[Version], revision: int) -> bool:
    """Drop versions older than `revision` except the newest of them if it is not a deletion;
    True if nothing is left."""
    index = bisect.bisect_left(versions, revision, key=_revision_of)
    if index:
        newest_before = versions[index - 1]
        del versions[:index]
        if newest_before[1] is not None:
            versions.insert(0, newest_before)
    return not versions


__all__ = ["MemoryStore"]
