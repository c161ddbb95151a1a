"""Pod startup latency on one real-Docker kubelet, beside `docker run -d` of the same image.

50 pods are created one after another through the API (each `kcore-test/busybox:1` running
`sleep 3600`, host network); a pod's latency is from just before its create request to the
watch event that shows it Running. In the same run, 50 `docker run -d --network host` of the
same image and command, each timed from spawn to the CLI's exit (the container is started).
The burst variant creates all 50 at once (and runs the 50 `docker run -d` at once).
Goal: kcore p99 <= 1.2 x docker p99 + 50 ms. Run with
`pytest benchmarks/test_pod_startup.py --benchmark-only -s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any

import docker
import pytest
from figures import record

import kcore
from kcore.api.core import Container, Pod, PodSpec
from kcore.api.meta import ObjectMeta
from kcore.client import Client
from kcore.kubelet import Kubelet, KubeletConfig

PODS = 50
IMAGE = "kcore-test/busybox:1"
NODE = f"bench-node-{os.getpid()}"  # concurrent runs on one Docker engine stay apart
LABEL = f"io.kcore.test=pod-startup-bench-{os.getpid()}"


def _pod(i: int) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=f"bench-{i}", namespace="default"),
        spec=PodSpec(
            node_name=NODE,
            termination_grace_period_seconds=0,
            containers=[
                Container(
                    name="c",
                    image=IMAGE,
                    image_pull_policy="IfNotPresent",
                    command=["sleep", "3600"],
                )
            ],
        ),
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _watch_running(client: Client, seen: dict[str, float], arrived: asyncio.Event) -> None:
    async for event in client.watch(Pod, namespace="default"):
        obj = getattr(event, "object", None)
        if isinstance(obj, Pod) and obj.status.phase == "Running":
            seen.setdefault(obj.metadata.name, time.perf_counter())
            arrived.set()


async def _create_and_wait(
    client: Client, i: int, seen: dict[str, float], arrived: asyncio.Event
) -> float:
    started = time.perf_counter()
    await client.create(_pod(i))
    while f"bench-{i}" not in seen:
        arrived.clear()
        await arrived.wait()
    return seen[f"bench-{i}"] - started


async def _all_at_once(waits: Iterable[Awaitable[float]]) -> list[float]:
    return list(await asyncio.gather(*waits))


async def _kcore_latencies(tmp: Path, *, burst: bool = False) -> list[float]:
    async with kcore.Cluster(data_dir=tmp / "cluster") as cluster:
        cfg = KubeletConfig(node_name=NODE, node_ip="127.0.1.200", port=0, data_dir=tmp / "kubelet")
        async with cluster.new_client() as kclient, Kubelet(cfg, kclient) as kubelet:
            seen: dict[str, float] = {}
            arrived = asyncio.Event()
            watcher = asyncio.create_task(_watch_running(cluster.client, seen, arrived))
            await asyncio.sleep(0.5)
            waits = (_create_and_wait(cluster.client, i, seen, arrived) for i in range(PODS))
            latencies = await _all_at_once(waits) if burst else [await w for w in waits]
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await cluster.client.delete_collection(Pod, namespace="default")
            for _ in range(600):
                if not kubelet.workers:
                    break
                await asyncio.sleep(0.1)
    return latencies


async def _docker_run() -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "docker", "run", "-d", "--network", "host", "--label", LABEL, IMAGE,
        "sleep", "3600", stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await proc.wait() == 0
    return time.perf_counter() - started


async def _docker_latencies(*, burst: bool = False) -> list[float]:
    if burst:
        return list(await asyncio.gather(*(_docker_run() for _ in range(PODS))))
    return [await _docker_run() for _ in range(PODS)]


def _cleanup_docker() -> None:
    client = docker.from_env()
    for c in client.containers.list(all=True, sparse=True, filters={"label": LABEL}):
        c.remove(force=True)
    for c in client.containers.list(
        all=True, sparse=True, filters={"label": f"io.kcore.node={NODE}"}
    ):
        c.remove(force=True)
    client.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["sequential", "burst"])
def test_pod_startup_latency(benchmark: Any, run: Any, mode: str) -> None:
    result: dict[str, list[float]] = {}
    burst = mode == "burst"

    def once() -> None:
        with tempfile.TemporaryDirectory(prefix="kcore-bench-") as tmp:
            try:
                result["docker"] = run(_docker_latencies(burst=burst))
                _cleanup_docker()
                result["kcore"] = run(_kcore_latencies(Path(tmp), burst=burst))
            finally:
                _cleanup_docker()

    benchmark.pedantic(once, rounds=1, iterations=1)
    k, d = result["kcore"], result["docker"]
    figures = {
        "pods": PODS,
        "kcore_p50_ms": round(statistics.median(k) * 1000, 1),
        "kcore_p99_ms": round(_pct(k, 0.99) * 1000, 1),
        "docker_run_p50_ms": round(statistics.median(d) * 1000, 1),
        "docker_run_p99_ms": round(_pct(d, 0.99) * 1000, 1),
    }
    goal = 1.2 * figures["docker_run_p99_ms"] + 50
    figures["goal_p99_ms"] = round(goal, 1)
    figures["meets_goal"] = figures["kcore_p99_ms"] <= goal
    record(f"pod_startup_{mode}", benchmark, figures)
