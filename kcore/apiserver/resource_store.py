"""Objects of one resource over the revisioned store: get, list pages, create, guaranteed
update (read-modify-write retried on conflicts) and delete, with storage errors turned into
Kubernetes Status errors.

A version served as a view of another (autoscaling/v1 HPAs, stored as autoscaling/v2) is
converted here, on the way out of and into the store, so that every handler sees only its
request's version. `migrate_layout` moves objects of older data dirs, which stored each version
apart, into the one storage layout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kcore.api import errors, registry
from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources
from kcore.apiserver.objects import Obj, conversion_of, decode_stored, encode_stored, meta
from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
)

log = logging.getLogger(__name__)
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
        self.conversion = conversion_of(info)
        self.last_write_revision = 0  # of the newest write through this object

    def _out(self, value: bytes, revision: int) -> Obj:
        """The stored bytes as this version's object."""
        obj = decode_stored(value, revision)
        return obj if self.conversion is None else self.conversion.out(obj)

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
        return self._out(kv.value, kv.mod_revision)

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
                obj = self._out(kv.value, kv.mod_revision)
                if predicate is None or predicate(obj):
                    items.append(obj)
                cursor = kv.key
                if limit and len(items) == limit:
                    more = more or kv is not res.items[-1]
                    break
        return Page(items, revision, cursor if more else "", None)

    async def create(self, obj: Obj) -> Obj:
        """Store `obj`; returns it as read back (for a converted version: its view of the
        stored form)."""
        m = meta(obj)
        stored = obj if self.conversion is None else self.conversion.into(obj)
        try:
            kv = await self.store.create(
                self.key(m.get("namespace", ""), m["name"]), encode_stored(stored)
            )
        except KeyExistsError:
            raise errors.already_exists(
                self.info.plural, m["name"], group=self.info.group
            ) from None
        m["resourceVersion"] = str(kv.mod_revision)
        self._wrote(kv.mod_revision)
        return obj if self.conversion is None else self._out(kv.value, kv.mod_revision)

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Mutation,
        *,
        precondition_rv: str = "",
        dry_run: bool = False,
        subresource: str = "",
    ) -> Obj:
        """Read, mutate a copy, write with the read revision; retry on conflicts unless the
        caller pinned a resourceVersion (then a mismatch is 409 Conflict). `dry_run` returns
        what would be stored without storing it. `subresource` ("status" or "") says which
        part of a converted version's stored form the write may change."""
        key = self.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise self.not_found(name)
            if precondition_rv and precondition_rv != str(kv.mod_revision):
                raise self.conflict(name)
            current = self._out(kv.value, kv.mod_revision)
            new = await mutate(self._out(kv.value, kv.mod_revision))  # a private copy
            if new is None:
                return current
            value = self._encode_update(new, kv.value, kv.mod_revision, subresource)
            if value is None:
                return current
            if dry_run:
                return new if self.conversion is None else self._out(value, kv.mod_revision)
            try:
                out = await self.store.update(key, value, expected_revision=kv.mod_revision)
            except ConflictError:
                if precondition_rv:
                    raise self.conflict(name) from None
                continue
            except KeyNotFoundError:
                raise self.not_found(name) from None
            self._wrote(out.mod_revision)
            if self.conversion is not None:
                return self._out(value, out.mod_revision)
            meta(new)["resourceVersion"] = str(out.mod_revision)
            return new
        raise self.conflict(name, "too many concurrent updates, please retry")

    def _encode_update(
        self, new: Obj, current: bytes, revision: int, subresource: str
    ) -> bytes | None:
        """The stored bytes for `new`, or None when a converted view's change leaves the
        stored form as it is (nothing to write)."""
        if self.conversion is None:
            return encode_stored(new)
        stored = decode_stored(current, revision)
        into = self.conversion.into(new, current=stored, subresource=subresource)
        value = encode_stored(into)
        return None if value == current else value

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
        return self._out(kv.value, kv.mod_revision)

    def _wrote(self, revision: int) -> None:
        self.last_write_revision = max(self.last_write_revision, revision)


def stores_for(store: Store, infos: list[ResourceInfo]) -> dict[Any, ResourceStore]:
    return {(i.group, i.version, i.plural): ResourceStore(store, i) for i in infos}


async def migrate_layout(store: Store) -> int:
    """Bring a data dir from a kcore that stored each served version apart into the one
    layout: objects of another version's shape under the plain prefix are converted in place,
    and objects under `<plural>.<group>@<version>` move (converted) to the plain prefix. Where
    both held the same name, the later write wins and the other is dropped (logged). Safe to
    run by several servers at once: every write is conditional. Returns the objects changed."""
    changed = 0
    for info in registry.all_resources():
        if resources.storage_info(info) is not info:
            continue
        served = {v.api_version: v for v in resources.served_versions(info)}
        if len(served) < 2:  # never stored apart: nothing to read at startup
            continue
        for version in served.values():  # first, while the revisions are the old writes'
            changed += await _move_legacy(store, info, version)
        changed += await _convert_in_place(store, info, served)
    return changed


def _to_storage(info: ResourceInfo, obj: Obj) -> Obj:
    conversion = conversion_of(info)
    return obj if conversion is None else conversion.into(obj, check=False)


async def _convert_in_place(
    store: Store, info: ResourceInfo, served: dict[str, ResourceInfo]
) -> int:
    changed = 0
    for kv in (await store.list(resources.prefix(info))).items:
        obj = decode_stored(kv.value, kv.mod_revision)
        version = served.get(str(obj.get("apiVersion")))
        if version is None or version is info:
            continue
        value = encode_stored(_to_storage(version, obj))
        try:
            await store.update(kv.key, value, expected_revision=kv.mod_revision)
            changed += 1
        except (ConflictError, KeyNotFoundError):
            pass  # another server migrated or a client changed it: already in the new layout
    return changed


async def _move_legacy(store: Store, info: ResourceInfo, version: ResourceInfo) -> int:
    legacy = resources.legacy_prefix(version)
    changed = 0
    for kv in (await store.list(legacy)).items:
        key = resources.prefix(info) + kv.key[len(legacy) :]
        value = encode_stored(_to_storage(version, decode_stored(kv.value, 0)))
        try:
            existing = await store.get(key)
            if existing is None:
                await store.create(key, value)
            elif existing.mod_revision < kv.mod_revision:
                log.warning("replacing %s by %s, written later under the same name", key, kv.key)
                await store.update(key, value, expected_revision=existing.mod_revision)
            else:
                log.warning("dropping %s: %s was written later under the same name", kv.key, key)
            await store.delete(kv.key, expected_revision=kv.mod_revision)
            changed += 1
        except (ConflictError, KeyExistsError, KeyNotFoundError):
            continue  # another server is moving it
    return changed
