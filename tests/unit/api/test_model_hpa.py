"""HorizontalPodAutoscaler v1 <-> v2 conversion: lossless through annotations, like
Kubernetes' own conversion."""

from __future__ import annotations

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
    assert autoscaling.to_v2(v1).spec.metrics == []
