"""Job: run pods until `completions` succeed, within `backoffLimit` failures and a deadline.

The API server gives every Job a selector on its uid and template labels (controller-uid,
job-name); the controller owns the pods it creates with a controller ownerReference. A sync:

1. counts the owned pods: active (not finished, not being deleted), succeeded, failed (plus
   container restarts when restartPolicy is OnFailure, as Kubernetes counts them against
   backoffLimit). Counting is from the pods present, Kubernetes' legacy tracking (no
   job-tracking finalizers), so deleting finished pods by hand lowers the counts;
2. decides the outcome: Failed with BackoffLimitExceeded once failures exceed backoffLimit,
   Failed with DeadlineExceeded once activeDeadlineSeconds have passed since startTime
   (active pods are deleted in both cases), Complete once `completions` pods succeeded (or,
   without completions, once one succeeded and none is active);
3. otherwise keeps min(parallelism, completions - succeeded) pods active (creating in slow-
   start batches with expectations, deleting the least valuable surplus); suspend=true keeps
   none;
4. writes status: startTime, active, ready, succeeded, failed, conditions, completionTime.

Indexed completion mode: each pod gets a completion index (annotation and label
batch.kubernetes.io/job-completion-index, env JOB_COMPLETION_INDEX); the Job completes when
every index 0..completions-1 has a succeeded pod; completedIndexes is written as ranges.
A finished Job with ttlSecondsAfterFinished is deleted (background propagation) once that
many seconds have passed (Kubernetes' TTL-after-finished controller, folded in here).
After failures, a replacement waits `backoff_base * 2^(failures-1)` seconds (10 s doubling,
capped at 6 min) from the last failure, as Kubernetes delays it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kcore.api import codec, timeutil
from kcore.api.batch import Job, JobCondition, JobStatus
from kcore.api.core import EnvVar, Pod
from kcore.api.errors import StatusError
from kcore.api.labels import Selector, from_label_selector, nothing
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.meta import key_of
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu
from kcore.controllers.base import PodOwnerController
from kcore.controllers.replicaset import CONTROLLER_UID_INDEX, controller_uid_index

log = logging.getLogger(__name__)
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
JOB_LABELS = ("batch.kubernetes.io/job-name", "job-name")
UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
Outcome = tuple[str, str, str]  # condition type, reason, message
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


@dataclass(slots=True)
class Counts:
    active: list[Pod] = field(default_factory=list)
    succeeded: list[Pod] = field(default_factory=list)
    failed: int = 0
    ready: int = 0
    failed_pods: list[Pod] = field(default_factory=list)


def count_pods(job: Job, pods: list[Pod]) -> Counts:
    out = Counts()
    on_failure = job.spec.template.spec.restart_policy == "OnFailure"
    for pod in pods:
        if pod.status.phase == "Succeeded":
            out.succeeded.append(pod)
        elif pod.status.phase == "Failed":
            out.failed += 1
            out.failed_pods.append(pod)
        elif not pod.metadata.deletion_timestamp:
            out.active.append(pod)
            out.ready += cu.is_pod_ready(pod)
        if on_failure:
            out.failed += cu.restarts(pod)
    return out


def finished_at(pod: Pod) -> float:
    """When a finished pod's last container ended (else its last condition change)."""
    stamps = [
        cs.state.terminated.finished_at
        for cs in pod.status.container_statuses
        if cs.state.terminated is not None and cs.state.terminated.finished_at
    ]
    stamps += [c.last_transition_time for c in pod.status.conditions if c.last_transition_time]
    stamps = stamps or [pod.metadata.creation_timestamp or timeutil.now()]
    return max(timeutil.to_timestamp(s) for s in stamps if s)


def pod_index(pod: Pod) -> int | None:
    raw = pod.metadata.annotations.get(INDEX_KEY) or pod.metadata.labels.get(INDEX_KEY)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def is_indexed(job: Job) -> bool:
    return job.spec.completion_mode == "Indexed"


def completed_indexes(job: Job, succeeded: list[Pod]) -> set[int]:
    limit = job.spec.completions or 0
    found = {pod_index(p) for p in succeeded}
    return {i for i in found if i is not None and 0 <= i < limit}


def format_ranges(indexes: set[int]) -> str:
    """Kubernetes' completedIndexes: "1,3-5,7"."""
    runs: list[tuple[int, int]] = []
    for i in sorted(indexes):
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def succeeded_count(job: Job, counts: Counts) -> int:
    if is_indexed(job):
        return len(completed_indexes(job, counts.succeeded))
    return len(counts.succeeded)


def wanted_active(job: Job, counts: Counts) -> int:
    """How many pods should be running now (Kubernetes' manageJob arithmetic)."""
    if job.spec.suspend:
        return 0
    parallelism = job.spec.parallelism if job.spec.parallelism is not None else 1
    done = succeeded_count(job, counts)
    if job.spec.completions is None:
        return 0 if done > 0 else parallelism
    return max(min(parallelism, job.spec.completions - done), 0)


