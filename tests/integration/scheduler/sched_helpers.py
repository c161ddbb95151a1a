"""Simulated nodes (Node objects with capacity and no kubelet, as scheduler_perf uses) and
pods for the scheduler's integration tests and end-to-end benchmark."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import kcore
from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod
from kcore.client import Client, ElectionTimings
from kcore.scheduler.config import SchedulerConfig
from kcore.scheduler.scheduler import Scheduler


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
) -> Node:
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return from_dict(
        Node,
        {
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            },
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        },
    )


def pod(
    name: str,
    *,
    cpu: str | None = "100m",
    memory: str | None = None,
    namespace: str = "default",
    **spec: Any,
) -> Pod:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {
        "name": "c",
        "image": "busybox",
        "resources": {"requests": requests},
    }
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    labels = spec.pop("labels", {})
    owner = spec.pop("owner", None)
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": owner,
                "controller": True,
            }
        ]
    camel = {_camel(k): v for k, v in spec.items()}
    return from_dict(Pod, {"metadata": meta, "spec": {"containers": [container], **camel}})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


@contextlib.asynccontextmanager
async def running_scheduler(
    cluster: kcore.Cluster,
    config: SchedulerConfig | None = None,
    *,
    election: ElectionTimings | None = None,
    **kw: Any,
) -> AsyncIterator[Scheduler]:
    """A scheduler on its own client; leader-elected when `election` timings are given."""
    client = cluster.new_client(wire="msgpack")
    async with client:
        scheduler = Scheduler(client, config=config, **kw)
        run = scheduler.run(leader_elect=election is not None, election=election)
        task = asyncio.create_task(run)
        try:
            yield scheduler
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], Any], within: float = 20.0) -> Any:
    """Poll an async or sync check until it returns a truthy value."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.05)


async def node_of(client: Client, name: str, namespace: str = "default") -> str:
    got = await client.get(Pod, name, namespace=namespace)
    return got.spec.node_name
