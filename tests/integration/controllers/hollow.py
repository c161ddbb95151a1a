"""Hollow nodes: stand-ins for kubelets and the scheduler, for controller tests at scale.

`HollowNodes` watches pods through a real informer and plays the node side through the real
API: it binds unassigned pods round robin (POST pods/NAME/binding), reports them Running with
a pod IP from the node's /24 and (unless told otherwise) Ready, and completes graceful
deletions (DELETE with gracePeriodSeconds=0), as a kubelet would after stopping containers.
Tests flip readiness with `set_ready`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import msgspec

from kcore.api import timeutil
from kcore.api.core import (
    ContainerState,
    ContainerStateRunning,
    ContainerStatus,
    Node,
    Pod,
    PodCondition,
    PodIP,
)
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import Client, SharedInformerFactory, key_of


class HollowNodes:
    def __init__(
        self, client: Client, count: int = 3, *, ready: bool = True, workers: int = 8
    ) -> None:
        self.client = client
        self.names = [f"hollow-{i}" for i in range(count)]
        self.ready = ready
        self.workers = workers
        self._next = itertools.cycle(range(count))
        self._ips: dict[int, int] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._factory = SharedInformerFactory(client)
        self.pods = self._factory.informer(Pod)
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> HollowNodes:
        for name in self.names:
            with contextlib.suppress(StatusError):
                await self.client.create(Node(metadata=ObjectMeta(name=name)))
        self.pods.add_event_handler(on_add=self._enqueue, on_update=lambda o, n: self._enqueue(n))
        self._factory.start()
        await self._factory.wait_for_sync()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._factory.stop()

    def _enqueue(self, pod: Pod) -> None:
        key = key_of(pod)
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            pod = self.pods.get(key)
            if pod is None:
                continue
            try:
                await self._step(pod)
            except StatusError as e:
                if e.code not in (404, 409):
                    raise

    async def _step(self, pod: Pod) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.deletion_timestamp:
            await self.client.delete(Pod, name, namespace=ns, grace_period_seconds=0)
        elif not pod.spec.node_name:
            node = self.names[next(self._next)]
            await self.client.bind(name, node, namespace=ns)
        elif pod.status.phase != "Running":
            await self.client.update_status(self._running(pod, self.ready))

    def _running(self, pod: Pod, ready: bool) -> Pod:
        index = self.names.index(pod.spec.node_name) if pod.spec.node_name in self.names else 0
        n = self._ips.get(index, 0) % 253 + 1  # the node's /24, as node IPAM would give it
        self._ips[index] = n
        ip = f"127.{64 + index // 256}.{index % 256}.{n + 1}"
        now = timeutil.now()
        flag = "True" if ready else "False"
        conds = [c for c in pod.status.conditions if c.type not in ("Ready", "ContainersReady")]
        conds += [
            PodCondition(type="Ready", status=flag, last_transition_time=now),
            PodCondition(type="ContainersReady", status=flag, last_transition_time=now),
        ]
        statuses = [
            ContainerStatus(
                name=c.name,
                image=c.image,
                ready=ready,
                started=True,
                state=ContainerState(running=ContainerStateRunning(started_at=now)),
            )
            for c in pod.spec.containers
        ]
        status = msgspec.structs.replace(
            pod.status,
            phase="Running",
            pod_ip=ip,
            pod_ips=[PodIP(ip=ip)],
            host_ip=f"127.0.1.{index + 1}",
            start_time=now,
            conditions=conds,
            container_statuses=statuses,
        )
        return msgspec.structs.replace(pod, status=status)

    async def set_ready(self, pod: Pod, ready: bool) -> Pod:
        """Flip a running pod's Ready condition (re-reading it first)."""
        fresh = await self.client.get(Pod, pod.metadata.name, namespace=pod.metadata.namespace)
        flag = "True" if ready else "False"
        now = timeutil.now()
        conds = [
            msgspec.structs.replace(c, status=flag, last_transition_time=now)
            if c.type in ("Ready", "ContainersReady")
            else c
            for c in fresh.status.conditions
        ]
        status = msgspec.structs.replace(fresh.status, conditions=conds)
        result: Pod = await self.client.update_status(msgspec.structs.replace(fresh, status=status))
        return result


async def eventually(check: Any, *, within: float = 30.0, interval: float = 0.05) -> Any:
    """Poll `check()` (sync or async) until it returns something truthy; that value."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(interval)
