"""ReplicaSet and ReplicationController: keep `spec.replicas` pods from the template.

One implementation serves both kinds; a small `_Kind` adapter hides where they differ (a
LabelSelector vs a plain map selector, status and condition types). A sync:

1. claims pods: adopts orphans matching the selector, releases owned pods that stopped
   matching (ownerReferences with controller=true, blockOwnerDeletion=true);
2. if expectations are satisfied, creates the missing pods in slow-start batches (1, 2, 4...)
   or deletes the surplus, least valuable first (`controller_utils.deletion_rank`);
3. always writes status (replicas, fullyLabeled, ready, available with minReadySeconds,
   observedGeneration, ReplicaFailure) when it changed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from kcore.api import timeutil
from kcore.api.apps import ReplicaSet, ReplicaSetCondition
from kcore.api.core import (
    Pod,
    PodTemplateSpec,
    ReplicationController,
    ReplicationControllerCondition,
)
from kcore.api.errors import StatusError
from kcore.api.labels import Selector, from_label_selector, from_set, nothing
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu
from kcore.controllers.base import PodOwnerController

log = logging.getLogger(__name__)
R = TypeVar("R", ReplicaSet, ReplicationController)
CONTROLLER_UID_INDEX = "controller-uid"


def controller_uid_index(obj: Any) -> list[str]:
    """File objects under their controller's uid (one informer index for every owner kind)."""
    ref = cu.controller_ref_of(obj)
    return [ref.uid] if ref is not None else []


@dataclass(frozen=True, slots=True)
class _Kind(Generic[R]):
    type: type[R]
    selector: Callable[[R], Selector]
    template: Callable[[R], PodTemplateSpec | None]
    condition: Callable[..., Any]


def _rs_selector(rs: ReplicaSet) -> Selector:
    try:
        return from_label_selector(rs.spec.selector)
    except ValueError:
        return nothing()


def _rc_selector(rc: ReplicationController) -> Selector:
    return from_set(rc.spec.selector) if rc.spec.selector else nothing()


RS_KIND: _Kind[ReplicaSet] = _Kind(
    ReplicaSet, _rs_selector, lambda rs: rs.spec.template, ReplicaSetCondition
)
RC_KIND: _Kind[ReplicationController] = _Kind(
    ReplicationController, _rc_selector, lambda rc: rc.spec.template, ReplicationControllerCondition
)


