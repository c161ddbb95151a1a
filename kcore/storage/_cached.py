"""The watch cache's values: CachedObject (a stored version, decoded once, lazily) and
CachedEvent (one change, encoded once per wire format, the same bytes for every watcher).

Both are shared by every watcher and list of the cache, so nothing here is ever mutated after
construction except the memo slots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from kcore.storage.interface import KeyValue

CacheEventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
Decode = Callable[[KeyValue], Any]
Encoders = Mapping[str, Callable[["CachedEvent"], bytes]]

_UNSET: Any = object()


class CachedObject:
    """One version of one key: `kv` as stored, `object` = decode(kv) on first use."""

    __slots__ = ("_added", "_decode", "_object", "kv")

    def __init__(self, kv: KeyValue, decode: Decode) -> None:
        self.kv = kv
        self._decode = decode
        self._object: Any = _UNSET
        self._added: CachedEvent | None = None

    @property
    def key(self) -> str:
        return self.kv.key

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def object(self) -> Any:
        obj = self._object
        if obj is _UNSET:
            obj = self._object = self._decode(self.kv)
        return obj

    def added_event(self, encoders: Encoders) -> CachedEvent:
        """A synthetic ADDED event for this version (initial state of a watch), memoised so
        every watch that starts with it shares its encodings."""
        event = self._added
        if event is None:
            event = self._added = CachedEvent("ADDED", self.revision, self, None, encoders)
        return event


class CachedEvent:
    """One change as watchers see it. For DELETED, `object` is the last state with the
    delete's revision; for BOOKMARK, `object` is None and `revision` is the cache's."""

    __slots__ = (
        "_as_added",
        "_as_deleted",
        "_current",
        "_encoded",
        "_encoders",
        "_prev",
        "key",
        "revision",
        "type",
    )

    def __init__(
        self,
        type: CacheEventType,
        revision: int,
        current: CachedObject | None,
        prev: CachedObject | None,
        encoders: Encoders,
    ) -> None:
        self.type = type
        self.key = current.kv.key if current is not None else ""
        self.revision = revision
        self._current = current
        self._prev = prev
        self._encoders = encoders
        self._encoded: dict[str, bytes] | None = None
        self._as_added: CachedEvent | None = None
        self._as_deleted: CachedEvent | None = None

    def __repr__(self) -> str:
        return f"CachedEvent({self.type}, {self.key!r}, revision={self.revision})"

    @property
    def object(self) -> Any:
        return self._current.object if self._current is not None else None

    @property
    def prev_object(self) -> Any:
        return self._prev.object if self._prev is not None else None

    @property
    def kv(self) -> KeyValue | None:
        return self._current.kv if self._current is not None else None

    @property
    def prev_kv(self) -> KeyValue | None:
        return self._prev.kv if self._prev is not None else None

    def encoded(self, fmt: str) -> bytes:
        """This event in wire format `fmt`, encoded on first request and then shared."""
        memo = self._encoded
        if memo is None:
            memo = self._encoded = {}
        data = memo.get(fmt)
        if data is None:
            data = memo[fmt] = self._encoders[fmt](self)
        return data

    def as_added(self) -> CachedEvent:
        """This MODIFIED event as an ADDED one, for a watcher whose filter the object just
        entered."""
        event = self._as_added
        if event is None:
            event = CachedEvent("ADDED", self.revision, self._current, None, self._encoders)
            self._as_added = event
        return event

    def as_deleted(self) -> CachedEvent:
        """This MODIFIED event as a DELETED one carrying the previous state at this revision,
        for a watcher whose filter the object just left."""
        event = self._as_deleted
        if event is None:
            prev = self._prev
            assert prev is not None, "only a MODIFIED event can turn into a DELETED one"
            gone = CachedObject(_at_revision(prev.kv, self.revision), prev._decode)
            event = CachedEvent("DELETED", self.revision, gone, prev, self._encoders)
            self._as_deleted = event
        return event


def _at_revision(kv: KeyValue, revision: int) -> KeyValue:
    return KeyValue(kv.key, kv.value, kv.create_revision, revision)


def bookmark(revision: int, encoders: Encoders) -> CachedEvent:
    return CachedEvent("BOOKMARK", revision, None, None, encoders)
