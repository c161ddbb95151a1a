"""The framework over the kernel: built-in plugins by name, a user's Python plugins beside
them, disabled filters, failure messages, and the reserve/permit/bind order."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from simobjects import node, pod

from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.api.scheduling import PriorityClass
from kcore.scheduler.config import parse_config
from kcore.scheduler.framework import (
    CycleState,
    NodeInfo,
    Registry,
    Status,
    builtin_registry,
)
from kcore.scheduler.framework.interface import Handle
from kcore.scheduler.scheduler import Scheduler


class EvenNodesOut:
    """A user's filter: rejects nodes whose name ends in an even digit."""

    NAME: ClassVar[str] = "EvenNodesOut"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.reason = args.get("reason", "node(s) are even")

    def filter(self, state: CycleState, p: Pod, info: NodeInfo) -> Status | None:
        return None if int(info.name[-1]) % 2 else Status.unschedulable(self.reason)


class HigherDigit:
    """A user's score: the node's last digit, normalized to 0..100."""

    NAME: ClassVar[str] = "HigherDigit"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        pass

    def score(self, state: CycleState, p: Pod, node_name: str) -> int:
        return int(node_name[-1])

    def normalize_score(self, state: CycleState, p: Pod, scores: dict[str, int]) -> None:
        top = max(scores.values()) or 1
        for name in scores:
            scores[name] = scores[name] * 100 // top


class Recorder:
    """Reserve, permit and bind, writing down the order; permits only pods not named 'no'."""

    NAME: ClassVar[str] = "Recorder"
    calls: ClassVar[list[str]] = []

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        pass

    def reserve(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.calls.append(f"reserve {p.metadata.name}")

    def unreserve(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.calls.append(f"unreserve {p.metadata.name}")

    def permit(self, state: CycleState, p: Pod, node_name: str) -> Status | None:
        self.calls.append(f"permit {p.metadata.name}")
        return Status.unschedulable("not permitted") if p.metadata.name == "no" else None

    async def bind(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.calls.append(f"bind {p.metadata.name} {node_name}")


def _registry() -> Registry:
    return builtin_registry().merged({c.NAME: c for c in (EvenNodesOut, HigherDigit, Recorder)})


def scheduler(profile: dict[str, Any] | None = None, nodes: int = 6, **node_kw: Any) -> Scheduler:
    config = parse_config({"profiles": [profile or {}]})
    s = Scheduler(None, config=config, registry=_registry())
    for i in range(nodes):
        s.on_node_add(node(f"n{i}", **node_kw))
    return s


def place(s: Scheduler, p: Pod) -> str | None:
    return s.frameworks["default-scheduler"].schedule(p).node


def message(s: Scheduler, p: Pod) -> str:
    failure = s.frameworks["default-scheduler"].schedule(p).failure
    assert failure is not None
    return failure.message


def _multi(*names: str, weight: int = 1) -> dict[str, Any]:
    enabled = [{"name": n, "weight": weight} for n in names]
    return {"plugins": {"multiPoint": {"enabled": enabled}}}


def test_user_filter_and_score_run_beside_the_kernel() -> None:
    s = scheduler(_multi("EvenNodesOut", "HigherDigit", weight=10))
    assert place(s, pod("a")) == "n5"
    assert message(s, pod("big", cpu="64")) == "0/6 nodes are available: 6 Insufficient cpu."
    only_even = scheduler(_multi("EvenNodesOut"), nodes=0)
    for i in (0, 2, 4):
        only_even.on_node_add(node(f"n{i}"))
    assert message(only_even, pod("a")).startswith("0/3 nodes are available: 3 node(s) are even.")


def test_plugin_args_reach_the_plugin() -> None:
    profile = {
        **_multi("EvenNodesOut"),
        "pluginConfig": [{"name": "EvenNodesOut", "args": {"reason": "odd-only"}}],
    }
    s = scheduler(profile, nodes=1)
    assert message(s, pod("a")).startswith("0/1 nodes are available: 1 odd-only.")


def test_failure_message_names_taints_and_resources() -> None:
    s = scheduler(nodes=0)
    s.on_node_add(node("small", cpu="1"))
    s.on_node_add(node("t1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    s.on_node_add(node("t2", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]))
    s.on_node_add(node("cordoned", unschedulable=True))
    got = message(s, pod("a", cpu="2"))
    assert got == (
        "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, "
        "2 node(s) had untolerated taint {k: v}."
    )


def test_disabled_filters_let_pods_through() -> None:
    ports = [{"containerPort": 80, "hostPort": 80}]
    s = scheduler(nodes=1)
    s.cache.add_pod(pod("x", nodeName="n0", ports=ports))
    assert place(s, pod("y", ports=ports)) is None
    off = {
        "plugins": {"filter": {"disabled": [{"name": "NodePorts"}, {"name": "TaintToleration"}]}}
    }
    s = scheduler(off, nodes=1, taints=[{"key": "k", "effect": "NoSchedule"}])
    s.cache.add_pod(pod("x", nodeName="n0", ports=ports))
    assert place(s, pod("y", ports=ports)) == "n0"


def test_most_allocated_profile_packs() -> None:
    packer = {
        "pluginConfig": [
            {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
        ]
    }
    for profile, spread in ((packer, False), ({}, True)):
        s = scheduler(profile, nodes=4)
        used = set()
        for i in range(4):
            p = pod(f"p{i}", cpu="500m")
            chosen = place(s, p)
            assert chosen is not None
            s.cache.assume(p, chosen)
            used.add(chosen)
        assert len(used) == (4 if spread else 1)


def test_selectors_and_affinity_from_pod_specs() -> None:
    s = scheduler(nodes=0)
    s.on_node_add(node("a1", labels={"zone": "a", "gen": "3"}))
    s.on_node_add(node("b1", labels={"zone": "b", "gen": "5"}))
    assert place(s, pod("p", nodeSelector={"zone": "b"})) == "b1"
    gt = {"key": "gen", "operator": "Gt", "values": ["4"]}
    term = {"nodeSelectorTerms": [{"matchExpressions": [gt]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term}}
    assert place(s, pod("q", affinity=affinity)) == "b1"
    by_name = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a1"]}]}
        ]
    }
    assert (
        place(
            s,
            pod(
                "r",
                affinity={
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": by_name}
                },
            ),
        )
        == "a1"
    )
    assert place(s, pod("s", nodeName="a1")) == "a1"


def _zoned() -> Scheduler:
    s = scheduler(nodes=0)
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        s.on_node_add(node(name, labels={"zone": zone}))
    s.cache.add_pod(pod("web-0", nodeName="a1", labels={"app": "web"}))
    return s


def _term(app: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "zone"}


def test_inter_pod_affinity_and_anti_affinity() -> None:
    s = _zoned()
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term("web")]}}
    assert place(s, pod("web-1", labels={"app": "web"}, affinity=anti)) == "b1"
    near = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term("web")]}}
    assert {place(s, pod(f"c{i}", affinity=near)) for i in range(20)} <= {"a1", "a2"}
    first = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term("db")]}}
    assert place(s, pod("db-0", labels={"app": "db"}, affinity=first)) is not None
    assert place(s, pod("x", affinity=first)) is None  # no db pod anywhere, and x is no db
    # an existing pod's anti-affinity keeps matching pods out of its zone
    s.cache.add_pod(pod("loner", nodeName="b1", labels={"app": "l"}, affinity=anti))
    assert place(s, pod("web-2", labels={"app": "web"})) in ("a1", "a2")


