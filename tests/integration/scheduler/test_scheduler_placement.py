"""The scheduler daemon against a real in-process API server with simulated nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sched_helpers import eventually, node, node_of, pod, running_scheduler

import kcore
from kcore.api.core import Event, Pod

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def cluster() -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as c:
        yield c


async def bound(client: Any, name: str) -> str:
    return await node_of(client, name)


async def test_selectors_taints_resources_and_ports(cluster: kcore.Cluster) -> None:
    client = cluster.client
    await client.create(node("small", cpu="1", labels={"disk": "hdd"}))
    await client.create(node("big", cpu="8", labels={"disk": "ssd", "zone": "a"}))
    await client.create(
        node(
            "tainted",
            cpu="8",
            taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        )
    )
    async with running_scheduler(cluster):
        await client.create(pod("ssd", node_selector={"disk": "ssd"}))
        await client.create(pod("huge", cpu="6", affinity=_not_in("kubernetes.io/hostname", "big")))
        await client.create(
            pod(
                "tolerant",
                node_selector={"kubernetes.io/hostname": "tainted"},
                tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}],
            )
        )
        for name in ("p80a", "p80b"):
            await client.create(
                pod(
                    name,
                    ports=[{"containerPort": 80, "hostPort": 80}],
                    node_selector={"disk": "ssd"},
                )
            )
        assert await eventually(lambda: bound(client, "ssd")) == "big"
        assert await eventually(lambda: bound(client, "tolerant")) == "tainted"
        # only "tainted" has room for 6 cpu besides "big", and the pod does not tolerate it
        assert await eventually(lambda: _unschedulable(client, "huge"))
        assert await eventually(lambda: bound(client, "p80a") or bound(client, "p80b")) == "big"
        placed = [await bound(client, n) for n in ("p80a", "p80b")]
        assert sorted(placed) == ["", "big"]  # the second wants the same host port


def _not_in(key: str, value: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


async def _unschedulable(client: Any, name: str) -> str:
    got = await client.get(Pod, name, namespace="default")
    cond = next((c for c in got.status.conditions if c.type == "PodScheduled"), None)
    return cond.message if cond is not None and cond.status == "False" else ""


async def test_failed_scheduling_reports_then_places_on_new_node(cluster: kcore.Cluster) -> None:
    client = cluster.client
    await client.create(node("n1", cpu="1"))
    await client.create(
        node("n2", cpu="8", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
    )
    async with running_scheduler(cluster):
        await client.create(pod("big", cpu="2"))
        message = await eventually(lambda: _unschedulable(client, "big"))
        assert message.startswith(
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: v}."
        )
        assert "preemption:" in message
        events = await eventually(lambda: _events(client, "big", "FailedScheduling"))
        assert events[0].type == "Warning" and events[0].message == message
        await client.create(node("n3", cpu="4"))
        assert await eventually(lambda: bound(client, "big")) == "n3"
        scheduled = await eventually(lambda: _events(client, "big", "Scheduled"))
        assert scheduled[0].message == "Successfully assigned default/big to n3"


async def _events(client: Any, name: str, reason: str) -> list[Event]:
    events = await client.list(Event, namespace="default")
    return [e for e in events.items if e.involved_object.name == name and e.reason == reason]


async def _terminating(client: Any) -> list[Pod]:
    pods = (await client.list(Pod, namespace="default")).items
    return [p for p in pods if p.metadata.deletion_timestamp]


async def test_preemption_evicts_lower_priority_pods(cluster: kcore.Cluster) -> None:
    client = cluster.client
    await client.create(node("only", cpu="2"))
    async with running_scheduler(cluster):
        for i in range(4):
            await client.create(pod(f"low-{i}", cpu="500m", priority=10))
        for i in range(4):
            assert await eventually(lambda i=i: bound(client, f"low-{i}")) == "only"
        await client.create(pod("high", cpu="1", priority=1000))
        # victims are deleted gracefully: they get a deletionTimestamp, and (no kubelet
        # here) the test plays the kubelet that finishes them
        victims = await eventually(lambda: _terminating(client))
        assert len(victims) == 2  # exactly enough for 1 cpu
        high = await client.get(Pod, "high", namespace="default")
        assert high.status.nominated_node_name == "only"
        assert not high.spec.node_name  # waits for the victims to go
        for victim in victims:
            await client.delete(
                Pod, victim.metadata.name, namespace="default", grace_period_seconds=0
            )
        assert await eventually(lambda: bound(client, "high")) == "only"
        remaining = (await client.list(Pod, namespace="default")).items
        assert len([p for p in remaining if p.metadata.name.startswith("low-")]) == 2
        preempted = await eventually(lambda: _events(client, victims[0].metadata.name, "Preempted"))
        assert "on node only" in preempted[0].message


async def test_replicas_of_one_owner_are_batched(cluster: kcore.Cluster) -> None:
    client = cluster.client
    for i in range(5):
        await client.create(node(f"n{i}", cpu="2"))
    async with running_scheduler(cluster) as scheduler:
        for i in range(20):
            await client.create(pod(f"r-{i}", cpu="500m", owner="rs1", labels={"app": "r"}))
        await eventually(lambda: scheduler.bound == 20)
        nodes = [await bound(client, f"r-{i}") for i in range(20)]
        assert sorted(nodes) == sorted([f"n{i}" for i in range(5)] * 4)
        await client.create(pod("extra", cpu="500m", owner="rs1", labels={"app": "r"}))
        assert await eventually(lambda: _unschedulable(client, "extra"))
