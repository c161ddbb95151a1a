"""Two schedulers, one Lease (kube-system/kube-scheduler): one acts, the other takes over."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sched_helpers import eventually, node, node_of, pod, running_scheduler

import kcore
from kcore.api.coordination import Lease
from kcore.api.errors import StatusError
from kcore.client import Client, ElectionTimings

pytestmark = pytest.mark.timeout(120)
FAST = ElectionTimings(lease_duration=2.0, renew_deadline=1.5, retry_period=0.3)


@pytest.fixture
async def cluster() -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as c:
        yield c


async def _holder(client: Client) -> str:
    try:
        lease = await client.get(Lease, "kube-scheduler", namespace="kube-system")
    except StatusError:
        return ""
    return lease.spec.holder_identity or ""


async def _held_by(client: Client, identity: str) -> bool:
    return await _holder(client) == identity


async def test_one_leader_schedules_and_a_standby_takes_over(cluster: kcore.Cluster) -> None:
    client = cluster.client
    await client.create(node("n1"))
    async with running_scheduler(cluster, election=FAST, identity="first") as first:
        async with running_scheduler(cluster, election=FAST, identity="second") as second:
            leader = await eventually(lambda: _holder(client))
            await client.create(pod("a"))
            assert await eventually(lambda: node_of(client, "a")) == "n1"
            acting = first if leader == "first" else second
            standby = second if acting is first else first
            assert acting.bound == 1 and standby.bound == 0
        # the block above stopped "second"; if it led, "first" takes over
        await eventually(lambda: _held_by(client, "first"))
        await client.create(pod("b"))
        assert await eventually(lambda: node_of(client, "b")) == "n1"
        assert first.bound >= 1
