"""The scheduler daemon's loop: pop a pod, run its profile's framework over the node table,
assume the choice, bind in the background.

Informers feed the cache (nodes, bound pods) and the queue (pending pods whose
schedulerName is one of ours). One coroutine takes pods off the queue and decides
synchronously (the kernel call is microseconds); the decision is accounted at once
(assume) and the binding is written by a bounded pool of background tasks, so decisions
never wait for the API server. A failed binding forgets the pod and retries it after
backoff. A pod that fits nowhere gets the FailedScheduling event and a PodScheduled=False
condition with kube-scheduler's message, may preempt lower-priority pods, and waits in the
unschedulable queue for a node or pod event. A pod that permit plugins hold (Wait) stays
assumed while its binding task waits for them; if they reject it (or time out) it is
unreserved, forgotten and failed like a pod that fits nowhere. Identical pending replicas
of one owner are placed together with the batch kernel.

Pods without spec.priority take their PriorityClass's value (or the global default's), as
the Priority admission plugin would have set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

import msgspec

from kcore.api import timeutil
from kcore.api.core import Node, Pod
from kcore.api.scheduling import PriorityClass
from kcore.client import (
    ElectionTimings,
    EventRecorder,
    LeaderElector,
    SharedInformerFactory,
    key_of,
)
from kcore.client.rest import REQUEST_FAILED, Client
from kcore.scheduler import adapter
from kcore.scheduler.cache import SchedulerCache, holds_resources
from kcore.scheduler.config import SchedulerConfig
from kcore.scheduler.framework import (
    Code,
    CycleState,
    Framework,
    Registry,
    ScheduleResult,
    Status,
    WaitingPod,
    WaitingPods,
    builtin_registry,
    is_rejection,
    is_success,
)
from kcore.scheduler.framework.waiting import waiting_key
from kcore.scheduler.queue import QueuedPod, SchedulingQueue

log = logging.getLogger(__name__)
COMPONENT = "default-scheduler"
LEASE_NAME, LEASE_NAMESPACE = "kube-scheduler", "kube-system"
BATCH_MAX = 512
HOUSEKEEPING_PERIOD = 1.0


def _group_of(pod: Pod) -> Hashable | None:
    """Pods with the same owner (or none), namespace, labels and spec are interchangeable
    to the scheduler (replicas of one controller, a benchmark's pods): placed together."""
    owner = next((o.uid for o in pod.metadata.owner_references if o.controller), None)
    labels = tuple(sorted(pod.metadata.labels.items()))
    return (pod.metadata.namespace, owner, labels, msgspec.json.encode(pod.spec))


def _status_only_change(old: Pod, new: Pod) -> bool:
    """False when only status or bookkeeping changed (e.g. our own PodScheduled=False)."""
    return old.spec == new.spec and old.metadata.labels == new.metadata.labels


def _batchable(framework: Framework, result: ScheduleResult) -> bool:
    req = result.requirements
    if req is None or not framework.kernel_only or req.node_name or req.host_ports:
        return False
    if result.state.data.get("python_scored"):
        return False
    terms = (req.pod_affinity, req.pod_anti_affinity, req.existing_anti_affinity)
    return not any(terms) and not req.preferred_pod_affinity and not req.spread


class Scheduler:
    def __init__(
        self,
        client: Client | None,
        *,
        config: SchedulerConfig | None = None,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.monotonic,
        bind_concurrency: int = 16,
        record_scheduled_events: bool = True,
        identity: str | None = None,
    ) -> None:
        self._client = client
        self.config = config or SchedulerConfig()
        self._cache = SchedulerCache(clock=clock)
        self.queue = SchedulingQueue(clock=clock, group_of=_group_of)
        registry = registry or builtin_registry()
        self.waiting_pods = WaitingPods()
        self.frameworks = {
            p.scheduler_name: Framework(p, registry, self, waiting=self.waiting_pods)
            for p in self.config.profiles
        }
        self.recorder = EventRecorder(client, component=COMPONENT) if client else None
        self.record_scheduled_events = record_scheduled_events
        self.identity = identity or f"{socket.gethostname()}_{id(self):x}"
        self.priority_classes: dict[str, PriorityClass] = {}
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.scheduled = 0
        self.bound = 0

    # -- Handle -----------------------------------------------------------------------------

    @property
    def cache(self) -> SchedulerCache:
        return self._cache

    @property
    def client(self) -> Client | None:
        return self._client

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    def iterate_over_waiting_pods(self, fn: Callable[[WaitingPod], None]) -> None:
        self.waiting_pods.iterate(fn)

    # -- informer events --------------------------------------------------------------------

    def _ours(self, pod: Pod) -> bool:
        return (
            adapter.scheduler_name(pod) in self.frameworks
            and not pod.spec.node_name
            and not pod.metadata.deletion_timestamp
            and not pod.spec.scheduling_gates
            and pod.status.phase not in ("Succeeded", "Failed")
        )

    def _with_priority(self, pod: Pod) -> Pod:
        if pod.spec.priority is not None:
            return pod
        pc = (
            self.priority_classes.get(pod.spec.priority_class_name)
            if pod.spec.priority_class_name
            else None
        )
        if pc is None:
            pc = next((c for c in self.priority_classes.values() if c.global_default), None)
        if pc is None:
            return pod
        spec = msgspec.structs.replace(pod.spec, priority=pc.value)
        return msgspec.structs.replace(pod, spec=spec)

    def on_pod_add(self, pod: Pod) -> None:
        pod = self._with_priority(pod)
        if pod.spec.node_name:
            self._cache.unnominate(key_of(pod))
            self._cache.add_pod(pod)
        elif self._ours(pod):
            self.queue.add(pod)

    def on_pod_update(self, old: Pod, new: Pod) -> None:
        new = self._with_priority(new)
        key = key_of(new)
        if new.spec.node_name:
            self.queue.delete(key)
            self._cache.unnominate(key)
            freed = holds_resources(old) and not holds_resources(new)
            self._cache.update_pod(new)
            if freed:
                self.queue.move_all()
        elif not self._ours(new):
            self.queue.delete(key)
            self._reject_waiting(new)
        elif not (_status_only_change(old, new) and self.queue.refresh(new)):
            self.queue.add(new)

    def on_pod_delete(self, pod: Pod) -> None:
        """A deleted pod (bound, or assumed with its binding in flight) frees its node."""
        key = key_of(pod)
        self.queue.delete(key)
        self._cache.unnominate(key)
        self._reject_waiting(pod)
        if key in self._cache.pods:
            self._cache.remove_pod(key)
            self.queue.move_all()

    def _reject_waiting(self, pod: Pod) -> None:
        """A pod gone (or no longer ours) stops waiting at permit, as kube's RejectWaitingPod."""
        waiting = self.waiting_pods.get(waiting_key(pod))
        if waiting is not None:
            waiting.reject("", "removed")

    def on_node_add(self, node: Node) -> None:
        self._cache.add_node(node)
        self.queue.move_all()

    def on_node_update(self, old: Node, new: Node) -> None:
        self._cache.update_node(new)
        if adapter.node_fields(old) != adapter.node_fields(new):
            self.queue.move_all()

    def on_node_delete(self, node: Node) -> None:
        self._cache.remove_node(node.metadata.name)

    def on_priority_class(self, pc: PriorityClass, new: PriorityClass | None = None) -> None:
        pc = new or pc
        self.priority_classes[pc.metadata.name] = pc

    def on_priority_class_delete(self, pc: PriorityClass) -> None:
        self.priority_classes.pop(pc.metadata.name, None)

    # -- scheduling -------------------------------------------------------------------------

    def schedule_one(self, qp: QueuedPod) -> None:
        """Decide for one popped pod (and its identical siblings); binding goes on in tasks."""
        cycle = self.queue.cycle
        framework = self.frameworks.get(adapter.scheduler_name(qp.pod))
        if framework is None or qp.key in self._cache.pods:
            self.queue.done(qp.key)
            return
        with self._cache.with_nominated(qp.pod):
            result = framework.schedule(qp.pod)
            if result.node is None:
                self._unschedulable(framework, qp, result, cycle)
                return
            siblings = []
            if qp.group is not None and _batchable(framework, result):
                siblings = self.queue.pop_group(qp.group, BATCH_MAX - 1)
            self._assume(framework, qp, result.state, result.node)
            misfits = self._place_group(framework, result, siblings) if siblings else []
        for sibling in misfits:
            self.schedule_one(sibling)  # fails alone, with its own message

    def _place_group(
        self, framework: Framework, result: ScheduleResult, rest: list[QueuedPod]
    ) -> list[QueuedPod]:
        """Places the siblings of a just-placed pod with the batch kernel; returns misfits."""
        assert result.requirements is not None
        nodes = framework.place_batch(result.requirements, len(rest))
        misfits = []
        for qp, node in zip(rest, nodes, strict=True):
            if node is None:
                misfits.append(qp)
            else:
                self._assume(framework, qp, CycleState(), node)
        return misfits

    def _assume(self, framework: Framework, qp: QueuedPod, state: CycleState, node: str) -> None:
        pod = qp.pod
        status = framework.reserve(state, pod, node)
        held = False
        if is_success(status):
            status = framework.permit(state, pod, node)
            held = status is not None and status.code == Code.Wait
        if not (held or is_success(status)):
            framework.unreserve(state, pod, node)
            if is_rejection(status):  # kube: a FitError over the one node it tried
                assert status is not None
                message = f"0/1 nodes are available: {status.message}."
                self._report_failure(qp, self.queue.cycle, message)
                return
            log.info("pod %s not admitted to %s: %s", qp.key, node, status)
            self.queue.requeue_error(qp)
            return
        self._cache.assume(pod, node)
        self._cache.unnominate(qp.key)
        self.scheduled += 1
        binding: Coroutine[Any, Any, None]
        if held:
            binding = self._wait_then_bind(framework, qp, state, node, self.queue.cycle)
        else:
            binding = self._bind(framework, qp, state, node)
        self._spawn(binding)

    async def _wait_then_bind(
        self, framework: Framework, qp: QueuedPod, state: CycleState, node: str, cycle: int
    ) -> None:
        """A held pod binds once its permit plugins allow it; else it fails as unschedulable."""
        status = await framework.wait_on_permit(qp.pod)
        if is_success(status):
            await self._bind(framework, qp, state, node)
            return
        assert status is not None
        log.info("pod %s rejected at permit (%s): %s", qp.key, status.plugin, status.message)
        freed = self._cache.is_assumed(qp.key)
        self._cache.forget(qp.key)
        framework.unreserve(state, qp.pod, node)
        if freed:
            self.queue.move_all()  # the room it held may fit pods that failed meanwhile
        if qp.key in self.queue.in_flight:  # not deleted meanwhile
            self._report_failure(qp, cycle, status.message)

    async def _bind(
        self, framework: Framework, qp: QueuedPod, state: CycleState, node: str
    ) -> None:
        async with self._bind_slots:
            try:
                status = await framework.bind(state, qp.pod, node)
            except REQUEST_FAILED as exc:
                status = Status.error(str(exc))
        if is_success(status):
            self.bound += 1
            self._cache.finish_binding(qp.key)
            self.queue.done(qp.key)
            if self.record_scheduled_events:
                message = f"Successfully assigned {qp.key} to {node}"
                self._event(qp.pod, "Normal", "Scheduled", message)
            return
        log.warning("binding %s to %s failed: %s", qp.key, node, status)
        self._cache.forget(qp.key)
        framework.unreserve(state, qp.pod, node)
        self.queue.requeue_error(qp)

    def _unschedulable(
        self, framework: Framework, qp: QueuedPod, result: ScheduleResult, cycle: int
    ) -> None:
        assert result.failure is not None
        message = result.failure.message
        nominated = None
        if result.requirements is not None and _has_post_filter(framework):
            result.state.data.update(framework=framework, requirements=result.requirements)
            post = framework.post_filter(result.state, qp.pod, result.failure)
            if post is not None and post.nominated_node:
                nominated = post.nominated_node
                self._cache.nominate(qp.pod, nominated)
                victims = result.state.data.get("victims", [])
                self._spawn(self._preempt(qp.pod, nominated, victims))
            elif result.requirements is not None:
                n = result.failure.nodes
                message += (
                    f" preemption: 0/{n} nodes are available: "
                    f"{n} No preemption victims found for incoming pod."
                )
        self._report_failure(qp, cycle, message, nominated)

    def _report_failure(
        self, qp: QueuedPod, cycle: int, message: str, nominated: str | None = None
    ) -> None:
        """Requeue as unschedulable; a new message gets FailedScheduling and the condition."""
        changed = message != qp.reasons
        self.queue.requeue_unschedulable(qp, cycle, message)
        if changed:
            self._event(qp.pod, "Warning", "FailedScheduling", message)
            self._spawn(self._report_unschedulable(qp.pod, message, nominated))

    async def _report_unschedulable(self, pod: Pod, message: str, nominated: str | None) -> None:
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": timeutil.now(),
        }
        status: dict[str, Any] = {"conditions": [condition]}
        if nominated:
            status["nominatedNodeName"] = nominated
        await self._patch_status(pod, status)

    async def _patch_status(self, pod: Pod, status: dict[str, Any]) -> None:
        if self._client is None:
            return
        try:
            await self._client.patch(
                Pod,
                pod.metadata.name,
                {"status": status},
                patch_type="strategic",
                namespace=pod.metadata.namespace,
                subresource="status",
            )
        except REQUEST_FAILED as exc:
            log.info("status of %s not updated: %s", key_of(pod), exc)

    async def _preempt(self, pod: Pod, node: str, victims: list[Pod]) -> None:
        """Nominate `node` for the preemptor and delete the victims gracefully (a victim
        waiting at permit is rejected instead, as kube-scheduler does)."""
        await self._patch_status(pod, {"nominatedNodeName": node})
        for victim in victims:
            message = f"Preempted by pod {pod.metadata.uid} on node {node}"
            self._event(victim, "Normal", "Preempted", message)
            waiting = self.waiting_pods.get(waiting_key(victim))
            if waiting is not None:  # held at permit, never bound: rejected, not deleted
                waiting.reject("DefaultPreemption", "preempted")
                continue
            if self._client is None:
                continue
            try:
                await self._client.delete(
                    Pod, victim.metadata.name, namespace=victim.metadata.namespace
                )
            except REQUEST_FAILED as exc:
                log.info("victim %s not deleted: %s", key_of(victim), exc)
        self._event(pod, "Normal", "Preempting", f"Preempting {len(victims)} pod(s) on node {node}")

    def _event(self, pod: Pod, type_: Any, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(pod, type_, reason, message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running ----------------------------------------------------------------------------

    def watch(self, factory: SharedInformerFactory) -> None:
        """Register the informers this scheduler needs on `factory`."""
        factory.informer(Node).add_event_handler(
            on_add=self.on_node_add, on_update=self.on_node_update, on_delete=self.on_node_delete
        )
        factory.informer(PriorityClass).add_event_handler(
            on_add=self.on_priority_class,
            on_update=self.on_priority_class,
            on_delete=self.on_priority_class_delete,
        )
        factory.informer(Pod).add_event_handler(
            on_add=self.on_pod_add, on_update=self.on_pod_update, on_delete=self.on_pod_delete
        )

    async def schedule_forever(self) -> None:
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while True:
                qp = await self.queue.pop()
                self._schedule_guarded(qp)
                await asyncio.sleep(0)
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping

    def _schedule_guarded(self, qp: QueuedPod) -> None:
        """A pod the plugins choke on (a bug, odd input) is retried later, never fatal."""
        try:
            self.schedule_one(qp)
        except Exception:
            log.exception("scheduling %s failed", qp.key)
            self.queue.requeue_error(qp)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_PERIOD)
            self._cache.cleanup()
            self.queue.flush_unschedulable_leftover()

    async def run(
        self, *, leader_elect: bool = False, election: ElectionTimings | None = None
    ) -> None:
        """Watch, then schedule until cancelled (as the leader only, with `leader_elect`)."""
        if self._client is None:
            raise RuntimeError("a scheduler without a client cannot run")
        factory = SharedInformerFactory(self._client)
        self.watch(factory)
        factory.start()
        try:
            await factory.wait_for_sync()
            if not leader_elect:
                await self.schedule_forever()
                return
            elector = LeaderElector(
                self._client,
                name=LEASE_NAME,
                namespace=LEASE_NAMESPACE,
                identity=self.identity,
                on_started_leading=self.schedule_forever,
                timings=election,
            )
            while True:
                await elector.run()
        finally:
            await self.close()
            await factory.stop()

    async def close(self) -> None:
        tasks, self._tasks = set(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.waiting_pods.reject_all("the scheduler stopped")  # their binding tasks are gone
        if self.recorder is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.recorder.flush()
            await self.recorder.close()


def _has_post_filter(framework: Framework) -> bool:
    return bool(framework.points["post_filter"])


__all__ = ["BATCH_MAX", "COMPONENT", "Scheduler"]
