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
from typing import Any

from kcore.client import (
    EventRecorder,
    RateLimitingQueue,
    SharedInformerFactory,
    key_of,
    run_worker,
)
from kcore.client.rest import Client


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
        self.queue: RateLimitingQueue[str] = queue or RateLimitingQueue()

    def enqueue(self, obj: Any) -> None:
        self.queue.add(key_of(obj))

    def enqueue_after(self, obj: Any, seconds: float) -> None:
        self.queue.add_after(key_of(obj), seconds)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the controller holds beyond its queue (override when there is some)."""

    async def run(self, workers: int = 1) -> None:
        """Run `workers` workers until cancelled; the queue is shut down on the way out."""
        tasks = [
            asyncio.create_task(run_worker(self.queue, self.sync), name=f"{self.NAME} worker {i}")
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
