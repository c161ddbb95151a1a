"""A Store wrapper that records each storage call's latency in the server's metrics
(apiserver_storage_duration_seconds{operation}); everything else passes straight through."""

from __future__ import annotations

import time
from typing import Any

from kcore.apiserver.metrics import Metrics
from kcore.storage.interface import KeyValue, ListResult, Store, Watch


class TimedStore:
    def __init__(self, inner: Store, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        t = time.perf_counter()
        try:
            return await self.inner.get(key, revision=revision)
        finally:
            self.metrics.storage_op("get", time.perf_counter() - t)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        t = time.perf_counter()
        try:
            return await self.inner.list(prefix, revision=revision, limit=limit,
                                         start_after=start_after)  # fmt: skip
        finally:
            self.metrics.storage_op("list", time.perf_counter() - t)

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.create(key, value)
        finally:
            self.metrics.storage_op("create", time.perf_counter() - t)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.update(key, value, expected_revision=expected_revision)
        finally:
            self.metrics.storage_op("update", time.perf_counter() - t)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.delete(key, expected_revision=expected_revision)
        finally:
            self.metrics.storage_op("delete", time.perf_counter() - t)

    def watch(self, prefix: str, *, revision: int) -> Watch:
        return self.inner.watch(prefix, revision=revision)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()
