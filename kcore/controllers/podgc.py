"""Pod garbage collection: orphaned pods, terminating pods that cannot finish, and old
terminated pods beyond a threshold (Kubernetes' podgc controller).

There is one key, "podgc", synced every `period` (20 s) and whenever a node is deleted:

- a pod bound to a node that does not exist (checked with a GET, so a cache lag cannot kill
  pods of a brand-new node) is deleted at once (grace period 0): no kubelet will ever stop it;
- a pod that is being deleted and was never scheduled is deleted at once as well;
- when more than `terminated_threshold` pods are Succeeded or Failed, the oldest surplus
  ones (by creation time) are deleted. 0 disables this part (Kubernetes' default is 12500).
"""

from __future__ import annotations

import logging
from typing import Any

from kcore.api.core import Node, Pod
from kcore.api.errors import StatusError
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
KEY = "podgc"


class PodGCController(QueueController):
    NAME = "podgc"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        period: float = 20.0,
        terminated_threshold: int = 12500,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.period = period
        self.terminated_threshold = terminated_threshold
        self.nodes = factory.informer(Node)
        self.pods = factory.informer(Pod)
        self.nodes.add_event_handler(on_delete=lambda _: self.queue.add(KEY))
        self.queue.add(KEY)

    async def sync(self, key: str) -> None:
        try:
            await self.gc_orphans()
            await self.gc_unscheduled_terminating()
            await self.gc_terminated()
        finally:
            self.queue.add_after(KEY, self.period)

    async def gc_orphans(self) -> None:
        known = {n.metadata.name for n in self.nodes.list()}
        missing: dict[str, bool] = {}
        for pod in self.pods.list():
            node = pod.spec.node_name
            if not node or node in known:
                continue
            if node not in missing:
                missing[node] = await self._node_missing(node)
            if missing[node]:
                await self._delete(pod, "PodGCOrphaned", f"node {node} no longer exists")

    async def _node_missing(self, name: str) -> bool:
        try:
            await self.client.get(Node, name)
        except StatusError as e:
            if e.code == 404:
                return True
            raise
        return False

    async def gc_unscheduled_terminating(self) -> None:
        for pod in self.pods.list():
            if pod.metadata.deletion_timestamp and not pod.spec.node_name:
                await self._delete(pod, "PodGCUnscheduled", "terminating and never scheduled")

    async def gc_terminated(self) -> None:
        if self.terminated_threshold <= 0:
            return
        done = [p for p in self.pods.list() if p.status.phase in ("Succeeded", "Failed")]
        surplus = len(done) - self.terminated_threshold
        if surplus <= 0:
            return
        done.sort(key=lambda p: p.metadata.creation_timestamp or "")
        for pod in done[:surplus]:
            await self._delete(pod, "PodGCTerminated", "terminated pods above the threshold")

    async def _delete(self, pod: Pod, reason: str, why: str) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        try:
            await self.client.delete(Pod, name, namespace=ns, grace_period_seconds=0)
        except StatusError as e:
            if e.code != 404:
                raise
            return
        log.info("pod gc: deleted %s/%s (%s)", ns, name, why)
        self.recorder.event(pod, "Normal", reason, f"Deleted pod {ns}/{name}: {why}")
