"""The one storage contract every backend (memory, sqlite, etcd) fulfils.

A revisioned key-value store with etcd semantics: every write gets the next value of one
global, monotonic revision; values are opaque bytes (the API server stores encoded objects);
a watch from revision R delivers every later event exactly once, in order. Keys look like
`/registry/<resource>/<namespace>/<name>`. The API server, not the store, turns revisions
into resourceVersions and storage errors into Kubernetes Status objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One stored version of a key."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For DELETED, `kv.value` is the last value and `kv.mod_revision` is the
    revision of the delete; `prev` is the version the change replaced (None for ADDED)."""

    type: EventType
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    """A page of a prefix listing, all read at one `revision`. `more` says whether keys past
    the last item remain; `remaining` counts them where the backend knows (else None)."""

    items: list[KeyValue]
    revision: int
    more: bool
    remaining: int | None = None


class StorageError(Exception):
    """Base of every error a store raises on purpose."""


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class ConflictError(StorageError):
    """The key's mod revision is not the one the caller expected; `current` is what is there."""

    def __init__(self, key: str, expected: int, current: KeyValue) -> None:
        super().__init__(f"key {key!r}: expected revision {expected}, found {current.mod_revision}")
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StorageError):
    """The revision asked for is older than the retained history (Kubernetes: 410 Gone)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"required revision {requested} has been compacted (compacted up to {compacted})"
        )
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The revision asked for is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class WatchTerminatedError(StorageError):
    """A watch was ended by the server side because its consumer fell too far behind (or
    the watch cache had to relist); the consumer should watch again from the last revision
    it saw (and relist if that is compacted)."""


class StoreClosedError(StorageError):
    """The store was closed; in-flight and later calls fail with this."""


class Watch(Protocol):
    """An ordered stream of events. Iterating raises CompactedError if the start revision was
    compacted, and stops once `close()` was called or the store closed."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def __anext__(self) -> Event: ...

    async def close(self) -> None: ...


@runtime_checkable
class ProgressWatch(Watch, Protocol):
    """Optional for a backend's watches: lets a consumer (the watch cache) learn that it has
    seen every event up to a revision even when none of them fell under its prefix."""

    def progress_revision(self) -> int | None:
        """R such that every event under the prefix with revision ≤ R has already been
        yielded by the iterator; None when that is not known right now (events pending)."""
        ...


class Store(Protocol):
    """Revisioned KV + watch. Every write is acknowledged only once durable (for the durable
    backends). `revision=0` means "the current revision" wherever a revision is taken."""

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None: ...

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys starting with `prefix` in key order, at `revision`; at most `limit` (0: all);
        only keys greater than `start_after` (for continue tokens)."""
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Raises KeyExistsError."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """Replace the value if the key's mod revision is `expected_revision` (0: any).
        Raises KeyNotFoundError or ConflictError."""
        ...

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete, returning the deleted value with `mod_revision` = the delete's revision.
        Raises KeyNotFoundError or ConflictError."""
        ...

    def watch(self, prefix: str, *, revision: int) -> Watch:
        """Events on keys under `prefix` with revision > `revision`, in order, each once."""
        ...

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def compact(self, revision: int) -> None:
        """Forget history before `revision`; watches and lists from older revisions get
        CompactedError afterwards."""
        ...

    async def close(self) -> None: ...
