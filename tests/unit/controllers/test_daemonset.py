"""DaemonSet: eligibility rules, and syncs over canned caches writing to a real API server.

The controller's informers are never started: `Rig.load` relists the API into them (handlers
run, so expectations are observed as a real informer would) and tests call `sync`. The test
plays kubelet and scheduler: `run_pods` binds each pod to the node its affinity pins and
reports it Running and Ready.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

import kcore
from kcore.api import timeutil
from kcore.api.apps import ControllerRevision, DaemonSet
from kcore.api.codec import from_dict
from kcore.api.core import Node, NodeSpec, Pod, PodCondition, Taint, Toleration
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.controllers import _taints
from kcore.controllers import daemonset as dsc

# -- pure rules --------------------------------------------------------------------------------


def _node(
    name: str, labels: dict[str, str] | None = None, taints: list[Taint] | None = None
) -> Node:
    return Node(
        metadata=ObjectMeta(name=name, labels=labels or {}), spec=NodeSpec(taints=taints or [])
    )


def test_daemon_tolerations_added_once() -> None:
    mine = Toleration(
        key=_taints.UNREACHABLE, operator="Exists", effect="NoExecute", toleration_seconds=5
    )
    tols = dsc.daemon_tolerations([mine], host_network=True)
    assert tols[0] is mine
    keys = [(t.key, t.effect) for t in tols]
    assert len(keys) == len(set(keys)) == 7
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys
    assert len(dsc.daemon_tolerations([], host_network=False)) == 6


def test_node_should_run_by_selector_affinity_and_taints() -> None:
    ds = _ds("d", node_selector={"disk": "ssd"})
    pod = dsc.template_pod(ds)
    assert dsc.node_should_run(pod, _node("a", {"disk": "ssd"})) == (True, True)
    assert dsc.node_should_run(pod, _node("b", {"disk": "hdd"})) == (False, False)
    no_sched = Taint(key="dedicated", value="x", effect="NoSchedule")
    assert dsc.node_should_run(pod, _node("c", {"disk": "ssd"}, [no_sched])) == (False, True)
    no_exec = Taint(key="dedicated", value="x", effect="NoExecute")
    assert dsc.node_should_run(pod, _node("d", {"disk": "ssd"}, [no_exec])) == (False, False)
    # the daemon tolerations cover the node-condition taints
    unreachable = Taint(key=_taints.UNREACHABLE, effect="NoExecute")
    unsched = Taint(key=_taints.UNSCHEDULABLE, effect="NoSchedule")
    assert dsc.node_should_run(pod, _node("e", {"disk": "ssd"}, [unreachable, unsched])) == (
        True,
        True,
    )


def test_required_affinity_and_pinning() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}
                ]
            }
        }
    }
    pod = dsc.template_pod(_ds("d", affinity=affinity))
    assert dsc.node_should_run(pod, _node("a", {"zone": "z1"}))[0]
    assert not dsc.node_should_run(pod, _node("b", {"zone": "z2"}))[0]
    dsc.pin_to_node(pod, "a")
    assert _taints.target_node_of(pod) == "a"
    assert dsc.node_should_run(pod, _node("a"))[0]  # pinned by metadata.name only
    assert not dsc.node_should_run(pod, _node("b", {"zone": "z1"}))[0]


# -- syncs -------------------------------------------------------------------------------------


def _ds(
    name: str, image: str = "busybox:1", max_unavailable: Any = 1, **pod_spec: Any
) -> DaemonSet:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}], **_camel(pod_spec)},
            },
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": max_unavailable},
            },
        },
    }
    return from_dict(DaemonSet, body)


def _camel(d: dict[str, Any]) -> dict[str, Any]:
    def one(k: str) -> str:
        head, *rest = k.split("_")
        return head + "".join(w.capitalize() for w in rest)

    return {one(k): v for k, v in d.items()}


@dataclass
class Rig:
    cluster: kcore.Cluster
    ctl: dsc.DaemonSetController
    recorder: EventRecorder

    async def load(self) -> None:
        c = self.cluster.client
        for informer, kind in (
            (self.ctl.dss, DaemonSet),
            (self.ctl.nodes, Node),
            (self.ctl.pods, Pod),
            (self.ctl.revisions, ControllerRevision),
        ):
            page = await c.list(kind)
            await informer.replace(list(page.items), page.resource_version)

    async def sync(self, name: str = "d") -> None:
        await self.load()
        await self.ctl.sync(f"default/{name}")

    async def pods(self) -> list[Pod]:
        page = await self.cluster.client.list(Pod, namespace="default")
        return [p for p in page.items if not p.metadata.deletion_timestamp]

    async def finish_deletions(self) -> None:
        page = await self.cluster.client.list(Pod, namespace="default")
        for p in page.items:
            if p.metadata.deletion_timestamp:
                await self.cluster.client.delete(
                    Pod, p.metadata.name, namespace="default", grace_period_seconds=0
                )

    async def run_pods(self) -> None:
        """Bind every pod to its pinned node and report it Running and Ready."""
        c = self.cluster.client
        for pod in await self.pods():
            if not pod.spec.node_name:
                await c.bind(pod.metadata.name, _taints.target_node_of(pod), namespace="default")
                pod = await c.get(Pod, pod.metadata.name, namespace="default")
            if pod.status.phase != "Running":
                now = timeutil.now()
                status = msgspec.structs.replace(
                    pod.status,
                    phase="Running",
                    conditions=[
                        PodCondition(type="Ready", status="True", last_transition_time=now)
                    ],
                )
                await c.update_status(msgspec.structs.replace(pod, status=status))

    async def ds(self, name: str = "d") -> DaemonSet:
        got: DaemonSet = await self.cluster.client.get(DaemonSet, name, namespace="default")
        return got


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with kcore.Cluster() as cluster:
        factory = SharedInformerFactory(cluster.client)
        recorder = EventRecorder(cluster.client, component="test")
        ctl = dsc.DaemonSetController(cluster.client, factory, recorder)
        for name, labels in (
            ("n1", {"disk": "ssd"}),
            ("n2", {"disk": "ssd"}),
            ("n3", {"disk": "hdd"}),
        ):
            await cluster.client.create(_node(name, labels))
        yield Rig(cluster, ctl, recorder)
        ctl.queue.shutdown()
        await recorder.close()


async def test_one_pinned_pod_per_eligible_node(rig: Rig) -> None:
    ds = await rig.cluster.client.create(_ds("d", node_selector={"disk": "ssd"}))
    await rig.sync()
    pods = await rig.pods()
    assert sorted(_taints.target_node_of(p) for p in pods) == ["n1", "n2"]
    for pod in pods:
        assert not pod.spec.node_name  # the scheduler binds it
        assert pod.metadata.labels["app"] == "d"
        assert pod.metadata.labels[dsc.HASH_LABEL]
        ref = pod.metadata.owner_references[0]
        assert (ref.kind, ref.uid, ref.controller) == ("DaemonSet", ds.metadata.uid, True)
        assert any(t.key == _taints.UNREACHABLE for t in pod.spec.tolerations)
    await rig.sync()
    assert len(await rig.pods()) == 2  # idempotent
    st = (await rig.ds()).status
    assert (st.desired_number_scheduled, st.current_number_scheduled, st.number_ready) == (2, 2, 0)
    await rig.run_pods()
    await rig.sync()
    st = (await rig.ds()).status
    assert (st.number_ready, st.number_available, st.updated_number_scheduled) == (2, 2, 2)
    assert (st.number_unavailable, st.number_misscheduled) == (0, 0)
    assert st.observed_generation == ds.metadata.generation


async def test_node_changes_add_and_remove_pods(rig: Rig) -> None:
    await rig.cluster.client.create(_ds("d", node_selector={"disk": "ssd"}))
    await rig.sync()
    await rig.run_pods()
    await rig.cluster.client.patch(Node, "n3", {"metadata": {"labels": {"disk": "ssd"}}})
    await rig.cluster.client.patch(Node, "n1", {"metadata": {"labels": {"disk": "hdd"}}})
    await rig.sync()
    assert sorted(_taints.target_node_of(p) for p in await rig.pods()) == ["n2", "n3"]
    await rig.cluster.client.delete(Node, "n2")
    await rig.finish_deletions()
    await rig.sync()
    await rig.sync()
    assert sorted(_taints.target_node_of(p) for p in await rig.pods()) == ["n3"]


async def test_failed_pod_is_replaced(rig: Rig) -> None:
    await rig.cluster.client.create(_ds("d", node_selector={"disk": "ssd"}))
    await rig.sync()
    await rig.run_pods()
    victim = (await rig.pods())[0]
    victim.status.phase = "Failed"
    await rig.cluster.client.update_status(victim)
    await rig.sync()
    await rig.finish_deletions()
    await rig.sync()
    pods = await rig.pods()
    assert len(pods) == 2 and victim.metadata.uid not in {p.metadata.uid for p in pods}


async def test_rolling_update_respects_max_unavailable(rig: Rig) -> None:
    await rig.cluster.client.patch(Node, "n3", {"metadata": {"labels": {"disk": "ssd"}}})
    await rig.cluster.client.create(_ds("d", max_unavailable=1))
    await rig.sync()
    await rig.run_pods()
    await rig.sync()
    old = {p.metadata.labels[dsc.HASH_LABEL] for p in await rig.pods()}
    assert len(old) == 1
    await rig.cluster.client.patch(
        DaemonSet,
        "d",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}},
        namespace="default",
    )
    seen_unavailable = []
    for _ in range(12):
        await rig.sync()
        pods = await rig.pods()
        ready = [p for p in pods if p.status.phase == "Running"]
        seen_unavailable.append(3 - len(ready))
        await rig.finish_deletions()
        await rig.run_pods()
        hashes = {p.metadata.labels[dsc.HASH_LABEL] for p in await rig.pods()}
        if hashes.isdisjoint(old) and len(await rig.pods()) == 3:
            break
    assert hashes.isdisjoint(old)
    assert max(seen_unavailable) == 1
    await rig.sync()
    st = (await rig.ds()).status
    assert (st.updated_number_scheduled, st.number_available) == (3, 3)


async def _revisions(rig: Rig) -> dict[str, int]:
    page = await rig.cluster.client.list(ControllerRevision, namespace="default")
    return {r.metadata.labels[dsc.HASH_LABEL]: r.revision for r in page.items}


async def test_controller_revisions_follow_the_template(rig: Rig) -> None:
    await rig.cluster.client.create(_ds("d", node_selector={"disk": "ssd"}))
    await rig.sync()
    first = await _revisions(rig)
    assert list(first.values()) == [1]
    rev = (await rig.cluster.client.list(ControllerRevision, namespace="default")).items[0]
    assert rev.metadata.name == f"d-{next(iter(first))}"
    assert rev.metadata.owner_references[0].kind == "DaemonSet"
    assert rev.data["spec"]["template"]["$patch"] == "replace"
    image = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}
    await rig.cluster.client.patch(DaemonSet, "d", image, namespace="default")
    await rig.sync()
    second = await _revisions(rig)
    assert sorted(second.values()) == [1, 2]
    back = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}
    await rig.cluster.client.patch(DaemonSet, "d", back, namespace="default")
    await rig.sync()
    third = await _revisions(rig)
    old_hash = next(iter(first))
    assert third[old_hash] == 3  # going back renumbers the old revision as the newest


async def test_rolling_update_with_max_surge_never_leaves_a_node_without_a_ready_pod(
    rig: Rig,
) -> None:
    ds = _ds("d", max_unavailable=0)
    assert ds.spec.update_strategy.rolling_update is not None
    ds.spec.update_strategy.rolling_update.max_surge = 1
    await rig.cluster.client.patch(Node, "n3", {"metadata": {"labels": {"disk": "ssd"}}})
    await rig.cluster.client.create(ds)
    await rig.sync()
    await rig.run_pods()
    await rig.sync()
    old = {p.metadata.labels[dsc.HASH_LABEL] for p in await rig.pods()}
    image = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}
    await rig.cluster.client.patch(DaemonSet, "d", image, namespace="default")
    most_per_node = 0
    for _ in range(15):
        await rig.sync()
        pods = await rig.pods()
        per_node: dict[str, int] = {}
        for p in pods:
            node = _taints.target_node_of(p)
            per_node[node] = per_node.get(node, 0) + 1
        ready_nodes = {p.spec.node_name for p in pods if p.status.phase == "Running"}
        assert ready_nodes == {"n1", "n2", "n3"}  # maxUnavailable=0: never a gap
        most_per_node = max(most_per_node, *per_node.values())
        assert sum(1 for n in per_node.values() if n > 1) <= 1  # maxSurge=1
        await rig.finish_deletions()
        await rig.run_pods()
        hashes = {p.metadata.labels[dsc.HASH_LABEL] for p in await rig.pods()}
        if hashes.isdisjoint(old) and len(await rig.pods()) == 3:
            break
    assert hashes.isdisjoint(old)
    assert most_per_node == 2  # the new pod did start beside the old one
