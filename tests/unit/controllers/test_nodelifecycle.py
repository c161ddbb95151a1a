"""Node lifecycle: pure taint/toleration rules, and syncs over canned caches with a fake clock.

Writes go to a real in-process API server (kcore.Cluster, memory store); the controller's
informers are never started: tests fill their caches (`replace`, like a list) and call `sync`.
Time is a FakeClock (heartbeat ages) plus a wall clock derived from it (taint times).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import pytest

import kcore
from kcore.api import timeutil
from kcore.api.codec import from_dict
from kcore.api.coordination import Lease, LeaseSpec
from kcore.api.core import (
    Node,
    NodeCondition,
    NodeSpec,
    NodeStatus,
    Pod,
    PodCondition,
    Taint,
    Toleration,
)
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, RateLimitingQueue, SharedInformerFactory
from kcore.client.clock import FakeClock
from kcore.controllers import _taints
from kcore.controllers import nodelifecycle as nl

WALL0 = 1_800_000_000.0
UNREACHABLE_NE = Taint(key=_taints.UNREACHABLE, effect="NoExecute")


# -- pure rules --------------------------------------------------------------------------------


def test_condition_taints_follow_ready_status() -> None:
    assert nl.desired_taint_key("Unknown") == _taints.UNREACHABLE
    assert nl.desired_taint_key("False") == _taints.NOT_READY
    assert nl.desired_taint_key("True") is None
    other = Taint(key="dedicated", value="x", effect="NoSchedule")
    taints = nl.reconcile_taints([other], _taints.UNREACHABLE, "T")
    assert [(t.key, t.effect) for t in taints] == [
        ("dedicated", "NoSchedule"),
        (_taints.UNREACHABLE, "NoSchedule"),
        (_taints.UNREACHABLE, "NoExecute"),
    ]
    flipped = nl.reconcile_taints(taints, _taints.NOT_READY, "U")
    assert {t.key for t in flipped} == {"dedicated", _taints.NOT_READY}
    assert nl.reconcile_taints(flipped, None, "V") == [other]
    assert nl.reconcile_taints(taints, _taints.UNREACHABLE, "later") == taints  # times kept


def test_eviction_delay_uses_toleration_seconds_from_taint_time() -> None:
    added = timeutil.from_timestamp(WALL0)
    taint = Taint(key=_taints.UNREACHABLE, effect="NoExecute", time_added=added)
    tol = Toleration(key=_taints.UNREACHABLE, operator="Exists", effect="NoExecute")
    pod = Pod()
    pod.spec.tolerations = [tol]
    assert nl.eviction_delay(pod, [taint], WALL0 + 5, 300) is None  # tolerated forever
    pod.spec.tolerations = [msgspec.structs.replace(tol, toleration_seconds=10)]
    assert nl.eviction_delay(pod, [taint], WALL0 + 4, 300) == 6
    pod.spec.tolerations = []
    assert nl.eviction_delay(pod, [taint], WALL0 + 4, 300) == 296  # admission's default
    other = Taint(key="gpu-broken", effect="NoExecute", time_added=added)
    assert nl.eviction_delay(pod, [taint, other], WALL0, 300) == 0  # untolerated: now
    assert nl.eviction_delay(pod, [Taint(key="x", effect="NoSchedule")], WALL0, 300) is None


def test_unknown_conditions_cover_every_condition_and_missing_ready() -> None:
    node = Node()
    node.status.conditions = [
        NodeCondition(type="MemoryPressure", status="False", last_heartbeat_time="H")
    ]
    conds = nl.unknown_conditions(node, "NOW")
    assert [(c.type, c.status, c.reason) for c in conds] == [
        ("MemoryPressure", "Unknown", nl.UNKNOWN_REASON),
        ("Ready", "Unknown", "NodeStatusNeverUpdated"),
    ]
    assert conds[0].last_heartbeat_time == "H"  # our write is not a heartbeat


# -- syncs on canned caches --------------------------------------------------------------------


@dataclass
class Rig:
    cluster: kcore.Cluster
    clock: FakeClock
    ctl: nl.NodeLifecycleController
    recorder: EventRecorder

    async def load(self) -> None:
        """Fill the caches with the API's current nodes, leases and pods (a relist)."""
        c = self.cluster.client
        for informer, kind, ns in (
            (self.ctl.nodes, Node, None),
            (self.ctl.leases, Lease, nl.LEASE_NAMESPACE),
            (self.ctl.pods, Pod, None),
        ):
            page = await c.list(kind, namespace=ns)
            await informer.replace(list(page.items), page.resource_version)

    def wall(self) -> float:
        return WALL0 + self.clock.now()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with kcore.Cluster() as cluster:
        clock = FakeClock()
        factory = SharedInformerFactory(cluster.client)
        recorder = EventRecorder(cluster.client, component="test")
        holder: list[Rig] = []
        ctl = nl.NodeLifecycleController(
            cluster.client,
            factory,
            recorder,
            grace_period=40,
            default_toleration_seconds=30,
            wall=lambda: holder[0].wall(),
        )
        # set after construction: base.QueueController's `queue or ...` drops an empty queue
        ctl.queue = RateLimitingQueue(clock=clock)
        holder.append(Rig(cluster, clock, ctl, recorder))
        yield holder[0]
        ctl.queue.shutdown()
        await recorder.close()


