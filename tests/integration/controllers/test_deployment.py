"""Deployments and ReplicaSets end to end: kcore.Cluster + controller manager + hollow nodes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from ctl_support import Env
from hollow import eventually

from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.controllers import deployment_util as du

pytestmark = pytest.mark.timeout(120)


def deployment(name: str, replicas: int, image: str = "busybox:1", **strategy: Any) -> Deployment:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        },
    }
    if strategy:
        spec["strategy"] = strategy
    return from_dict(Deployment, {"metadata": {"name": name, "namespace": "default"}, "spec": spec})


async def pods_of(env: Env, app: str) -> list[Pod]:
    return list(
        (await env.client.list(Pod, namespace="default", label_selector=f"app={app}")).items
    )


async def rollout_done(env: Env, name: str) -> Deployment | None:
    d = await env.client.get(Deployment, name, namespace="default")
    st, want = d.status, d.spec.replicas
    done = (
        st.observed_generation >= d.metadata.generation
        and st.updated_replicas == want
        and st.replicas == want
        and st.available_replicas == want
    )
    return d if done else None


async def test_deployment_becomes_available_with_revision_and_conditions(env: Env) -> None:
    await env.client.create(deployment("web", 5))
    d = await eventually(lambda: rollout_done(env, "web"))
    assert d.metadata.annotations[du.REVISION] == "1"
    conds = {c.type: c for c in d.status.conditions}
    assert conds["Available"].status == "True"
    assert conds["Progressing"].reason == du.NEW_RS_AVAILABLE
    rss = (await env.client.list(ReplicaSet, namespace="default")).items
    assert len(rss) == 1
    rs = rss[0]
    pod_hash = rs.spec.template.metadata.labels[du.HASH_LABEL]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.spec.selector is not None and rs.spec.selector.match_labels[du.HASH_LABEL] == pod_hash
    assert rs.metadata.annotations[du.DESIRED_REPLICAS] == "5"
    assert rs.metadata.annotations[du.MAX_REPLICAS] == "7"  # 25% of 5 rounds up to 2
    pods = await pods_of(env, "web")
    assert len(pods) == 5
    for pod in pods:
        (ref,) = pod.metadata.owner_references
        assert (ref.kind, ref.uid, ref.controller, ref.block_owner_deletion) == (
            "ReplicaSet",
            rs.metadata.uid,
            True,
            True,
        )


async def test_rolling_update_respects_max_unavailable_and_surge(env: Env) -> None:
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    await env.client.create(deployment("roll", 6, **rolling))
    await eventually(lambda: rollout_done(env, "roll"))
    ready_low, total_high = [6], [6]
    stop = asyncio.Event()

    async def observe() -> None:
        while not stop.is_set():
            pods = [
                p for p in env.nodes.pods.list("default") if p.metadata.labels.get("app") == "roll"
            ]
            live = [p for p in pods if not p.metadata.deletion_timestamp]
            ready = [p for p in live if _ready(p)]
            ready_low[0] = min(ready_low[0], len(ready))
            total_high[0] = max(total_high[0], len(live))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(observe())
    try:
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}
        }
        await env.client.patch(
            Deployment, "roll", patch, patch_type="strategic", namespace="default"
        )
        d = await eventually(lambda: rollout_done(env, "roll"), within=60)
    finally:
        stop.set()
        await watcher
    assert d.metadata.annotations[du.REVISION] == "2"
    assert ready_low[0] >= 5, f"ready pods fell to {ready_low[0]} (maxUnavailable 1 of 6)"
    assert total_high[0] <= 7, f"pods rose to {total_high[0]} (maxSurge 1 over 6)"
    pods = await eventually(lambda: _settled_pods(env, "roll", 6))
    assert {p.spec.containers[0].image for p in pods} == {"busybox:2"}
    rss = {
        rs.metadata.annotations[du.REVISION]: rs
        for rs in (await env.client.list(ReplicaSet, namespace="default")).items
    }
    assert rss["1"].spec.replicas == 0 and rss["2"].spec.replicas == 6


async def _settled_pods(env: Env, app: str, count: int) -> list[Pod] | None:
    pods = await pods_of(env, app)
    return pods if len(pods) == count and all(_ready(p) for p in pods) else None


def _ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def test_scale_up_down_and_replace_deleted_pod(env: Env) -> None:
    await env.client.create(deployment("sc", 2))
    await eventually(lambda: rollout_done(env, "sc"))
    await env.client.patch(Deployment, "sc", {"spec": {"replicas": 4}}, namespace="default")
    await eventually(lambda: _settled_pods(env, "sc", 4))
    await env.client.patch(Deployment, "sc", {"spec": {"replicas": 1}}, namespace="default")
    (survivor,) = await eventually(lambda: _settled_pods(env, "sc", 1))
    await env.client.delete(Pod, survivor.metadata.name, namespace="default")
    (fresh,) = await eventually(lambda: _replacement(env, "sc", survivor.metadata.uid), within=30)
    assert fresh.metadata.uid != survivor.metadata.uid
    d = await eventually(lambda: rollout_done(env, "sc"))
    assert d.metadata.annotations[du.REVISION] == "1"  # scaling is not a new revision


async def _replacement(env: Env, app: str, gone_uid: str) -> list[Pod] | None:
    pods = await _settled_pods(env, app, 1)
    return pods if pods and pods[0].metadata.uid != gone_uid else None


async def test_recreate_scales_old_to_zero_before_new(env: Env) -> None:
    await env.client.create(deployment("rec", 3, type="Recreate"))
    await eventually(lambda: rollout_done(env, "rec"))
    overlap = [False]
    stop = asyncio.Event()

    async def observe() -> None:
        while not stop.is_set():
            images = {
                p.spec.containers[0].image
                for p in env.nodes.pods.list("default")
                if p.metadata.labels.get("app") == "rec"
            }
            overlap[0] = overlap[0] or len(images) > 1
            await asyncio.sleep(0)

    watcher = asyncio.create_task(observe())
    try:
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:9"}]}}}
        }
        await env.client.patch(
            Deployment, "rec", patch, patch_type="strategic", namespace="default"
        )
        await eventually(lambda: _all_image(env, "rec", 3, "busybox:9"), within=60)
    finally:
        stop.set()
        await watcher
    assert not overlap[0], "old and new pods ran at the same time under Recreate"


async def _all_image(env: Env, app: str, count: int, image: str) -> bool:
    pods = await _settled_pods(env, app, count)
    return bool(pods) and all(p.spec.containers[0].image == image for p in pods or [])


async def test_deleting_a_deployment_removes_its_replicasets_and_pods(env: Env) -> None:
    await env.client.create(deployment("gone", 3))
    await eventually(lambda: rollout_done(env, "gone"))
    await env.client.delete(Deployment, "gone", namespace="default")

    async def empty() -> bool:
        rss = (await env.client.list(ReplicaSet, namespace="default")).items
        return not rss and not await pods_of(env, "gone")

    await eventually(empty)


async def test_foreground_deletion_waits_for_dependents(env: Env) -> None:
    await env.client.create(deployment("fg", 2))
    await eventually(lambda: rollout_done(env, "fg"))
    marked = await env.client.delete(
        Deployment, "fg", namespace="default", propagation_policy="Foreground"
    )
    assert marked is not None and "foregroundDeletion" in marked.metadata.finalizers

    async def gone() -> bool:
        with contextlib.suppress(StatusError):
            await env.client.get(Deployment, "fg", namespace="default")
            return False
        return not await pods_of(env, "fg")

    await eventually(gone)


async def test_orphan_deletion_keeps_replicaset_without_owner(env: Env) -> None:
    await env.client.create(deployment("orph", 2))
    await eventually(lambda: rollout_done(env, "orph"))
    await env.client.delete(Deployment, "orph", namespace="default", propagation_policy="Orphan")

    async def orphaned() -> list[ReplicaSet] | None:
        with contextlib.suppress(StatusError):
            await env.client.get(Deployment, "orph", namespace="default")
            return None
        rss = list((await env.client.list(ReplicaSet, namespace="default")).items)
        return rss if rss and all(not rs.metadata.owner_references for rs in rss) else None

    (rs,) = await eventually(orphaned)
    assert rs.spec.replicas == 2
    assert len(await pods_of(env, "orph")) == 2


async def test_revision_history_limit_prunes_old_replicasets(env: Env) -> None:
    d = deployment("hist", 2)
    d.spec.revision_history_limit = 1
    await env.client.create(d)
    await eventually(lambda: rollout_done(env, "hist"))
    for version in ("2", "3", "4"):
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": f"busybox:{version}"}]}}}}  # fmt: skip
        await env.client.patch(
            Deployment, "hist", patch, patch_type="strategic", namespace="default"
        )
        await eventually(lambda: rollout_done(env, "hist"), within=60)

    async def pruned() -> list[ReplicaSet] | None:
        rss = (await env.client.list(ReplicaSet, namespace="default")).items
        mine = [rs for rs in rss if rs.metadata.labels.get("app") == "hist"]
        return mine if len(mine) == 2 else None

    rss = await eventually(pruned)
    assert sorted(rs.metadata.annotations[du.REVISION] for rs in rss) == ["3", "4"]


async def test_a_restarted_manager_picks_up_where_the_last_stopped() -> None:
    """Level-triggered: all state is in the API, so a new manager finishes the work."""
    from ctl_support import running_manager
    from hollow import HollowNodes

    import kcore

    async with kcore.Cluster() as cluster, HollowNodes(cluster.client) as _:
        client = cluster.new_client()
        async with client:
            async with running_manager(client):
                await cluster.client.create(deployment("again", 3))

                async def available() -> bool:
                    d = await cluster.client.get(Deployment, "again", namespace="default")
                    return d.status.available_replicas == 3

                await eventually(available)
            # no manager now: scale and change the template meanwhile
            patch = {"spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "c", "image": "busybox:7"}]}}}}  # fmt: skip
            await cluster.client.patch(
                Deployment, "again", patch, patch_type="strategic", namespace="default"
            )
            async with running_manager(client):

                async def converged() -> bool:
                    d = await cluster.client.get(Deployment, "again", namespace="default")
                    st = d.status
                    pods = (
                        await cluster.client.list(
                            Pod, namespace="default", label_selector="app=again"
                        )
                    ).items
                    images = {p.spec.containers[0].image for p in pods}
                    return (
                        st.observed_generation >= d.metadata.generation
                        and st.updated_replicas == st.available_replicas == st.replicas == 5
                        and images == {"busybox:7"}
                    )

                await eventually(converged, within=60)
        rss = (await cluster.client.list(ReplicaSet, namespace="default")).items
        assert len(rss) == 2 and {rs.metadata.annotations[du.REVISION] for rs in rss} == {"1", "2"}