def test_topology_spread_do_not_schedule() -> None:
    s = _zoned()
    s.cache.add_pod(pod("web-1", nodeName="a2", labels={"app": "web"}))
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    p = pod("web-2", labels={"app": "web"}, topologySpreadConstraints=spread)
    assert place(s, p) == "b1"
    assert message(s, pod("big", cpu="64", labels={"app": "web"}, topologySpreadConstraints=spread))


def test_priority_from_priority_class() -> None:
    s = scheduler(nodes=1)
    pc = from_dict(PriorityClass, {"metadata": {"name": "high"}, "value": 1000})
    s.on_priority_class(pc)
    s.on_pod_add(pod("a", priorityClassName="high"))
    s.on_pod_add(pod("b"))
    qp = s.queue.pop_nowait()
    assert qp is not None and qp.pod.metadata.name == "a" and qp.priority == 1000


async def test_reserve_permit_bind_order_and_rejection() -> None:
    Recorder.calls.clear()
    profile = {
        "plugins": {
            "multiPoint": {"enabled": [{"name": "Recorder"}]},
            "bind": {"disabled": [{"name": "DefaultBinder"}]},
        }
    }
    s = scheduler(profile, nodes=1)
    for name in ("yes", "no"):
        s.on_pod_add(pod(name))
        qp = s.queue.pop_nowait()
        assert qp is not None
        s.schedule_one(qp)
    await asyncio.sleep(0.01)
    assert Recorder.calls == [  # decisions are synchronous, bindings run after them
        "reserve yes",
        "permit yes",
        "reserve no",
        "permit no",
        "unreserve no",
        "bind yes n0",
    ]
    assert s.bound == 1 and s.cache.is_assumed("default/yes")
    assert "default/no" not in s.cache.pods
    # a rejection at permit fails the pod as kube-scheduler does: unschedulable, with a reason
    rejected = s.queue.unschedulable.get("default/no")
    assert rejected is not None and rejected.reasons == "0/1 nodes are available: not permitted."
    await s.close()


def test_registry_refuses_duplicates() -> None:
    with pytest.raises(ValueError):
        builtin_registry().register(type("X", (), {"NAME": "NodePorts"}))
    with pytest.raises(ValueError, match="no plugin named"):
        scheduler(_multi("Missing"))


