"""Preemption: the node and victims DefaultPreemption picks, and when it declines."""

from __future__ import annotations

from simobjects import node, pod

from kcore.api.core import Pod
from kcore.scheduler.preemption import find_candidate
from kcore.scheduler.scheduler import Scheduler


def _cluster(**nodes: list[tuple[str, str, int]]) -> Scheduler:
    """Nodes of 2 cpu, each with (name, cpu, priority) pods already running."""
    s = Scheduler(None)
    for name, pods in nodes.items():
        s.on_node_add(node(name, cpu="2"))
        for pod_name, cpu, prio in pods:
            s.on_pod_add(pod(pod_name, cpu=cpu, priority=prio, nodeName=name))
    return s


def _victims(s: Scheduler, preemptor: Pod) -> tuple[str, list[str]] | None:
    framework = s.frameworks["default-scheduler"]
    result = framework.schedule(preemptor)
    assert result.node is None and result.requirements is not None
    found = find_candidate(s.cache, framework, preemptor, result.requirements)
    if found is None:
        return None
    return found.node, sorted(v.metadata.name for v in found.victims)


def test_fewest_and_lowest_victims() -> None:
    s = _cluster(
        n1=[("a", "1", 100), ("b", "1", 100)],
        n2=[("c", "1", 10), ("d", "500m", 10), ("e", "500m", 50)],
    )
    # n2: evicting c (prio 10) frees 1 cpu; n1 would cost a prio-100 pod
    assert _victims(s, pod("p", cpu="1", priority=200)) == ("n2", ["c"])


def test_reprieve_keeps_pods_that_can_stay() -> None:
    s = _cluster(n1=[("a", "500m", 1), ("b", "500m", 2), ("c", "500m", 3), ("d", "500m", 4)])
    # 1.5 cpu needed: the three lowest go, the highest-priority one is reprieved
    assert _victims(s, pod("p", cpu="1500m", priority=10)) == ("n1", ["a", "b", "c"])


def test_no_victims_among_equal_or_higher_priority() -> None:
    s = _cluster(n1=[("a", "2", 10)])
    assert _victims(s, pod("p", cpu="1", priority=10)) is None


def test_never_policy_and_hopeless_pods() -> None:
    s = _cluster(n1=[("a", "2", 1)])
    assert _victims(s, pod("p", cpu="1", priority=10, preemptionPolicy="Never")) is None
    assert _victims(s, pod("q", cpu="3", priority=10)) is None  # even an empty node is too small
    selector = pod("r", cpu="1", priority=10, nodeSelector={"zone": "nowhere"})
    assert _victims(s, selector) is None


def test_waits_while_earlier_victims_terminate() -> None:
    s = _cluster(n1=[("a", "1", 1)])
    s.on_pod_add(
        pod("b", cpu="1", priority=1, nodeName="n1", deletionTimestamp="2026-01-01T00:00:00Z")
    )
    p = pod("p", cpu="2", priority=10)
    p.status.nominated_node_name = "n1"
    assert _victims(s, p) is None
    p.status.nominated_node_name = ""
    assert (
        _victims(s, p) is None
    )  # b is going anyway but still holds its cpu; a alone is not enough


def test_table_is_left_as_found() -> None:
    s = _cluster(n1=[("a", "1", 1), ("b", "1", 1)])
    before = s.cache.table.requested_by_res.copy()
    assert _victims(s, pod("p", cpu="1", priority=10)) is not None
    assert (s.cache.table.requested_by_res == before).all()


async def test_nominated_room_is_kept_for_the_preemptor() -> None:
    s = _cluster(n1=[])
    framework = s.frameworks["default-scheduler"]
    s.cache.nominate(pod("high", cpu="2", priority=100), "n1")
    s.on_pod_add(pod("low", cpu="1", priority=1))
    qp = s.queue.pop_nowait()
    assert qp is not None
    s.schedule_one(qp)
    assert "default/low" in s.queue.unschedulable  # the room is the preemptor's
    with s.cache.with_nominated(pod("high", cpu="2", priority=100)):
        assert framework.schedule(pod("high", cpu="2", priority=100)).node == "n1"
    with s.cache.with_nominated(pod("higher", cpu="1", priority=200)):
        assert framework.schedule(pod("higher", cpu="1", priority=200)).node == "n1"
    s.on_pod_add(pod("high", cpu="2", priority=100, nodeName="n1"))  # bound: no longer nominated
    assert not s.cache.nominated
    await s.close()
