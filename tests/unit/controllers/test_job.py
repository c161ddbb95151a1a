"""Job: counting and arithmetic, and syncs over canned caches writing to a real API server.

`Rig.load` relists the API into the never-started informers; the test plays the kubelet by
setting pod phases (`finish`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import kcore
from kcore.api import timeutil
from kcore.api.batch import Job
from kcore.api.codec import from_dict
from kcore.api.core import ContainerStatus, Pod, PodCondition
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.controllers import job as jc

WALL0 = 1_800_000_000.0


def test_format_ranges() -> None:
    assert jc.format_ranges(set()) == ""
    assert jc.format_ranges({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert jc.format_ranges({5}) == "5"


def test_wanted_active() -> None:
    job = _job("j", completions=5, parallelism=2)
    assert jc.wanted_active(job, jc.Counts()) == 2
    assert jc.wanted_active(job, jc.Counts(succeeded=[Pod()] * 4)) == 1
    assert jc.wanted_active(job, jc.Counts(succeeded=[Pod()] * 5)) == 0
    work_queue = _job("w", completions=None, parallelism=3)
    assert jc.wanted_active(work_queue, jc.Counts()) == 3
    assert jc.wanted_active(work_queue, jc.Counts(succeeded=[Pod()])) == 0
    job.spec.suspend = True
    assert jc.wanted_active(job, jc.Counts()) == 0


def test_on_failure_restarts_count_as_failures() -> None:
    job = _job("j", restart_policy="OnFailure")
    pod = Pod()
    pod.status.phase = "Running"
    pod.status.container_statuses = [ContainerStatus(name="c", restart_count=3)]
    assert jc.count_pods(job, [pod]).failed == 3


def _job(name: str, *, restart_policy: str = "Never", **spec: Any) -> Job:
    camel = {
        "completions": spec.pop("completions", 1),
        "parallelism": spec.pop("parallelism", 1),
        **{_camel(k): v for k, v in spec.items()},
    }
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            **{k: v for k, v in camel.items() if v is not None},
            "template": {
                "spec": {
                    "restartPolicy": restart_policy,
                    "containers": [{"name": "c", "image": "busybox"}],
                }
            },
        },
    }
    return from_dict(Job, body)


def _camel(k: str) -> str:
    head, *rest = k.split("_")
    return head + "".join(w.capitalize() for w in rest)


@dataclass
class Rig:
    cluster: kcore.Cluster
    ctl: jc.JobController
    recorder: EventRecorder
    now: list[float]

    async def sync(self, name: str = "j") -> Job:
        c = self.cluster.client
        for informer, kind in ((self.ctl.jobs, Job), (self.ctl.pods, Pod)):
            page = await c.list(kind)
            await informer.replace(list(page.items), page.resource_version)
        await self.ctl.sync(f"default/{name}")
        got: Job = await c.get(Job, name, namespace="default")
        return got

    async def sync_gone(self, name: str = "j") -> None:
        """Sync a Job the controller should delete; assert it is gone (or going)."""
        c = self.cluster.client
        for informer, kind in ((self.ctl.jobs, Job), (self.ctl.pods, Pod)):
            page = await c.list(kind)
            await informer.replace(list(page.items), page.resource_version)
        await self.ctl.sync(f"default/{name}")
        left = [
            j for j in (await c.list(Job, namespace="default")).items if j.metadata.name == name
        ]
        assert not left or left[0].metadata.deletion_timestamp

    async def pods(self, phase: str | None = None) -> list[Pod]:
        page = await self.cluster.client.list(Pod, namespace="default")
        live = [p for p in page.items if not p.metadata.deletion_timestamp]
        return [p for p in live if phase is None or p.status.phase == phase]

    async def active(self) -> list[Pod]:
        return [p for p in await self.pods() if p.status.phase not in ("Succeeded", "Failed")]

    async def finish(self, pod: Pod, phase: str) -> None:
        pod.status.phase = phase
        await self.cluster.client.update_status(pod)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with kcore.Cluster() as cluster:
        now = [WALL0]
        factory = SharedInformerFactory(cluster.client)
        recorder = EventRecorder(cluster.client, component="test")
        ctl = jc.JobController(
            cluster.client, factory, recorder, wall=lambda: now[0], backoff_base=0
        )
        yield Rig(cluster, ctl, recorder, now)
        ctl.queue.shutdown()
        await recorder.close()


async def test_job_runs_parallel_pods_to_completion(rig: Rig) -> None:
    job = await rig.cluster.client.create(_job("j", completions=3, parallelism=2))
    got = await rig.sync()
    pods = await rig.pods()
    assert len(pods) == 2
    for pod in pods:
        assert pod.metadata.labels["job-name"] == "j"
        assert pod.metadata.labels["controller-uid"] == job.metadata.uid
        assert pod.metadata.owner_references[0].uid == job.metadata.uid
    assert (got.status.active, got.status.start_time) == (2, timeutil.from_timestamp(WALL0))
    await rig.finish(pods[0], "Succeeded")
    got = await rig.sync()
    assert (got.status.succeeded, got.status.active) == (1, 2)  # min(parallelism, 3 - 1)
    assert len([p for p in await rig.pods() if p.status.phase != "Succeeded"]) == 2
    for pod in await rig.pods():
        if pod.status.phase != "Succeeded":
            await rig.finish(pod, "Succeeded")
    rig.now[0] += 7
    got = await rig.sync()
    assert got.status.succeeded == 3
    conds = {c.type: c.status for c in got.status.conditions}
    assert conds == {"Complete": "True"}
    assert got.status.completion_time == timeutil.from_timestamp(WALL0 + 7)
    assert got.status.active == 0


async def test_backoff_limit_fails_the_job(rig: Rig) -> None:
    await rig.cluster.client.create(_job("j", completions=1, backoff_limit=1))
    await rig.sync()
    for _ in range(2):
        (pod,) = await rig.active()
        await rig.finish(pod, "Failed")
        got = await rig.sync()
    assert got.status.failed == 2
    failed = next(c for c in got.status.conditions if c.type == "Failed")
    assert (failed.status, failed.reason) == ("True", "BackoffLimitExceeded")
    assert await rig.active() == []
    await rig.sync()
    assert await rig.active() == []  # finished: nothing new


async def test_active_deadline_fails_and_deletes_active_pods(rig: Rig) -> None:
    await rig.cluster.client.create(_job("j", completions=1, active_deadline_seconds=30))
    await rig.sync()
    assert len(await rig.pods()) == 1
    rig.now[0] += 31
    got = await rig.sync()
    failed = next(c for c in got.status.conditions if c.type == "Failed")
    assert failed.reason == "DeadlineExceeded"
    assert await rig.pods() == []


async def test_indexed_job_gives_each_index_once(rig: Rig) -> None:
    await rig.cluster.client.create(
        _job("j", completions=3, parallelism=3, completion_mode="Indexed")
    )
    await rig.sync()
    pods = await rig.pods()
    assert sorted(p.metadata.annotations[jc.INDEX_KEY] for p in pods) == ["0", "1", "2"]
    env = {e.name: e.value for e in pods[0].spec.containers[0].env}
    assert env["JOB_COMPLETION_INDEX"] == pods[0].metadata.annotations[jc.INDEX_KEY]
    by_index = {jc.pod_index(p): p for p in pods}
    await rig.finish(by_index[1], "Succeeded")
    await rig.finish(by_index[2], "Failed")
    got = await rig.sync()
    assert got.status.completed_indexes == "1"
    fresh = [p for p in await rig.active() if p.metadata.uid != by_index[0].metadata.uid]
    assert [jc.pod_index(p) for p in fresh] == [2]
    await rig.finish(by_index[0], "Succeeded")
    await rig.finish(fresh[0], "Succeeded")
    got = await rig.sync()
    assert got.status.completed_indexes == "0-2"
    assert any(c.type == "Complete" for c in got.status.conditions)


async def test_replacement_after_failure_waits_for_backoff(rig: Rig) -> None:
    rig.ctl.backoff_base = 10.0
    await rig.cluster.client.create(_job("j", completions=1, backoff_limit=5))
    await rig.sync()
    (pod,) = await rig.active()
    pod.status.phase = "Failed"
    pod.status.conditions = [
        PodCondition(
            type="Ready", status="False", last_transition_time=timeutil.from_timestamp(WALL0)
        )
    ]
    await rig.cluster.client.update_status(pod)
    rig.now[0] = WALL0 + 4
    got = await rig.sync()
    assert await rig.active() == [] and got.status.failed == 1
    assert rig.ctl.queue.waiting() == 1  # woken when the 10 s are up
    rig.now[0] = WALL0 + 10
    await rig.sync()
    assert len(await rig.active()) == 1


async def test_ttl_after_finished_deletes_the_job(rig: Rig) -> None:
    await rig.cluster.client.create(_job("j", completions=1, ttl_seconds_after_finished=60))
    await rig.sync()
    (pod,) = await rig.active()
    await rig.finish(pod, "Succeeded")
    done = await rig.sync()
    assert done.status.completion_time == timeutil.from_timestamp(WALL0)
    rig.now[0] = WALL0 + 30
    await rig.sync()  # still there: half the TTL
    rig.now[0] = WALL0 + 61
    await rig.sync_gone()
