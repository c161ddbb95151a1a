"""A 1,000-replica Deployment on 100 hollow nodes: create -> all available, then a full
rolling update (default 25% surge / 25% unavailable) -> all updated and available, then
delete -> every ReplicaSet and pod gone (the garbage collector's background cascade), on the
memory store and on SQLite.

Everything runs in one process on one event loop: the API server (memory store, HTTPS), the
controller manager (no leader election) and the hollow nodes (tests/integration/controllers/
hollow.py), which bind pods round robin, report them Running+Ready, and finish graceful
deletions, as a scheduler and kubelets would. Figures: seconds to available, seconds for
the rollout, and pods/s through the whole pipeline.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from figures import record

import kcore
from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.client import Client
from kcore.controllers.manager import ControllerManager

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "integration" / "controllers"))

from hollow import HollowNodes

Run = Callable[[Awaitable[Any]], Any]
REPLICAS = 1000
NODES = 100


def deployment() -> Deployment:
    body = {
        "metadata": {"name": "big", "namespace": "default"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "big"}},
            "template": {
                "metadata": {"labels": {"app": "big"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    return from_dict(Deployment, body)


async def rolled_out(client: Client, image: str) -> None:
    while True:
        d = await client.get(Deployment, "big", namespace="default")
        st = d.status
        if (
            st.observed_generation >= d.metadata.generation
            and st.updated_replicas == st.replicas == st.available_replicas == REPLICAS
            and d.spec.template.spec.containers[0].image == image
        ):
            return
        await asyncio.sleep(0.1)


async def all_gone(client: Client) -> None:
    while True:
        pods = await client.list(Pod, namespace="default", limit=1)
        rss = await client.list(ReplicaSet, namespace="default", limit=1)
        if not pods.items and not rss.items:
            return
        await asyncio.sleep(0.1)


async def scenario(store: str = "memory://") -> dict[str, float]:
    async with kcore.Cluster(store=store) as cluster:
        client = cluster.new_client(wire="msgpack")
        async with client, HollowNodes(cluster.client, NODES, workers=32):
            manager = ControllerManager(client, leader_elect=False)
            task = asyncio.create_task(manager.run())
            try:
                await manager.started.wait()
                t0 = time.perf_counter()
                await cluster.client.create(deployment())
                await rolled_out(cluster.client, "busybox:1")
                t1 = time.perf_counter()
                patch = {"spec": {"template": {"spec": {"containers": [
                    {"name": "c", "image": "busybox:2"}]}}}}  # fmt: skip
                await cluster.client.patch(
                    Deployment, "big", patch, patch_type="strategic", namespace="default"
                )
                await rolled_out(cluster.client, "busybox:2")
                t2 = time.perf_counter()
                await cluster.client.delete(Deployment, "big", namespace="default")
                await all_gone(cluster.client)
                t3 = time.perf_counter()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return {"create_to_available_s": t1 - t0, "rolling_update_s": t2 - t1, "delete_s": t3 - t2}


@pytest.mark.slow
@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_thousand_replica_deployment(benchmark: Any, run: Run, store: str, tmp_path: Path) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'state.db'}"
    result: dict[str, float] = {}

    def once() -> None:
        result.update(run(asyncio.wait_for(scenario(url), 600)))

    benchmark.pedantic(once, rounds=1, iterations=1)
    record(
        f"deployment_1000_on_100_hollow_nodes[{store}]",
        benchmark,
        {
            "create_to_available_s": round(result["create_to_available_s"], 2),
            "rolling_update_s": round(result["rolling_update_s"], 2),
            "delete_all_s": round(result["delete_s"], 2),
            "pods_per_s_create": round(REPLICAS / result["create_to_available_s"], 1),
            "pods_per_s_rollout": round(REPLICAS / result["rolling_update_s"], 1),
        },
    )
