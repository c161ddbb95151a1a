"""Fixtures for kubelet tests on real Docker: an in-process cluster and kubelets on it.

Each kubelet gets a node name of its own and a node IP in 127.0.1.0/24; containers it starts
carry that node name as a label. After a test, every pod is deleted through the API, the
kubelet gets time to remove its containers, and any container still labelled with the node
fails the test (and is force-removed) — a leak is a kubelet bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

import kcore
from kcore.api.core import Pod
from kcore.client import Client
from kcore.kubelet import Kubelet, KubeletConfig

sys.path.insert(0, str(Path(__file__).parent))

from kubelet_support import StartKubelet, node_containers


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster(data_dir=tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def docker_client() -> Any:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
async def start_kubelet(
    cluster: kcore.Cluster, tmp_path: Path, docker_client: Any
) -> AsyncIterator[StartKubelet]:
    """Start kubelets (options are KubeletConfig fields); all share one node name per test."""
    node_name = f"kt-{uuid.uuid4().hex[:8]}"
    node_ip = f"127.0.1.{random.randint(2, 250)}"
    running: list[Kubelet] = []
    clients: list[Client] = []

    async def start(**options: Any) -> Kubelet:
        cfg = KubeletConfig(
            node_name=node_name,
            node_ip=node_ip,
            port=0,
            data_dir=tmp_path / "kubelet",
            crash_backoff_base=options.pop("crash_backoff_base", 1.0),
            image_backoff_base=options.pop("image_backoff_base", 1.0),
            **options,
        )
        client = cluster.new_client()
        clients.append(client)
        kubelet = Kubelet(cfg, client)
        await kubelet.start()
        running.append(kubelet)
        return kubelet

    yield start
    try:
        if running and running[-1].workers is not None:
            await _drain(cluster.client, running[-1], docker_client, node_name)
    finally:
        for k in running:
            await k.stop()
        for c in clients:
            await c.close()
        leaked = node_containers(docker_client, node_name)
        for c in leaked:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
        assert not leaked, f"test leaked containers: {[c.attrs.get('Names') for c in leaked]}"


async def _drain(client: Client, kubelet: Kubelet, docker_client: Any, node: str) -> None:
    """Delete every pod of the node and wait for the kubelet to clear its containers."""
    pods = await client.list(Pod, field_selector=f"spec.nodeName={node}")
    for pod in pods.items:
        await client.delete(
            Pod, pod.metadata.name, namespace=pod.metadata.namespace, grace_period_seconds=1
        )
    if kubelet.config.manifest_dir is not None:
        for f in kubelet.config.manifest_dir.iterdir():
            f.unlink()
    for _ in range(300):
        live = await asyncio.to_thread(node_containers, docker_client, node)
        if not live and not kubelet.workers:
            return
        await asyncio.sleep(0.1)
