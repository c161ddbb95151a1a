"""The Deployment controller: ReplicaSets per pod template, rolled by RollingUpdate or Recreate.

A sync claims the ReplicaSets the Deployment's selector matches, then, after Kubernetes'
`pkg/controller/deployment`: a paused Deployment or a change of replicas only scales
(proportionally across ReplicaSets during a rollout); otherwise the strategy runs.
RollingUpdate grows the new ReplicaSet up to replicas+maxSurge pods in all and shrinks old
ones while at least replicas-maxUnavailable stay available; Recreate scales the old ones to
zero, waits for their pods to go, then scales up the new one. Each sync ends by writing
status (counts, observedGeneration, Available and Progressing conditions) and, once the
rollout is complete, deleting old ReplicaSets beyond revisionHistoryLimit.

The new ReplicaSet is `NAME-<pod-template-hash>`; the hash label joins its selector and
template, and its annotations carry the revision and desired/max replicas, which is what
`kubectl rollout status|history|undo` read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kcore.api import codec
from kcore.api.apps import Deployment, ReplicaSet, ReplicaSetSpec
from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.api.labels import Selector, from_label_selector, nothing
from kcore.api.meta import LabelSelector, ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu
from kcore.controllers import deployment_util as du
from kcore.controllers.base import QueueController
from kcore.controllers.replicaset import CONTROLLER_UID_INDEX, controller_uid_index

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Rollout:
    """The ReplicaSets of one sync; entries are replaced as the sync writes them."""

    d: Deployment
    new: ReplicaSet | None
    old: list[ReplicaSet] = field(default_factory=list)

    @property
    def all(self) -> list[ReplicaSet | None]:
        return [*self.old, self.new]


def _selector(d: Deployment) -> Selector:
    try:
        return from_label_selector(d.spec.selector)
    except ValueError:
        return nothing()


class DeploymentController(QueueController):
    NAME = "deployment"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.deployments: SharedInformer[Deployment] = factory.informer(Deployment)
        self.rss: SharedInformer[ReplicaSet] = factory.informer(
            ReplicaSet, indexers={CONTROLLER_UID_INDEX: controller_uid_index}
        )
        self.pods: SharedInformer[Pod] = factory.informer(
            Pod, indexers={CONTROLLER_UID_INDEX: controller_uid_index}
        )
        self.deployments.add_event_handler(
            on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.rss.add_event_handler(
            on_add=self._rs_changed, on_update=self._rs_updated, on_delete=self._rs_changed
        )
        self.pods.add_event_handler(on_delete=self._pod_deleted)

    # -- event handlers --------------------------------------------------------------------

    def _owner(self, obj: Any) -> Deployment | None:
        ref = cu.controller_ref_of(obj)
        if ref is None or ref.kind != "Deployment":
            return None
        d = self.deployments.get(f"{obj.metadata.namespace}/{ref.name}")
        return d if d is not None and d.metadata.uid == ref.uid else None

    def _rs_changed(self, rs: ReplicaSet) -> None:
        d = self._owner(rs)
        if d is not None:
            self.enqueue(d)
        elif cu.controller_ref_of(rs) is None:
            for d in self.deployments.list(rs.metadata.namespace):
                if _selector(d).matches(rs.metadata.labels):
                    self.enqueue(d)

    def _rs_updated(self, old: ReplicaSet, new: ReplicaSet) -> None:
        old_owner = self._owner(old)
        if old_owner is not None and self._owner(new) is not old_owner:
            self.enqueue(old_owner)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Pod) -> None:
        """Recreate waits for old pods to be gone: look again when one goes."""
        ref = cu.controller_ref_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.rss.get(f"{pod.metadata.namespace}/{ref.name}")
        d = self._owner(rs) if rs is not None else None
        if d is not None and not du.is_rolling(d):
            self.enqueue(d)

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None:
            return
        if _selector(d).empty:
            self.recorder.event(
                d, "Warning", "SelectingAll", "This deployment is selecting all pods."
            )
            return
        rss = await self._claim_replica_sets(d)
        if d.metadata.deletion_timestamp:
            await self._sync_status(self._split(d, rss))
            return
        d = await self._check_paused(d)
        if d.spec.paused or self._is_scaling_event(d, rss):
            await self._scale_only(d, rss)
        elif du.is_rolling(d):
            await self._rolling(d, rss)
        else:
            await self._recreate(d, rss)

    def _split(self, d: Deployment, rss: list[ReplicaSet]) -> _Rollout:
        new = du.find_new_replica_set(d, rss)
        old = [rs for rs in rss if rs is not new]
        return _Rollout(d, new, old)

    async def _claim_replica_sets(self, d: Deployment) -> list[ReplicaSet]:
        selector, uid = _selector(d), d.metadata.uid
        claimed: list[ReplicaSet] = []
        for rs in self.rss.indexer.by_index(CONTROLLER_UID_INDEX, uid):
            if selector.matches(rs.metadata.labels):
                claimed.append(rs)
            elif not rs.metadata.deletion_timestamp:
                await self._patch_rs(rs, cu.release_patch(uid, rs))
        if d.metadata.deletion_timestamp:
            return claimed
        for rs in self.rss.list(d.metadata.namespace, selector):
            if cu.controller_ref_of(rs) is None and not rs.metadata.deletion_timestamp:
                adopted = await self._patch_rs(rs, cu.adopt_patch(d, rs))
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    async def _patch_rs(self, rs: ReplicaSet, patch: dict[str, Any]) -> ReplicaSet | None:
        try:
            return await self.client.patch(
                ReplicaSet, rs.metadata.name, patch, namespace=rs.metadata.namespace
            )
        except StatusError as e:
            if e.code in (404, 409, 422):
                return None
            raise

    async def _check_paused(self, d: Deployment) -> Deployment:
        """Progressing Unknown DeploymentPaused/DeploymentResumed when pause flips."""
        if not du.has_deadline(d):
            return d
        cond = du.get_condition(d.status, "Progressing")
        if cond is not None and cond.reason == du.TIMED_OUT:
            return d
        paused_cond = cond is not None and cond.reason == du.PAUSED
        if d.spec.paused == paused_cond:
            return d
        reason, msg = (
            (du.PAUSED, "Deployment is paused")
            if d.spec.paused
            else (
                du.RESUMED,
                "Deployment is resumed",
            )
        )
        conds = [codec.deep_copy(c) for c in d.status.conditions]
        du.set_condition(conds, du.condition("Progressing", "Unknown", reason, msg))
        status = msgspec.structs.replace(d.status, conditions=conds)
        return await self.client.update_status(msgspec.structs.replace(d, status=status))

    def _is_scaling_event(self, d: Deployment, rss: list[ReplicaSet]) -> bool:
        desired = str(du.replicas_of(d))
        for rs in du.active(self._split(d, rss).all):
            annotated = rs.metadata.annotations.get(du.DESIRED_REPLICAS)
            if annotated is not None and annotated != desired:
                return True
        return False

    # -- the new ReplicaSet and revisions ----------------------------------------------------

    async def _sync_revision(self, d: Deployment, rss: list[ReplicaSet], create: bool) -> _Rollout:
        """Find (or create) the new ReplicaSet and bring revision annotations up to date."""
        ro = self._split(d, rss)
        new_revision = du.max_revision(ro.old) + 1
        if ro.new is not None:
            ro.new = await self._update_new_annotations(d, ro.new, new_revision)
        elif create:
            ro.new = await self._create_new(d, ro, new_revision)
        if ro.new is not None:
            ro.d = await self._set_deployment_revision(ro.d, du.revision(ro.new))
        return ro

    async def _update_new_annotations(
        self, d: Deployment, rs: ReplicaSet, new_revision: int
    ) -> ReplicaSet:
        wanted = du.rs_annotations(d, rs.metadata.annotations, new_revision, replicas=False)
        if wanted == rs.metadata.annotations:
            return rs
        meta = msgspec.structs.replace(rs.metadata, annotations=wanted)
        return await self.client.update(msgspec.structs.replace(rs, metadata=meta))

    async def _set_deployment_revision(self, d: Deployment, rev: int) -> Deployment:
        if du.revision(d) == rev or rev == 0:
            return d
        patch = {"metadata": {"annotations": {du.REVISION: str(rev)}}}
        updated: Deployment = await self.client.patch(
            Deployment, d.metadata.name, patch, namespace=d.metadata.namespace
        )
        return updated

    def _new_rs_object(self, d: Deployment, ro: _Rollout, new_revision: int) -> ReplicaSet:
        template = codec.deep_copy(d.spec.template)
        pod_hash = du.template_hash(template, d.status.collision_count)
        template.metadata.labels = {**template.metadata.labels, du.HASH_LABEL: pod_hash}
        selector = codec.deep_copy(d.spec.selector) or LabelSelector()
        selector.match_labels = {**selector.match_labels, du.HASH_LABEL: pod_hash}
        rs = ReplicaSet(
            metadata=ObjectMeta(
                name=f"{d.metadata.name}-{pod_hash}",
                namespace=d.metadata.namespace,
                labels=dict(template.metadata.labels),
                owner_references=[cu.new_controller_ref(d)],
            ),
            spec=ReplicaSetSpec(
                replicas=0,
                min_ready_seconds=d.spec.min_ready_seconds,
                selector=selector,
                template=template,
            ),
        )
        rs.spec.replicas = du.new_rs_replicas(d, [*ro.old, rs], 0)
        rs.metadata.annotations = du.rs_annotations(d, {}, new_revision)
        return rs

    async def _create_new(self, d: Deployment, ro: _Rollout, new_revision: int) -> ReplicaSet:
        rs = self._new_rs_object(d, ro, new_revision)
        try:
            created = await self.client.create(rs)
        except StatusError as e:
            if e.code != 409:
                raise
            return await self._existing_or_collision(d, rs)
        size = du.replicas_of(created)
        if size > 0:
            self.recorder.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {rs.metadata.name} to {size}",
            )
        conds = [codec.deep_copy(c) for c in d.status.conditions]
        msg = f'Created new replica set "{created.metadata.name}"'
        du.set_condition(conds, du.condition("Progressing", "True", du.NEW_RS_CREATED, msg))
        if du.has_deadline(d):
            status = msgspec.structs.replace(d.status, conditions=conds)
            ro.d = await self.client.update_status(msgspec.structs.replace(d, status=status))
        return created

    async def _existing_or_collision(self, d: Deployment, rs: ReplicaSet) -> ReplicaSet:
        """409 on create: ours (a cache behind the API) or a hash collision to step around."""
        existing = await self.client.get(
            ReplicaSet, rs.metadata.name, namespace=rs.metadata.namespace
        )
        ref = cu.controller_ref_of(existing)
        ours = ref is not None and ref.uid == d.metadata.uid
        if ours and du.equal_ignore_hash(existing.spec.template, d.spec.template):
            return existing
        count = (d.status.collision_count or 0) + 1
        status = msgspec.structs.replace(d.status, collision_count=count)
        await self.client.update_status(msgspec.structs.replace(d, status=status))
        raise RuntimeError(f"hash collision for {rs.metadata.name}; collisionCount now {count}")

    # -- scaling -----------------------------------------------------------------------------

    async def _scale(
        self, ro: _Rollout, rs: ReplicaSet, size: int, operation: str = ""
    ) -> tuple[bool, ReplicaSet]:
        """Set rs to `size` (and its desired/max annotations); True if the size changed."""
        d = ro.d
        old_size = du.replicas_of(rs)
        if old_size == size and du.replicas_annotations_ok(d, rs):
            return False, rs
        ann = {
            **rs.metadata.annotations,
            du.DESIRED_REPLICAS: str(du.replicas_of(d)),
            du.MAX_REPLICAS: str(du.replicas_of(d) + du.max_surge(d)),
        }
        updated = msgspec.structs.replace(
            rs,
            metadata=msgspec.structs.replace(rs.metadata, annotations=ann),
            spec=msgspec.structs.replace(rs.spec, replicas=size),
        )
        result = await self.client.update(updated)
        self._replace(ro, rs, result)
        if old_size != size:
            op = operation or ("up" if size > old_size else "down")
            self.recorder.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {op} replica set {rs.metadata.name} from {old_size} to {size}",
            )
        return old_size != size, result

    @staticmethod
    def _replace(ro: _Rollout, old: ReplicaSet, new: ReplicaSet) -> None:
        if ro.new is old:
            ro.new = new
        ro.old = [new if rs is old else rs for rs in ro.old]

    async def _scale_only(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        ro = await self._sync_revision(d, rss, create=False)
        await self._proportional_scale(ro)
        if ro.d.spec.paused:
            await self._cleanup(ro)
        await self._sync_status(ro)

    async def _proportional_scale(self, ro: _Rollout) -> None:
        d = ro.d
        desired = du.replicas_of(d)
        target = self._active_or_latest(ro)
        if target is not None:
            await self._scale(ro, target, desired)
            return
        if du.is_saturated(d, ro.new):
            for rs in du.active(ro.old):
                await self._scale(ro, rs, 0)
            return
        if du.is_rolling(d):
            await self._scale_all_proportionally(ro)

    @staticmethod
    def _active_or_latest(ro: _Rollout) -> ReplicaSet | None:
        olds = sorted(ro.old, key=lambda rs: rs.metadata.creation_timestamp, reverse=True)
        live = du.active([*olds, ro.new])
        if len(live) == 1:
            return live[0]
        if not live:
            return ro.new if ro.new is not None else (olds[0] if olds else None)
        return None

    async def _scale_all_proportionally(self, ro: _Rollout) -> None:
        live = du.active(ro.all)
        sizes, operation = du.plan_proportional(ro.d, live)
        for rs in live:
            await self._scale(ro, rs, sizes[rs.metadata.name], operation)

    # -- strategies --------------------------------------------------------------------------

    async def _rolling(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        ro = await self._sync_revision(d, rss, create=True)
        if await self._reconcile_new(ro) or await self._reconcile_old(ro):
            await self._sync_rollout_status(ro)
            return
        if du.is_complete(ro.d, du.calculate_status(ro.d, ro.all, ro.new)):
            await self._cleanup(ro)
        await self._sync_rollout_status(ro)

    async def _reconcile_new(self, ro: _Rollout) -> bool:
        d, new = ro.d, ro.new
        if new is None:
            return False
        desired, size = du.replicas_of(d), du.replicas_of(new)
        if size == desired:
            return False
        if size > desired:
            return (await self._scale(ro, new, desired))[0]
        return (await self._scale(ro, new, du.new_rs_replicas(d, ro.all, size)))[0]

    async def _reconcile_old(self, ro: _Rollout) -> bool:
        sizes = du.plan_old_scale_down(ro.d, ro.new, ro.old)
        changed = False
        for rs in du.by_creation(ro.old):
            size = sizes[rs.metadata.name]
            if size != du.replicas_of(rs):
                changed = (await self._scale(ro, rs, size))[0] or changed
        return changed

    async def _recreate(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        ro = await self._sync_revision(d, rss, create=False)
        scaled = False
        for rs in du.active(ro.old):
            scaled = (await self._scale(ro, rs, 0))[0] or scaled
        if scaled or self._old_pods_running(ro):
            await self._sync_rollout_status(ro)
            return
        if ro.new is None:
            ro = await self._sync_revision(ro.d, [*ro.old], create=True)
        if ro.new is not None:
            await self._scale(ro, ro.new, du.replicas_of(ro.d))
        if du.is_complete(ro.d, du.calculate_status(ro.d, ro.all, ro.new)):
            await self._cleanup(ro)
        await self._sync_rollout_status(ro)

    def _old_pods_running(self, ro: _Rollout) -> bool:
        if du.status_total(ro.old) > 0:
            return True
        for rs in ro.old:
            for pod in self.pods.indexer.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid):
                if pod.status.phase not in ("Succeeded", "Failed"):
                    return True
        return False

    # -- history and status ------------------------------------------------------------------

    async def _cleanup(self, ro: _Rollout) -> None:
        limit = ro.d.spec.revision_history_limit
        if limit is None:
            return
        alive = [rs for rs in ro.old if not rs.metadata.deletion_timestamp]
        excess = len(alive) - limit
        for rs in sorted(alive, key=du.revision)[: max(excess, 0)]:
            if rs.status.replicas or du.replicas_of(rs):
                continue
            if rs.metadata.generation > rs.status.observed_generation:
                continue
            try:
                await self.client.delete(
                    ReplicaSet, rs.metadata.name, namespace=rs.metadata.namespace
                )
            except StatusError as e:
                if e.code != 404:
                    raise

    async def _sync_status(self, ro: _Rollout) -> None:
        status = du.calculate_status(ro.d, ro.all, ro.new)
        await self._write_status(ro.d, status)

    async def _sync_rollout_status(self, ro: _Rollout) -> None:
        status = du.progress_status(ro.d, du.calculate_status(ro.d, ro.all, ro.new), ro.new)
        du.replica_failure(status.conditions, ro.all)
        d = await self._write_status(ro.d, status)
        wait = du.seconds_until_deadline(d)
        if wait is not None:
            self.enqueue_after(d, wait)

    async def _write_status(self, d: Deployment, status: Any) -> Deployment:
        if status == d.status:
            return d
        try:
            written: Deployment = await self.client.update_status(
                msgspec.structs.replace(d, status=status)
            )
        except StatusError as e:
            if e.code == 404:
                return d
            raise
        return written


def _ns(obj: Any) -> str:
    return str(obj.metadata.namespace)
