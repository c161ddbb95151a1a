"""Node lifecycle: notice nodes whose kubelet went quiet, taint them, evict their pods.

One key per node. A sync:

1. observes the node's heartbeats (its Lease in kube-node-lease and its Ready condition's
   lastHeartbeatTime). Like Kubernetes, it times heartbeats with its own clock, from the
   moment it saw them change, so clock skew between machines does not matter; a node seen
   for the first time gets a full grace period.
2. if no heartbeat changed for `grace_period` (40 s), sets every condition to Unknown
   (NodeStatusUnknown, "Kubelet stopped posting node status.") and marks the node's pods
   Ready=False;
3. keeps the taints in line with the Ready condition: Unknown -> node.kubernetes.io/unreachable,
   False -> node.kubernetes.io/not-ready, each with NoSchedule and NoExecute; True -> neither;
4. evicts (deletes through the API) the node's pods that do not tolerate a NoExecute taint, or
   whose tolerationSeconds ran out, counted from the taint's timeAdded. Pods without a
   toleration for the not-ready/unreachable taints get `default_toleration_seconds` (300 s),
   which is what Kubernetes' DefaultTolerationSeconds admission would have given them (kcore's
   API server does not add those tolerations).

A node that never heartbeated (no Lease, no Ready condition: created by hand, or a hollow
node in a test) is never marked Unknown, though its NoExecute taints still evict. Kubernetes
would mark it Unknown (NodeStatusNeverUpdated) after the grace period, but every kcore kubelet
posts Ready when it registers, so only nodes no kubelet runs for are spared.

The node is requeued after `monitor_period` (or sooner, when a grace period or toleration
ends), so expiry is noticed without any event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from kcore.api import codec, timeutil
from kcore.api.coordination import Lease
from kcore.api.core import Node, NodeCondition, Pod, PodCondition, Taint, Toleration
from kcore.api.errors import StatusError
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers import _taints
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "nodelifecycle.node"
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_MESSAGE = "Kubelet never posted node status."


def pod_node_index(pod: Pod) -> list[str]:
    return [pod.spec.node_name] if pod.spec.node_name else []


@dataclass(slots=True)
class _Health:
    probe: tuple[str, str]  # (lease renewTime, Ready lastHeartbeatTime) last seen
    observed_at: float  # our monotonic clock when `probe` last changed


def ready_status(node: Node) -> str | None:
    for cond in node.status.conditions:
        if cond.type == "Ready":
            return cond.status
    return None


def desired_taint_key(status: str | None) -> str | None:
    """The condition taint a node with this Ready status carries (Kubernetes' table)."""
    return {"Unknown": _taints.UNREACHABLE, "False": _taints.NOT_READY}.get(status or "")


def reconcile_taints(taints: list[Taint], want: str | None, added: str) -> list[Taint]:
    """`taints` with the not-ready/unreachable ones replaced by `want` (kept if present)."""
    keys = (_taints.NOT_READY, _taints.UNREACHABLE)
    kept = [t for t in taints if t.key not in keys or t.key == want]
    if want is not None:
        for effect in (_taints.NO_SCHEDULE, _taints.NO_EXECUTE):
            if not _taints.has_taint(kept, want, effect):
                kept.append(Taint(key=want, effect=effect, time_added=added))
    return kept


def unknown_conditions(node: Node, now: str) -> list[NodeCondition]:
    """Every condition Unknown; a Ready condition is added if the kubelet never posted one."""
    out: list[NodeCondition] = []
    for cond in node.status.conditions:
        if cond.status == "Unknown":
            out.append(cond)
            continue
        out.append(
            msgspec.structs.replace(
                cond,
                status="Unknown",
                reason=UNKNOWN_REASON,
                message=UNKNOWN_MESSAGE,
                last_transition_time=now,
            )
        )
    if ready_status(node) is None:
        out.append(
            NodeCondition(
                type="Ready",
                status="Unknown",
                reason="NodeStatusNeverUpdated",
                message=NEVER_MESSAGE,
                last_transition_time=now,
                last_heartbeat_time=now,
            )
        )
    return out


def with_default_tolerations(tolerations: list[Toleration], seconds: int) -> list[Toleration]:
    """Add DefaultTolerationSeconds' tolerations for the condition taints a pod lacks."""
    out = list(tolerations)
    for key in (_taints.NOT_READY, _taints.UNREACHABLE):
        probe = Taint(key=key, effect=_taints.NO_EXECUTE)
        if not _taints.tolerated(out, probe):
            out.append(
                Toleration(
                    key=key,
                    operator="Exists",
                    effect=_taints.NO_EXECUTE,
                    toleration_seconds=seconds,
                )
            )
    return out


def eviction_delay(pod: Pod, taints: list[Taint], now: float, default_seconds: int) -> float | None:
    """Seconds until the pod must go (<= 0: now); None if it may stay for good."""
    no_execute = [t for t in taints if t.effect == _taints.NO_EXECUTE]
    if not no_execute:
        return None
    tolerations = with_default_tolerations(pod.spec.tolerations, default_seconds)
    if _taints.untolerated(tolerations, no_execute, (_taints.NO_EXECUTE,)):
        return 0.0
    seconds = _taints.toleration_seconds(tolerations, no_execute)
    if seconds is None:
        return None
    stamps = [timeutil.to_timestamp(t.time_added) for t in no_execute if t.time_added]
    start = min(stamps) if stamps else now
    return start + seconds - now


class NodeLifecycleController(QueueController):
    NAME = "nodelifecycle"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        grace_period: float = 40.0,
        monitor_period: float = 5.0,
        default_toleration_seconds: int = 300,
        wall: Callable[[], float] = time.time,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.grace_period = grace_period
        self.monitor_period = monitor_period
        self.default_toleration_seconds = default_toleration_seconds
        self.wall = wall
        self._health: dict[str, _Health] = {}
        self.nodes = factory.informer(Node)
        self.leases = factory.informer(Lease, namespace=LEASE_NAMESPACE)
        self.pods = factory.informer(Pod, indexers={NODE_INDEX: pod_node_index})
        self.nodes.add_event_handler(
            on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n), on_delete=self._gone
        )
        self.leases.add_event_handler(
            on_add=self._lease_changed, on_update=lambda o, n: self._lease_changed(n)
        )
        self.pods.add_event_handler(on_add=self._pod_changed, on_update=self._pod_updated)

    # -- handlers ----------------------------------------------------------------------------

    def _gone(self, node: Node) -> None:
        self._health.pop(node.metadata.name, None)

    def _lease_changed(self, lease: Lease) -> None:
        if self.nodes.get(lease.metadata.name) is not None:
            self.queue.add(lease.metadata.name)

    def _pod_changed(self, pod: Pod) -> None:
        node = self.nodes.get(pod.spec.node_name) if pod.spec.node_name else None
        if node is not None and any(t.effect == _taints.NO_EXECUTE for t in node.spec.taints):
            self.queue.add(node.metadata.name)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.spec.node_name != new.spec.node_name or old.spec.tolerations != new.spec.tolerations:
            self._pod_changed(new)

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            self._health.pop(key, None)
            return
        watched = self._ever_heartbeated(node)
        age = self._heartbeat_age(node) if watched else 0.0
        if watched and age > self.grace_period and ready_status(node) != "Unknown":
            node = await self._mark_unknown(node)
        if ready_status(node) == "Unknown":
            await self._mark_pods_not_ready(node)
        node = await self._sync_taints(node)
        wake = await self._evict(node)
        if not watched and not wake:
            return  # registration-only node (made by hand, hollow): events bring it back
        remaining = self.grace_period - age
        delays = [self.monitor_period, *([remaining + 0.01] if remaining > 0 else []), *wake]
        self.queue.add_after(key, max(min(delays), 0.01))

    def _ever_heartbeated(self, node: Node) -> bool:
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{node.metadata.name}")
        return lease is not None or ready_status(node) is not None

    def _heartbeat_age(self, node: Node) -> float:
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{node.metadata.name}")
        renew = lease.spec.renew_time if lease is not None else ""
        ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
        probe = (renew, ready.last_heartbeat_time if ready is not None else "")
        now = self.queue.clock.now()
        health = self._health.get(node.metadata.name)
        if health is None or health.probe != probe:
            health = self._health[node.metadata.name] = _Health(probe, now)
        return now - health.observed_at

    async def _mark_unknown(self, node: Node) -> Node:
        now = timeutil.from_timestamp(self.wall())
        status = msgspec.structs.replace(node.status, conditions=unknown_conditions(node, now))
        updated = await self.client.update_status(msgspec.structs.replace(node, status=status))
        self.recorder.event(
            node, "Normal", "NodeNotReady", f"Node {node.metadata.name} status is now: Unknown"
        )
        log.info("node %s: no heartbeat for %.0fs; Unknown", node.metadata.name, self.grace_period)
        return updated

    async def _mark_pods_not_ready(self, node: Node) -> None:
        for pod in self.pods.indexer.by_index(NODE_INDEX, node.metadata.name):
            if pod.metadata.deletion_timestamp or not _is_ready(pod):
                continue
            fresh = codec.deep_copy(pod)
            now = timeutil.from_timestamp(self.wall())
            fresh.status.conditions = [_not_ready(c, now) for c in fresh.status.conditions]
            try:
                await self.client.update_status(fresh)
            except StatusError as e:
                if e.code not in (404, 409):
                    raise

    async def _sync_taints(self, node: Node) -> Node:
        want = desired_taint_key(ready_status(node))
        added = timeutil.from_timestamp(self.wall())
        taints = reconcile_taints(node.spec.taints, want, added)
        if taints == node.spec.taints:
            return node
        patch = {
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": [codec.to_dict(t) for t in taints]},
        }
        updated: Node = await self.client.patch(Node, node.metadata.name, patch)
        log.info("node %s: taints now %s", node.metadata.name, [t.key for t in taints])
        return updated

    async def _evict(self, node: Node) -> list[float]:
        """Delete the pods whose time is up; the delays until the next ones are due."""
        now, pending = self.wall(), []
        for pod in self.pods.indexer.by_index(NODE_INDEX, node.metadata.name):
            if pod.metadata.deletion_timestamp:
                continue
            delay = eviction_delay(pod, node.spec.taints, now, self.default_toleration_seconds)
            if delay is None:
                continue
            if delay > 0:
                pending.append(delay)
                continue
            await self._delete_pod(pod)
        return pending

    async def _delete_pod(self, pod: Pod) -> None:
        name, ns = pod.metadata.name, pod.metadata.namespace
        try:
            await self.client.delete(Pod, name, namespace=ns)
        except StatusError as e:
            if e.code != 404:
                raise
            return
        self.recorder.event(
            pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}"
        )


def _is_ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def _not_ready(cond: PodCondition, now: str) -> PodCondition:
    if cond.type != "Ready" or cond.status == "False":
        return cond
    return msgspec.structs.replace(
        cond, status="False", last_transition_time=now, reason="NodeNotReady"
    )