async def test_status_only_updates_do_not_retry_an_unschedulable_pod() -> None:
    s = scheduler(nodes=1)
    s.on_pod_add(pod("big", cpu="64"))
    qp = s.queue.pop_nowait()
    assert qp is not None
    s.schedule_one(qp)
    assert "default/big" in s.queue.unschedulable
    old = qp.pod
    new = pod("big", cpu="64")
    new.status.message = "ours"
    s.on_pod_update(old, new)
    assert "default/big" in s.queue.unschedulable and s.queue.pop_nowait() is None
    s.on_pod_update(new, pod("big", cpu="1"))  # a spec change may help: retried after backoff
    assert "default/big" in s.queue.backoff and not s.queue.unschedulable
    await s.close()


def test_reused_queries_follow_label_and_taint_changes() -> None:
    s = scheduler(nodes=1)
    wants_c = pod("a", nodeSelector={"zone": "c"})
    assert place(s, wants_c) is None
    s.on_node_update(node("n0"), node("n0", labels={"zone": "c"}))  # no row added: same layout
    assert place(s, pod("b", nodeSelector={"zone": "c"})) == "n0"
    assert place(s, pod("c")) == "n0"
    assert place(s, pod("d")) == "n0"  # same spec: the compiled query is reused
    assert s.frameworks["default-scheduler"].queries.hits == 1
    tainted = node("n0", labels={"zone": "c"}, taints=[{"key": "new", "effect": "NoSchedule"}])
    s.on_node_update(node("n0"), tainted)
    assert place(s, pod("c")) is None


class Crashes:
    NAME: ClassVar[str] = "Crashes"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        pass

    def filter(self, state: CycleState, p: Pod, info: NodeInfo) -> None:
        raise RuntimeError("plugin bug")


async def test_a_failing_plugin_never_stops_the_loop() -> None:
    config = parse_config(
        {"profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Crashes"}]}}}]}
    )
    s = Scheduler(None, config=config, registry=_registry().merged({"Crashes": Crashes}))
    s.on_node_add(node("n0"))
    s.on_pod_add(pod("a"))
    loop = asyncio.create_task(s.schedule_forever())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "default/a" in s.queue.backoff:
            break
    assert "default/a" in s.queue.backoff and not loop.done()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    await s.close()


async def test_failed_scheduling_message_at_5000_nodes() -> None:
    s = scheduler(nodes=0)
    for i in range(3000):
        s.on_node_add(node(f"small-{i}", cpu="1"))
    for i in range(2000):
        s.on_node_add(node(f"t-{i}", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    s.on_pod_add(pod("big", cpu="2"))
    qp = s.queue.pop_nowait()
    assert qp is not None
    s.schedule_one(qp)
    # reasons sorted as strings, as kube-scheduler's FitError does
    assert s.queue.unschedulable["default/big"].reasons == (
        "0/5000 nodes are available: 2000 node(s) had untolerated taint {k: v}, "
        "3000 Insufficient cpu. preemption: 0/5000 nodes are available: "
        "5000 No preemption victims found for incoming pod."
    )
    await s.close()


def test_topology_spread_schedule_anyway_scores() -> None:
    s = _zoned()  # web-0 on a1 (zone a); zone b has b1
    s.cache.add_pod(pod("web-1", nodeName="a2", labels={"app": "web"}))
    s.cache.add_pod(pod("heavy", cpu="2", nodeName="b1"))  # LeastAllocated alone prefers zone a
    assert place(s, pod("plain", labels={"app": "web"})) in ("a1", "a2")
    soft = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    p = pod("web-2", labels={"app": "web"}, topologySpreadConstraints=soft)
    assert place(s, p) == "b1"
    plugin = s.frameworks["default-scheduler"].plugin("PodTopologySpread")
    # raw: zone a 2 pods * ln(4) -> 3, zone b 0; normalized 100*(3+0-raw)//3
    assert plugin.score_nodes(None, p) == {"a1": 0, "a2": 0, "b1": 100}


def test_extended_resources_and_pod_count() -> None:
    s = scheduler(nodes=0)
    gpu_node = node("gpu", pods=2)
    gpu_node.status.allocatable["example.com/gpu"] = "2"
    s.on_node_add(gpu_node)
    s.on_node_add(node("plain"))
    wants = pod("g")
    wants.spec.containers[0].resources.requests["example.com/gpu"] = "1"
    assert place(s, wants) == "gpu"
    greedy = pod("g3")
    greedy.spec.containers[0].resources.requests["example.com/gpu"] = "3"
    assert message(s, greedy) == "0/2 nodes are available: 2 Insufficient example.com/gpu."
    for i in range(2):
        s.cache.add_pod(pod(f"x{i}", nodeName="gpu"))
    assert message(s, wants) == (
        "0/2 nodes are available: 1 Insufficient example.com/gpu, 1 Too many pods."
    )
