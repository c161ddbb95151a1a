"""ReplicationControllers, minReadySeconds, progress deadlines, and scaling mid-rollout."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from ctl_support import Env
from hollow import eventually

from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.core import Event, Pod, ReplicationController
from kcore.controllers import deployment_util as du

pytestmark = pytest.mark.timeout(120)


async def test_replication_controller_keeps_its_replicas(env: Env) -> None:
    body = {
        "metadata": {"name": "rc", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"app": "rc"},
            "template": {
                "metadata": {"labels": {"app": "rc"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    await env.client.create(from_dict(ReplicationController, body))

    async def ready_three() -> ReplicationController | None:
        rc = await env.client.get(ReplicationController, "rc", namespace="default")
        st = rc.status
        ok = st.replicas == st.ready_replicas == st.available_replicas == 3
        return rc if ok and st.fully_labeled_replicas == 3 else None

    rc = await eventually(ready_three)
    assert rc.status.observed_generation == rc.metadata.generation
    pods = (await env.client.list(Pod, namespace="default", label_selector="app=rc")).items
    assert {p.metadata.owner_references[0].kind for p in pods} == {"ReplicationController"}
    await env.client.patch(
        ReplicationController, "rc", {"spec": {"replicas": 1}}, namespace="default"
    )

    async def one() -> bool:
        live = (await env.client.list(Pod, namespace="default", label_selector="app=rc")).items
        return len([p for p in live if not p.metadata.deletion_timestamp]) == 1

    await eventually(one)
    events = (await env.client.list(Event, namespace="default")).items
    reasons = {e.reason for e in events if e.involved_object.name == "rc"}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


def rs_body(name: str, min_ready: int) -> ReplicaSet:
    return from_dict(
        ReplicaSet,
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": 2,
                "minReadySeconds": min_ready,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    )


async def test_min_ready_seconds_delays_availability(env: Env) -> None:
    await env.client.create(rs_body("slow", 2))

    async def status() -> tuple[int, int]:
        st = (await env.client.get(ReplicaSet, "slow", namespace="default")).status
        return st.ready_replicas, st.available_replicas

    await eventually(lambda: _eq(status(), (2, 0)))
    await eventually(lambda: _eq(status(), (2, 2)), within=15)


async def _eq(value: object, want: object) -> bool:
    if asyncio.iscoroutine(value):
        value = await value
    return value == want


async def test_progress_deadline_exceeded_fails_rollout_status(env: Env) -> None:
    """Pods that never turn ready: Progressing=False ProgressDeadlineExceeded, and kubectl
    rollout status exits with an error, as against Kubernetes."""
    env.nodes.ready = False
    body = {
        "metadata": {"name": "stuck", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": 2,
            "selector": {"matchLabels": {"app": "stuck"}},
            "template": {
                "metadata": {"labels": {"app": "stuck"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    await env.client.create(from_dict(Deployment, body))

    async def timed_out() -> bool:
        d = await env.client.get(Deployment, "stuck", namespace="default")
        cond = du.get_condition(d.status, "Progressing")
        return cond is not None and cond.reason == du.TIMED_OUT and cond.status == "False"

    await eventually(timed_out, within=30)
    proc = await asyncio.to_thread(
        subprocess.run,
        [
            "kubectl",
            f"--kubeconfig={env.cluster.kubeconfig}",
            "rollout",
            "status",
            "deployment/stuck",
            "--timeout=20s",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "exceeded its progress deadline" in proc.stderr


async def test_scaling_mid_rollout_is_proportional(env: Env) -> None:
    body = {
        "metadata": {"name": "prop", "namespace": "default"},
        "spec": {
            "replicas": 10,
            "strategy": {"rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "prop"}},
            "template": {
                "metadata": {"labels": {"app": "prop"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    await env.client.create(from_dict(Deployment, body))

    async def done(image: str, n: int) -> bool:
        d = await env.client.get(Deployment, "prop", namespace="default")
        st = d.status
        return (
            d.spec.template.spec.containers[0].image == image
            and st.observed_generation >= d.metadata.generation
            and st.updated_replicas == st.replicas == st.available_replicas == n
        )

    await eventually(lambda: done("busybox:1", 10))
    env.nodes.ready = False  # new pods will not become ready: the rollout stalls mid-way
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}
    await env.client.patch(Deployment, "prop", patch, patch_type="strategic", namespace="default")

    async def surged() -> list[ReplicaSet] | None:
        rss = (await env.client.list(ReplicaSet, namespace="default")).items
        sizes = sorted(rs.spec.replicas or 0 for rs in rss)
        return list(rss) if sizes == [3, 10] else None

    await eventually(surged)
    await env.client.patch(Deployment, "prop", {"spec": {"replicas": 20}}, namespace="default")

    async def scaled() -> dict[str, int] | None:
        rss = (await env.client.list(ReplicaSet, namespace="default")).items
        sizes = {rs.spec.template.spec.containers[0].image: rs.spec.replicas or 0 for rs in rss}
        return sizes if sum(sizes.values()) == 23 else None

    sizes = await eventually(scaled)
    # 20 + 3 surge, shared by the old (10) and new (3) ReplicaSets in proportion 10:3
    assert sizes["busybox:1"] >= 17 and sizes["busybox:2"] >= 5, sizes
    env.nodes.ready = True
    for p in (await env.client.list(Pod, namespace="default", label_selector="app=prop")).items:
        if p.status.phase == "Running" and not p.metadata.deletion_timestamp:
            await env.nodes.set_ready(p, True)
    await eventually(lambda: done("busybox:2", 20), within=60)
