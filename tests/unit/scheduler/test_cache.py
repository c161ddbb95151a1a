"""The scheduler cache: node table fed from node/pod events, assumed pods, expiry."""

from __future__ import annotations

import pytest
from simobjects import node, pod

from kcore.scheduler.cache import SchedulerCache


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _requested_cpu(cache: SchedulerCache, name: str) -> int:
    return int(cache.table.requested_by_res[0, cache.table.index_of(name)])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> SchedulerCache:
    c = SchedulerCache(ttl=30.0, clock=clock)
    c.add_node(node("n1"))
    return c


def test_bound_pods_are_accounted_and_removed(cache: SchedulerCache) -> None:
    cache.add_pod(pod("a", cpu="300m", nodeName="n1"))
    cache.add_pod(pod("b", cpu="200m", nodeName="n1"))
    assert _requested_cpu(cache, "n1") == 500
    cache.remove_pod("default/a")
    assert _requested_cpu(cache, "n1") == 200
    assert [p.metadata.name for p in cache.pods_on("n1")] == ["b"]


def test_pod_before_its_node(cache: SchedulerCache) -> None:
    cache.add_pod(pod("a", cpu="300m", nodeName="n2"))
    assert "n2" not in cache.table
    cache.add_node(node("n2"))
    assert _requested_cpu(cache, "n2") == 300
    cache.remove_node("n2")
    cache.add_node(node("n2", cpu="8"))
    assert _requested_cpu(cache, "n2") == 300  # the pod comes back with its node


def test_terminated_pods_hold_nothing(cache: SchedulerCache) -> None:
    cache.add_pod(pod("a", cpu="300m", nodeName="n1"))
    cache.update_pod(pod("a", cpu="300m", nodeName="n1", phase="Succeeded"))
    assert _requested_cpu(cache, "n1") == 0 and not cache.pods


def test_assume_then_confirm(cache: SchedulerCache, clock: Clock) -> None:
    p = pod("a", cpu="300m")
    cache.assume(p, "n1")
    assert cache.is_assumed("default/a") and _requested_cpu(cache, "n1") == 300
    cache.finish_binding("default/a")
    cache.add_pod(pod("a", cpu="300m", nodeName="n1"))  # the informer confirms
    clock.now += 60
    assert cache.cleanup() == []
    assert not cache.is_assumed("default/a") and _requested_cpu(cache, "n1") == 300


def test_assumed_pod_expires_when_never_confirmed(cache: SchedulerCache, clock: Clock) -> None:
    cache.assume(pod("a", cpu="300m"), "n1")
    clock.now += 100
    assert cache.cleanup() == []  # binding still in flight: no deadline yet
    cache.finish_binding("default/a")
    clock.now += 29
    assert cache.cleanup() == []
    clock.now += 1
    assert cache.cleanup() == ["default/a"]
    assert _requested_cpu(cache, "n1") == 0


def test_forget_after_failed_binding(cache: SchedulerCache) -> None:
    cache.assume(pod("a", cpu="300m"), "n1")
    with pytest.raises(ValueError):
        cache.assume(pod("a", cpu="300m"), "n1")
    cache.forget("default/a")
    assert _requested_cpu(cache, "n1") == 0
    cache.add_pod(pod("b", cpu="100m", nodeName="n1"))
    cache.forget("default/b")  # only assumed pods are forgotten
    assert _requested_cpu(cache, "n1") == 100


def test_without_lifts_pods_for_the_block(cache: SchedulerCache) -> None:
    for name in ("a", "b", "c"):
        cache.add_pod(pod(name, cpu="100m", nodeName="n1"))
    with cache.without(["default/a", "default/b"]):
        assert _requested_cpu(cache, "n1") == 100
        cache.restore("default/a")
        assert _requested_cpu(cache, "n1") == 200
        cache.lift("default/c")
        assert _requested_cpu(cache, "n1") == 100
    assert _requested_cpu(cache, "n1") == 300


def test_affinity_index(cache: SchedulerCache) -> None:
    term = {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "zone"}
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    cache.add_pod(pod("a", nodeName="n1", affinity=anti))
    cache.add_pod(pod("b", nodeName="n1"))
    assert list(cache.affinity_pods) == ["default/a"]
    cache.remove_pod("default/a")
    assert not cache.affinity_pods
