"""Pod workers: one asyncio task per pod that drives its containers toward the pod's spec.

A worker sleeps until woken (a new version of the pod, a container change seen by the relist,
a probe verdict flip, a backoff deadline) and then syncs: volumes, init containers in order,
then each app container (start, restart under the pod's restartPolicy with crash backoff,
kill on liveness failure), probers, and the status written when it changed. A pod being
deleted gets SIGTERM, SIGKILL after its grace period, and its containers removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from kcore.api import codec, quantity, timeutil
from kcore.api.core import Container, LifecycleHandler, Pod, PodStatus, Probe, Service
from kcore.client.events import EventType
from kcore.kubelet import status as podstatus
from kcore.kubelet import volumes
from kcore.kubelet.backoff import RestartBackoff
from kcore.kubelet.envvars import EnvError, ObjectLookup, PodContext, container_env, expand
from kcore.kubelet.lifecycle import run_hook
from kcore.kubelet.podip import PodIPAllocator
from kcore.kubelet.probes import Kind
from kcore.kubelet.probeset import PodProbes
from kcore.kubelet.runtime import (
    ContainerInfo,
    ContainerSpec,
    ImagePullError,
    Runtime,
    RuntimeError_,
)
from kcore.kubelet.runtime import types as labels
from kcore.kubelet.satoken import ApiAccess, MountPending

log = logging.getLogger(__name__)
DEFAULT_GRACE = 30


@dataclass(kw_only=True)
class WorkerDeps:
    """What every pod worker of one kubelet shares."""

    node_name: str
    node_ip: str
    data_dir: Path
    runtime: Runtime
    allocator: Callable[[], PodIPAllocator]
    lookup: ObjectLookup
    services: Callable[[str], Iterable[Service]]
    crash_backoff: RestartBackoff
    image_backoff: RestartBackoff
    session: aiohttp.ClientSession
    post_status: Callable[[Pod, PodStatus], Awaitable[bool]]  # False: no object to write to
    finished: Callable[[Pod, bool], Awaitable[None]]  # (pod, deleted through the API)
    resync_period: float
    record: Callable[[Pod, EventType, str, str], None] = lambda *_: None  # an Event
    api_access: ApiAccess | None = None  # service account credentials (None: hollow)


def _key(uid: str, name: str) -> str:
    return f"{uid}/{name}"


def _epoch(rfc3339: str) -> float:
    return timeutil.to_timestamp(rfc3339) if rfc3339 else time.time()


class PodWorker:
    def __init__(self, deps: WorkerDeps, pod: Pod, adopted: list[ContainerInfo]) -> None:
        self.deps, self.pod, self.uid = deps, pod, pod.metadata.uid
        self.removed = False  # gone from its source: stop everything
        self.deadline_exceeded = False
        self._wake = asyncio.Event()
        self._wake_at: float | None = None
        self._current: dict[str, ContainerInfo] = {}
        self._previous: dict[str, ContainerInfo] = {}
        self._waiting: dict[str, tuple[str, str]] = {}
        self._probes = PodProbes(
            runtime=deps.runtime, session=deps.session, on_change=self._probe_changed
        )
        self._killed: set[str] = set()
        self._image_failed_at: dict[str, float] = {}
        self._adopt(adopted)
        self.pod_ip = self._claim_ip(adopted)
        self._start_time = pod.status.start_time or timeutil.now()
        self._last_status = b""
        self._sent: deque[tuple[object, ...]] = deque(maxlen=8)  # kubelet_fields of writes
        self.task: asyncio.Task[None] | None = None

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.deps.record(self.pod, type_, reason, message)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"pod-worker:{self.pod.metadata.name}")

    def update(self, pod: Pod) -> None:
        """A new version of the pod: a change outside its status needs a sync; a stored status
        that differs from the one last written here (a controller set Ready=False, say) is
        written again from the containers' facts, taking the stored one as the prior. Statuses
        written here a moment ago (a watch event older than the latest write) are not news."""
        old, self.pod = self.pod, pod
        if self._last_status and podstatus.kubelet_fields(pod.status) in self._sent:
            pod.status = old.status  # ours, or one of ours a lagging watch has yet to pass
        elif self._last_status:
            self._last_status = b""
            self.wake()
        if codec.encode(old.spec) != codec.encode(pod.spec) or (
            old.metadata.deletion_timestamp != pod.metadata.deletion_timestamp
        ):
            self.wake()

    def remove(self) -> None:
        self.removed = True
        self.wake()

    def resend_status(self) -> None:
        """Write the status again even if unchanged (its mirror pod was made anew)."""
        self._last_status = b""
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def wake_later(self, at: float) -> None:
        if self._wake_at is None or at < self._wake_at:
            self._wake_at = at

    async def stop(self) -> None:
        """Stop the worker without touching its containers (kubelet shutdown)."""
        self._probes.stop()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    @property
    def terminating(self) -> bool:
        return self.removed or bool(self.pod.metadata.deletion_timestamp)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                if self.terminating:
                    await self._terminate()
                    return
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "sync of pod %s/%s failed", self.pod.metadata.namespace, self.pod.metadata.name
                )
            await self._sleep()

    async def _sleep(self) -> None:
        timeout = self.deps.resync_period
        if self._wake_at is not None:
            timeout = max(0.0, min(timeout, self._wake_at - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        if self._wake_at is not None and self._wake_at <= time.time():
            self._wake_at = None

    def containers(self) -> list[ContainerInfo]:
        """The current instance of each container, as last inspected."""
        return list(self._current.values())

    def container_for_logs(self, name: str, *, previous: bool) -> ContainerInfo | None:
        """The instance whose log `kubectl logs [--previous]` shows."""
        return (self._previous if previous else self._current).get(name)

    # -- adoption -------------------------------------------------------------------------

    def _adopt(self, found: list[ContainerInfo]) -> None:
        """Take over containers a previous kubelet started: the newest per name is current."""
        for info in sorted(found, key=lambda c: c.restart_count):
            name = info.container_name
            if name in self._current:
                self._previous[name] = self._current[name]
            self._current[name] = info

    def _claim_ip(self, found: list[ContainerInfo]) -> str:
        if self.pod.spec.host_network:
            return self.deps.node_ip  # a host-network pod has the node's address
        wanted = next((c.labels.get(labels.LABEL_POD_IP, "") for c in found), "")
        return self.deps.allocator().allocate(self.uid, wanted or self.pod.status.pod_ip)

    # -- sync -----------------------------------------------------------------------------

    async def sync(self) -> None:
        await self._refresh()
        if self._finished_before():
            return
        if self._past_deadline():
            await self._enforce_deadline()
            return
        ctx = PodContext(self.pod, self.pod_ip, self.deps.node_ip)
        try:
            vols = await volumes.prepare(
                self.deps.data_dir, ctx, self.deps.lookup, self.deps.api_access
            )
        except MountPending as e:
            self._wait_all("ContainerCreating", str(e))
            self.event("Warning", "FailedMount", f"MountVolume.SetUp failed: {e}")
            self.wake_later(time.time() + 1.0)
        except EnvError as e:
            self._wait_all("CreateContainerConfigError", str(e))
        else:
            if await self._sync_init(ctx, vols):
                await self._sync_main(ctx, vols)
        self._sync_probers()
        await self._post_status()

    def _past_deadline(self) -> bool:
        """spec.activeDeadlineSeconds since startTime has run out (and wake up when it will)."""
        limit = self.pod.spec.active_deadline_seconds
        if limit is None or self.deadline_exceeded:
            return self.deadline_exceeded
        ends = timeutil.to_timestamp(self._start_time) + limit
        if time.time() < ends:
            self.wake_later(ends + 0.05)
            return False
        self.deadline_exceeded = True
        return True

    async def _enforce_deadline(self) -> None:
        """Stop every container for good; the pod fails with DeadlineExceeded."""
        self._probes.stop()
        running = [i for i in self._current.values() if i.state == "running"]
        if running:
            self.event(
                "Warning",
                "DeadlineExceeded",
                "Pod was active on the node longer than the specified deadline",
            )
        await asyncio.gather(*(self._stop_container(i, self.grace_seconds()) for i in running))
        await self._refresh()
        await self._post_status()

    def _finished_before(self) -> bool:
        """A pod that ended before this kubelet saw it (e.g. across a restart) stays ended."""
        return self.pod.status.phase in ("Succeeded", "Failed") and not self._current

    async def _refresh(self) -> None:
        for name, info in list(self._current.items()):
            fresh = await self.deps.runtime.inspect(info.id)
            if fresh is None:
                del self._current[name]
            else:
                self._current[name] = fresh

    def _wait_all(self, reason: str, message: str) -> None:
        for c in [*self.pod.spec.init_containers, *self.pod.spec.containers]:
            if c.name not in self._current or self._current[c.name].state != "running":
                self._waiting[c.name] = (reason, message)

    async def _sync_init(self, ctx: PodContext, vols: dict[str, tuple[str, bool]]) -> bool:
        """Run init containers one at a time; True once all have succeeded."""
        policy = self.pod.spec.restart_policy or "Always"
        for c in self.pod.spec.init_containers:
            info = self._current.get(c.name)
            if info is not None and info.state == "exited" and info.exit_code == 0:
                continue
            if info is None:
                await self._start(ctx, c, vols, restarts=0, init=True)
            elif info.state == "exited" and policy != "Never":
                await self._restart(ctx, c, vols, info, init=True)
            return False
        return True

    async def _sync_main(self, ctx: PodContext, vols: dict[str, tuple[str, bool]]) -> None:
        policy = self.pod.spec.restart_policy or "Always"
        starts = []
        for c in self.pod.spec.containers:
            info = self._current.get(c.name)
            if info is None:
                starts.append(self._start(ctx, c, vols, restarts=0, init=False))
            elif info.state == "running" and info.id in self._killed:
                continue
            elif info.state == "running" and self._probes.killing(info.id):
                await self._kill(info, c)
            elif info.state == "created" or (
                info.state == "exited" and self._should_restart(policy, info)
            ):
                starts.append(self._restart(ctx, c, vols, info, init=False))
        await asyncio.gather(*starts)

    @staticmethod
    def _should_restart(policy: str, info: ContainerInfo) -> bool:
        return policy == "Always" or (policy == "OnFailure" and info.exit_code != 0)

    async def _kill(self, info: ContainerInfo, c: Container) -> None:
        """Liveness or startup failed: stop it; the next sync restarts it per policy."""
        self._killed.add(info.id)
        self.event("Normal", "Killing", f"Container {c.name} failed its probe, will be restarted")
        grace = self.pod.spec.termination_grace_period_seconds
        await self.deps.runtime.stop(info.id, DEFAULT_GRACE if grace is None else grace)
        self.wake()

    async def _restart(
        self,
        ctx: PodContext,
        c: Container,
        vols: dict[str, tuple[str, bool]],
        info: ContainerInfo,
        *,
        init: bool,
    ) -> None:
        key = _key(self.uid, c.name)
        finished = _epoch(info.finished_at)
        if self.deps.crash_backoff.in_backoff(key, finished):
            delay = self.deps.crash_backoff.delay(key)
            self._waiting[c.name] = (
                "CrashLoopBackOff",
                f"back-off {delay:g}s restarting failed container={c.name} "
                f"pod={self.pod.metadata.name}_{self.pod.metadata.namespace}({self.uid})",
            )
            self.wake_later(self.deps.crash_backoff.ready_at(key, finished) + 0.05)
            self.event("Warning", "BackOff", f"Back-off restarting failed container {c.name}")
            return
        self.deps.crash_backoff.next(key)
        await self._start(ctx, c, vols, restarts=info.restart_count + 1, init=init)

    async def _start(
        self,
        ctx: PodContext,
        c: Container,
        vols: dict[str, tuple[str, bool]],
        *,
        restarts: int,
        init: bool,
    ) -> None:
        spec = await self._container_spec(ctx, c, vols, restarts=restarts, init=init)
        if spec is None:
            return
        try:
            info = await self.deps.runtime.run(spec)
        except RuntimeError_ as e:
            self._waiting[c.name] = ("RunContainerError", str(e))
            self.event("Warning", "Failed", f"Error: {e}")
            self.wake_later(time.time() + self.deps.crash_backoff.base)
            return
        await self._post_start(c, info.id)
        await self._record_start(c.name, info)
        self.event("Normal", "Created", f"Created container {c.name}")
        self.event("Normal", "Started", f"Started container {c.name}")

    async def _record_start(self, name: str, info: ContainerInfo) -> None:
        old = self._current.get(name)
        if old is not None:
            stale = self._previous.get(name)
            if stale is not None:
                await self.deps.runtime.remove(stale.id)
            self._previous[name] = old
        self._current[name] = info
        self._waiting.pop(name, None)

    async def _container_spec(
        self,
        ctx: PodContext,
        c: Container,
        vols: dict[str, tuple[str, bool]],
        *,
        restarts: int,
        init: bool,
    ) -> ContainerSpec | None:
        """The resolved container, or None after recording why it cannot be created now."""
        if not await self._ensure_image(c):
            return None
        try:
            services = list(self.deps.services(ctx.pod.metadata.namespace))
            access = self.deps.api_access
            env = await container_env(
                ctx,
                c,
                lookup=self.deps.lookup,
                services=services,
                base=access.env(services) if access is not None else {},
            )
        except EnvError as e:
            self._waiting[c.name] = ("CreateContainerConfigError", str(e))
            self.event("Warning", "Failed", f"Error: {e}")
            self.wake_later(time.time() + 2.0)
            return None
        return ContainerSpec(
            name=self._docker_name(c.name, restarts),
            image=c.image,
            labels=self._labels(c.name, restarts, init),
            entrypoint=[expand(a, env) for a in c.command] or None,
            args=[expand(a, env) for a in c.args] or ([] if c.command else None),
            env=env,
            working_dir=c.working_dir,
            mounts=volumes.mounts(c, vols),
            **_resources(c),
        )

    async def _ensure_image(self, c: Container) -> bool:
        key = _key(self.uid, "image:" + c.name)
        backoff = self.deps.image_backoff
        waiting = self._waiting.get(c.name)
        if waiting and waiting[0] in ("ErrImagePull", "ImagePullBackOff"):
            failed_at = self._image_failed_at.get(c.name, 0.0)
            if backoff.in_backoff(key, failed_at):
                self._waiting[c.name] = ("ImagePullBackOff", f'Back-off pulling image "{c.image}"')
                self.event("Normal", "BackOff", f'Back-off pulling image "{c.image}"')
                self.wake_later(backoff.ready_at(key, failed_at) + 0.05)
                return False
        policy = c.image_pull_policy or _default_pull_policy(c.image)
        try:
            await self.deps.runtime.ensure_image(c.image, policy)
        except ImagePullError as e:
            reason = "ErrImageNeverPull" if policy == "Never" else "ErrImagePull"
            self._waiting[c.name] = (reason, str(e))
            self._image_failed_at[c.name] = time.time()
            self.event("Warning", "Failed", f"Failed to pull image: {e}")
            backoff.next(key)
            # a sync halfway through the backoff reports ImagePullBackOff, as Kubernetes does
            self.wake_later(time.time() + backoff.delay(key) / 2)
            return False
        backoff.forget(key)
        self.event("Normal", "Pulled", f'Container image "{c.image}" already present on machine')
        return True

    def _docker_name(self, name: str, restarts: int) -> str:
        meta = self.pod.metadata
        return f"k8s_{name}_{meta.name}_{meta.namespace}_{self.uid}_{restarts}"

    def _labels(self, name: str, restarts: int, init: bool) -> dict[str, str]:
        meta = self.pod.metadata
        return {
            labels.LABEL_MANAGED: "true",
            labels.LABEL_NODE: self.deps.node_name,
            labels.LABEL_POD_UID: self.uid,
            labels.LABEL_POD_NAME: meta.name,
            labels.LABEL_POD_NAMESPACE: meta.namespace,
            labels.LABEL_CONTAINER: name,
            labels.LABEL_RESTARTS: str(restarts),
            labels.LABEL_INIT: "true" if init else "false",
            labels.LABEL_POD_IP: self.pod_ip,
        }

    # -- probes ---------------------------------------------------------------------------

    def _sync_probers(self) -> None:
        specs = {c.name: c for c in self.pod.spec.containers}
        running = {
            info.id: specs[name]
            for name, info in self._current.items()
            if info.state == "running" and info.id not in self._killed and name in specs
        }
        self._probes.sync({} if self.deps.runtime.hollow else running, self.pod_ip)

    def _probe_changed(self, kind: Kind, name: str, failed: bool) -> None:
        if failed:
            self.event("Warning", "Unhealthy", f"{kind.capitalize()} probe of {name} failed")
        self.wake()

    # -- status ---------------------------------------------------------------------------

    def _view(self, c: Container) -> podstatus.ContainerView:
        info = self._current.get(c.name)
        cid = info.id if info is not None else ""
        return podstatus.ContainerView(
            spec=c,
            info=info,
            previous=self._previous.get(c.name),
            waiting=self._waiting.get(c.name),
            ready=self._verdict(cid, "readiness", c.readiness_probe),
            started=self._verdict(cid, "startup", c.startup_probe),
        )

    def _verdict(self, cid: str, kind: Kind, probe: Probe | None) -> bool:
        """A running probe's verdict; without one, pass unless a probe is yet to start."""
        if self._probes.has(cid, kind):
            return self._probes.verdict(cid, kind)
        return probe is None or self.deps.runtime.hollow

    def status(self) -> PodStatus:
        status = podstatus.build_status(
            self.pod,
            init=[self._view(c) for c in self.pod.spec.init_containers],
            main=[self._view(c) for c in self.pod.spec.containers],
            pod_ip=self.pod_ip,
            host_ip=self.deps.node_ip,
            start_time=self._start_time,
            runtime=self.deps.runtime.name,
            failed_reason="DeadlineExceeded" if self.deadline_exceeded else "",
        )
        if self.deadline_exceeded:
            status.message = "Pod was active on the node longer than the specified deadline"
        return status

    async def _post_status(self) -> None:
        status = self.status()
        encoded = _status_fingerprint(status)
        if encoded == self._last_status:
            return
        if not await self.deps.post_status(self.pod, status):
            return  # a mirror pod not made yet: try again on the next sync
        self._last_status = encoded
        self._sent.append(podstatus.kubelet_fields(status))
        self.pod.status = status

    async def _stop_container(self, info: ContainerInfo, grace: int) -> None:
        """preStop hook (within the grace period), then SIGTERM, SIGKILL after what is left."""
        self.event("Normal", "Killing", f"Stopping container {info.container_name}")
        c = _spec_of(self.pod, info.container_name)
        if c is not None and c.lifecycle is not None and c.lifecycle.pre_stop is not None:
            started = time.monotonic()
            ok = await self._hook(c, info.id, c.lifecycle.pre_stop, float(grace))
            if not ok:
                self.event("Warning", "FailedPreStopHook", f"PreStop hook of {c.name} failed")
            grace = max(2, grace - int(time.monotonic() - started))
        await self.deps.runtime.stop(info.id, grace)

    async def _hook(self, c: Container, cid: str, handler: LifecycleHandler, limit: float) -> bool:
        return await run_hook(
            handler,
            container=c,
            container_id=cid,
            pod_ip=self.pod_ip,
            runtime=self.deps.runtime,
            session=self.deps.session,
            limit=limit,
        )

    async def _post_start(self, c: Container, cid: str) -> None:
        """Run postStart; a failure kills the container (restarted per policy)."""
        if c.lifecycle is None or c.lifecycle.post_start is None:
            return
        if await self._hook(c, cid, c.lifecycle.post_start, float(DEFAULT_GRACE)):
            return
        self.event("Warning", "FailedPostStartHook", f"PostStart hook of {c.name} failed")
        self._killed.add(cid)
        await self.deps.runtime.stop(cid, 0)
        self.wake()

    # -- termination ----------------------------------------------------------------------

    def grace_seconds(self) -> int:
        meta, spec = self.pod.metadata, self.pod.spec
        if meta.deletion_grace_period_seconds is not None:
            return meta.deletion_grace_period_seconds
        grace = spec.termination_grace_period_seconds
        return DEFAULT_GRACE if grace is None else grace

    async def _terminate(self) -> None:
        """SIGTERM every running container, SIGKILL after the grace period, remove them."""
        self._probes.stop()
        grace = self.grace_seconds()
        running = [i for i in self._current.values() if i.state == "running"]
        await asyncio.gather(*(self._stop_container(i, grace) for i in running))
        doomed = [*self._current.values(), *self._previous.values()]
        await asyncio.gather(*(self.deps.runtime.remove(i.id) for i in doomed))
        volumes.cleanup(self.deps.data_dir, self.uid)
        self.deps.allocator().release(self.uid)
        self.deps.crash_backoff.forget(self.uid + "/")
        self.deps.image_backoff.forget(self.uid + "/")
        await self.deps.finished(self.pod, not self.removed)


def _spec_of(pod: Pod, name: str) -> Container | None:
    every = [*pod.spec.init_containers, *pod.spec.containers]
    return next((c for c in every if c.name == name), None)


def _status_fingerprint(status: PodStatus) -> bytes:
    return codec.encode(status)


def _default_pull_policy(image: str) -> str:
    tag = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent"


def _resources(c: Container) -> dict[str, int]:
    """Docker's cpu quota (per 100 ms), cpu shares and memory limit from requests and limits."""
    limits, requests = c.resources.limits, c.resources.requests
    out = {"cpu_quota": 0, "cpu_shares": 0, "memory": 0}
    if "cpu" in limits:
        out["cpu_quota"] = max(1000, quantity.milli_value(limits["cpu"]) * 100)
    cpu_request = requests.get("cpu", limits.get("cpu"))
    if cpu_request is not None:
        out["cpu_shares"] = max(2, quantity.milli_value(cpu_request) * 1024 // 1000)
    if "memory" in limits:
        out["memory"] = quantity.int_value(limits["memory"])
    return out