def finished(job: Job) -> bool:
    return any(
        c.type in ("Complete", "Failed") and c.status == "True" for c in job.status.conditions
    )


def finish_time(job: Job) -> str:
    """When the Job finished: completionTime, or its Failed condition's transition."""
    if job.status.completion_time:
        return job.status.completion_time
    failed = [c for c in job.status.conditions if c.type == "Failed" and c.status == "True"]
    return failed[0].last_transition_time if failed else ""


def _selector(job: Job) -> Selector:
    try:
        return from_label_selector(job.spec.selector) if job.spec.selector else nothing()
    except ValueError:
        return nothing()


class JobController(PodOwnerController):
    NAME = "job"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        wall: Callable[[], float] = time.time,
        backoff_base: float = DEFAULT_BACKOFF,
        backoff_cap: float = MAX_BACKOFF,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.wall = wall
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jobs = factory.informer(Job)
        self.pods = factory.informer(Pod, indexers={CONTROLLER_UID_INDEX: controller_uid_index})
        self.jobs.add_event_handler(
            on_add=self.enqueue,
            on_update=lambda o, n: self.enqueue(n),
            on_delete=lambda j: self.expectations.forget(key_of(j)),
        )
        self.pods.add_event_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    def _pod_owner(self, pod: Pod) -> Job | None:
        job: Job | None = cu.cached_controller(pod, "Job", self.jobs)
        return job

    def _pod_added(self, pod: Pod) -> None:
        job = self._pod_owner(pod)
        if job is not None:
            self._observe_created(job)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        job = self._pod_owner(new)
        if job is None:
            return
        if new.metadata.deletion_timestamp and not old.metadata.deletion_timestamp:
            self._observe_deleted(job, new)  # a graceful deletion counts as observed at once
        else:
            self.enqueue(job)

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            self.expectations.forget(key)
            return
        selector = _selector(job)
        pods = [
            p
            for p in self.pods.indexer.by_index(CONTROLLER_UID_INDEX, job.metadata.uid)
            if selector.matches(p.metadata.labels)
        ]
        counts = count_pods(job, pods)
        if finished(job):
            await self._delete(key, job, counts.active)
            await self._expire(job)
            return
        start = job.status.start_time or timeutil.from_timestamp(self.wall())
        failure = self._failure(job, counts, start)
        if failure is not None:
            await self._delete(key, job, counts.active)
            await self._write_status(job, counts, start, failure)
            return
        complete = self._complete(job, counts)
        change = 0
        if not (complete or job.metadata.deletion_timestamp) and self.expectations.satisfied(key):
            change = await self._manage(key, job, counts)
        outcome = ("Complete", "", "") if complete else None
        await self._write_status(job, counts, start, outcome, change)
        self._requeue_for_deadline(job, start)

    async def _expire(self, job: Job) -> None:
        """ttlSecondsAfterFinished: delete the finished Job (and, through GC, its pods)."""
        ttl = job.spec.ttl_seconds_after_finished
        stamp = finish_time(job)
        if ttl is None or not stamp:
            return
        left = timeutil.to_timestamp(stamp) + ttl - self.wall()
        if left > 0:
            self.enqueue_after(job, left)
            return
        try:
            await self.client.delete(
                Job,
                job.metadata.name,
                namespace=job.metadata.namespace,
                propagation_policy="Background",
                preconditions={"uid": job.metadata.uid},
            )
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    def _failure(self, job: Job, counts: Counts, start: str) -> Outcome | None:
        limit = job.spec.backoff_limit if job.spec.backoff_limit is not None else 6
        if counts.failed > limit:
            return ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = job.spec.active_deadline_seconds
        if deadline is not None and self.wall() - timeutil.to_timestamp(start) >= deadline:
            return ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
        return None

    def _complete(self, job: Job, counts: Counts) -> bool:
        done = succeeded_count(job, counts)
        if job.spec.completions is None:
            return done > 0 and not counts.active
        return done >= job.spec.completions

    def _requeue_for_deadline(self, job: Job, start: str) -> None:
        deadline = job.spec.active_deadline_seconds
        if deadline is not None:
            left = timeutil.to_timestamp(start) + deadline - self.wall()
            self.enqueue_after(job, max(left, 0) + 0.5)

    async def _manage(self, key: str, job: Job, counts: Counts) -> int:
        """Create or delete toward the wanted active count; the change made to it."""
        want = wanted_active(job, counts)
        have = len(counts.active)
        if want > have:
            wait = self._backoff_left(counts)
            if wait > 0:
                self.enqueue_after(job, wait)
                return 0
            return await self._create(key, job, self._indexes_to_create(job, counts, want - have))
        if want < have:
            victims = sorted(counts.active, key=cu.deletion_rank)[: have - want]
            return -await self._delete(key, job, victims)
        return 0

    def _backoff_left(self, counts: Counts) -> float:
        """Seconds before a replacement may start: base * 2^(failures-1), capped, from the
        last failure (Kubernetes' pod failure backoff)."""
        if not counts.failed_pods or self.backoff_base <= 0:
            return 0.0
        delay = min(self.backoff_base * 2.0 ** (len(counts.failed_pods) - 1), self.backoff_cap)
        last = max(finished_at(p) for p in counts.failed_pods)
        return last + delay - self.wall()

    def _indexes_to_create(self, job: Job, counts: Counts, count: int) -> list[int | None]:
        count = min(count, cu.BURST_REPLICAS)
        if not is_indexed(job):
            return [None] * count
        taken = completed_indexes(job, counts.succeeded) | {pod_index(p) for p in counts.active}
        free = (i for i in range(job.spec.completions or 0) if i not in taken)
        return [i for _, i in zip(range(count), free, strict=False)]

    async def _create(self, key: str, job: Job, indexes: list[int | None]) -> int:
        if not indexes:
            return 0
        makes = [functools.partial(self._new_pod, job, index) for index in indexes]
        created, errors = await self._create_pods(key, job, makes)
        for message in errors:
            self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {message}")
        return created

    def _new_pod(self, job: Job, index: int | None) -> Pod:
        template = job.spec.template
        labels = dict(template.metadata.labels)
        labels.update({k: job.metadata.name for k in JOB_LABELS if k not in labels})
        labels.update({k: job.metadata.uid for k in UID_LABELS if k not in labels})
        annotations = dict(template.metadata.annotations)
        spec = codec.deep_copy(template.spec)
        prefix = f"{job.metadata.name}-"
        if index is not None:
            labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
            prefix = f"{job.metadata.name}-{index}-"
            for c in spec.containers:
                c.env = [*c.env, EnvVar(name="JOB_COMPLETION_INDEX", value=str(index))]
        meta = ObjectMeta(
            generate_name=prefix,
            namespace=job.metadata.namespace,
            labels=labels,
            annotations=annotations,
            finalizers=list(template.metadata.finalizers),
            owner_references=[cu.new_controller_ref(job)],
        )
        return Pod(metadata=meta, spec=spec)

    async def _delete(self, key: str, job: Job, pods: list[Pod]) -> int:
        if not pods:
            return 0
        deleted = 0
        self.expectations.expect_deletions(key, [p.metadata.uid for p in pods])
        for pod in pods:
            try:
                await self.client.delete(Pod, pod.metadata.name, namespace=pod.metadata.namespace)
            except StatusError as e:
                self.expectations.deletion_observed(key, pod.metadata.uid)
                if e.code != 404:
                    raise
                continue
            deleted += 1
            self.recorder.event(
                job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"
            )
        return deleted

    # -- status ------------------------------------------------------------------------------

    def _status(
        self, job: Job, counts: Counts, start: str, outcome: Outcome | None, change: int
    ) -> JobStatus:
        now = timeutil.from_timestamp(self.wall())
        conditions, completion_time = list(job.status.conditions), job.status.completion_time
        if outcome is not None:
            conditions = _with_condition(conditions, *outcome, now)
            if outcome[0] == "Complete":
                completion_time = completion_time or now
        indexed = is_indexed(job)
        failed = outcome is not None and outcome[0] == "Failed"
        return msgspec.structs.replace(
            job.status,
            start_time=start,
            active=0 if failed else len(counts.active) + change,
            ready=counts.ready,
            succeeded=succeeded_count(job, counts) if indexed else len(counts.succeeded),
            failed=counts.failed,
            conditions=conditions,
            completion_time=completion_time,
            completed_indexes=format_ranges(completed_indexes(job, counts.succeeded))
            if indexed
            else "",
        )

    async def _write_status(
        self, job: Job, counts: Counts, start: str, outcome: Outcome | None, change: int = 0
    ) -> None:
        status = self._status(job, counts, start, outcome, change)
        if status == job.status:
            return
        try:
            await self.client.update_status(msgspec.structs.replace(job, status=status))
        except StatusError as e:
            if e.code == 409:
                self.enqueue(job)
            elif e.code != 404:
                raise
            return
        if outcome is not None:
            kind, reason, message = outcome
            if kind == "Failed":
                self.recorder.event(job, "Warning", reason, message)
            else:
                self.recorder.event(job, "Normal", "Completed", "Job completed")


def _with_condition(
    conds: list[JobCondition], kind: str, reason: str, message: str, now: str
) -> list[JobCondition]:
    new = JobCondition(
        type=kind,
        status="True",
        reason=reason,
        message=message,
        last_probe_time=now,
        last_transition_time=now,
    )
    return [*[c for c in conds if c.type != kind], new]
