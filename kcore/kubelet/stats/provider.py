"""StatsProvider: the kubelet's handle on the stats sampler and its three exports.

The kubelet creates one provider, `await start()`s it, tells it which container belongs to
which pod (`track`/`untrack`, or `sync` with the whole set), and serves `summary()`,
`prometheus_text()` and `resource_metrics_text()`. Passes run every `interval` seconds in a
worker thread (the Cython kernel drops the GIL while it reads), so a large node never stalls
the event loop; track/untrack calls are queued and applied at the start of the next pass, and
every view is taken under the same lock as a pass, so it always sees a whole pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import Any

from kcore.kubelet.stats.layout import detect
from kcore.kubelet.stats.prometheus import cadvisor_text, resource_text
from kcore.kubelet.stats.refs import ContainerRef, ContainerStats, NodeStats
from kcore.kubelet.stats.sampler import Sampler
from kcore.kubelet.stats.summary import build_summary

log = logging.getLogger(__name__)

_Op = Callable[[Sampler], None]


class StatsProvider:
    def __init__(
        self,
        *,
        node_name: str,
        cgroup_root: str = "/sys/fs/cgroup",
        proc_root: str = "/proc",
        interval: float = 1.0,
        history: float = 120.0,
        discover: bool = False,
        kernel: bool = True,
        max_open_files: int | None = None,
    ) -> None:
        self.node_name = node_name
        self.interval = interval
        self._sampler = Sampler(
            detect(cgroup_root),
            slots=math.ceil(history / interval) + 1,
            proc_root=proc_root,
            kernel=kernel,
            max_open_files=max_open_files,
            discover=discover,
        )
        self._lock = threading.Lock()
        self._ops: deque[_Op] = deque()  # appended by the loop, drained by a pass
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            await asyncio.to_thread(self.sample_once)
            self._task = asyncio.create_task(self._run(), name="kubelet-stats")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with self._lock:
            for container_id in self._sampler.tracked():
                self._sampler.untrack(container_id)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await asyncio.to_thread(self.sample_once)
            except Exception:
                log.exception("stats pass failed")
            next_at = max(next_at, loop.time() - self.interval)

    def sample_once(self) -> None:
        """One housekeeping pass now (applies queued track/untrack first)."""
        with self._lock:
            while self._ops:
                self._ops.popleft()(self._sampler)
            self._sampler.sample()

    # -- what to sample -------------------------------------------------------------------

    def track(
        self, container_id: str, ref: ContainerRef | None = None, *, cgroup_path: str | None = None
    ) -> None:
        self._ops.append(lambda s: s.track(container_id, ref, cgroup_path=cgroup_path))

    def untrack(self, container_id: str) -> None:
        self._ops.append(lambda s: s.untrack(container_id))

    def sync(self, containers: Mapping[str, ContainerRef]) -> None:
        """Make the tracked set exactly `containers` (container id -> its pod's names)."""
        wanted = dict(containers)
        self._ops.append(lambda s: _sync(s, wanted))

    # -- views ----------------------------------------------------------------------------

    def containers(self) -> list[ContainerStats]:
        with self._lock:
            return self._sampler.containers()

    def container(self, container_id: str) -> ContainerStats | None:
        with self._lock:
            return self._sampler.container(container_id)

    def history(self, container_id: str) -> list[tuple[float, tuple[int, ...]]]:
        with self._lock:
            return self._sampler.history(container_id)

    def node(self) -> NodeStats | None:
        with self._lock:
            return self._sampler.node()

    def summary(self, pod_uids: Collection[str] | None = None) -> dict[str, Any]:
        """The /stats/summary body; `pod_uids` limits pods to those (e.g. the kubelet's)."""
        node, containers = self._views()
        return build_summary(self.node_name, node, containers, pod_uids=pod_uids)

    def prometheus_text(self) -> str:
        """The /metrics/cadvisor body."""
        return cadvisor_text(*self._views())

    def resource_metrics_text(self) -> str:
        """The /metrics/resource body."""
        return resource_text(*self._views())

    def _views(self) -> tuple[NodeStats | None, list[ContainerStats]]:
        with self._lock:
            return self._sampler.node(), self._sampler.containers()


def _sync(sampler: Sampler, wanted: dict[str, ContainerRef]) -> None:
    for container_id in set(sampler.tracked()) - wanted.keys():
        sampler.untrack(container_id)
    for container_id, ref in wanted.items():
        sampler.track(container_id, ref)
