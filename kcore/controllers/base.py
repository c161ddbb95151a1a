"""The shape every kcore controller has: informers feed keys into a queue, workers reconcile.

A controller subclasses `QueueController`, asks the shared informer factory for the informers
it needs in `__init__` (registering handlers that only call `enqueue`), and implements
`sync(key)`: read from the caches, act through the API, write status. `run(workers)` runs the
workers until cancelled and then shuts the queue down, so the manager can stop any controller
by cancelling its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kcore.api.errors import StatusError
from kcore.client import (
    EventRecorder,
    RateLimitingQueue,
    SharedInformerFactory,
    key_of,
    run_worker,
)
from kcore.client.rest import Client

log = logging.getLogger(__name__)


class QueueController:
    """Base: a rate-limited key queue plus the handles every controller needs."""

    NAME = ""

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        queue: RateLimitingQueue[str] | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.queue: RateLimitingQueue[str] = queue if queue is not None else RateLimitingQueue()

    def enqueue(self, obj: Any) -> None:
        self.queue.add(key_of(obj))

    def enqueue_after(self, obj: Any, seconds: float) -> None:
        self.queue.add_after(key_of(obj), seconds)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def _sync_quietly(self, key: str) -> None:
        """A write conflict is the normal race with another writer: requeue without a trace."""
        try:
            await self.sync(key)
        except StatusError as e:
            if e.code != 409:
                raise
            log.debug("%s: %s conflicted, requeueing: %s", self.NAME, key, e)
            self.queue.add_rate_limited(key)

    async def close(self) -> None:
        """Release what the controller holds beyond its queue (override when there is some)."""

    async def run(self, workers: int = 1) -> None:
        """Run `workers` workers until cancelled; the queue is shut down on the way out."""
        tasks = [
            asyncio.create_task(
                run_worker(self.queue, self._sync_quietly), name=f"{self.NAME} worker {i}"
            )
            for i in range(max(workers, 1))
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