class ReplicaSetController(PodOwnerController, Generic[R]):
    NAME = "replicaset"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        kind: _Kind[R] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.kind: _Kind[Any] = kind or RS_KIND
        self.NAME = "replicaset" if self.kind is RS_KIND else "replicationcontroller"
        self.owners: SharedInformer[Any] = factory.informer(self.kind.type)
        self.pods: SharedInformer[Pod] = factory.informer(
            Pod, indexers={CONTROLLER_UID_INDEX: controller_uid_index}
        )
        self.owners.add_event_handler(
            on_add=self.enqueue, on_update=self._owner_updated, on_delete=self._owner_deleted
        )
        self.pods.add_event_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # -- event handlers: only bookkeeping and enqueueing -----------------------------------

    def _owner_updated(self, old: Any, new: Any) -> None:
        self.enqueue(new)

    def _owner_deleted(self, obj: Any) -> None:
        self.expectations.forget(f"{obj.metadata.namespace}/{obj.metadata.name}")
        self.enqueue(obj)

    def _pod_owner(self, pod: Pod) -> Any | None:
        return cu.cached_controller(pod, self.kind.type.KIND, self.owners)

    def _matching_owners(self, pod: Pod) -> list[Any]:
        labels = pod.metadata.labels
        return [
            o
            for o in self.owners.list(pod.metadata.namespace)
            if self.kind.selector(o).matches(labels)
        ]

    def _pod_added(self, pod: Pod) -> None:
        if pod.metadata.deletion_timestamp:
            self._pod_deleted(pod)
            return
        owner = self._pod_owner(pod)
        if owner is not None:
            self._observe_created(owner)
        elif cu.controller_ref_of(pod) is None:
            for o in self._matching_owners(pod):
                self.enqueue(o)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        if new.metadata.deletion_timestamp and not old.metadata.deletion_timestamp:
            self._pod_deleted(new)  # a graceful deletion counts as observed at once
            return
        old_owner, new_owner = self._pod_owner(old), self._pod_owner(new)
        if old_owner is not None and (new_owner is None or new_owner is not old_owner):
            self.enqueue(old_owner)
        if new_owner is not None:
            self.enqueue(new_owner)
            self._requeue_for_availability(old, new, new_owner)
        elif cu.controller_ref_of(new) is None:
            for o in self._matching_owners(new):
                self.enqueue(o)

    def _requeue_for_availability(self, old: Pod, new: Pod, owner: Any) -> None:
        seconds = owner.spec.min_ready_seconds
        if seconds > 0 and not cu.is_pod_ready(old) and cu.is_pod_ready(new):
            self.enqueue_after(owner, seconds + 1)

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        pods = await self._claim_pods(owner)
        active = [p for p in pods if cu.is_pod_active(p)]
        failure: str | None = None
        if self.expectations.satisfied(key) and not owner.metadata.deletion_timestamp:
            failure = await self._manage(key, owner, active)
        await self._write_status(owner, active, failure)

    async def _claim_pods(self, owner: Any) -> list[Pod]:
        """Owned pods still matching, plus orphans adopted now; releases ones that stopped."""
        selector = self.kind.selector(owner)
        uid, ns = owner.metadata.uid, owner.metadata.namespace
        claimed: list[Pod] = []
        for pod in self.pods.indexer.by_index(CONTROLLER_UID_INDEX, uid):
            if selector.matches(pod.metadata.labels):
                claimed.append(pod)
            elif not pod.metadata.deletion_timestamp:
                await self._patch_pod(pod, cu.release_patch(uid, pod))
        if owner.metadata.deletion_timestamp:
            return claimed
        for pod in self.pods.list(ns, selector):
            if cu.controller_ref_of(pod) is None and cu.is_pod_active(pod):
                adopted = await self._patch_pod(pod, cu.adopt_patch(owner, pod))
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    async def _patch_pod(self, pod: Pod, patch: dict[str, Any]) -> Pod | None:
        try:
            return await self.client.patch(
                Pod, pod.metadata.name, patch, namespace=pod.metadata.namespace
            )
        except StatusError as e:
            if e.code in (404, 409, 422):
                return None  # gone or changed hands: the next event brings us back
            raise

    async def _manage(self, key: str, owner: Any, active: list[Pod]) -> str | None:
        desired = owner.spec.replicas if owner.spec.replicas is not None else 1
        diff = len(active) - desired
        if diff < 0:
            return await self._create(key, owner, min(-diff, cu.BURST_REPLICAS))
        if diff > 0:
            await self._delete(key, owner, active, min(diff, cu.BURST_REPLICAS))
        return None

    async def _create(self, key: str, owner: Any, count: int) -> str | None:
        makes = [functools.partial(self._new_pod, owner)] * count
        _, errors = await self._create_pods(key, owner, makes, namespace=_ns(owner))
        if errors:
            self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {errors[0]}")
            return errors[0]
        return None

    def _new_pod(self, owner: Any) -> Pod:
        template = self.kind.template(owner) or PodTemplateSpec()
        meta = template.metadata
        return Pod(
            metadata=ObjectMeta(
                generate_name=f"{owner.metadata.name}-",
                namespace=owner.metadata.namespace,
                labels=dict(meta.labels),
                annotations=dict(meta.annotations),
                finalizers=list(meta.finalizers),
                owner_references=[cu.new_controller_ref(owner)],
            ),
            spec=template.spec,
        )

    async def _delete(self, key: str, owner: Any, active: list[Pod], count: int) -> None:
        victims = sorted(active, key=cu.deletion_rank)[:count]
        self.expectations.expect_deletions(key, [p.metadata.uid for p in victims])
        for pod in victims:
            try:
                await self.client.delete(Pod, pod.metadata.name, namespace=_ns(owner))
            except StatusError as e:
                self.expectations.deletion_observed(key, pod.metadata.uid)
                if e.code != 404:
                    raise
                continue
            self.recorder.event(
                owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"
            )

    # -- status ------------------------------------------------------------------------------

    async def _write_status(self, owner: Any, active: list[Pod], failure: str | None) -> None:
        status = self._status(owner, active, failure)
        if owner.spec.min_ready_seconds > 0 and status.ready_replicas != status.available_replicas:
            # look again once the ready pods may have become available (every sync, since a
            # sooner wake-up, e.g. a conflict retry, replaces this one in the queue)
            self.enqueue_after(owner, owner.spec.min_ready_seconds)
        if status == owner.status:
            return
        updated = msgspec.structs.replace(owner, status=status)
        try:
            await self.client.update_status(updated)
        except StatusError as e:
            if e.code != 404:
                raise

    def _status(self, owner: Any, active: list[Pod], failure: str | None) -> Any:
        template = self.kind.template(owner) or PodTemplateSpec()
        labels = template.metadata.labels
        now = time.time()
        min_ready = owner.spec.min_ready_seconds
        ready = [p for p in active if cu.is_pod_ready(p)]
        return msgspec.structs.replace(
            owner.status,
            replicas=len(active),
            fully_labeled_replicas=sum(1 for p in active if _has_labels(p, labels)),
            ready_replicas=len(ready),
            available_replicas=sum(1 for p in ready if cu.is_pod_available(p, min_ready, now)),
            observed_generation=owner.metadata.generation,
            conditions=self._conditions(owner, failure),
        )

    def _conditions(self, owner: Any, failure: str | None) -> list[Any]:
        others: list[Any] = [c for c in owner.status.conditions if c.type != "ReplicaFailure"]
        if failure is None:
            return others
        current = next((c for c in owner.status.conditions if c.type == "ReplicaFailure"), None)
        if current is not None and current.message == failure:
            return list(owner.status.conditions)
        cond = self.kind.condition(
            type="ReplicaFailure",
            status="True",
            last_transition_time=timeutil.now(),
            reason="FailedCreate",
            message=failure,
        )
        return [*others, cond]


def _has_labels(pod: Pod, labels: dict[str, str]) -> bool:
    have = pod.metadata.labels
    return all(have.get(k) == v for k, v in labels.items())


def _ns(obj: Any) -> str:
    return str(obj.metadata.namespace)


def replication_controller(
    client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
) -> ReplicaSetController[ReplicationController]:
    return ReplicaSetController(client, factory, recorder, kind=RC_KIND, **kw)


__all__ = [
    "CONTROLLER_UID_INDEX",
    "RC_KIND",
    "RS_KIND",
    "ReplicaSetController",
    "controller_uid_index",
    "replication_controller",
]
