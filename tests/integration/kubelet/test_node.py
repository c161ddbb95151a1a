"""The kubelet's Node and Lease, liveness restarts, and removal of orphaned containers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from kubelet_support import StartKubelet, bind_to, busybox, node_containers, simple_pod, wait_for

import kcore
from kcore.api import timeutil
from kcore.api.coordination import Lease
from kcore.api.core import ExecAction, Node, Pod, Probe
from kcore.api.errors import StatusError


async def test_node_registers_with_machine_facts_and_renews_its_lease(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(lease_period=0.5)
    name = kubelet.config.node_name
    node = await cluster.client.get(Node, name)
    status = node.status
    assert int(status.capacity["cpu"]) >= 1 and status.capacity["pods"] == "110"
    assert status.capacity["memory"].endswith("Ki") and "ephemeral-storage" in status.capacity
    assert int(status.allocatable["memory"][:-2]) < int(status.capacity["memory"][:-2])
    assert {(a.type, a.address) for a in status.addresses} == {
        ("InternalIP", kubelet.config.node_ip),
        ("Hostname", name),
    }
    assert status.daemon_endpoints is not None
    assert status.daemon_endpoints.kubelet_endpoint.port == kubelet.port
    info = status.node_info
    assert info is not None
    for field in (
        "machine_id",
        "system_uuid",
        "boot_id",
        "kernel_version",
        "os_image",
        "container_runtime_version",
        "kubelet_version",
        "kube_proxy_version",
        "operating_system",
        "architecture",
    ):
        assert getattr(info, field), field
    assert info.container_runtime_version.startswith("docker://")
    conditions = {c.type: c.status for c in status.conditions}
    assert conditions == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    assert node.metadata.labels["kubernetes.io/hostname"] == name
    assert any("kcore-test/busybox:1" in image.names for image in status.images)

    first = await _lease(cluster, name)
    assert first.spec.holder_identity == name and first.spec.lease_duration_seconds == 40
    assert [o.name for o in first.metadata.owner_references] == [name]
    for _ in range(100):
        later = await _lease(cluster, name)
        if later.spec.renew_time != first.spec.renew_time:
            break
        await asyncio.sleep(0.1)
    assert timeutil.parse(later.spec.renew_time) > timeutil.parse(first.spec.renew_time)


async def _lease(cluster: kcore.Cluster, name: str) -> Lease:
    for _ in range(50):
        try:
            lease: Lease = await cluster.client.get(Lease, name, namespace="kube-node-lease")
            return lease
        except StatusError:
            await asyncio.sleep(0.1)
    raise AssertionError("no lease")


async def test_failing_liveness_probe_restarts_the_container(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    probe = Probe(
        exec=ExecAction(command=["test", "-f", "/tmp/alive"]),
        period_seconds=1,
        failure_threshold=2,
    )
    c = busybox(
        "flaky",
        "sh",
        "-c",
        "touch /tmp/alive; sleep 2; rm /tmp/alive; sleep 3600",
        liveness_probe=probe,
    )
    pod = simple_pod("flaky", c, termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(
        cluster.client,
        "flaky",
        lambda p: (
            bool(p.status.container_statuses)
            and p.status.container_statuses[0].restart_count >= 1
            and p.status.container_statuses[0].state.running is not None
        ),
    )
    last = got.status.container_statuses[0].last_state.terminated
    assert last is not None and last.exit_code != 0


async def test_containers_of_pods_gone_while_the_kubelet_was_down_are_removed(
    cluster: kcore.Cluster, start_kubelet: StartKubelet, docker_client: Any
) -> None:
    kubelet = await start_kubelet()
    node = kubelet.config.node_name
    pod = simple_pod("orphan", busybox("c", "sleep", "3600"), termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, node))
    await wait_for(cluster.client, "orphan", lambda p: p.status.phase == "Running")
    await kubelet.stop()
    await cluster.client.delete(Pod, "orphan", namespace="default", grace_period_seconds=0)
    assert len(node_containers(docker_client, node)) == 1  # still running, kubelet is down
    await start_kubelet()
    for _ in range(200):
        if not node_containers(docker_client, node):
            break
        await asyncio.sleep(0.1)
    assert node_containers(docker_client, node) == []


async def test_stats_summary_and_cadvisor_metrics_cover_the_pods(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(relist_period=0.2)
    pod = simple_pod("measured", busybox("c", "sleep", "3600"), termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "measured", lambda p: p.status.phase == "Running")
    base = f"https://{kubelet.config.node_ip}:{kubelet.port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(f"{base}/stats/summary", ssl=False) as resp:
                summary = await resp.json()
            pods = [p["podRef"]["name"] for p in summary.get("pods", [])]
            if "measured" in pods:
                break
            await asyncio.sleep(0.2)
        assert summary["node"]["nodeName"] == kubelet.config.node_name
        assert "measured" in pods
        async with http.get(f"{base}/metrics/cadvisor", ssl=False) as resp:
            text = await resp.text()
        assert 'pod="measured"' in text and "container_cpu_usage_seconds_total" in text
