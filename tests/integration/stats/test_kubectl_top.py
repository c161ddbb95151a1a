"""kubectl top against a real cluster: API server (metrics.k8s.io) -> kubelet summary -> cgroups.

An in-process cluster and one kubelet on real Docker run a pod with a CPU burner and a
container holding 32 MiB in /dev/shm; `kubectl top pod --containers` must show the burner
busy and the holder's working set, `kubectl top node` must show the node, and
`kubectl describe node` the pod's requests under "Allocated resources".
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

import kcore
from kcore.api.core import Container, Pod, PodSpec, ResourceRequirements
from kcore.api.meta import ObjectMeta
from kcore.kubelet import Kubelet, KubeletConfig

pytestmark = [pytest.mark.docker, pytest.mark.kubectl, pytest.mark.slow]

IMAGE = "kcore-test/busybox:1"
NODE_LABEL = "io.kcore.node"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster(data_dir=tmp_path / "cluster") as c:
        yield c


@pytest.fixture
async def kubelet(cluster: kcore.Cluster, tmp_path: Path) -> AsyncIterator[Kubelet]:
    node = f"top-{uuid.uuid4().hex[:8]}"
    cfg = KubeletConfig(node_name=node, node_ip=f"127.0.1.{random.randint(2, 250)}", port=0,
                        data_dir=tmp_path / "kubelet", relist_period=0.2)  # fmt: skip
    client = cluster.new_client()
    k = Kubelet(cfg, client)
    await k.start()
    try:
        yield k
    finally:
        await _drain(cluster, k)
        await k.stop()
        await client.close()
        _assert_no_leaks(node)


async def _drain(cluster: kcore.Cluster, k: Kubelet) -> None:
    with contextlib.suppress(Exception):
        await cluster.client.delete(Pod, "top", namespace="default", grace_period_seconds=1)
    for _ in range(300):
        if not k.workers and not await asyncio.to_thread(_node_containers, k.config.node_name):
            return
        await asyncio.sleep(0.1)


def _node_containers(node: str) -> list[Any]:
    client = docker.from_env()
    try:
        return list(client.containers.list(all=True, filters={"label": f"{NODE_LABEL}={node}"}))
    finally:
        client.close()


def _assert_no_leaks(node: str) -> None:
    leaked = _node_containers(node)
    for ctr in leaked:
        with contextlib.suppress(docker.errors.NotFound):
            ctr.remove(force=True)
    assert not leaked, f"leaked containers: {[c.name for c in leaked]}"


def _container(name: str, command: str) -> Container:
    return Container(name=name, image=IMAGE, image_pull_policy="IfNotPresent",
                     command=["sh", "-c", command],
                     resources=ResourceRequirements(requests={"cpu": "250m"}))  # fmt: skip


async def kubectl(cluster: kcore.Cluster, *args: str) -> tuple[int, str]:
    proc = await asyncio.to_thread(
        subprocess.run, ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def _millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def _mebibytes(text: str) -> int:
    return int(text[:-2]) if text.endswith("Mi") else 0


async def test_kubectl_top_pod_and_node(cluster: kcore.Cluster, kubelet: Kubelet) -> None:
    pod = Pod(
        metadata=ObjectMeta(name="top", namespace="default"),
        spec=PodSpec(
            node_name=kubelet.config.node_name,
            termination_grace_period_seconds=1,
            containers=[
                _container("burn", "while :; do :; done"),
                _container("hold", "dd if=/dev/zero of=/dev/shm/x bs=1M count=32; sleep 3600"),
            ],
        ),
    )
    await cluster.client.create(pod)
    rows: dict[str, list[str]] = {}
    for _ in range(120):
        code, out = await kubectl(cluster, "top", "pod", "top", "--containers", "-n", "default")
        if code == 0:
            rows = {line.split()[1]: line.split() for line in out.splitlines()[1:] if line.strip()}
            if set(rows) == {"burn", "hold"} and _millicores(rows["burn"][2]) >= 300:
                break
        await asyncio.sleep(0.5)
    assert set(rows) == {"burn", "hold"}, out
    assert 300 <= _millicores(rows["burn"][2]) <= 1100, out
    assert _mebibytes(rows["hold"][3]) >= 32, out
    code, out = await kubectl(cluster, "top", "node")
    assert code == 0, out
    [line] = [ln for ln in out.splitlines() if ln.startswith(kubelet.config.node_name)]
    assert _millicores(line.split()[1]) > 0
    code, out = await kubectl(cluster, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods")
    assert code == 0 and '"PodMetricsList"' in out
    code, out = await kubectl(cluster, "describe", "node", kubelet.config.node_name)
    assert code == 0, out
    allocated = out[out.index("Allocated resources:") :]
    assert [ln.split()[:2] for ln in allocated.splitlines() if ln.strip().startswith("cpu")] == [
        ["cpu", "500m"]
    ], allocated
