"""Node IPAM: the CIDR set, and the controller's sync over a canned node cache.

The controller writes through a real in-process API server (kcore.Cluster, memory store);
its informer cache is filled by hand (`replace`, as a first list would) and never started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import kcore
from kcore.api.core import Node, NodeSpec
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.controllers.nodeipam import CIDRSet, NodeIpamController


def test_cidr_set_hands_out_lowest_free_and_reuses_released() -> None:
    cidrs = CIDRSet()
    assert [cidrs.allocate() for _ in range(3)] == [
        "127.64.0.0/24",
        "127.64.1.0/24",
        "127.64.2.0/24",
    ]
    cidrs.release("127.64.1.0/24")
    assert cidrs.allocate() == "127.64.1.0/24"
    assert cidrs.allocate() == "127.64.3.0/24"


def test_cidr_set_skips_occupied_and_rejects_foreign_cidrs() -> None:
    cidrs = CIDRSet()
    assert cidrs.occupy("127.64.0.0/24")
    assert not cidrs.occupy("10.0.0.0/24")
    assert not cidrs.occupy("127.64.0.0/16")
    assert cidrs.allocate() == "127.64.1.0/24"
    assert cidrs.used() == 2


def test_cidr_set_size_and_exhaustion() -> None:
    assert CIDRSet().size == 16384  # a /10 holds 2**14 /24s
    small = CIDRSet("127.64.0.0/23", 24)
    small.allocate()
    small.allocate()
    with pytest.raises(RuntimeError):
        small.allocate()
    assert small.size == 2
    last = CIDRSet("127.127.254.0/23", 24)
    assert [last.allocate(), last.allocate()] == ["127.127.254.0/24", "127.127.255.0/24"]


@pytest.fixture
async def cluster() -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as c:
        yield c


async def _controller(cluster: kcore.Cluster) -> tuple[NodeIpamController, EventRecorder]:
    factory = SharedInformerFactory(cluster.client)
    recorder = EventRecorder(cluster.client, component="test")
    return NodeIpamController(cluster.client, factory, recorder), recorder


async def test_sync_assigns_free_cidr_and_rebuilds_map_from_existing_nodes(
    cluster: kcore.Cluster,
) -> None:
    c = cluster.client
    old = await c.create(
        Node(metadata=ObjectMeta(name="old"), spec=NodeSpec(pod_cidr="127.64.0.0/24"))
    )
    new = await c.create(Node(metadata=ObjectMeta(name="new")))
    ctl, recorder = await _controller(cluster)
    await ctl.nodes.replace([old, new], new.metadata.resource_version)
    assert len(ctl.queue) == 1  # only the node without a CIDR was enqueued
    await ctl.sync("new")
    got = await c.get(Node, "new")
    assert got.spec.pod_cidr == "127.64.1.0/24"
    assert got.spec.pod_cidrs == ["127.64.1.0/24"]
    await recorder.close()


async def test_deleted_node_releases_its_cidr(cluster: kcore.Cluster) -> None:
    c = cluster.client
    a = await c.create(Node(metadata=ObjectMeta(name="a"), spec=NodeSpec(pod_cidr="127.64.0.0/24")))
    b = await c.create(Node(metadata=ObjectMeta(name="b")))
    ctl, recorder = await _controller(cluster)
    await ctl.nodes.replace([a, b], b.metadata.resource_version)
    await ctl.nodes.replace([b], b.metadata.resource_version)  # "a" vanished: a delete
    await ctl.sync("b")
    assert (await c.get(Node, "b")).spec.pod_cidr == "127.64.0.0/24"
    await recorder.close()


async def test_stale_cache_conflict_releases_and_requeues(cluster: kcore.Cluster) -> None:
    c = cluster.client
    stale = await c.create(Node(metadata=ObjectMeta(name="n")))
    await c.patch(Node, "n", {"metadata": {"labels": {"x": "y"}}})
    ctl, recorder = await _controller(cluster)
    await ctl.nodes.replace([stale], stale.metadata.resource_version)
    await ctl.queue.get()  # take the key the add enqueued, as a worker would
    await ctl.sync("n")
    assert (await c.get(Node, "n")).spec.pod_cidr == ""
    assert ctl.cidrs.used() == 0
    ctl.queue.done("n")
    assert len(ctl.queue) == 1  # requeued to retry against the fresh object
    await recorder.close()


async def test_kubelet_derived_cidr_preferred_when_free(cluster: kcore.Cluster) -> None:
    c = cluster.client
    taken = await c.create(
        Node(metadata=ObjectMeta(name="other"), spec=NodeSpec(pod_cidr="127.64.2.0/24"))
    )
    three = await c.create(Node(metadata=ObjectMeta(name="kcore-node-3")))
    two = await c.create(Node(metadata=ObjectMeta(name="kcore-node-2")))
    ctl, recorder = await _controller(cluster)
    await ctl.nodes.replace([taken, three, two], two.metadata.resource_version)
    await ctl.sync("kcore-node-3")
    await ctl.sync("kcore-node-2")
    assert (await c.get(Node, "kcore-node-3")).spec.pod_cidr == "127.64.3.0/24"
    assert (await c.get(Node, "kcore-node-2")).spec.pod_cidr == "127.64.0.0/24"  # 2 is taken
    await recorder.close()
