"""Compactor: keeps a store's history bounded, the way the Kubernetes API server does.

Every `interval` seconds it compacts the store at the revision it observed one tick earlier,
so history always covers at least the last `interval` seconds: watchers and paged lists that
are less than one interval behind never see CompactedError.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kcore.storage.interface import StorageError, Store

log = logging.getLogger(__name__)


class Compactor:
    """Run `await compactor.tick()` yourself, or `start()` a background loop."""

    def __init__(self, store: Store, *, interval: float = 300.0) -> None:
        self._store = store
        self._interval = interval
        self._previous = 0
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Compact at the revision seen on the previous tick; returns the revision compacted
        at (0 when there was nothing to do)."""
        target, self._previous = self._previous, await self._store.current_revision()
        if target <= 0:
            return 0
        await self._store.compact(target)
        return target

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="storage compactor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except StorageError as error:
                log.warning("compaction failed: %s", error)
            await asyncio.sleep(self._interval)
