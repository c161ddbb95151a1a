"""HPA syncs over canned caches: writes (scale, status) go to a real in-process API server.

The pods the target selects exist only in the controller's pod cache (filled by hand); the
metrics come from a StaticMetricsSource; time is a FakeClock (stabilization windows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import kcore
from kcore.api.apps import Deployment
from kcore.api.autoscaling import HorizontalPodAutoscaler, HorizontalPodAutoscalerV2
from kcore.api.codec import from_dict
from kcore.api.core import Event, Pod
from kcore.client import EventRecorder, RateLimitingQueue, SharedInformerFactory
from kcore.client.clock import FakeClock
from kcore.controllers.hpa import (
    ClientMetricsSource,
    HorizontalPodAutoscalerController,
    StaticMetricsSource,
)


@dataclass
class Rig:
    cluster: kcore.Cluster
    clock: FakeClock
    metrics: StaticMetricsSource
    ctl: HorizontalPodAutoscalerController
    recorder: EventRecorder

    async def load(self) -> None:
        page = await self.cluster.client.list(HorizontalPodAutoscalerV2)
        await self.ctl.hpas.replace(list(page.items), page.resource_version)

    async def replicas(self) -> int:
        d = await self.cluster.client.get(Deployment, "web", namespace="default")
        return int(d.spec.replicas or 0)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with kcore.Cluster() as cluster:
        clock = FakeClock()
        metrics = StaticMetricsSource()
        factory = SharedInformerFactory(cluster.client)
        recorder = EventRecorder(cluster.client, component="test")
        ctl = HorizontalPodAutoscalerController(
            cluster.client, factory, recorder, metrics=metrics, downscale_stabilization=60
        )
        ctl.queue = RateLimitingQueue(clock=clock)
        await cluster.client.create(_deployment(2))
        yield Rig(cluster, clock, metrics, ctl, recorder)
        ctl.queue.shutdown()
        await recorder.close()


def _deployment(replicas: int) -> Deployment:
    return from_dict(
        Deployment,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    )


def _hpa_v2(target: int = 50, **extra: Any) -> HorizontalPodAutoscalerV2:
    metric = {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": target},
        },
    }
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [metric],
        **extra,
    }
    body = {"metadata": {"name": "web", "namespace": "default"}, "spec": spec}
    return from_dict(HorizontalPodAutoscalerV2, body)


def _pod(name: str, ready: bool = True, request: str = "100m") -> Pod:
    return from_dict(
        Pod,
        {
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": {"app": "web"},
                "uid": name,
            },
            "spec": {
                "nodeName": "n",
                "containers": [
                    {"name": "c", "image": "x", "resources": {"requests": {"cpu": request}}}
                ],
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        },
    )


async def _set_pods(rig: Rig, *pods: Pod) -> None:
    await rig.ctl.pods.replace(list(pods), "1")


async def _v2(rig: Rig) -> HorizontalPodAutoscalerV2:
    got: HorizontalPodAutoscalerV2 = await rig.cluster.client.get(
        HorizontalPodAutoscalerV2, "web", namespace="default"
    )
    return got


async def test_scales_up_on_cpu_and_writes_status(rig: Rig) -> None:
    await rig.cluster.client.create(_hpa_v2(50))
    await _set_pods(rig, _pod("a"), _pod("b"))
    rig.metrics.set("default", "a", "cpu", 90)
    rig.metrics.set("default", "b", "cpu", 90)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 4  # ceil(2 * 90/50)
    hpa = await _v2(rig)
    st = hpa.status
    assert (st.desired_replicas, st.current_replicas) == (4, 0)
    assert st.last_scale_time
    res = st.current_metrics[0].resource
    assert res is not None and res.current.average_utilization == 90
    assert res.current.average_value == "90m"
    conds = {c.type: (c.status, c.reason) for c in st.conditions}
    assert conds == {
        "AbleToScale": ("True", "SucceededRescale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }
    assert rig.ctl.queue.waiting() == 1  # resynced every sync period


async def test_scale_down_after_the_window_and_max_clamp(rig: Rig) -> None:
    await rig.cluster.client.create(_hpa_v2(50))
    await _set_pods(rig, _pod("a"), _pod("b"))
    rig.metrics.set("default", "a", "cpu", 10)
    rig.metrics.set("default", "b", "cpu", 10)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 2  # the window (60 s here) holds the first recommendation
    rig.clock.step(30)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 2
    rig.clock.step(31)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 1
    await rig.recorder.flush()
    events = await rig.cluster.client.list(Event, namespace="default")
    assert any(e.reason == "SuccessfulRescale" for e in events.items)


async def test_v1_hpa_is_served_through_conversion(rig: Rig) -> None:
    body = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 20,
        },
    }
    await rig.cluster.client.create(from_dict(HorizontalPodAutoscaler, body))
    await _set_pods(rig, _pod("a"), _pod("b"))
    rig.metrics.set("default", "a", "cpu", 100)
    rig.metrics.set("default", "b", "cpu", 100)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 3  # 10 wanted, max 3
    v1 = await rig.cluster.client.get(HorizontalPodAutoscaler, "web", namespace="default")
    assert v1.status.desired_replicas == 3
    assert v1.status.current_cpu_utilization_percentage == 100


async def test_missing_metrics_set_scaling_active_false(rig: Rig) -> None:
    await rig.cluster.client.create(_hpa_v2(50))
    await _set_pods(rig, _pod("a"))
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 2
    conds = {c.type: (c.status, c.reason) for c in (await _v2(rig)).status.conditions}
    assert conds["ScalingActive"] == ("False", "FailedGetResourceMetric")


async def test_missing_target_sets_able_to_scale_false(rig: Rig) -> None:
    hpa = _hpa_v2(50)
    hpa.spec.scale_target_ref.name = "nothere"
    await rig.cluster.client.create(hpa)
    await rig.load()
    await rig.ctl.sync("default/web")
    conds = {c.type: (c.status, c.reason) for c in (await _v2(rig)).status.conditions}
    assert conds["AbleToScale"] == ("False", "FailedGetScale")


async def test_zero_replicas_disables_scaling(rig: Rig) -> None:
    await rig.cluster.client.scale(Deployment, "web", 0, namespace="default")
    await rig.cluster.client.create(_hpa_v2(50))
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 0
    conds = {c.type: (c.status, c.reason) for c in (await _v2(rig)).status.conditions}
    assert conds["ScalingActive"] == ("False", "ScalingDisabled")


async def test_target_without_scale_subresource_sets_able_to_scale_false(rig: Rig) -> None:
    hpa = _hpa_v2(50)
    hpa.spec.scale_target_ref.kind = "DaemonSet"
    await rig.cluster.client.create(hpa)
    await rig.load()
    await rig.ctl.sync("default/web")
    conds = {c.type: (c.status, c.reason) for c in (await _v2(rig)).status.conditions}
    assert conds["AbleToScale"] == ("False", "FailedGetScale")
    assert rig.ctl.queue.waiting() == 1  # still resynced


async def test_average_value_memory_target(rig: Rig) -> None:
    metric = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    await rig.cluster.client.create(_hpa_v2(50, metrics=[metric]))
    await _set_pods(rig, _pod("a"), _pod("b"))
    rig.metrics.set("default", "a", "memory", 300 * 1024 * 1024 * 1000)  # milli-bytes
    rig.metrics.set("default", "b", "memory", 100 * 1024 * 1024 * 1000)
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 4  # average 200Mi against 100Mi: twice the pods
    res = (await _v2(rig)).status.current_metrics[0].resource
    assert res is not None and res.current.average_value == str(200 * 1024 * 1024)


async def test_served_metrics_without_kubelets_leave_scaling_inactive(rig: Rig) -> None:
    rig.ctl.metrics = ClientMetricsSource(rig.cluster.client)  # metrics.k8s.io, no kubelets
    await rig.cluster.client.create(_hpa_v2(50))
    await _set_pods(rig, _pod("a"))
    await rig.load()
    await rig.ctl.sync("default/web")
    assert await rig.replicas() == 2
    conds = {c.type: (c.status, c.reason) for c in (await _v2(rig)).status.conditions}
    assert conds["ScalingActive"] == ("False", "FailedGetResourceMetric")
