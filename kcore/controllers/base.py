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
from collections.abc import Callable, Sequence
from typing import Any

from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.client import (
    EventRecorder,
    RateLimitingQueue,
    SharedInformerFactory,
    key_of,
    run_worker,
)
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu

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


class PodOwnerController(QueueController):
    """Base of the controllers that create and delete the pods they own (ReplicaSet,
    ReplicationController, DaemonSet, Job): their expectations, and the steps their pod
    handlers share. A pod of an owner appearing or going away is observed against the owner's
    expectations and the owner is synced; subclasses say which owner a pod has."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)  # QueueController's
        self.expectations = cu.Expectations()

    def _pod_owner(self, pod: Pod) -> Any | None:
        """The live owner this controller keeps for `pod` (its controllerRef), if any."""
        raise NotImplementedError

    def _observe_created(self, owner: Any) -> None:
        self.expectations.creation_observed(key_of(owner))
        self.enqueue(owner)

    def _observe_deleted(self, owner: Any, pod: Pod) -> None:
        self.expectations.deletion_observed(key_of(owner), pod.metadata.uid)
        self.enqueue(owner)

    def _pod_deleted(self, pod: Pod) -> None:
        owner = self._pod_owner(pod)
        if owner is not None:
            self._observe_deleted(owner, pod)

    async def _create_pods(
        self, key: str, owner: Any, pods: Sequence[Callable[[], Pod]], namespace: str | None = None
    ) -> tuple[int, list[str]]:
        """Create a pod from each factory in slow-start batches (stopping after a batch with a
        failure), each success recorded as a SuccessfulCreate event on `owner`; returns how
        many were created and the failures' messages. The owner's expectations count every
        creation that will not show up in the informer: each failure, and the pods of the
        batches never sent."""
        self.expectations.expect_creations(key, len(pods))
        queue = iter(pods)
        errors: list[str] = []

        async def create_one() -> bool:
            make = next(queue)
            try:
                pod = await self.client.create(make(), namespace=namespace)
            except StatusError as e:
                self.expectations.creation_observed(key)
                errors.append(e.message)
                return False
            self.recorder.event(
                owner, "Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}"
            )
            return True

        created = await cu.slow_start_batches(len(pods), create_one)
        for _ in range(len(pods) - created - len(errors)):
            self.expectations.creation_observed(key)  # batches never sent
        return created, errors
