"""Pod workers over the in-memory runtime: restart policies, backoff, init order, termination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from kcore.api import codec
from kcore.api.core import ConfigMap, Container, Pod, PodSpec, PodStatus, Secret, Service
from kcore.api.meta import ObjectMeta
from kcore.kubelet.backoff import RestartBackoff
from kcore.kubelet.podip import PodIPAllocator
from kcore.kubelet.runtime import FakeRuntime
from kcore.kubelet.worker import PodWorker, WorkerDeps


class NoObjects:
    async def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return None

    async def secret(self, namespace: str, name: str) -> Secret | None:
        return None


class Harness:
    def __init__(self, deps: WorkerDeps, runtime: FakeRuntime) -> None:
        self.deps, self.runtime = deps, runtime
        self.statuses: list[PodStatus] = []
        self.finished: list[tuple[str, bool]] = []
        self.changed = asyncio.Event()

    async def post(self, pod: Pod, status: PodStatus) -> bool:
        self.statuses.append(status)
        self.changed.set()
        return True

    async def done(self, pod: Pod, deleting: bool) -> None:
        self.finished.append((pod.metadata.name, deleting))
        self.changed.set()

    async def until(self, check: object) -> PodStatus:
        assert callable(check)
        for _ in range(200):
            if self.statuses and check(self.statuses[-1]):
                return self.statuses[-1]
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.05)
            except TimeoutError:
                pass
        raise AssertionError(f"never reached; last: {self.statuses[-1:]}")


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    runtime = FakeRuntime(missing_images=frozenset({"ghost:1"}))
    allocator = PodIPAllocator("127.64.1.0/24")
    async with aiohttp.ClientSession() as session:
        h = Harness(None, runtime)  # type: ignore[arg-type]
        h.deps = WorkerDeps(
            node_name="n1",
            node_ip="127.0.1.1",
            data_dir=tmp_path,
            runtime=runtime,
            allocator=lambda: allocator,
            lookup=NoObjects(),
            services=lambda ns: list[Service](),
            crash_backoff=RestartBackoff(base=0.2, cap=1.0),
            image_backoff=RestartBackoff(base=0.2, cap=1.0),
            session=session,
            post_status=h.post,
            finished=h.done,
            resync_period=0.05,
        )
        yield h


def pod(name: str, *containers: str, policy: str = "Always", inits: tuple[str, ...] = ()) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, namespace="default", uid=f"uid-{name}"),
        spec=PodSpec(
            restart_policy=policy,
            termination_grace_period_seconds=0,
            containers=[Container(name=c, image="img:1") for c in containers],
            init_containers=[Container(name=c, image="img:1") for c in inits],
        ),
    )


async def _stop(worker: PodWorker) -> None:
    await worker.stop()


def current_id(h: Harness, container: str) -> str:
    status = h.statuses[-1]
    every = [*status.init_container_statuses, *status.container_statuses]
    cs = next(s for s in every if s.name == container)
    return cs.container_id.removeprefix("fake://")


async def test_always_restarts_with_growing_backoff(harness: Harness) -> None:
    worker = PodWorker(harness.deps, pod("p", "c"), [])
    worker.start()
    try:
        await harness.until(lambda s: s.phase == "Running")
        for expected in (1, 2, 3):
            harness.runtime.exit(current_id(harness, "c"), 1)
            worker.wake()
            got = await harness.until(
                lambda s, n=expected: (
                    s.container_statuses[0].restart_count == n
                    and s.container_statuses[0].state.running is not None
                )
            )
            assert got.container_statuses[0].last_state.terminated is not None
        assert harness.deps.crash_backoff.delay("uid-p/c") == 0.8  # 0.2, 0.4, 0.8
    finally:
        await _stop(worker)


@pytest.mark.parametrize(
    ("policy", "code", "phase", "restarts"),
    [("Never", 0, "Succeeded", 0), ("Never", 2, "Failed", 0), ("OnFailure", 0, "Succeeded", 0)],
)
async def test_terminal_phases(
    harness: Harness, policy: str, code: int, phase: str, restarts: int
) -> None:
    worker = PodWorker(harness.deps, pod("p", "c", policy=policy), [])
    worker.start()
    try:
        await harness.until(lambda s: s.phase == "Running")
        harness.runtime.exit(current_id(harness, "c"), code)
        worker.wake()
        got = await harness.until(lambda s: s.phase == phase)
        assert got.container_statuses[0].restart_count == restarts
        ready = next(c for c in got.conditions if c.type == "Ready")
        assert ready.status == "False" and ready.reason == "PodCompleted"
    finally:
        await _stop(worker)


async def test_init_containers_one_at_a_time(harness: Harness) -> None:
    worker = PodWorker(harness.deps, pod("p", "app", inits=("i1", "i2")), [])
    worker.start()
    try:
        first = await harness.until(lambda s: len(s.init_container_statuses) == 2)
        assert first.phase == "Pending"
        assert first.init_container_statuses[0].state.running is not None
        assert first.init_container_statuses[1].state.waiting is not None
        harness.runtime.exit(current_id(harness, "i1"), 0)
        worker.wake()
        await harness.until(lambda s: s.init_container_statuses[1].state.running is not None)
        harness.runtime.exit(current_id(harness, "i2"), 0)
        worker.wake()
        done = await harness.until(lambda s: s.phase == "Running")
        assert all(s.state.terminated for s in done.init_container_statuses)
    finally:
        await _stop(worker)


async def test_missing_image_waits_in_image_pull_backoff(harness: Harness) -> None:
    p = pod("p", "c")
    p.spec.containers[0].image = "ghost:1"
    worker = PodWorker(harness.deps, p, [])
    worker.start()
    try:
        await harness.until(
            lambda s: (
                s.container_statuses[0].state.waiting is not None
                and s.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
            )
        )
        assert harness.statuses[-1].phase == "Pending"
    finally:
        await _stop(worker)


async def test_deletion_stops_and_removes_containers_then_reports(harness: Harness) -> None:
    worker = PodWorker(harness.deps, pod("p", "a", "b"), [])
    worker.start()
    await harness.until(lambda s: s.phase == "Running")
    deleted = pod("p", "a", "b")
    deleted.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    worker.update(deleted)
    assert worker.task is not None
    await asyncio.wait_for(worker.task, 5)
    assert harness.finished == [("p", True)]
    assert await harness.runtime.list_containers("n1") == []
    assert harness.deps.allocator().ip_of("uid-p") == ""


async def test_adopted_containers_are_not_restarted(harness: Harness) -> None:
    first = PodWorker(harness.deps, pod("p", "c"), [])
    first.start()
    await harness.until(lambda s: s.phase == "Running")
    cid, ip = current_id(harness, "c"), first.pod_ip
    await first.stop()
    harness.deps.allocator().release("uid-p")  # a new kubelet process starts empty
    adopted = await harness.runtime.list_containers("n1")
    second = PodWorker(harness.deps, pod("p", "c"), adopted)
    second.start()
    try:
        harness.statuses.clear()
        got = await harness.until(lambda s: s.phase == "Running")
        assert current_id(harness, "c") == cid and got.pod_ip == ip
        assert got.container_statuses[0].restart_count == 0
    finally:
        await _stop(second)


async def test_active_deadline_fails_the_pod_and_stops_its_containers(harness: Harness) -> None:
    p = pod("p", "c")
    p.spec.active_deadline_seconds = 1
    worker = PodWorker(harness.deps, p, [])
    worker.start()
    try:
        await harness.until(lambda s: s.phase == "Running")
        got = await harness.until(lambda s: s.phase == "Failed")
        assert got.reason == "DeadlineExceeded"
        assert got.container_statuses[0].state.terminated is not None
        ready = next(c for c in got.conditions if c.type == "Ready")
        assert ready.status == "False" and ready.reason == "PodCompleted"
        running = [c for c in await harness.runtime.list_containers("n1") if c.state == "running"]
        assert running == []
    finally:
        await _stop(worker)


def _ready(status: PodStatus) -> str:
    return next(c.status for c in status.conditions if c.type == "Ready")


def _stored(p: Pod, status: PodStatus) -> Pod:
    """The pod as a watch would deliver it with `status` stored."""
    return Pod(metadata=p.metadata, spec=p.spec, status=status)


async def test_a_ready_condition_changed_by_someone_else_is_written_back(
    harness: Harness,
) -> None:
    the_pod = pod("p", "c")
    worker = PodWorker(harness.deps, the_pod, [])
    worker.start()
    try:
        running = await harness.until(lambda s: s.phase == "Running" and _ready(s) == "True")
        posts = len(harness.statuses)
        marked = codec.from_dict(PodStatus, codec.to_dict(running))
        for cond in marked.conditions:
            if cond.type == "Ready":
                cond.status, cond.reason = "False", "NodeNotReady"
        worker.update(_stored(the_pod, marked))
        fixed = await harness.until(lambda s: len(harness.statuses) > posts)
        assert _ready(fixed) == "True" and fixed.phase == "Running"
    finally:
        await _stop(worker)


async def test_a_lagging_copy_of_an_earlier_write_is_not_news(harness: Harness) -> None:
    the_pod = pod("p", "c")
    worker = PodWorker(harness.deps, the_pod, [])
    worker.start()
    try:
        await harness.until(lambda s: s.phase == "Running" and _ready(s) == "True")
        first, posts = harness.statuses[0], len(harness.statuses)
        worker.update(_stored(the_pod, codec.from_dict(PodStatus, codec.to_dict(first))))
        worker.update(_stored(the_pod, harness.statuses[-1]))
        for _ in range(10):  # several resyncs
            await asyncio.sleep(0.05)
        assert len(harness.statuses) == posts
    finally:
        await _stop(worker)
