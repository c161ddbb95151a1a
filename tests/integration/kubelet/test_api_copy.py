"""The kubelet corrects what others changed in its Node and pods, and takes up a new podCIDR.

The node lifecycle controller marks a node Unknown when its Lease lapses, and a pod's Ready
False with it; a kubelet that is in fact alive must write Ready back at its next status check,
comparing with the objects as stored in the API rather than with what it last wrote itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Sequence
from pathlib import Path

from kubelet_support import StartKubelet, bind_to, busybox, simple_pod, wait_for

import kcore
from kcore.api import codec
from kcore.api.core import Node, NodeCondition, Pod, PodCondition
from kcore.kubelet import Kubelet, KubeletConfig
from kcore.kubelet.podfeed import PodFeed
from kcore.kubelet.podip import derived_cidr


def _ready(conditions: Sequence[NodeCondition | PodCondition]) -> str:
    return next((c.status for c in conditions if c.type == "Ready"), "")


async def _until(check: object, within: float = 30.0) -> None:
    assert callable(check)
    for _ in range(int(within / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("never happened")


async def test_a_node_marked_unknown_by_a_controller_is_ready_again(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(status_period=0.3)
    name = kubelet.config.node_name
    unknown = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
    }
    node = await cluster.client.get(Node, name)
    others = [c for c in node.status.conditions if c.type != "Ready"]
    body = {"status": {"conditions": [unknown, *(codec.to_dict(c) for c in others)]}}
    marked = await cluster.client.patch(Node, name, body, subresource="status")
    assert _ready(marked.status.conditions) == "Unknown"

    async def ready_again() -> bool:
        fresh = await cluster.client.get(Node, name)
        return _ready(fresh.status.conditions) == "True"

    await _until(ready_again)


async def test_a_pod_marked_not_ready_by_a_controller_is_ready_again(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    pod = bind_to(simple_pod("steady", busybox("c", "sleep", "3600")), kubelet.config.node_name)
    await cluster.client.create(pod)
    running = await wait_for(
        cluster.client, "steady", lambda p: _ready(p.status.conditions) == "True"
    )
    conditions = [codec.to_dict(c) for c in running.status.conditions]
    for c in conditions:
        if c["type"] == "Ready":
            c.update(status="False", reason="NodeNotReady")
    await cluster.client.patch(
        Pod,
        "steady",
        {"status": {"conditions": conditions}},
        namespace="default",
        subresource="status",
    )
    marked = await cluster.client.get(Pod, "steady", namespace="default")
    assert _ready(marked.status.conditions) == "False"
    await wait_for(cluster.client, "steady", lambda p: _ready(p.status.conditions) == "True")


async def test_a_pod_cidr_assigned_later_serves_new_pods(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(status_period=0.3)
    node = kubelet.config.node_name
    old_net = ipaddress.IPv4Network(derived_cidr(node))
    new_cidr = "127.64.251.0/24" if str(old_net) != "127.64.251.0/24" else "127.64.252.0/24"
    await cluster.client.create(bind_to(simple_pod("before", busybox("c", "sleep", "3600")), node))
    before = await wait_for(cluster.client, "before", lambda p: p.status.phase == "Running")
    assert ipaddress.IPv4Address(before.status.pod_ip) in old_net

    await cluster.client.patch(Node, node, {"spec": {"podCIDR": new_cidr, "podCIDRs": [new_cidr]}})

    async def taken_up() -> bool:
        return kubelet.node is not None and kubelet.node.spec.pod_cidr == new_cidr

    await _until(taken_up)
    await cluster.client.create(bind_to(simple_pod("after", busybox("c", "sleep", "3600")), node))
    after = await wait_for(cluster.client, "after", lambda p: p.status.phase == "Running")
    assert ipaddress.IPv4Address(after.status.pod_ip) in ipaddress.IPv4Network(new_cidr)
    still = await cluster.client.get(Pod, "before", namespace="default")
    assert still.status.pod_ip == before.status.pod_ip
    assert still.status.container_statuses[0].restart_count == 0


async def test_kubelets_on_a_shared_feed_read_their_node_from_it(
    cluster: kcore.Cluster, tmp_path: Path
) -> None:
    """Embedded (hollow) kubelets check their Node in the feed's informer: a Ready condition set
    to Unknown comes back and a podCIDR assigned later is taken up."""
    node = f"feed-{uuid.uuid4().hex[:6]}"
    async with cluster.new_client() as client:
        feed = PodFeed(client)
        await feed.start()
        cfg = KubeletConfig(
            node_name=node, data_dir=tmp_path / "k", port=0, runtime="fake", status_period=0.3
        )
        kubelet = Kubelet(cfg, client, feed=feed)
        try:
            await kubelet.start()
            stored = await cluster.client.get(Node, node)
            conditions = [codec.to_dict(c) for c in stored.status.conditions]
            for c in conditions:
                if c["type"] == "Ready":
                    c.update(status="Unknown", reason="NodeStatusUnknown")
            await cluster.client.patch(
                Node, node, {"status": {"conditions": conditions}}, subresource="status"
            )
            await cluster.client.patch(Node, node, {"spec": {"podCIDR": "127.64.249.0/24"}})

            async def corrected() -> bool:
                fresh = await cluster.client.get(Node, node)
                return _ready(fresh.status.conditions) == "True" and (
                    kubelet.node is not None and kubelet.node.spec.pod_cidr == "127.64.249.0/24"
                )

            await _until(corrected)
            await cluster.client.create(bind_to(simple_pod("fed", busybox("c")), node))
            got = await wait_for(cluster.client, "fed", lambda p: p.status.phase == "Running")
            assert got.status.pod_ip.startswith("127.64.249.")
            await cluster.client.delete(Pod, "fed", namespace="default", grace_period_seconds=0)
        finally:
            await kubelet.stop()
            await feed.stop()


async def test_conditions_others_own_survive_the_kubelets_status_writes(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    """A readiness-gate style condition written by someone else stays through the kubelet's
    later status writes (Running, then Succeeded), as kube's kubelet keeps conditions it does
    not own."""
    kubelet = await start_kubelet()
    pod = simple_pod("gated", busybox("c", "sh", "-c", "sleep 2"), restart_policy="Never")
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "gated", lambda p: p.status.phase == "Running")
    gate = {"type": "example.com/gate", "status": "True", "reason": "Checked"}
    await cluster.client.patch(
        Pod,
        "gated",
        {"status": {"conditions": [gate]}},
        patch_type="strategic",
        namespace="default",
        subresource="status",
    )
    done = await wait_for(cluster.client, "gated", lambda p: p.status.phase == "Succeeded")
    kinds = {c.type: c.status for c in done.status.conditions}
    assert kinds["example.com/gate"] == "True"
    assert kinds["Ready"] == "False" and kinds["PodScheduled"] == "True"
