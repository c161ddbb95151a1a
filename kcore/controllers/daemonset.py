"""DaemonSet: one pod per eligible node, replaced node by node on a template change.

Eligibility is Kubernetes' pair of predicates (`node_should_run`): a node *should run* a
daemon pod when the pod's nodeSelector and required node affinity accept it and the pod
(with the standard daemon tolerations added) tolerates its NoSchedule and NoExecute taints;
an existing pod *may continue* on a node that still matches and whose NoExecute taints it
tolerates. New pods are not bound here: as in Kubernetes they carry a required node affinity
`matchFields metadata.name In [node]`, and the scheduler binds them.

A sync claims pods (ownerReferences; orphans matching the selector are adopted), then, if
expectations are satisfied: creates the missing pods (slow-start batches), deletes failed
pods, surplus pods and pods on nodes that no longer qualify or exist; with RollingUpdate,
deletes old-template pods within maxUnavailable (unavailable old pods first) or, with
maxSurge, starts new pods beside old ones on up to maxSurge nodes and retires each old pod
once its replacement is available; and always writes status. The template revision is the
`controller-revision-hash` label (FNV of the template, as Deployments use), and each
template is kept as a ControllerRevision (`_dshistory`) for `kubectl rollout history/undo`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from typing import Any

import msgspec

from kcore.api import codec
from kcore.api.apps import ControllerRevision, DaemonSet
from kcore.api.core import (
    Affinity,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pod,
    Toleration,
)
from kcore.api.errors import StatusError
from kcore.api.labels import Selector, from_label_selector, nothing
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.meta import key_of
from kcore.client.rest import Client
from kcore.controllers import _taints
from kcore.controllers import controller_utils as cu
from kcore.controllers._dshistory import History
from kcore.controllers.base import PodOwnerController
from kcore.controllers.deployment_util import template_hash
from kcore.controllers.replicaset import CONTROLLER_UID_INDEX, controller_uid_index

log = logging.getLogger(__name__)
HASH_LABEL = "controller-revision-hash"

_DAEMON_TOLERATIONS = [
    Toleration(key=_taints.NOT_READY, operator="Exists", effect=_taints.NO_EXECUTE),
    Toleration(key=_taints.UNREACHABLE, operator="Exists", effect=_taints.NO_EXECUTE),
    Toleration(key="node.kubernetes.io/disk-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/memory-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/pid-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key=_taints.UNSCHEDULABLE, operator="Exists", effect="NoSchedule"),
]
_NETWORK_UNAVAILABLE = Toleration(
    key="node.kubernetes.io/network-unavailable", operator="Exists", effect="NoSchedule"
)


def daemon_tolerations(pod_tolerations: list[Toleration], host_network: bool) -> list[Toleration]:
    """The pod's tolerations plus the daemon ones it lacks (AddOrUpdateDaemonPodTolerations)."""
    extra = [*_DAEMON_TOLERATIONS, *([_NETWORK_UNAVAILABLE] if host_network else [])]
    out = list(pod_tolerations)
    out += [t for t in extra if not any(t.key == o.key and t.effect == o.effect for o in out)]
    return out


def template_pod(ds: DaemonSet) -> Pod:
    """The pod the DaemonSet's template describes, daemon tolerations included."""
    template = ds.spec.template
    spec = codec.deep_copy(template.spec)
    spec.tolerations = daemon_tolerations(spec.tolerations, bool(spec.host_network))
    return Pod(metadata=codec.deep_copy(template.metadata), spec=spec)


def node_should_run(pod: Pod, node: Node) -> tuple[bool, bool]:
    """(should run a new pod there, may keep an existing one): NodeShouldRunDaemonPod."""
    if not _taints.matches_node_selector(pod, node):
        return False, False
    taints = node.spec.taints
    tolerations = pod.spec.tolerations
    keep = not _taints.untolerated(tolerations, taints, (_taints.NO_EXECUTE,))
    run = keep and not _taints.untolerated(tolerations, taints, (_taints.NO_SCHEDULE,))
    return run, keep


def pin_to_node(pod: Pod, node_name: str) -> None:
    """Replace the required node affinity by `matchFields metadata.name In [node]`."""
    term = NodeSelectorTerm(
        match_fields=[
            NodeSelectorRequirement(key="metadata.name", operator="In", values=[node_name])
        ]
    )
    affinity = pod.spec.affinity or Affinity()
    node_affinity = affinity.node_affinity or NodeAffinity()
    node_affinity.required_during_scheduling_ignored_during_execution = NodeSelector(
        node_selector_terms=[term]
    )
    affinity.node_affinity = node_affinity
    pod.spec.affinity = affinity


