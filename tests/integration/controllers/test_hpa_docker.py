"""On real Docker: an HPA scales a CPU-burning Deployment up, and down once the load stops.

Scheduler + a real kubelet (cgroup stats) + the Deployment/ReplicaSet/GC controllers + the HPA
reading metrics.k8s.io through the API server, which scrapes the kubelet's /stats/summary.
Each busybox pod spins while a file exists in a hostPath directory the test controls, and is
capped at 200m by a CPU limit, so one pod is 200% of its 100m request against a 50% target.
Short windows: sync every second, scale-down stabilization 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest
from ctl_support import docker_control_plane
from hollow import eventually
from test_nodes import running

import kcore
from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.autoscaling import HorizontalPodAutoscalerV2
from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.client import Client
from kcore.controllers.hpa import HorizontalPodAutoscalerController
from kcore.kubelet import Kubelet

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(240)]
IMAGE = "kcore-test/busybox:1"
NODE_LABEL = "io.kcore.node"
SPIN = "while true; do if [ -f /ctl/burn ]; then :; else sleep 0.2; fi; done"


def burner(ctl_dir: Path) -> Deployment:
    container = {
        "name": "burn",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", SPIN],
        "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
        "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}],
    }
    spec = {
        "containers": [container],
        "volumes": [{"name": "ctl", "hostPath": {"path": str(ctl_dir)}}],
        "terminationGracePeriodSeconds": 1,
    }
    body = {
        "metadata": {"name": "burn", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "burn"}},
            "template": {"metadata": {"labels": {"app": "burn"}}, "spec": spec},
        },
    }
    return from_dict(Deployment, body)


def autoscaler() -> HorizontalPodAutoscalerV2:
    target = {"type": "Utilization", "averageUtilization": 50}
    body = {
        "metadata": {"name": "burn", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burn"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }
    return from_dict(HorizontalPodAutoscalerV2, body)


@contextlib.asynccontextmanager
async def control_plane(tmp: Path) -> AsyncIterator[tuple[kcore.Cluster, Kubelet]]:
    workloads = ["deployment", "replicaset", "garbagecollector"]
    async with docker_control_plane(
        tmp, node_prefix="hpa", node_ip="127.0.1.78", controllers=workloads
    ) as (cluster, kubelet, stack):
        client = await stack.enter_async_context(cluster.new_client())
        hpa = lambda c, f, r: HorizontalPodAutoscalerController(  # noqa: E731
            c, f, r, sync_period=1.0, downscale_stabilization=5
        )
        await stack.enter_async_context(running(client, hpa))
        yield cluster, kubelet


async def _replicas(client: Client) -> int:
    d = await client.get(Deployment, "burn", namespace="default")
    return int(d.spec.replicas or 0)


async def _hpa_sees(client: Client, low: int) -> HorizontalPodAutoscalerV2 | None:
    hpa = await client.get(HorizontalPodAutoscalerV2, "burn", namespace="default")
    for m in hpa.status.current_metrics:
        if m.resource is not None and (m.resource.current.average_utilization or 0) >= low:
            return hpa
    return None


async def test_hpa_scales_cpu_burner_up_and_down(tmp_path: Path) -> None:
    ctl_dir = tmp_path / "ctl"
    ctl_dir.mkdir()
    async with control_plane(tmp_path) as (cluster, kubelet):
        client = cluster.client
        await client.create(burner(ctl_dir))
        await client.create(autoscaler())
        (ctl_dir / "burn").touch()  # load on
        hpa = await eventually(lambda: _hpa_sees(client, 100), within=90)
        assert hpa.status.current_replicas >= 1
        await eventually(lambda: _at(client, 3), within=90)
        (ctl_dir / "burn").unlink()  # load off: back to min after the window
        await eventually(lambda: _at(client, 1), within=90)
        hpa = await client.get(HorizontalPodAutoscalerV2, "burn", namespace="default")
        assert hpa.status.last_scale_time

        await client.delete(HorizontalPodAutoscalerV2, "burn", namespace="default")
        await client.delete(Deployment, "burn", namespace="default")

        async def all_gone() -> bool:
            left = (await client.list(Pod, namespace="default")).items
            rss = (await client.list(ReplicaSet, namespace="default")).items
            return not left and not rss and not kubelet.workers

        await eventually(all_gone, within=90)
        found = await asyncio.to_thread(_containers, kubelet.config.node_name)
        assert not found, f"containers left behind: {found}"


async def _at(client: Client, n: int) -> bool:
    return await _replicas(client) == n


def _containers(node: str) -> list[str]:
    d = docker.from_env()
    try:
        found = d.containers.list(all=True, filters={"label": f"{NODE_LABEL}={node}"})
        names = [c.name for c in found]
        for c in found:
            c.remove(force=True)
        return names
    finally:
        d.close()
