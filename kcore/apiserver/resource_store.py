"""Objects of one resource over the revisioned store: get, list pages, create, guaranteed
update (read-modify-write retried on conflicts) and delete, with storage errors turned into
Kubernetes Status errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kcore.api import errors
from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources
from kcore.apiserver.objects import Obj, decode_stored, encode_stored, meta
from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
)

Predicate = Callable[[Obj], bool]
# Given a copy of the current object, return the new one, or None for "no change".
Mutation = Callable[[Obj], Awaitable[Obj | None]]
_MAX_RETRIES = 16


@dataclass(slots=True)
class Page:
    items: list[Obj]
    revision: int
    next_key: str  # "" when no more
    remaining: int | None


class ResourceStore:
    """Typed-by-ResourceInfo access to `store` for one resource."""

    def __init__(self, store: Store, info: ResourceInfo) -> None:
        self.store = store
        self.info = info
        self.last_write_revision = 0  # of the newest write through this object

    def key(self, namespace: str, name: str) -> str:
        return resources.key(self.info, namespace, name)

    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.info.plural, name, group=self.info.group)

    def conflict(self, name: str, detail: str = errors.STALE_OBJECT) -> errors.StatusError:
        return errors.conflict(self.info.plural, name, detail, group=self.info.group)

    async def get(self, namespace: str, name: str) -> Obj:
        kv = await self.store.get(self.key(namespace, name))
        if kv is None:
            raise self.not_found(name)
        return decode_stored(kv.value, kv.mod_revision)

    async def list(
        self,
        namespace: str,
        *,
        revision: int = 0,
        limit: int = 0,
        start_after: str = "",
        predicate: Predicate | None = None,
    ) -> Page:
        """Up to `limit` matching objects (0: all), all read at one revision."""
        prefix = resources.prefix(self.info, namespace)
        items: list[Obj] = []
        cursor, more = start_after, True
        while more and (limit == 0 or len(items) < limit):
            want = 0 if limit == 0 else max(limit - len(items), 64)
            try:
                res = await self.store.list(
                    prefix, revision=revision, limit=want, start_after=cursor
                )
            except CompactedError as e:
                raise errors.gone(f"The provided continue parameter is too old: {e}") from None
            revision, more = res.revision, res.more
            for kv in res.items:
                obj = decode_stored(kv.value, kv.mod_revision)
                if predicate is None or predicate(obj):
                    items.append(obj)
                cursor = kv.key
                if limit and len(items) == limit:
                    more = more or kv is not res.items[-1]
                    break
        return Page(items, revision, cursor if more else "", None)

    async def create(self, obj: Obj) -> Obj:
        m = meta(obj)
        try:
            kv = await self.store.create(
                self.key(m.get("namespace", ""), m["name"]), encode_stored(obj)
            )
        except KeyExistsError:
            raise errors.already_exists(
                self.info.plural, m["name"], group=self.info.group
            ) from None
        m["resourceVersion"] = str(kv.mod_revision)
        self._wrote(kv.mod_revision)
        return obj

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Mutation,
        *,
        precondition_rv: str = "",
        dry_run: bool = False,
    ) -> Obj:
        """Read, mutate a copy, write with the read revision; retry on conflicts unless the
        caller pinned a resourceVersion (then a mismatch is 409 Conflict). `dry_run` returns
        what would be stored without storing it."""
        key = self.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise self.not_found(name)
            if precondition_rv and precondition_rv != str(kv.mod_revision):
                raise self.conflict(name)
            current = decode_stored(kv.value, kv.mod_revision)
            new = await mutate(decode_stored(kv.value, kv.mod_revision))  # a private copy
            if new is None:
                return current
            if dry_run:
                return new
            try:
                out = await self.store.update(
                    key, encode_stored(new), expected_revision=kv.mod_revision
                )
            except ConflictError:
                if precondition_rv:
                    raise self.conflict(name) from None
                continue
            except KeyNotFoundError:
                raise self.not_found(name) from None
            meta(new)["resourceVersion"] = str(out.mod_revision)
            self._wrote(out.mod_revision)
            return new
        raise self.conflict(name, "too many concurrent updates, please retry")

    async def delete(self, namespace: str, name: str, *, expected_revision: int = 0) -> Obj:
        try:
            kv = await self.store.delete(
                self.key(namespace, name), expected_revision=expected_revision
            )
        except KeyNotFoundError:
            raise self.not_found(name) from None
        except ConflictError:
            raise self.conflict(name) from None
        self._wrote(kv.mod_revision)  # the delete's revision
        return decode_stored(kv.value, kv.mod_revision)

    def _wrote(self, revision: int) -> None:
        self.last_write_revision = max(self.last_write_revision, revision)


def stores_for(store: Store, infos: list[ResourceInfo]) -> dict[Any, ResourceStore]:
    return {(i.group, i.version, i.plural): ResourceStore(store, i) for i in infos}
