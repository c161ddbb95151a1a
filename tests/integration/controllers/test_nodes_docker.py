"""On real Docker: a stopped kubelet's node goes Unknown and its pods come back on another node.

Scheduler + two real kubelets (Docker runtime) + the ReplicaSet controller + the node
controllers with short periods (grace 3 s, default toleration 1 s). Stopping a kubelet leaves
its containers running, as a crashed kubelet would; once it is restarted it adopts them, sees
that their pods were evicted, stops them, and the node's taints go. Nothing may be left.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import pytest
from ctl_support import running_manager
from hollow import eventually
from test_nodes import _unknown, is_ready, live_pods, running
from test_nodes_kubelet import controllers

import kcore
from kcore.api.apps import ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod
from kcore.client import Client
from kcore.kubelet import Kubelet, KubeletConfig
from kcore.scheduler.scheduler import Scheduler

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(240)]
IMAGE = "kcore-test/busybox:1"
NODE_LABEL = "io.kcore.node"


def sleepers(replicas: int) -> ReplicaSet:
    container = {
        "name": "s",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "3600"],
    }
    body = {
        "metadata": {"name": "sleepers", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "sleepers"}},
            "template": {
                "metadata": {"labels": {"app": "sleepers"}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }
    return from_dict(ReplicaSet, body)


class Kubelets:
    """Real kubelets by node name, each startable again after a stop (same data dir)."""

    def __init__(self, cluster: kcore.Cluster, root: Path) -> None:
        self.cluster, self.root = cluster, root
        self.tag = uuid.uuid4().hex[:6]
        self.running: dict[str, tuple[Kubelet, Client]] = {}

    def name(self, i: int) -> str:
        return f"nd-{self.tag}-{i}"

    async def start(self, i: int) -> Kubelet:
        node = self.name(i)
        cfg = KubeletConfig(
            node_name=node,
            node_ip=f"127.0.1.{90 + i}",
            port=0,
            data_dir=self.root / node,
            lease_period=0.5,
            status_period=0.5,
            relist_period=0.3,
        )
        client = self.cluster.new_client()
        await client.__aenter__()
        kubelet = Kubelet(cfg, client)
        await kubelet.start()
        self.running[node] = (kubelet, client)
        return kubelet

    async def stop(self, node: str) -> None:
        kubelet, client = self.running.pop(node)
        await kubelet.stop()
        await client.close()

    async def stop_all(self) -> None:
        for node in list(self.running):
            await self.stop(node)


@contextlib.asynccontextmanager
async def control_plane(tmp: Path) -> AsyncIterator[tuple[kcore.Cluster, Kubelets]]:
    async with kcore.Cluster(data_dir=tmp / "cluster") as cluster:
        clients = [cluster.new_client() for _ in range(3)]
        kubelets = Kubelets(cluster, tmp)
        async with contextlib.AsyncExitStack() as stack:
            for c in clients:
                await stack.enter_async_context(c)
            task = asyncio.create_task(Scheduler(clients[0]).run())
            stack.push_async_callback(_cancel, task)
            await stack.enter_async_context(running_manager(clients[1], controllers=["replicaset"]))
            await stack.enter_async_context(running(clients[2], *controllers()))
            stack.push_async_callback(_remove_containers, kubelets)
            stack.push_async_callback(kubelets.stop_all)
            yield cluster, kubelets


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _remove_containers(kubelets: Kubelets) -> None:
    for i in (0, 1):
        await asyncio.to_thread(_containers, kubelets.name(i))


async def test_pods_of_stopped_docker_kubelet_come_back_elsewhere(tmp_path: Path) -> None:
    async with control_plane(tmp_path) as (cluster, kubelets):
        c = cluster.client
        await kubelets.start(0)
        await kubelets.start(1)
        await c.create(sleepers(4))

        async def ready() -> list[Pod] | None:
            pods = await live_pods(c)
            return pods if len(pods) == 4 and all(map(is_ready, pods)) else None

        pods = await eventually(ready, within=90)
        counts = {i: sum(p.spec.node_name == kubelets.name(i) for p in pods) for i in (0, 1)}
        victim_i = 0 if counts[0] >= counts[1] else 1
        victim, survivor = kubelets.name(victim_i), kubelets.name(1 - victim_i)
        await kubelets.stop(victim)  # containers keep running; no more heartbeats

        await eventually(lambda: _unknown(c, victim), within=60)

        async def moved() -> bool:
            pods = await live_pods(c)
            return len(pods) == 4 and all(
                is_ready(p) and p.spec.node_name == survivor for p in pods
            )

        await eventually(moved, within=90)
        stranded = await asyncio.to_thread(_running_containers, victim)
        assert len(stranded) == counts[victim_i]  # still running, their pods evicted

        await kubelets.start(victim_i)  # back: adopts, stops the evicted pods' containers
        await eventually(lambda: _back(c, victim), within=60)
        await eventually(lambda: _no_pods_on(c, victim), within=90)
        await eventually(lambda: _no_containers(victim), within=60)

        await c.delete(ReplicaSet, "sleepers", namespace="default", propagation_policy="Orphan")
        for pod in await live_pods(c):
            await c.delete(Pod, pod.metadata.name, namespace="default", grace_period_seconds=1)
        await eventually(lambda: _no_pods_on(c, survivor), within=90)
        await eventually(lambda: _no_containers(survivor), within=60)


async def _back(c: Client, name: str) -> bool:
    node = await c.get(Node, name)
    ready = [x.status for x in node.status.conditions if x.type == "Ready"]
    return ready == ["True"] and not node.spec.taints


async def _no_pods_on(c: Client, node: str) -> bool:
    pods = (await c.list(Pod, namespace="default")).items
    return not any(p.spec.node_name == node for p in pods)


async def _no_containers(node: str) -> bool:
    return not await asyncio.to_thread(_running_containers, node)


def _running_containers(node: str) -> list[str]:
    d = docker.from_env()
    try:
        found = d.containers.list(filters={"label": f"{NODE_LABEL}={node}"})
        return [c.name for c in found]
    finally:
        d.close()


def _containers(node: str) -> list[str]:
    """Force-remove whatever a failed run left for `node` (a passing run leaves nothing)."""
    d = docker.from_env()
    try:
        found = d.containers.list(all=True, filters={"label": f"{NODE_LABEL}={node}"})
        for c in found:
            c.remove(force=True)
        return [c.name for c in found]
    finally:
        d.close()
