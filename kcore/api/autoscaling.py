"""autoscaling kinds: Scale and HorizontalPodAutoscaler in v1 (CPU target) and v2 (metrics).

Both HPA versions are the same stored object in Kubernetes; kcore serves each version from its
own Struct (`HorizontalPodAutoscaler` for v1, `HorizontalPodAutoscalerV2` for v2).
"""

from __future__ import annotations

import msgspec

from kcore.api.core import Quantity
from kcore.api.meta import LabelSelector, ListObject, Model, Object


class ScaleSpec(Model):
    replicas: int = 0


class ScaleStatus(Model, omit_defaults=False):
    replicas: int = 0
    selector: str = ""


class Scale(Object):
    KIND = "Scale"
    API_VERSION = "autoscaling/v1"

    spec: ScaleSpec = msgspec.field(default_factory=ScaleSpec)
    status: ScaleStatus = msgspec.field(default_factory=ScaleStatus)


class CrossVersionObjectReference(Model):
    kind: str = ""
    name: str = ""
    api_version: str = ""


# --- v1 ------------------------------------------------------------------------------------------
class HorizontalPodAutoscalerSpec(Model):
    scale_target_ref: CrossVersionObjectReference = msgspec.field(
        default_factory=CrossVersionObjectReference
    )
    min_replicas: int | None = None
    max_replicas: int = 0
    target_cpu_utilization_percentage: int | None = None


class HorizontalPodAutoscalerStatus(Model, omit_defaults=False):
    observed_generation: int | None = None
    last_scale_time: str | None = None
    current_replicas: int = 0
    desired_replicas: int = 0
    current_cpu_utilization_percentage: int | None = None


class HorizontalPodAutoscaler(Object):
    KIND = "HorizontalPodAutoscaler"
    API_VERSION = "autoscaling/v1"

    spec: HorizontalPodAutoscalerSpec = msgspec.field(default_factory=HorizontalPodAutoscalerSpec)
    status: HorizontalPodAutoscalerStatus = msgspec.field(
        default_factory=HorizontalPodAutoscalerStatus
    )


class HorizontalPodAutoscalerList(ListObject):
    KIND = "HorizontalPodAutoscalerList"
    API_VERSION = "autoscaling/v1"

    items: list[HorizontalPodAutoscaler] = []


# --- v2 ------------------------------------------------------------------------------------------
class MetricTarget(Model):
    type: str = ""
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


class MetricValueStatus(Model):
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


class MetricIdentifier(Model):
    name: str = ""
    selector: LabelSelector | None = None


class ResourceMetricSource(Model):
    name: str = ""
    target: MetricTarget = msgspec.field(default_factory=MetricTarget)


class ContainerResourceMetricSource(Model):
    name: str = ""
    target: MetricTarget = msgspec.field(default_factory=MetricTarget)
    container: str = ""


class PodsMetricSource(Model):
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)
    target: MetricTarget = msgspec.field(default_factory=MetricTarget)


class ObjectMetricSource(Model):
    described_object: CrossVersionObjectReference = msgspec.field(
        default_factory=CrossVersionObjectReference
    )
    target: MetricTarget = msgspec.field(default_factory=MetricTarget)
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)


class ExternalMetricSource(Model):
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)
    target: MetricTarget = msgspec.field(default_factory=MetricTarget)


class MetricSpec(Model):
    type: str = ""
    object: ObjectMetricSource | None = None
    pods: PodsMetricSource | None = None
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    external: ExternalMetricSource | None = None


class HPAScalingPolicy(Model, omit_defaults=False):
    type: str = ""
    value: int = 0
    period_seconds: int = 0


class HPAScalingRules(Model):
    stabilization_window_seconds: int | None = None
    select_policy: str | None = None
    policies: list[HPAScalingPolicy] = []
    tolerance: Quantity | None = None


class HorizontalPodAutoscalerBehavior(Model):
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None


class HorizontalPodAutoscalerSpecV2(Model):
    scale_target_ref: CrossVersionObjectReference = msgspec.field(
        default_factory=CrossVersionObjectReference
    )
    min_replicas: int | None = None
    max_replicas: int = 0
    metrics: list[MetricSpec] = []
    behavior: HorizontalPodAutoscalerBehavior | None = None


class ResourceMetricStatus(Model):
    name: str = ""
    current: MetricValueStatus = msgspec.field(default_factory=MetricValueStatus)


class ContainerResourceMetricStatus(Model):
    name: str = ""
    current: MetricValueStatus = msgspec.field(default_factory=MetricValueStatus)
    container: str = ""


class PodsMetricStatus(Model):
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)
    current: MetricValueStatus = msgspec.field(default_factory=MetricValueStatus)


class ObjectMetricStatus(Model):
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)
    current: MetricValueStatus = msgspec.field(default_factory=MetricValueStatus)
    described_object: CrossVersionObjectReference = msgspec.field(
        default_factory=CrossVersionObjectReference
    )


class ExternalMetricStatus(Model):
    metric: MetricIdentifier = msgspec.field(default_factory=MetricIdentifier)
    current: MetricValueStatus = msgspec.field(default_factory=MetricValueStatus)


class MetricStatus(Model):
    type: str = ""
    object: ObjectMetricStatus | None = None
    pods: PodsMetricStatus | None = None
    resource: ResourceMetricStatus | None = None
    container_resource: ContainerResourceMetricStatus | None = None
    external: ExternalMetricStatus | None = None


class HorizontalPodAutoscalerCondition(Model):
    type: str = ""
    observed_generation: int | None = None
    status: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class HorizontalPodAutoscalerStatusV2(Model, omit_defaults=False):
    observed_generation: int | None = None
    last_scale_time: str | None = None
    current_replicas: int = 0
    desired_replicas: int = 0
    current_metrics: list[MetricStatus] = []
    conditions: list[HorizontalPodAutoscalerCondition] = []


class HorizontalPodAutoscalerV2(Object):
    KIND = "HorizontalPodAutoscaler"
    API_VERSION = "autoscaling/v2"

    spec: HorizontalPodAutoscalerSpecV2 = msgspec.field(
        default_factory=HorizontalPodAutoscalerSpecV2
    )
    status: HorizontalPodAutoscalerStatusV2 = msgspec.field(
        default_factory=HorizontalPodAutoscalerStatusV2
    )


class HorizontalPodAutoscalerListV2(ListObject):
    KIND = "HorizontalPodAutoscalerList"
    API_VERSION = "autoscaling/v2"

    items: list[HorizontalPodAutoscalerV2] = []
