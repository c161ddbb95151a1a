"""HorizontalPodAutoscaler v1 <-> v2 conversion: lossless through annotations, like
Kubernetes' own conversion."""

from __future__ import annotations

import json
from pathlib import Path

from kcore.api import autoscaling, codec, defaults
from kcore.api.meta import ObjectMeta

SAMPLES = Path(__file__).parent / "model_samples" / "workloads.yaml"


def _sample(api_version: str) -> object:
    for doc in codec.load_yaml_documents(SAMPLES.read_text()):
        if doc["kind"] == "HorizontalPodAutoscaler" and doc["apiVersion"] == api_version:
            tp = codec.type_for(api_version, "HorizontalPodAutoscaler")
            assert tp is not None
            return codec.from_dict(tp, doc)
    raise AssertionError(api_version)


def test_v2_through_v1_and_back_is_lossless() -> None:
    v2 = _sample("autoscaling/v2")
    assert isinstance(v2, autoscaling.HorizontalPodAutoscalerV2)
    v1 = autoscaling.to_v1(v2)
    assert v1.api_version == "autoscaling/v1"
    assert v1.spec.target_cpu_utilization_percentage == 50
    assert v1.status.current_cpu_utilization_percentage == 60
    assert autoscaling.METRICS_ANNOTATION in v1.metadata.annotations
    assert autoscaling.to_v2(v1) == v2


def test_v1_through_v2_and_back_is_lossless() -> None:
    v1 = _sample("autoscaling/v1")
    assert isinstance(v1, autoscaling.HorizontalPodAutoscaler)
    v2 = autoscaling.to_v2(v1)
    resource = v2.spec.metrics[0].resource
    assert resource is not None and resource.target.average_utilization == 50
    assert v2.status.current_metrics[0].resource is not None
    assert autoscaling.to_v1(v2) == v1


def test_v1_without_target_gets_the_default_cpu_target_in_v2() -> None:
    v1 = autoscaling.HorizontalPodAutoscaler(
        metadata=ObjectMeta(name="h", annotations={"keep": "me"}),
        spec=autoscaling.HorizontalPodAutoscalerSpec(max_replicas=3),
    )
    v2 = defaults.apply_defaults(autoscaling.to_v2(v1))
    resource = v2.spec.metrics[0].resource
    assert resource is not None and resource.target.average_utilization == 80
    assert v2.metadata.annotations == {"keep": "me"}
    assert v1.metadata.annotations == {"keep": "me"}


def test_corrupt_annotations_are_ignored() -> None:
    v1 = autoscaling.HorizontalPodAutoscaler(
        metadata=ObjectMeta(annotations={autoscaling.METRICS_ANNOTATION: "{not json"}),
    )
    v2 = autoscaling.to_v2(v1)
    assert v2.spec.metrics == _cpu(80)  # Kubernetes' conversion default
    assert v2.metadata.annotations == {}


def _cpu(target: int) -> list[autoscaling.MetricSpec]:
    t = autoscaling.MetricTarget(type="Utilization", average_utilization=target)
    source = autoscaling.ResourceMetricSource(name="cpu", target=t)
    return [autoscaling.MetricSpec(type="Resource", resource=source)]


def _memory() -> autoscaling.MetricSpec:
    t = autoscaling.MetricTarget(type="AverageValue", average_value=100 * 2**20)
    source = autoscaling.ResourceMetricSource(name="memory", target=t)
    return autoscaling.MetricSpec(type="Resource", resource=source)


def _v2(metrics: list[autoscaling.MetricSpec]) -> autoscaling.HorizontalPodAutoscalerV2:
    return autoscaling.HorizontalPodAutoscalerV2(
        metadata=ObjectMeta(name="h"),
        spec=autoscaling.HorizontalPodAutoscalerSpecV2(max_replicas=3, metrics=metrics),
    )


def test_a_v1_change_of_the_cpu_target_keeps_the_other_metrics() -> None:
    v1 = autoscaling.to_v1(_v2([_memory(), *_cpu(50)]))
    assert v1.spec.target_cpu_utilization_percentage == 50
    v1.spec.target_cpu_utilization_percentage = 70
    assert autoscaling.to_v2(v1).spec.metrics == [_memory(), *_cpu(70)]
    v1.spec.target_cpu_utilization_percentage = None
    assert autoscaling.to_v2(v1).spec.metrics == [_memory()]


def test_kubernetes_style_annotation_of_other_metrics_gets_the_cpu_target_appended() -> None:
    v1 = autoscaling.to_v1(_v2([_memory()]))
    assert v1.spec.target_cpu_utilization_percentage is None
    v1.spec.target_cpu_utilization_percentage = 60
    assert autoscaling.to_v2(v1).spec.metrics == [_memory(), *_cpu(60)]


