"""The controller manager: every controller on one set of shared informers, under one Lease.

`ControllerManager.run()` blocks. With leader election on (the default), it competes for the
`kube-controller-manager` Lease in kube-system; only the holder runs controllers, so two
managers can run and one acts. Leading means: build the informer factory and the controllers
(each registers the informers it needs), start and sync the informers, then run each
controller's workers. Losing the lease or cancelling `run()` stops the workers, the informers
and the event recorder, in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kcore.client import ElectionTimings, EventRecorder, LeaderElector, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
Factory = Callable[[Client, SharedInformerFactory, EventRecorder], QueueController]
LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"


def registry() -> dict[str, Factory]:
    """Controller name -> constructor, in start order (imports kept local to this table)."""
    from kcore.controllers.daemonset import DaemonSetController
    from kcore.controllers.deployment import DeploymentController
    from kcore.controllers.endpoints import EndpointsController
    from kcore.controllers.endpointslice import EndpointSliceController
    from kcore.controllers.garbagecollector import GarbageCollector
    from kcore.controllers.hpa import HorizontalPodAutoscalerController
    from kcore.controllers.job import JobController
    from kcore.controllers.namespace import NamespaceController
    from kcore.controllers.nodeipam import NodeIpamController
    from kcore.controllers.nodelifecycle import NodeLifecycleController
    from kcore.controllers.podgc import PodGCController
    from kcore.controllers.replicaset import ReplicaSetController, replication_controller
    from kcore.controllers.serviceaccount import ServiceAccountController
    from kcore.controllers.serviceaccount_tokens import TokenController

    return {
        "deployment": DeploymentController,
        "replicaset": ReplicaSetController,
        "replicationcontroller": replication_controller,
        "endpoints": EndpointsController,
        "endpointslice": EndpointSliceController,
        "garbagecollector": GarbageCollector,
        "namespace": NamespaceController,
        "serviceaccount": ServiceAccountController,
        "serviceaccount-token": TokenController,
        "nodeipam": NodeIpamController,
        "nodelifecycle": NodeLifecycleController,
        "podgc": PodGCController,
        "daemonset": DaemonSetController,
        "job": JobController,
        "horizontalpodautoscaling": HorizontalPodAutoscalerController,
    }


DEFAULT_WORKERS = {
    "deployment": 5,
    "replicaset": 5,
    "replicationcontroller": 5,
    "endpoints": 5,
    "endpointslice": 5,
    "garbagecollector": 20,
    "namespace": 2,
    "serviceaccount": 1,
    "serviceaccount-token": 2,
    "nodeipam": 1,
    "nodelifecycle": 2,
    "podgc": 1,
    "daemonset": 2,
    "job": 5,
    "horizontalpodautoscaling": 2,
}


class ControllerManager:
    def __init__(
        self,
        client: Client,
        *,
        controllers: Sequence[str] | None = None,
        workers: Mapping[str, int] | None = None,
        leader_elect: bool = True,
        identity: str | None = None,
        timings: ElectionTimings | None = None,
    ) -> None:
        known = registry()
        names = list(controllers) if controllers is not None else list(known)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown controllers: {', '.join(unknown)}")
        self.client = client
        self.names = names
        self.workers = {**DEFAULT_WORKERS, **(workers or {})}
        self.leader_elect = leader_elect
        self.identity = identity or f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.timings = timings
        self.controllers: dict[str, QueueController] = {}
        self.started = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled; with leader election, act only while holding the lease."""
        if not self.leader_elect:
            await self._lead()
            return
        while True:  # a lost lease means: stop acting, and compete again
            elector = LeaderElector(
                self.client,
                name=LEASE_NAME,
                namespace=LEASE_NAMESPACE,
                identity=self.identity,
                on_started_leading=self._lead,
                timings=self.timings,
            )
            await elector.run()
            log.warning("controller manager %s: lost the lease", self.identity)

    async def _lead(self) -> None:
        factory = SharedInformerFactory(self.client)
        recorder = EventRecorder(self.client, component="kcore-controller-manager")
        known = registry()
        self.controllers = {n: known[n](self.client, factory, recorder) for n in self.names}
        tasks: list[asyncio.Task[Any]] = []
        try:
            factory.start()
            await factory.wait_for_sync()
            log.info("controller manager %s: running %s", self.identity, ", ".join(self.names))
            tasks = [
                asyncio.create_task(c.run(self.workers.get(n, 1)), name=f"controller {n}")
                for n, c in self.controllers.items()
            ]
            self.started.set()
            await asyncio.gather(*tasks)
        finally:
            await self._stop(tasks, factory, recorder)

    async def _stop(
        self,
        tasks: list[asyncio.Task[Any]],
        factory: SharedInformerFactory,
        recorder: EventRecorder,
    ) -> None:
        self.started.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for controller in self.controllers.values():
            with contextlib.suppress(Exception):
                await controller.close()
        await factory.stop()
        await recorder.close()