def _micro(rig: Rig) -> str:
    return timeutil.format_micro(datetime.fromtimestamp(rig.wall(), UTC))


async def _ready_node(rig: Rig, name: str) -> None:
    now = timeutil.from_timestamp(rig.wall())
    ready = NodeCondition(
        type="Ready", status="True", last_heartbeat_time=now, last_transition_time=now
    )
    node = await rig.cluster.client.create(Node(metadata=ObjectMeta(name=name)))
    node.status = NodeStatus(conditions=[ready])
    await rig.cluster.client.update_status(node)
    await _renew(rig, name)


async def _renew(rig: Rig, name: str) -> None:
    c = rig.cluster.client
    try:
        lease = await c.get(Lease, name, namespace=nl.LEASE_NAMESPACE)
    except StatusError:
        lease = await c.create(
            Lease(
                metadata=ObjectMeta(name=name, namespace=nl.LEASE_NAMESPACE),
                spec=LeaseSpec(holder_identity=name, lease_duration_seconds=40),
            )
        )
    lease.spec.renew_time = _micro(rig)
    await c.update(lease)


async def _pod(rig: Rig, name: str, node: str, **spec: object) -> Pod:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    pod = await rig.cluster.client.create(from_dict(Pod, body))
    now = timeutil.from_timestamp(rig.wall())
    pod.status.phase = "Running"
    pod.status.conditions = [PodCondition(type="Ready", status="True", last_transition_time=now)]
    result: Pod = await rig.cluster.client.update_status(pod)
    return result


async def _node(rig: Rig, name: str) -> Node:
    node: Node = await rig.cluster.client.get(Node, name)
    return node


async def _pod_names(rig: Rig) -> set[str]:
    """Pods not being deleted (bound pods are deleted gracefully: the kubelet finishes)."""
    page = await rig.cluster.client.list(Pod, namespace="default")
    return {p.metadata.name for p in page.items if not p.metadata.deletion_timestamp}


