"""On real Docker: scheduler + a real kubelet + the controller manager, no hollow nodes.

A Deployment of 5 busybox httpd pods (each bound to its own pod IP, readiness by HTTP probe)
becomes 5 ready; its Service's Endpoints list the 5 pod IPs, which answer HTTP; a template
change rolls every pod with maxUnavailable respected (checked from a watch of the pods) and
deleting the Deployment removes its ReplicaSets, pods and containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import docker
import docker.errors
import pytest
from ctl_support import docker_control_plane
from hollow import eventually

import kcore
from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.core import Endpoints, Pod, Service
from kcore.client import Client, SharedInformerFactory
from kcore.kubelet import Kubelet

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(240)]
IMAGE = "kcore-test/busybox:1"
NODE_LABEL = "io.kcore.node"
SCRIPT = "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p $POD_IP:8080 -h /www"


def web_deployment(version: str) -> Deployment:
    container = {
        "name": "web",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", SCRIPT],
        "env": [{"name": "VERSION", "value": version}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
    }
    body = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }
    return from_dict(Deployment, body)


@contextlib.asynccontextmanager
async def control_plane(tmp: Path) -> AsyncIterator[tuple[kcore.Cluster, Kubelet]]:
    async with docker_control_plane(tmp, node_prefix="cm", node_ip="127.0.1.77") as running:
        yield running[0], running[1]


def _ready(pod: Pod) -> bool:
    return not pod.metadata.deletion_timestamp and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions
    )


async def _done(client: Client, version: str) -> bool:
    d = await client.get(Deployment, "web", namespace="default")
    st = d.status
    env = d.spec.template.spec.containers[0].env[0].value
    return (
        env == version
        and st.observed_generation >= d.metadata.generation
        and st.updated_replicas == st.replicas == st.available_replicas == 5
    )


async def _endpoint_ips(client: Client) -> list[str] | None:
    ep = await client.get(Endpoints, "web", namespace="default")
    ips = sorted(a.ip for s in ep.subsets for a in s.addresses)
    return ips if len(ips) == 5 else None


async def _serves(ips: list[str], version: str) -> bool:
    async with aiohttp.ClientSession() as http:
        for ip in ips:
            async with http.get(f"http://{ip}:8080/index.html") as r:
                if (await r.text()).strip() != version:
                    return False
    return True


async def test_deployment_on_docker_rolls_and_cleans_up(tmp_path: Path) -> None:
    async with control_plane(tmp_path) as (cluster, kubelet):
        client = cluster.client
        svc = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}
        await client.create(
            from_dict(Service, {"metadata": {"name": "web", "namespace": "default"}, "spec": svc})
        )
        await client.create(web_deployment("v1"))
        await eventually(lambda: _done(client, "v1"), within=90)
        ips = await eventually(lambda: _endpoint_ips(client), within=30)
        assert await _serves(ips, "v1")

        factory = SharedInformerFactory(client)
        pods = factory.informer(Pod)
        lowest = [5]
        pods.add_event_handler(
            on_update=lambda o, n: lowest.__setitem__(
                0, min(lowest[0], sum(_ready(p) for p in pods.list("default")))
            )
        )
        factory.start()
        await factory.wait_for_sync()
        try:
            patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value",
                      "value": "v2"}]  # fmt: skip
            await client.patch(Deployment, "web", patch, patch_type="json", namespace="default")
            await eventually(lambda: _done(client, "v2"), within=120)
        finally:
            await factory.stop()
        assert lowest[0] >= 4, f"ready pods fell to {lowest[0]} with maxUnavailable=1"
        new_ips = await eventually(lambda: _endpoint_ips(client), within=30)
        assert await eventually(lambda: _serves(new_ips, "v2"), within=30)

        await client.delete(Deployment, "web", namespace="default")

        async def all_gone() -> bool:
            left = (await client.list(Pod, namespace="default")).items
            rss = (await client.list(ReplicaSet, namespace="default")).items
            return not left and not rss and not kubelet.workers

        await eventually(all_gone, within=90)
        found = await asyncio.to_thread(_containers, kubelet.config.node_name)
        assert not found, f"containers left behind: {found}"


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


@pytest.fixture
def second_image() -> Any:
    """A second tag of the test image (no registry here: `set image` needs a local one)."""
    tag = "kcore-test/busybox:controllers-2"
    d = docker.from_env()
    d.images.get(IMAGE).tag(tag)
    yield tag
    with contextlib.suppress(docker.errors.APIError):
        d.images.remove(tag)  # only the tag: IMAGE still names the layers
    d.close()


async def _kubectl(cluster: kcore.Cluster, *args: str) -> str:
    proc = await asyncio.to_thread(
        subprocess.run,
        ["kubectl", f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.mark.kubectl
async def test_kubectl_set_image_and_undo_on_docker(tmp_path: Path, second_image: str) -> None:
    async with control_plane(tmp_path) as (cluster, kubelet):
        client = cluster.client
        await client.create(web_deployment("v1"))
        out = await _kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s")
        assert "successfully rolled out" in out

        factory = SharedInformerFactory(client)
        pods = factory.informer(Pod)
        lowest = [5]

        def observe(_: Pod, __: Pod) -> None:
            lowest[0] = min(lowest[0], sum(_ready(p) for p in pods.list("default")))

        pods.add_event_handler(on_update=observe)
        factory.start()
        await factory.wait_for_sync()
        try:
            await _kubectl(cluster, "set", "image", "deployment/web", f"web={second_image}")
            out = await _kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s")
            assert "successfully rolled out" in out
            now = (await client.list(Pod, namespace="default")).items
            live = [p for p in now if not p.metadata.deletion_timestamp]
        finally:
            await factory.stop()
        assert lowest[0] >= 4, f"ready pods fell to {lowest[0]} with maxUnavailable=1"
        assert {p.spec.containers[0].image for p in live} == {second_image}

        await _kubectl(cluster, "rollout", "undo", "deployment/web")
        await _kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s")

        async def back_on_first() -> bool:
            now = (await client.list(Pod, namespace="default")).items
            running = [p for p in now if not p.metadata.deletion_timestamp]
            return len(running) == 5 and {p.spec.containers[0].image for p in running} == {IMAGE}

        await eventually(back_on_first, within=60)
        await client.delete(Deployment, "web", namespace="default")

        async def all_gone() -> bool:
            left = (await client.list(Pod, namespace="default")).items
            return not left and not kubelet.workers

        await eventually(all_gone, within=90)
        found = await asyncio.to_thread(_containers, kubelet.config.node_name)
        assert not found, f"containers left behind: {found}"
