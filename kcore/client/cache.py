"""The informer's local cache: objects by key ("namespace/name") plus secondary indexes.

Like client-go's thread-safe store and indexer, minus the threads: everything runs on one
event loop. An index maps an object to the values it is filed under (pods by
`spec.nodeName`, everything by namespace) and answers "which objects have value V".

Objects handed out are the cache's own: never mutate them. Copy first
(`msgspec.structs.replace`, or `copy.deepcopy`) and write the copy back through the API.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from kcore.client.meta import namespace_of

T = TypeVar("T")
IndexFunc = Callable[[T], Iterable[str]]
NAMESPACE_INDEX = "namespace"


def namespace_index(obj: Any) -> builtins.list[str]:
    """File every object under its namespace ("" for cluster-scoped objects)."""
    return [namespace_of(obj)]


class Indexer(Generic[T]):
    """Objects by key, with named indexes kept up to date on every change."""

    def __init__(self, indexers: Mapping[str, IndexFunc[T]] | None = None) -> None:
        self._items: dict[str, T] = {}
        self._indexers: dict[str, IndexFunc[T]] = {}
        # index name -> indexed value -> keys filed there
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.add_indexers(indexers or {})

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def add_indexers(self, indexers: Mapping[str, IndexFunc[T]]) -> None:
        """Add indexes (existing objects are filed at once); a name is defined only once."""
        for name, func in indexers.items():
            if name in self._indexers:
                if self._indexers[name] is not func:
                    raise ValueError(f"index {name!r} is already defined")
                continue
            self._indexers[name] = func
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._file(name, key, obj)

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def list(self) -> builtins.list[T]:
        return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def items(self) -> builtins.list[tuple[str, T]]:
        return list(self._items.items())

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        """Objects filed under `value` in `index` (KeyError for an undefined index)."""
        return [self._items[k] for k in self._indices[index].get(value, ())]

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        return list(self._indices[index].get(value, ()))

    def index_values(self, index: str) -> builtins.list[str]:
        return list(self._indices[index])

    def upsert(self, key: str, obj: T) -> T | None:
        """Store `obj` under `key`; the object it replaced, if any."""
        old = self._items.get(key)
        if old is not None:
            self._unfile_all(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._file(name, key, obj)
        return old

    def delete(self, key: str) -> T | None:
        """Drop `key`; the object it held, if any."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unfile_all(key, old)
        return old

    def replace(self, items: Mapping[str, T]) -> None:
        """Hold exactly `items` from now on, rebuilding every index."""
        self._items = dict(items)
        for name in self._indexers:
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._file(name, key, obj)

    def _file(self, name: str, key: str, obj: T) -> None:
        index = self._indices[name]
        for value in self._indexers[name](obj):
            index.setdefault(value, set()).add(key)

    def _unfile_all(self, key: str, obj: T) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


class CacheMutationError(AssertionError):
    """Someone changed an object the cache handed out instead of changing a copy."""


class MutationDetector:
    """Remembers the encoding of every cached object and reports ones changed in place.

    Costs one msgpack encode per cached write; meant for tests and debugging, like client-go's
    KUBE_CACHE_MUTATION_DETECTOR (enable with KCORE_CACHE_MUTATION_DETECTOR=1).
    """

    def __init__(self) -> None:
        self._copies: dict[str, tuple[object, bytes]] = {}

    def record(self, key: str, obj: object) -> None:
        self._copies[key] = (obj, msgspec.msgpack.encode(obj))

    def forget(self, key: str) -> None:
        self._copies.pop(key, None)

    def verify(self, key: str) -> None:
        """Raise if the object last recorded under `key` no longer encodes the same."""
        entry = self._copies.get(key)
        if entry is not None and msgspec.msgpack.encode(entry[0]) != entry[1]:
            raise CacheMutationError(f"cached object {key} was mutated in place; copy it first")

    def verify_all(self) -> None:
        for key in list(self._copies):
            self.verify(key)