def allows_surge(ds: DaemonSet) -> bool:
    """RollingUpdate with a non-zero maxSurge."""
    rolling = ds.spec.update_strategy.rolling_update
    if ds.spec.update_strategy.type not in ("", "RollingUpdate") or rolling is None:
        return False
    return rolling.max_surge not in (None, 0, "0", "0%")


def _selector(ds: DaemonSet) -> Selector:
    try:
        return from_label_selector(ds.spec.selector) if ds.spec.selector else nothing()
    except ValueError:
        return nothing()


def _alive(pod: Pod) -> bool:
    return not pod.metadata.deletion_timestamp and pod.status.phase != "Failed"


class DaemonSetController(PodOwnerController):
    NAME = "daemonset"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.dss = factory.informer(DaemonSet)
        self.nodes = factory.informer(Node)
        self.pods = factory.informer(Pod, indexers={CONTROLLER_UID_INDEX: controller_uid_index})
        self.revisions = factory.informer(
            ControllerRevision, indexers={CONTROLLER_UID_INDEX: controller_uid_index}
        )
        self.history = History(client, self.revisions, self._revisions_of)
        self.dss.add_event_handler(
            on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n), on_delete=self._ds_gone
        )
        self.nodes.add_event_handler(
            on_add=self._all, on_update=self._node_updated, on_delete=self._all
        )
        self.pods.add_event_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    def _revisions_of(self, uid: str) -> list[ControllerRevision]:
        return self.revisions.indexer.by_index(CONTROLLER_UID_INDEX, uid)

    # -- handlers ----------------------------------------------------------------------------

    def _ds_gone(self, ds: DaemonSet) -> None:
        self.expectations.forget(key_of(ds))

    def _all(self, _: Any = None) -> None:
        for ds in self.dss.list():
            self.enqueue(ds)

    def _node_updated(self, old: Node, new: Node) -> None:
        if (old.metadata.labels, old.spec.taints) != (new.metadata.labels, new.spec.taints):
            self._all()

    def _pod_owner(self, pod: Pod) -> DaemonSet | None:
        ds: DaemonSet | None = cu.cached_controller(pod, "DaemonSet", self.dss)
        return ds

    def _pod_added(self, pod: Pod) -> None:
        ds = self._pod_owner(pod)
        if ds is not None:
            self._observe_created(ds)
        elif cu.controller_ref_of(pod) is None:
            for ds in self.dss.list(pod.metadata.namespace):
                if _selector(ds).matches(pod.metadata.labels):
                    self.enqueue(ds)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        ds = self._pod_owner(new)
        if ds is None:
            if cu.controller_ref_of(new) is None:
                self._pod_added(new)  # an orphan: a DaemonSet may adopt it
            return
        if new.metadata.deletion_timestamp and not old.metadata.deletion_timestamp:
            self._observe_deleted(ds, new)  # a graceful deletion counts as observed at once
        else:
            self.enqueue(ds)
        if ds.spec.min_ready_seconds > 0 and not cu.is_pod_ready(old) and cu.is_pod_ready(new):
            self.enqueue_after(ds, ds.spec.min_ready_seconds + 1)

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ds = self.dss.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        pods = await self._claim(ds)
        by_node: dict[str, list[Pod]] = defaultdict(list)
        for pod in sorted(pods, key=lambda p: p.metadata.creation_timestamp or ""):
            by_node[_taints.target_node_of(pod)].append(pod)
        revision = template_hash(ds.spec.template, ds.status.collision_count)
        if not ds.metadata.deletion_timestamp:
            in_use = {p.metadata.labels.get(HASH_LABEL, "") for p in pods}
            await self.history.sync(ds, revision, in_use)
        if self.expectations.satisfied(key) and not ds.metadata.deletion_timestamp:
            await self._manage(key, ds, by_node, revision)
            if ds.spec.update_strategy.type in ("", "RollingUpdate"):
                await self._rolling_update(key, ds, by_node, revision)
        await self._write_status(ds, by_node, revision)

    async def _claim(self, ds: DaemonSet) -> list[Pod]:
        selector, uid = _selector(ds), ds.metadata.uid
        owned = [
            p
            for p in self.pods.indexer.by_index(CONTROLLER_UID_INDEX, uid)
            if selector.matches(p.metadata.labels)
        ]
        if ds.metadata.deletion_timestamp:
            return owned
        for pod in self.pods.list(ds.metadata.namespace, selector):
            if cu.controller_ref_of(pod) is None and _alive(pod):
                adopted = await self._patch(pod, cu.adopt_patch(ds, pod))
                if adopted is not None:
                    owned.append(adopted)
        return owned

    async def _patch(self, pod: Pod, patch: dict[str, Any]) -> Pod | None:
        ns = pod.metadata.namespace
        try:
            return await self.client.patch(Pod, pod.metadata.name, patch, namespace=ns)
        except StatusError as e:
            if e.code in (404, 409, 422):
                return None
            raise

    def _plan(
        self, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str
    ) -> tuple[list[str], list[Pod]]:
        """Nodes that need a pod, and pods to delete (failed, surplus, misplaced, orphaned)."""
        want, now = template_pod(ds), time.time()
        create: list[str] = []
        delete: list[Pod] = []
        names = set()
        for node in self.nodes.list():
            names.add(node.metadata.name)
            run, keep = node_should_run(want, node)
            pods = [
                p for p in by_node.get(node.metadata.name, []) if not p.metadata.deletion_timestamp
            ]
            delete += [p for p in pods if p.status.phase == "Failed"]
            alive = [p for p in pods if p.status.phase != "Failed"]
            if run and not alive:
                create.append(node.metadata.name)
            elif keep and len(alive) > 1:
                delete += self._surplus(ds, alive, revision, now)
            elif not keep:
                delete += alive
        for node_name, pods in by_node.items():
            if node_name not in names:
                delete += [p for p in pods if not p.metadata.deletion_timestamp]
        return create, delete

    def _surplus(self, ds: DaemonSet, alive: list[Pod], revision: str, now: float) -> list[Pod]:
        """Extra pods on one node (oldest first in `alive`). Without surge only the oldest
        stays; with surge an old and a new pod may share the node until the new one is
        available (or the old one is not even ready): Kubernetes' podsShouldBeOnNode."""
        if not allows_surge(ds):
            return alive[1:]
        new = next((p for p in alive if p.metadata.labels.get(HASH_LABEL) == revision), None)
        old = next((p for p in alive if p.metadata.labels.get(HASH_LABEL) != revision), None)
        extra = [p for p in alive if p is not new and p is not old]
        if new is not None and old is not None:
            retire = not cu.is_pod_ready(old) or self._available(ds, new, now)
            extra += [old] if retire else []
        return extra

    async def _manage(
        self, key: str, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str
    ) -> None:
        create, delete = self._plan(ds, by_node, revision)
        create = create[: cu.BURST_REPLICAS]
        delete = delete[: cu.BURST_REPLICAS]
        if delete:
            await self._delete(key, ds, delete)
        if create:
            await self._create(key, ds, create, revision)

    async def _create(self, key: str, ds: DaemonSet, nodes: list[str], revision: str) -> None:
        makes = [functools.partial(self._new_pod, ds, node, revision) for node in nodes]
        _, errors = await self._create_pods(key, ds, makes)
        for message in errors:
            self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {message}")

    def _new_pod(self, ds: DaemonSet, node: str, revision: str) -> Pod:
        pod = template_pod(ds)
        meta = pod.metadata
        pod.metadata = ObjectMeta(
            generate_name=f"{ds.metadata.name}-",
            namespace=ds.metadata.namespace,
            labels={**meta.labels, HASH_LABEL: revision},
            annotations=dict(meta.annotations),
            finalizers=list(meta.finalizers),
            owner_references=[cu.new_controller_ref(ds)],
        )
        pin_to_node(pod, node)
        return pod

    async def _delete(self, key: str, ds: DaemonSet, pods: list[Pod]) -> None:
        self.expectations.expect_deletions(key, [p.metadata.uid for p in pods])
        for pod in pods:
            try:
                await self.client.delete(Pod, pod.metadata.name, namespace=pod.metadata.namespace)
            except StatusError as e:
                self.expectations.deletion_observed(key, pod.metadata.uid)
                if e.code != 404:
                    raise
                continue
            self.recorder.event(
                ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"
            )

    # -- rolling update ----------------------------------------------------------------------

    async def _rolling_update(
        self, key: str, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str
    ) -> None:
        if not self.expectations.satisfied(key):
            return  # the sync's own creations/deletions are in flight
        if allows_surge(ds):
            await self._surge_update(key, ds, by_node, revision)
            return
        want, now = template_pod(ds), time.time()
        desired, old_unavailable, candidates, unavailable = 0, [], [], 0
        for node in self.nodes.list():
            if not node_should_run(want, node)[0]:
                continue
            desired += 1
            pods = [p for p in by_node.get(node.metadata.name, []) if _alive(p)]
            new = [p for p in pods if p.metadata.labels.get(HASH_LABEL) == revision]
            old = [p for p in pods if p.metadata.labels.get(HASH_LABEL) != revision]
            if new:
                unavailable += 0 if self._available(ds, new[0], now) else 1
            elif not old:
                unavailable += 1
            elif not self._available(ds, old[0], now):
                old_unavailable.append(old[0])
            else:
                candidates.append(old[0])
        rolling = ds.spec.update_strategy.rolling_update
        limit = cu.int_or_percent(
            rolling.max_unavailable if rolling is not None else 1, desired, round_up=True
        )
        room = max(max(limit, 1) - unavailable, 0)
        victims = old_unavailable + candidates[:room]
        if victims:
            await self._delete(key, ds, victims)

    async def _surge_update(
        self, key: str, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str
    ) -> None:
        """maxSurge: start the new pod beside the old one (at most maxSurge nodes at once,
        at once where the old pod is unavailable anyway); the old goes once the new is
        available (`_surplus`)."""
        want, now = template_pod(ds), time.time()
        desired, surging = 0, 0
        urgent: list[str] = []
        candidates: list[str] = []
        for node in self.nodes.list():
            if not node_should_run(want, node)[0]:
                continue
            desired += 1
            pods = [p for p in by_node.get(node.metadata.name, []) if _alive(p)]
            new = [p for p in pods if p.metadata.labels.get(HASH_LABEL) == revision]
            old = [p for p in pods if p.metadata.labels.get(HASH_LABEL) != revision]
            if old and not new:
                available = self._available(ds, old[0], now)
                (candidates if available else urgent).append(node.metadata.name)
            elif old and not self._available(ds, new[0], now):
                surging += 1
        rolling = ds.spec.update_strategy.rolling_update
        surge = cu.int_or_percent(rolling.max_surge if rolling else 0, desired, round_up=True)
        create = urgent + candidates[: max(surge - surging, 0)]
        if create:
            await self._create(key, ds, create, revision)

    @staticmethod
    def _available(ds: DaemonSet, pod: Pod, now: float) -> bool:
        return cu.is_pod_available(pod, ds.spec.min_ready_seconds, now)

    # -- status ------------------------------------------------------------------------------

    def _status(self, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str) -> Any:
        """Kubernetes' per-node tally: desired/current/ready/available/updated on nodes that
        should run the pod, misscheduled on nodes that should not but have one."""
        want, now = template_pod(ds), time.time()
        desired = current = misscheduled = ready = available = updated = 0
        for node in self.nodes.list():
            pods = [p for p in by_node.get(node.metadata.name, []) if _alive(p)]
            if not node_should_run(want, node)[0]:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if pods:
                current += 1
                ready += cu.is_pod_ready(pods[0])
                available += self._available(ds, pods[0], now)
                updated += any(p.metadata.labels.get(HASH_LABEL) == revision for p in pods)
        return msgspec.structs.replace(
            ds.status,
            desired_number_scheduled=desired,
            current_number_scheduled=current,
            number_misscheduled=misscheduled,
            number_ready=ready,
            number_available=available,
            number_unavailable=desired - available,
            updated_number_scheduled=updated,
            observed_generation=ds.metadata.generation,
        )

    async def _write_status(
        self, ds: DaemonSet, by_node: dict[str, list[Pod]], revision: str
    ) -> None:
        status = self._status(ds, by_node, revision)
        if status == ds.status:
            return
        try:
            await self.client.update_status(msgspec.structs.replace(ds, status=status))
        except StatusError as e:
            if e.code == 409:
                self.enqueue(ds)
            elif e.code != 404:
                raise
            return
        if ds.spec.min_ready_seconds > 0 and status.number_ready != status.number_available:
            self.enqueue_after(ds, ds.spec.min_ready_seconds)
