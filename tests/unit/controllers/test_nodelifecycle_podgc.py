"""Pod GC: one sync over canned caches, deleting through a real in-process API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import kcore
from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.controllers.podgc import PodGCController


@pytest.fixture
async def cluster() -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as c:
        yield c


async def _pod(c: kcore.Cluster, name: str, node: str = "", phase: str = "") -> Pod:
    spec: dict[str, object] = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    pod: Pod = await c.client.create(
        from_dict(Pod, {"metadata": {"name": name, "namespace": "default"}, "spec": spec})
    )
    if phase:
        pod.status.phase = phase
        pod = await c.client.update_status(pod)
    return pod


async def _names(c: kcore.Cluster) -> set[str]:
    return {p.metadata.name for p in (await c.client.list(Pod, namespace="default")).items}


async def _gc(c: kcore.Cluster, threshold: int) -> None:
    factory = SharedInformerFactory(c.client)
    recorder = EventRecorder(c.client, component="test")
    ctl = PodGCController(c.client, factory, recorder, terminated_threshold=threshold)
    for informer, kind in ((ctl.nodes, Node), (ctl.pods, Pod)):
        page = await c.client.list(kind)
        await informer.replace(list(page.items), page.resource_version)
    await ctl.sync("podgc")
    assert ctl.queue.waiting() == 1  # periodic
    ctl.queue.shutdown()
    await recorder.close()


async def test_orphans_of_deleted_nodes_are_deleted(cluster: kcore.Cluster) -> None:
    await cluster.client.create(Node(metadata=ObjectMeta(name="alive")))
    await _pod(cluster, "kept", "alive")
    await _pod(cluster, "orphan", "gone")
    await _pod(cluster, "pending")
    await _gc(cluster, threshold=0)
    assert await _names(cluster) == {"kept", "pending"}


async def test_oldest_terminated_pods_beyond_threshold_go(cluster: kcore.Cluster) -> None:
    await cluster.client.create(Node(metadata=ObjectMeta(name="n")))
    for i in range(4):
        await _pod(cluster, f"done-{i}", "n", "Succeeded")
    await _pod(cluster, "running", "n", "Running")
    await _gc(cluster, threshold=2)
    names = await _names(cluster)
    assert "running" in names
    assert len(names & {f"done-{i}" for i in range(4)}) == 2