def test_round_trip_annotations_never_reach_v2_nor_repeat_in_v1() -> None:
    stale = {autoscaling.CONDITIONS_ANNOTATION: "[]", autoscaling.METRICS_ANNOTATION: "[]"}
    v2 = _v2(_cpu(50))
    v2.metadata.annotations = dict(stale)
    v1 = autoscaling.to_v1(v2)
    assert v1.metadata.annotations == {}
    assert autoscaling.to_v2(v1).metadata.annotations == {}


def test_v1_current_cpu_wins_over_a_stale_current_metrics_annotation() -> None:
    v2 = _v2([_memory(), *_cpu(50)])
    cpu = autoscaling.MetricValueStatus(average_utilization=40, average_value=200)
    v2.status.current_metrics = [
        autoscaling.MetricStatus(
            type="Resource", resource=autoscaling.ResourceMetricStatus(name="cpu", current=cpu)
        )
    ]
    v1 = autoscaling.to_v1(v2)
    assert autoscaling.CURRENT_METRICS_ANNOTATION in v1.metadata.annotations
    v1.status.current_cpu_utilization_percentage = 90
    (current,) = autoscaling.to_v2(v1).status.current_metrics
    assert current.resource is not None
    assert current.resource.current.average_utilization == 90
    assert current.resource.current.average_value == 200


def test_annotations_use_kubernetes_v1_alpha_shapes() -> None:
    v1 = autoscaling.to_v1(_v2([_memory(), *_cpu(50)]))
    metrics = json.loads(v1.metadata.annotations[autoscaling.METRICS_ANNOTATION])
    assert metrics[0] == {
        "type": "Resource",
        "resource": {"name": "memory", "targetAverageValue": 100 * 2**20},
    }
    # what Kubernetes itself writes (other metrics only; cpu from the v1 field) reads back
    written = '[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]'
    current = '[{"type":"Pods","pods":{"metricName":"qps","currentAverageValue":"12"}}]'
    v1.metadata.annotations = {
        autoscaling.METRICS_ANNOTATION: written,
        autoscaling.CURRENT_METRICS_ANNOTATION: current,
    }
    v2 = autoscaling.to_v2(v1)
    pods = v2.spec.metrics[0].pods
    assert pods is not None and pods.metric.name == "qps"
    assert pods.target == autoscaling.MetricTarget(type="AverageValue", average_value="10")
    assert v2.spec.metrics[1:] == _cpu(50)
    status = v2.status.current_metrics[0].pods
    assert status is not None and status.current.average_value == "12"


def test_every_metric_type_survives_v1() -> None:
    ident = autoscaling.MetricIdentifier(name="m")
    ref = autoscaling.CrossVersionObjectReference(kind="Ingress", name="i", api_version="v1")
    value = autoscaling.MetricTarget(type="Value", value="5")
    average = autoscaling.MetricTarget(type="AverageValue", average_value="3")
    metrics = [
        autoscaling.MetricSpec(
            type="Object",
            object=autoscaling.ObjectMetricSource(described_object=ref, metric=ident, target=value),
        ),
        autoscaling.MetricSpec(
            type="Pods", pods=autoscaling.PodsMetricSource(metric=ident, target=average)
        ),
        autoscaling.MetricSpec(
            type="External", external=autoscaling.ExternalMetricSource(metric=ident, target=value)
        ),
        autoscaling.MetricSpec(
            type="ContainerResource",
            container_resource=autoscaling.ContainerResourceMetricSource(
                name="cpu",
                container="c",
                target=autoscaling.MetricTarget(type="Utilization", average_utilization=60),
            ),
        ),
    ]
    now = autoscaling.MetricValueStatus(value="4", average_value="2")
    current = [
        autoscaling.MetricStatus(
            type="Object",
            object=autoscaling.ObjectMetricStatus(described_object=ref, metric=ident, current=now),
        ),
        autoscaling.MetricStatus(
            type="External", external=autoscaling.ExternalMetricStatus(metric=ident, current=now)
        ),
    ]
    v2 = _v2(metrics)
    v2.status.current_metrics = current
    assert autoscaling.to_v2(autoscaling.to_v1(v2)) == v2


def test_behavior_annotation_written_by_kubernetes_reads_back() -> None:
    go = (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":'
        '[{"Type":"Pods","Value":4,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":null}'
    )
    v1 = autoscaling.HorizontalPodAutoscaler(
        metadata=ObjectMeta(annotations={autoscaling.BEHAVIOR_ANNOTATION: go}),
        spec=autoscaling.HorizontalPodAutoscalerSpec(max_replicas=3),
    )
    behavior = autoscaling.to_v2(v1).spec.behavior
    assert behavior is not None and behavior.scale_down is None
    assert behavior.scale_up == autoscaling.HPAScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=[autoscaling.HPAScalingPolicy(type="Pods", value=4, period_seconds=15)],
    )