async def test_fresh_node_stays_ready_within_grace(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    await rig.load()
    await rig.ctl.sync("n1")
    rig.clock.step(39)
    await rig.ctl.sync("n1")
    node = await _node(rig, "n1")
    assert nl.ready_status(node) == "True"
    assert node.spec.taints == []


async def test_silent_node_turns_unknown_tainted_and_pods_not_ready(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    await _pod(rig, "p", "n1")
    await rig.load()
    await rig.ctl.sync("n1")
    rig.clock.step(41)
    await rig.ctl.sync("n1")
    node = await _node(rig, "n1")
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    assert {(t.key, t.effect) for t in node.spec.taints} == {
        (_taints.UNREACHABLE, "NoSchedule"),
        (_taints.UNREACHABLE, "NoExecute"),
    }
    pod = await rig.cluster.client.get(Pod, "p", namespace="default")
    assert [(c.type, c.status) for c in pod.status.conditions] == [("Ready", "False")]


async def test_lease_renewal_keeps_node_alive(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    await rig.load()
    await rig.ctl.sync("n1")
    for _ in range(3):
        rig.clock.step(30)
        await _renew(rig, "n1")
        await rig.load()
        await rig.ctl.sync("n1")
    assert nl.ready_status(await _node(rig, "n1")) == "True"


async def test_pods_evicted_after_toleration_and_taints_removed_on_return(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    await _pod(rig, "default-tol", "n1")  # controller default: 30 s
    await _pod(
        rig,
        "short",
        "n1",
        tolerations=[
            {
                "key": _taints.UNREACHABLE,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 5,
            }
        ],
    )
    await _pod(
        rig,
        "forever",
        "n1",
        tolerations=[{"key": _taints.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}],
    )
    await rig.load()
    await rig.ctl.sync("n1")
    rig.clock.step(41)
    await rig.ctl.sync("n1")  # Unknown + tainted now
    await rig.load()
    await rig.ctl.sync("n1")
    assert await _pod_names(rig) == {"default-tol", "short", "forever"}
    rig.clock.step(6)
    await rig.load()
    await rig.ctl.sync("n1")
    assert await _pod_names(rig) == {"default-tol", "forever"}
    rig.clock.step(25)
    await rig.load()
    await rig.ctl.sync("n1")
    assert await _pod_names(rig) == {"forever"}
    # the kubelet comes back: lease renewed and Ready posted
    await _renew(rig, "n1")
    node = await _node(rig, "n1")
    now = timeutil.from_timestamp(rig.wall())
    node.status.conditions = [NodeCondition(type="Ready", status="True", last_heartbeat_time=now)]
    await rig.cluster.client.update_status(node)
    await rig.load()
    await rig.ctl.sync("n1")
    assert (await _node(rig, "n1")).spec.taints == []


async def test_not_ready_node_gets_not_ready_taint_and_untolerated_pods_go(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    node = await _node(rig, "n1")
    node.status.conditions = [msgspec.structs.replace(node.status.conditions[0], status="False")]
    await rig.cluster.client.update_status(node)
    await _pod(rig, "p", "n1", tolerations=[])
    await rig.load()
    await rig.ctl.sync("n1")
    node = await _node(rig, "n1")
    assert {t.key for t in node.spec.taints} == {_taints.NOT_READY}
    await rig.load()
    rig.clock.step(31)
    await rig.ctl.sync("n1")
    assert await _pod_names(rig) == set()


async def test_sync_requeues_node_before_grace_runs_out(rig: Rig) -> None:
    await _ready_node(rig, "n1")
    await rig.load()
    while len(rig.ctl.queue):
        key = await rig.ctl.queue.get()
        assert key is not None
        rig.ctl.queue.done(key)
    await rig.ctl.sync("n1")
    assert rig.ctl.queue.waiting() == 1
    rig.clock.step(5)  # the monitor period
    assert len(rig.ctl.queue) == 1


async def test_node_that_never_heartbeated_is_not_marked_unknown(rig: Rig) -> None:
    await rig.cluster.client.create(Node(metadata=ObjectMeta(name="bare")))
    await rig.load()
    await rig.ctl.sync("bare")
    rig.clock.step(100)
    await rig.ctl.sync("bare")
    node = await _node(rig, "bare")
    assert node.status.conditions == [] and node.spec.taints == []


async def test_user_no_execute_taint_evicts_untolerating_pods(rig: Rig) -> None:
    taint = Taint(key="maintenance", effect="NoExecute")
    await rig.cluster.client.create(
        Node(metadata=ObjectMeta(name="m"), spec=NodeSpec(taints=[taint]))
    )
    await _pod(rig, "goes", "m")
    await _pod(
        rig,
        "stays",
        "m",
        tolerations=[{"key": "maintenance", "operator": "Exists", "effect": "NoExecute"}],
    )
    await rig.load()
    await rig.ctl.sync("m")
    assert await _pod_names(rig) == {"stays"}
