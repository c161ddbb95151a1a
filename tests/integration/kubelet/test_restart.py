"""A kubelet killed with SIGKILL and started again adopts its running containers untouched."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from kubelet_support import bind_to, busybox, node_containers, simple_pod, wait_for

import kcore
from kcore.api.core import Pod


async def _spawn_kubelet(
    cluster: kcore.Cluster, node: str, data_dir: Path
) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kcore.cli",
        "kubelet",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--node-name",
        node,
        "--node-ip",
        "127.0.1.251",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        if not line:
            raise AssertionError(f"kubelet exited with {await proc.wait()}")
        if b"serving on" in line:
            asyncio.create_task(_drain_stderr(proc))
            return proc


async def _drain_stderr(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


@pytest.mark.timeout(180)
async def test_sigkilled_kubelet_restarts_and_adopts_running_containers(
    cluster: kcore.Cluster, tmp_path: Path, docker_client: Any
) -> None:
    node = "kt-restart-" + os.urandom(3).hex()
    data_dir = tmp_path / "kubelet"
    proc = await _spawn_kubelet(cluster, node, data_dir)
    try:
        pod = simple_pod(
            "steady", busybox("main", "sleep", "3600"), termination_grace_period_seconds=1
        )
        await cluster.client.create(bind_to(pod, node))
        before = await wait_for(cluster.client, "steady", lambda p: p.status.phase == "Running")
        ip = before.status.pod_ip
        cid = before.status.container_statuses[0].container_id
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        proc = await _spawn_kubelet(cluster, node, data_dir)
        # a new pod proves the new kubelet is syncing; the old pod keeps its container
        await cluster.client.create(
            bind_to(
                simple_pod(
                    "fresh", busybox("main", "sleep", "3600"), termination_grace_period_seconds=1
                ),
                node,
            )
        )
        fresh = await wait_for(cluster.client, "fresh", lambda p: p.status.phase == "Running")
        after = await cluster.client.get(Pod, "steady", namespace="default")
        status = after.status.container_statuses[0]
        assert status.container_id == cid and status.restart_count == 0
        assert status.state.running is not None and after.status.pod_ip == ip
        assert fresh.status.pod_ip != ip  # the adopted pod's IP stays reserved
        running = [c for c in node_containers(docker_client, node) if c.status == "running"]
        assert len(running) == 2

        for name in ("steady", "fresh"):
            await cluster.client.delete(Pod, name, namespace="default")
        for _ in range(300):
            if not node_containers(docker_client, node):
                break
            await asyncio.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        leaked = node_containers(docker_client, node)
        for c in leaked:
            c.remove(force=True)
        assert not leaked
