"""A stopped kubelet, with real components: kcore.Cluster, the real scheduler, two real kubelets
(fake container runtime: hollow nodes that still register, renew their Lease and post status),
the ReplicaSet controller and the node controllers (grace 3 s, default toleration 1 s).

Stopping one kubelet must turn its node Unknown and tainted, and its pods must come back on
the other node, scheduled there by the scheduler because of the taint.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ctl_support import running_manager
from hollow import eventually
from test_nodes import _unknown, is_ready, live_pods, replica_set, running

import kcore
from kcore.api.core import Node, Pod
from kcore.client import Client
from kcore.controllers.nodeipam import NodeIpamController
from kcore.controllers.nodelifecycle import NodeLifecycleController
from kcore.controllers.podgc import PodGCController
from kcore.kubelet import Kubelet, KubeletConfig
from kcore.scheduler.cli import embedded

pytestmark = pytest.mark.timeout(120)


@contextlib.asynccontextmanager
async def kubelet(cluster: kcore.Cluster, name: str, ip: str, root: Path) -> AsyncIterator[Kubelet]:
    cfg = KubeletConfig(
        node_name=name,
        node_ip=ip,
        port=0,
        data_dir=root / name,
        runtime="fake",
        lease_period=0.5,
        status_period=0.5,
        relist_period=0.2,
    )
    async with cluster.new_client() as client:
        k = Kubelet(cfg, client)
        await k.start()
        try:
            yield k
        finally:
            await k.stop()


def controllers() -> list[object]:
    return [
        NodeIpamController,
        lambda c, f, r: NodeLifecycleController(
            c, f, r, grace_period=3.0, monitor_period=0.5, default_toleration_seconds=1
        ),
        lambda c, f, r: PodGCController(c, f, r, period=0.5, terminated_threshold=0),
    ]


async def test_pods_of_a_stopped_kubelet_come_back_on_another_node(tmp_path: Path) -> None:
    async with kcore.Cluster(data_dir=tmp_path / "cluster") as cluster:
        c = cluster.client
        mc = cluster.new_client()
        async with (
            mc,
            embedded(cluster.kubeconfig),
            running_manager(mc, controllers=["replicaset"]),
            running(mc, *controllers()),
            kubelet(cluster, "kn-1", "127.0.1.201", tmp_path) as k1,
            kubelet(cluster, "kn-2", "127.0.1.202", tmp_path) as k2,
        ):
            await c.create(replica_set("web", 4))

            async def all_ready() -> list[Pod] | None:
                pods = await live_pods(c)
                return pods if len(pods) == 4 and all(map(is_ready, pods)) else None

            pods = await eventually(all_ready, within=60)
            on = {n: [p for p in pods if p.spec.node_name == n] for n in ("kn-1", "kn-2")}
            victim, survivor = ("kn-1", "kn-2") if on["kn-1"] else ("kn-2", "kn-1")
            stop = k1 if victim == "kn-1" else k2
            await stop.stop()  # the kubelet stops: no more Lease renewals, no status

            await eventually(lambda: _unknown(c, victim), within=30)

            async def moved() -> bool:
                pods = await live_pods(c)
                return (
                    len(pods) == 4
                    and all(map(is_ready, pods))
                    and all(p.spec.node_name == survivor for p in pods)
                )

            await eventually(moved, within=60)
            assert (await c.get(Node, survivor)).spec.taints == []
            await c.delete(Node, victim)
            await eventually(lambda: _gone_from(c, victim), within=30)


async def _gone_from(c: Client, node: str) -> bool:
    pods = (await c.list(Pod, namespace="default")).items
    return not any(p.spec.node_name == node for p in pods)
