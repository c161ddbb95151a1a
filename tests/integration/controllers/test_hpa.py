"""HPA end to end: kcore.Cluster + Deployment/ReplicaSet controllers + hollow nodes + HPA.

Pod CPU usage comes from a StaticMetricsSource that a "load" task keeps filled for every live
pod of the Deployment (the metrics.k8s.io pipeline is not needed for this test). Windows are
short: sync every 0.2 s, scale-down stabilization 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from ctl_support import running_manager
from hollow import HollowNodes, eventually
from test_nodes import running

import kcore
from kcore.api import timeutil
from kcore.api.apps import Deployment
from kcore.api.autoscaling import HorizontalPodAutoscaler, HorizontalPodAutoscalerV2
from kcore.api.codec import from_dict
from kcore.api.core import Event, Node, Pod
from kcore.apiserver.pki import Credentials, ensure_credentials
from kcore.client import Client
from kcore.controllers.hpa import HorizontalPodAutoscalerController, StaticMetricsSource

pytestmark = pytest.mark.timeout(120)


def deployment(name: str, replicas: int) -> Deployment:
    container = {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }
    return from_dict(Deployment, body)


@contextlib.asynccontextmanager
async def load(client: Client, metrics: StaticMetricsSource, app: str) -> AsyncIterator[list[int]]:
    """Keep every live pod of `app` reporting `level[0]` milli-CPU."""
    level = [0]

    async def loop() -> None:
        while True:
            pods = (await client.list(Pod, namespace="default", label_selector=f"app={app}")).items
            metrics.clear()
            for p in pods:
                if p.status.phase == "Running" and not p.metadata.deletion_timestamp:
                    metrics.set("default", p.metadata.name, "cpu", level[0])
            await asyncio.sleep(0.05)

    task = asyncio.create_task(loop())
    try:
        yield level
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def env(metrics: StaticMetricsSource) -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as cluster:
        mc = cluster.new_client()
        hpa = lambda c, f, r: HorizontalPodAutoscalerController(  # noqa: E731
            c, f, r, metrics=metrics, sync_period=0.2, downscale_stabilization=2
        )
        async with (
            mc,
            running_manager(mc, controllers=["deployment", "replicaset", "garbagecollector"]),
            running(mc, hpa),
            HollowNodes(cluster.client),
        ):
            yield cluster


async def replicas(c: Client, name: str) -> int:
    d = await c.get(Deployment, name, namespace="default")
    return int(d.spec.replicas or 0)


async def test_hpa_scales_deployment_up_under_load_and_down_after_window() -> None:
    metrics = StaticMetricsSource()
    async with env(metrics) as cluster, load(cluster.client, metrics, "burn") as level:
        c = cluster.client
        await c.create(deployment("burn", 2))
        hpa = from_dict(
            HorizontalPodAutoscalerV2,
            {
                "metadata": {"name": "burn", "namespace": "default"},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "burn",
                    },
                    "minReplicas": 1,
                    "maxReplicas": 8,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 50},
                            },
                        }
                    ],
                },
            },
        )
        await c.create(hpa)
        level[0] = 200  # 200% of the request on a 50% target: wants 4x
        await eventually(lambda: _at_least(c, "burn", 8), within=60)
        got = await c.get(HorizontalPodAutoscalerV2, "burn", namespace="default")
        assert got.status.desired_replicas == 8
        conds = {x.type: x.status for x in got.status.conditions}
        assert conds["ScalingLimited"] == "True"  # capped by maxReplicas
        level[0] = 5  # idle: down to min once the stabilization window has passed
        await eventually(lambda: _at_most(c, "burn", 1), within=60)
        events = (await c.list(Event, namespace="default")).items
        rescales = [e for e in events if e.reason == "SuccessfulRescale"]
        assert rescales and rescales[0].involved_object.kind == "HorizontalPodAutoscaler"


async def test_kubectl_autoscale_makes_a_v1_hpa_that_scales() -> None:
    metrics = StaticMetricsSource()
    async with env(metrics) as cluster, load(cluster.client, metrics, "web") as level:
        c = cluster.client
        await c.create(deployment("web", 1))
        out = await kubectl(
            cluster, "autoscale", "deployment", "web", "--cpu-percent=40", "--max=3"
        )
        assert "autoscaled" in out
        level[0] = 100
        await eventually(lambda: _at_least(c, "web", 3), within=60)
        got = await eventually(lambda: _v1_with_cpu(c, "web"), within=30)
        assert got.status.current_cpu_utilization_percentage == 100
        table = await kubectl(cluster, "get", "hpa", "web")
        assert "100%/40%" in table, table


async def kubectl(cluster: kcore.Cluster, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(cluster.kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def _at_least(c: Client, name: str, n: int) -> bool:
    return await replicas(c, name) >= n


async def _at_most(c: Client, name: str, n: int) -> bool:
    return await replicas(c, name) <= n


async def _v1_with_cpu(c: Client, name: str) -> HorizontalPodAutoscaler | None:
    got = await c.get(HorizontalPodAutoscaler, name, namespace="default")
    return got if got.status.current_cpu_utilization_percentage is not None else None


class StatsKubelet:
    """A hollow kubelet's /stats/summary (HTTPS on loopback): every Running pod of its node
    uses `level` milli-CPU. The API server scrapes it to serve metrics.k8s.io PodMetrics."""

    def __init__(self, client: Client, node: str, creds: Credentials) -> None:
        self.client, self.node, self.creds = client, node, creds
        self.level = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> StatsKubelet:
        app = web.Application()
        app.router.add_get("/stats/summary", self._summary)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.creds.tls_cert, self.creds.tls_key)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        patch = {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            }
        }
        await self.client.patch(Node, self.node, patch, subresource="status")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _summary(self, request: web.Request) -> web.Response:
        pods = (await self.client.list(Pod, field_selector=f"spec.nodeName={self.node}")).items
        stamp = timeutil.now()
        cpu = {"time": stamp, "usageNanoCores": self.level * 1_000_000}
        mem = {"time": stamp, "workingSetBytes": 1 << 20}
        doc = {
            "node": {"nodeName": self.node, "cpu": cpu, "memory": mem},
            "pods": [
                {
                    "podRef": {"name": p.metadata.name, "namespace": p.metadata.namespace},
                    "containers": [{"name": "c", "cpu": cpu, "memory": mem}],
                }
                for p in pods
                if p.status.phase == "Running"
            ],
        }
        return web.json_response(doc)


async def test_hpa_reads_metrics_served_by_the_api_server(tmp_path: Path) -> None:
    async with kcore.Cluster() as cluster:
        c, mc = cluster.client, cluster.new_client()
        hpa = lambda cl, f, r: HorizontalPodAutoscalerController(  # noqa: E731
            cl, f, r, sync_period=0.2, downscale_stabilization=1
        )
        async with (
            mc,
            running_manager(mc, controllers=["deployment", "replicaset"]),
            running(mc, hpa),
            HollowNodes(c, count=1) as nodes,
            StatsKubelet(c, nodes.names[0], ensure_credentials(tmp_path)) as stats,
        ):
            await c.create(deployment("served", 1))
            body = {
                "metadata": {"name": "served", "namespace": "default"},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "served",
                    },
                    "maxReplicas": 4,
                    "targetCPUUtilizationPercentage": 50,
                },
            }
            await c.create(from_dict(HorizontalPodAutoscaler, body))
            stats.level = 100  # 100m of a 100m request: twice the target
            await eventually(lambda: _at_least(c, "served", 4), within=60)
            got = await eventually(lambda: _v1_with_cpu(c, "served"), within=30)
            assert got.status.current_cpu_utilization_percentage == 100
            stats.level = 0
            await eventually(lambda: _at_most(c, "served", 1), within=60)
