"""DaemonSet end to end: kcore.Cluster + DaemonSet controller + a simulated scheduler/kubelets.

`Placer` binds each pending pod to the node its required affinity pins (as kube-scheduler
does for daemon pods), reports it Running and Ready, and completes graceful deletions.
The rolling update is watched through a real watch: at no moment are more than
maxUnavailable of the eligible nodes without a ready daemon pod.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest
from hollow import eventually
from test_nodes import running
from test_nodes_kubelet import kubelet

import kcore
from kcore.api import timeutil
from kcore.api.apps import DaemonSet
from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod, PodCondition, Taint
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import Client, WatchEvent
from kcore.controllers import _taints
from kcore.controllers.daemonset import HASH_LABEL, DaemonSetController
from kcore.scheduler.cli import embedded

pytestmark = pytest.mark.timeout(120)


class Placer:
    """Scheduler + kubelets for pods pinned to a node; `finish(pod)` picks the end phase."""

    def __init__(self, client: Client, finish: Callable[[Pod], str] = lambda p: "Running") -> None:
        self.client = client
        self.finish = finish
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Placer:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _loop(self) -> None:
        while True:
            for pod in (await self.client.list(Pod)).items:
                with contextlib.suppress(StatusError):
                    await self._step(pod)
            await asyncio.sleep(0.05)

    async def _step(self, pod: Pod) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.deletion_timestamp:
            await self.client.delete(Pod, name, namespace=ns, grace_period_seconds=0)
        elif not pod.spec.node_name:
            target = _taints.target_node_of(pod) or "node-0"
            await self.client.bind(name, target, namespace=ns)
        elif pod.status.phase in ("", "Pending"):
            phase = self.finish(pod)
            now = timeutil.now()
            conds = [
                PodCondition(type="Ready", status=str(phase == "Running"), last_transition_time=now)
            ]
            status = msgspec.structs.replace(pod.status, phase=phase, conditions=conds)
            await self.client.update_status(msgspec.structs.replace(pod, status=status))


def daemon_set(name: str, image: str, max_unavailable: int = 1) -> DaemonSet:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": max_unavailable},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }
    return from_dict(DaemonSet, body)


@contextlib.asynccontextmanager
async def env(nodes: int) -> AsyncIterator[kcore.Cluster]:
    async with kcore.Cluster() as cluster:
        for i in range(nodes):
            await cluster.client.create(Node(metadata=ObjectMeta(name=f"node-{i}")))
        mc = cluster.new_client()
        async with mc, running(mc, DaemonSetController), Placer(cluster.client):
            yield cluster


async def status_is(c: Client, name: str, **want: int) -> bool:
    ds = await c.get(DaemonSet, name, namespace="default")
    st = msgspec.structs.asdict(ds.status)
    return ds.status.observed_generation == ds.metadata.generation and all(
        st[k] == v for k, v in want.items()
    )


async def test_daemonset_covers_nodes_follows_them_and_rolls() -> None:
    async with env(3) as cluster:
        c = cluster.client
        await c.create(daemon_set("agent", "busybox:1"))
        await eventually(
            lambda: status_is(
                c, "agent", desired_number_scheduled=3, number_ready=3, number_available=3
            )
        )
        pods = (await c.list(Pod, namespace="default")).items
        assert sorted(p.spec.node_name for p in pods) == ["node-0", "node-1", "node-2"]

        await c.create(Node(metadata=ObjectMeta(name="node-3")))  # a new node gets a pod
        await eventually(lambda: status_is(c, "agent", desired_number_scheduled=4, number_ready=4))
        taint = Taint(key="dedicated", value="db", effect="NoExecute")
        node = await c.get(Node, "node-3")
        node.spec.taints = [taint]
        await c.update(node)  # an untolerated NoExecute taint: the pod leaves
        await eventually(
            lambda: status_is(c, "agent", desired_number_scheduled=3, number_misscheduled=0)
        )
        await eventually(lambda: _pods_on(c, "node-3", 0))

        watch_task = asyncio.create_task(_max_unavailable_seen(c, "agent", 3))
        await asyncio.sleep(0.2)
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}
        }
        await c.patch(DaemonSet, "agent", patch, namespace="default")
        out = await kubectl(cluster, "rollout", "status", "daemonset/agent", "--timeout=60s")
        assert "successfully rolled out" in out
        assert await status_is(
            c, "agent", updated_number_scheduled=3, number_available=3, number_ready=3
        )
        watch_task.cancel()
        await asyncio.gather(watch_task, return_exceptions=True)
        assert _WORST["agent"] == 1  # maxUnavailable, and the update did go node by node
        images = {p.spec.containers[0].image for p in await _live(c)}
        assert images == {"busybox:2"}
        assert len({p.metadata.labels[HASH_LABEL] for p in await _live(c)}) == 1

        history = await kubectl(cluster, "rollout", "history", "daemonset/agent")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
        await kubectl(cluster, "rollout", "undo", "daemonset/agent")
        await kubectl(cluster, "rollout", "status", "daemonset/agent", "--timeout=60s")
        await eventually(lambda: _images_are(c, {"busybox:1"}))
        history = await kubectl(cluster, "rollout", "history", "daemonset/agent")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


async def _images_are(c: Client, images: set[str]) -> bool:
    live = await _live(c)
    return len(live) == 3 and {p.spec.containers[0].image for p in live} == images


async def kubectl(cluster: kcore.Cluster, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(cluster.kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


_WORST: dict[str, int] = {}


async def _max_unavailable_seen(c: Client, app: str, nodes: int) -> None:
    """Watch pods and record the worst count of nodes without a ready, live daemon pod."""
    _WORST[app] = 0
    page = await c.list(Pod, namespace="default", label_selector=f"app={app}")
    state = {p.metadata.uid: p for p in page.items}
    async for ev in c.watch(
        Pod,
        namespace="default",
        resource_version=page.resource_version,
        label_selector=f"app={app}",
    ):
        if not isinstance(ev, WatchEvent):
            continue
        if ev.type == "DELETED":
            state.pop(ev.object.metadata.uid, None)
        else:
            state[ev.object.metadata.uid] = ev.object
        ready_nodes = {
            p.spec.node_name
            for p in state.values()
            if not p.metadata.deletion_timestamp
            and any(x.type == "Ready" and x.status == "True" for x in p.status.conditions)
        }
        _WORST[app] = max(_WORST[app], nodes - len(ready_nodes))


async def _live(c: Client) -> list[Pod]:
    return [
        p
        for p in (await c.list(Pod, namespace="default")).items
        if not p.metadata.deletion_timestamp
    ]


async def _pods_on(c: Client, node: str, n: int) -> bool:
    return sum(1 for p in await _live(c) if p.spec.node_name == node) == n


async def test_real_scheduler_binds_daemon_pods_by_match_fields(tmp_path: Path) -> None:
    """The real scheduler and real kubelets (fake runtime): one ready pod per node, each
    placed on its pinned node; a NoSchedule taint the pods do not tolerate keeps one out."""
    async with kcore.Cluster(data_dir=tmp_path / "cluster") as cluster:
        c, mc = cluster.client, cluster.new_client()
        async with (
            mc,
            embedded(cluster.kubeconfig),
            kubelet(cluster, "dk-1", "127.0.1.211", tmp_path),
            kubelet(cluster, "dk-2", "127.0.1.212", tmp_path),
            kubelet(cluster, "dk-3", "127.0.1.213", tmp_path),
        ):
            # Tainted before the controller starts: a daemon pod made for dk-3 in the moment
            # before its informer saw the taint would stay Pending, as in Kubernetes.
            node = await c.get(Node, "dk-3")
            node.spec.taints = [Taint(key="dedicated", value="db", effect="NoSchedule")]
            await c.update(node)
            async with running(mc, DaemonSetController):
                await c.create(daemon_set("agent", "busybox:1"))
                await eventually(
                    lambda: status_is(c, "agent", desired_number_scheduled=2, number_ready=2),
                    within=60,
                )
                pods = await _live(c)
                assert sorted(p.spec.node_name for p in pods) == ["dk-1", "dk-2"]
                assert all(_taints.target_node_of(p) == p.spec.node_name for p in pods)
