"""Node lifecycle end to end: kcore.Cluster + controller manager + simulated kubelets.

The simulated kubelets (`Kubelets`) play both node agents and scheduler through the real API:
every live node renews its Lease in kube-node-lease and posts Ready; unbound pods are bound to
a live node without NoExecute taints and reported Running and Ready; graceful deletions on
live nodes are completed. Stopping a node's heartbeat is what a stopped kubelet does.
The node controllers run with short periods (grace 2 s, default toleration 1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from ctl_support import running_manager
from hollow import eventually

import kcore
from kcore.api import timeutil
from kcore.api.apps import ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.coordination import Lease, LeaseSpec
from kcore.api.core import Node, NodeCondition, Pod, PodCondition
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import Client, EventRecorder, SharedInformerFactory
from kcore.controllers import _taints
from kcore.controllers.base import QueueController
from kcore.controllers.nodeipam import NodeIpamController
from kcore.controllers.nodelifecycle import LEASE_NAMESPACE, NodeLifecycleController
from kcore.controllers.podgc import PodGCController

pytestmark = pytest.mark.timeout(120)


class Kubelets:
    """Simulated kubelets (and scheduler) for `names`; `alive` ones heartbeat."""

    def __init__(self, client: Client, names: list[str]) -> None:
        self.client = client
        self.names = names
        self.alive = set(names)
        self._rr = itertools.count()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Kubelets:
        for name in self.names:
            await self.client.create(Node(metadata=ObjectMeta(name=name)))
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _loop(self) -> None:
        while True:
            for name in sorted(self.alive):
                await self._heartbeat(name)
            for pod in (await self.client.list(Pod)).items:
                with contextlib.suppress(StatusError):
                    await self._step(pod)
            await asyncio.sleep(0.1)

    async def _heartbeat(self, name: str) -> None:
        stamp = timeutil.format_micro(datetime.now(UTC))
        try:
            lease = await self.client.get(Lease, name, namespace=LEASE_NAMESPACE)
        except StatusError:
            meta = ObjectMeta(name=name, namespace=LEASE_NAMESPACE)
            lease = await self.client.create(
                Lease(metadata=meta, spec=LeaseSpec(holder_identity=name))
            )
        lease.spec.renew_time = stamp
        await self.client.update(lease)
        node = await self.client.get(Node, name)
        ready = NodeCondition(
            type="Ready",
            status="True",
            reason="KubeletReady",
            last_heartbeat_time=timeutil.now(),
            last_transition_time=timeutil.now(),
        )
        if [c.status for c in node.status.conditions] != ["True"]:
            node.status.conditions = [ready]
            await self.client.update_status(node)

    async def _step(self, pod: Pod) -> None:
        ns, name, node = pod.metadata.namespace, pod.metadata.name, pod.spec.node_name
        if pod.metadata.deletion_timestamp:
            if node in self.alive or not node:
                await self.client.delete(Pod, name, namespace=ns, grace_period_seconds=0)
        elif not node:
            live = await self._schedulable()
            if live:
                await self.client.bind(name, live[next(self._rr) % len(live)], namespace=ns)
        elif node in self.alive and pod.status.phase != "Running":
            now = timeutil.now()
            status = msgspec.structs.replace(
                pod.status,
                phase="Running",
                conditions=[PodCondition(type="Ready", status="True", last_transition_time=now)],
            )
            await self.client.update_status(msgspec.structs.replace(pod, status=status))

    async def _schedulable(self) -> list[str]:
        nodes = (await self.client.list(Node)).items
        return [
            n.metadata.name
            for n in nodes
            if n.metadata.name in self.alive
            and not any(t.effect == "NoExecute" for t in n.spec.taints)
        ]


@contextlib.asynccontextmanager
async def running(client: Client, *builders: Any) -> AsyncIterator[list[QueueController]]:
    """Build controllers on one informer factory, start it and run them until the block ends."""
    factory = SharedInformerFactory(client)
    recorder = EventRecorder(client, component="kcore-controller-manager")
    controllers: list[QueueController] = [b(client, factory, recorder) for b in builders]
    factory.start()
    await factory.wait_for_sync()
    tasks = [asyncio.create_task(c.run(2)) for c in controllers]
    try:
        yield controllers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await factory.stop()
        await recorder.close()


def node_controllers() -> list[Any]:
    return [
        NodeIpamController,
        lambda c, f, r: NodeLifecycleController(
            c, f, r, grace_period=2.0, monitor_period=0.5, default_toleration_seconds=1
        ),
        lambda c, f, r: PodGCController(c, f, r, period=0.5, terminated_threshold=0),
    ]


def replica_set(name: str, replicas: int) -> ReplicaSet:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    return from_dict(ReplicaSet, body)


async def live_pods(client: Client) -> list[Pod]:
    pods = (await client.list(Pod, namespace="default")).items
    return [p for p in pods if not p.metadata.deletion_timestamp]


def is_ready(pod: Pod) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions
    )


async def test_stopped_kubelet_node_goes_unknown_and_pods_move() -> None:
    async with kcore.Cluster() as cluster:
        c = cluster.client
        manager_client = cluster.new_client()
        async with (
            manager_client,
            running_manager(manager_client, controllers=["replicaset", "garbagecollector"]),
            running(manager_client, *node_controllers()),
            Kubelets(c, ["node-a", "node-b"]) as kubelets,
        ):
            cidrs = await eventually(lambda: _cidrs(c))
            assert sorted(cidrs) == ["127.64.0.0/24", "127.64.1.0/24"]
            await c.create(replica_set("web", 4))

            async def spread() -> bool:
                pods = await live_pods(c)
                nodes = {p.spec.node_name for p in pods if is_ready(p)}
                return len(pods) == 4 and all(map(is_ready, pods)) and nodes == {"node-a", "node-b"}

            await eventually(spread)
            on_b = {p.metadata.uid for p in await live_pods(c) if p.spec.node_name == "node-b"}

            kubelets.alive.discard("node-b")  # the kubelet stops
            node = await eventually(lambda: _unknown(c, "node-b"), within=30)
            ready = next(x for x in node.status.conditions if x.type == "Ready")
            assert ready.reason == "NodeStatusUnknown"
            assert {(t.key, t.effect) for t in node.spec.taints} >= {
                (_taints.UNREACHABLE, "NoExecute")
            }

            async def moved() -> bool:
                pods = await live_pods(c)
                return (
                    len(pods) == 4
                    and all(map(is_ready, pods))
                    and all(p.spec.node_name == "node-a" for p in pods)
                )

            await eventually(moved, within=30)
            stuck = [
                p for p in (await c.list(Pod, namespace="default")).items if p.metadata.uid in on_b
            ]
            assert all(p.metadata.deletion_timestamp for p in stuck)  # evicted, kubelet gone
            assert all(
                any(x.type == "Ready" and x.status == "False" for x in p.status.conditions)
                for p in stuck
            )

            kubelets.alive.add("node-b")  # it comes back: taints go
            await eventually(lambda: _untainted(c, "node-b"), within=30)


async def test_pods_of_a_deleted_dead_node_are_garbage_collected() -> None:
    async with kcore.Cluster() as cluster:
        c = cluster.client
        manager_client = cluster.new_client()
        async with (
            manager_client,
            running(manager_client, *node_controllers()),
            Kubelets(c, ["node-a"]) as kubelets,
        ):
            pod = from_dict(
                Pod,
                {
                    "metadata": {"name": "p", "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            )
            await c.create(pod)
            await eventually(lambda: _ready_pod(c, "p"))
            kubelets.alive.discard("node-a")
            await eventually(lambda: _unknown(c, "node-a"), within=30)
            evicted = await eventually(lambda: _terminating(c, "p"), within=30)
            assert evicted.spec.node_name == "node-a"
            await c.delete(Node, "node-a")
            await eventually(lambda: _no_pods_on(c, "node-a"), within=30)


async def _ready_pod(c: Client, name: str) -> bool:
    return is_ready(await c.get(Pod, name, namespace="default"))


async def _terminating(c: Client, name: str) -> Pod | None:
    pod = await c.get(Pod, name, namespace="default")
    return pod if pod.metadata.deletion_timestamp else None


async def _cidrs(c: Client) -> list[str] | None:
    nodes = (await c.list(Node)).items
    cidrs = [n.spec.pod_cidr for n in nodes]
    return cidrs if all(cidrs) and len(cidrs) == 2 else None


async def _unknown(c: Client, name: str) -> Node | None:
    node = await c.get(Node, name)
    ready = [x.status for x in node.status.conditions if x.type == "Ready"]
    tainted = any(t.key == _taints.UNREACHABLE for t in node.spec.taints)
    return node if ready == ["Unknown"] and tainted else None


async def _untainted(c: Client, name: str) -> bool:
    node = await c.get(Node, name)
    return not node.spec.taints and [x.status for x in node.status.conditions] == ["True"]


async def _no_pods_on(c: Client, name: str) -> bool:
    pods = (await c.list(Pod, namespace="default")).items
    return not any(p.spec.node_name == name for p in pods)
