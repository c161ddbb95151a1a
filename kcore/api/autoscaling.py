"""autoscaling kinds: Scale and HorizontalPodAutoscaler in v1 (CPU target) and v2 (metrics).

Both HPA versions are the same stored object in Kubernetes; kcore models each version with its
own Struct (`HorizontalPodAutoscaler` for v1, `HorizontalPodAutoscalerV2` for v2) and converts
between them with `to_v1`/`to_v2`, keeping what v1 cannot express in annotations as Kubernetes
does.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from kcore.api.core import Quantity
from kcore.api.meta import LabelSelector, ListObject, Model, Object

T = TypeVar("T")


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


# --- autoscaling/v1's alpha metric types ---------------------------------------------------------
# The shapes Kubernetes keeps v2-only metrics in when it serves an HPA as autoscaling/v1 (its
# autoscaling/v1 MetricSpec/MetricStatus: targets flattened into targetAverageUtilization,
# targetAverageValue, targetValue; the metric's name in metricName).
class AlphaObjectSource(Model):
    target: CrossVersionObjectReference = msgspec.field(default_factory=CrossVersionObjectReference)
    metric_name: str = ""
    target_value: Quantity | None = None
    selector: LabelSelector | None = None
    average_value: Quantity | None = None


class AlphaPodsSource(Model):
    metric_name: str = ""
    target_average_value: Quantity | None = None
    selector: LabelSelector | None = None


class AlphaResourceSource(Model):
    name: str = ""
    target_average_utilization: int | None = None
    target_average_value: Quantity | None = None
    container: str = ""


class AlphaExternalSource(Model):
    metric_name: str = ""
    metric_selector: LabelSelector | None = None
    target_value: Quantity | None = None
    target_average_value: Quantity | None = None


class AlphaMetricSpec(Model):
    type: str = ""
    object: AlphaObjectSource | None = None
    pods: AlphaPodsSource | None = None
    resource: AlphaResourceSource | None = None
    container_resource: AlphaResourceSource | None = None
    external: AlphaExternalSource | None = None


class AlphaObjectStatus(Model):
    target: CrossVersionObjectReference = msgspec.field(default_factory=CrossVersionObjectReference)
    metric_name: str = ""
    current_value: Quantity | None = None
    selector: LabelSelector | None = None
    average_value: Quantity | None = None


class AlphaPodsStatus(Model):
    metric_name: str = ""
    current_average_value: Quantity | None = None
    selector: LabelSelector | None = None


class AlphaResourceStatus(Model):
    name: str = ""
    current_average_utilization: int | None = None
    current_average_value: Quantity | None = None
    container: str = ""


class AlphaExternalStatus(Model):
    metric_name: str = ""
    metric_selector: LabelSelector | None = None
    current_value: Quantity | None = None
    current_average_value: Quantity | None = None


class AlphaMetricStatus(Model):
    type: str = ""
    object: AlphaObjectStatus | None = None
    pods: AlphaPodsStatus | None = None
    resource: AlphaResourceStatus | None = None
    container_resource: AlphaResourceStatus | None = None
    external: AlphaExternalStatus | None = None


def _alpha_spec(m: MetricSpec) -> AlphaMetricSpec:
    out = AlphaMetricSpec(type=m.type)
    if (o := m.object) is not None:
        out.object = AlphaObjectSource(
            target=o.described_object,
            metric_name=o.metric.name,
            selector=o.metric.selector,
            target_value=o.target.value,
            average_value=o.target.average_value,
        )
    if (p := m.pods) is not None:
        out.pods = AlphaPodsSource(
            metric_name=p.metric.name,
            selector=p.metric.selector,
            target_average_value=p.target.average_value,
        )
    if (r := m.resource) is not None:
        out.resource = AlphaResourceSource(
            name=r.name,
            target_average_utilization=r.target.average_utilization,
            target_average_value=r.target.average_value,
        )
    if (c := m.container_resource) is not None:
        out.container_resource = AlphaResourceSource(
            name=c.name,
            container=c.container,
            target_average_value=c.target.average_value,
            target_average_utilization=c.target.average_utilization,
        )
    if (e := m.external) is not None:
        out.external = AlphaExternalSource(
            metric_name=e.metric.name,
            metric_selector=e.metric.selector,
            target_value=e.target.value,
            target_average_value=e.target.average_value,
        )
    return out


def _value_target(value: Quantity | None, average: Quantity | None) -> MetricTarget:
    if average is not None:
        return MetricTarget(type="AverageValue", average_value=average)
    return MetricTarget(type="Value", value=value)


def _resource_target(utilization: int | None, average: Quantity | None) -> MetricTarget:
    if utilization is not None:
        return MetricTarget(type="Utilization", average_utilization=utilization)
    return MetricTarget(type="AverageValue", average_value=average)


def _v2_spec(m: AlphaMetricSpec) -> MetricSpec:
    out = MetricSpec(type=m.type)
    if (o := m.object) is not None:
        out.object = ObjectMetricSource(
            described_object=o.target,
            metric=MetricIdentifier(name=o.metric_name, selector=o.selector),
            target=_value_target(o.target_value, o.average_value),
        )
    if (p := m.pods) is not None:
        target = MetricTarget(type="AverageValue", average_value=p.target_average_value)
        out.pods = PodsMetricSource(
            metric=MetricIdentifier(name=p.metric_name, selector=p.selector), target=target
        )
    if (r := m.resource) is not None:
        target = _resource_target(r.target_average_utilization, r.target_average_value)
        out.resource = ResourceMetricSource(name=r.name, target=target)
    if (c := m.container_resource) is not None:
        target = _resource_target(c.target_average_utilization, c.target_average_value)
        out.container_resource = ContainerResourceMetricSource(
            name=c.name, container=c.container, target=target
        )
    if (e := m.external) is not None:
        out.external = ExternalMetricSource(
            metric=MetricIdentifier(name=e.metric_name, selector=e.metric_selector),
            target=_value_target(e.target_value, e.target_average_value),
        )
    return out


def _alpha_status(m: MetricStatus) -> AlphaMetricStatus:
    out = AlphaMetricStatus(type=m.type)
    if (o := m.object) is not None:
        out.object = AlphaObjectStatus(
            target=o.described_object,
            metric_name=o.metric.name,
            selector=o.metric.selector,
            current_value=o.current.value,
            average_value=o.current.average_value,
        )
    if (p := m.pods) is not None:
        out.pods = AlphaPodsStatus(
            metric_name=p.metric.name,
            selector=p.metric.selector,
            current_average_value=p.current.average_value,
        )
    if (r := m.resource) is not None:
        out.resource = AlphaResourceStatus(
            name=r.name,
            current_average_utilization=r.current.average_utilization,
            current_average_value=r.current.average_value,
        )
    if (c := m.container_resource) is not None:
        out.container_resource = AlphaResourceStatus(
            name=c.name,
            container=c.container,
            current_average_value=c.current.average_value,
            current_average_utilization=c.current.average_utilization,
        )
    if (e := m.external) is not None:
        out.external = AlphaExternalStatus(
            metric_name=e.metric.name,
            metric_selector=e.metric.selector,
            current_value=e.current.value,
            current_average_value=e.current.average_value,
        )
    return out


def _v2_status(m: AlphaMetricStatus) -> MetricStatus:
    out = MetricStatus(type=m.type)
    if (o := m.object) is not None:
        out.object = ObjectMetricStatus(
            described_object=o.target,
            metric=MetricIdentifier(name=o.metric_name, selector=o.selector),
            current=MetricValueStatus(value=o.current_value, average_value=o.average_value),
        )
    if (p := m.pods) is not None:
        out.pods = PodsMetricStatus(
            metric=MetricIdentifier(name=p.metric_name, selector=p.selector),
            current=MetricValueStatus(average_value=p.current_average_value),
        )
    if (r := m.resource) is not None:
        out.resource = ResourceMetricStatus(name=r.name, current=_resource_current(r))
    if (c := m.container_resource) is not None:
        out.container_resource = ContainerResourceMetricStatus(
            name=c.name, container=c.container, current=_resource_current(c)
        )
    if (e := m.external) is not None:
        out.external = ExternalMetricStatus(
            metric=MetricIdentifier(name=e.metric_name, selector=e.metric_selector),
            current=MetricValueStatus(value=e.current_value, average_value=e.current_average_value),
        )
    return out


def _resource_current(r: AlphaResourceStatus) -> MetricValueStatus:
    return MetricValueStatus(
        average_utilization=r.current_average_utilization, average_value=r.current_average_value
    )


# --- conversion between v1 and v2 -----------------------------------------------------------------
# Kubernetes stores one HPA and serves it in both versions; what v1 cannot express travels in
# these annotations (as Kubernetes' own conversion does), so v2 -> v1 -> v2 loses nothing.
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"


def to_v1(hpa: HorizontalPodAutoscalerV2) -> HorizontalPodAutoscaler:
    """The v1 view of a v2 HPA, by Kubernetes' rules: the first Resource cpu metric with an
    averageUtilization target is targetCPUUtilizationPercentage, the cpu averageUtilization in
    the current metrics is currentCPUUtilizationPercentage; metrics, current metrics, conditions
    and behavior that those fields cannot reproduce are kept whole in annotations, the metrics
    in autoscaling/v1's alpha shapes as Kubernetes writes them (any such annotations on the
    input are dropped first, so only this conversion's own ones appear)."""
    target = _cpu_target(hpa.spec.metrics)
    current_cpu = _cpu_current(hpa.status.current_metrics)
    annotations = _without_round_trip(hpa.metadata.annotations)
    if hpa.spec.metrics != _v2_metrics(target):
        _annotate(annotations, METRICS_ANNOTATION, [_alpha_spec(m) for m in hpa.spec.metrics])
    if hpa.status.current_metrics != _v2_current(current_cpu):
        current = [_alpha_status(m) for m in hpa.status.current_metrics]
        _annotate(annotations, CURRENT_METRICS_ANNOTATION, current)
    _annotate(annotations, CONDITIONS_ANNOTATION, hpa.status.conditions)
    _annotate(annotations, BEHAVIOR_ANNOTATION, hpa.spec.behavior)
    spec = HorizontalPodAutoscalerSpec(
        scale_target_ref=hpa.spec.scale_target_ref,
        min_replicas=hpa.spec.min_replicas,
        max_replicas=hpa.spec.max_replicas,
        target_cpu_utilization_percentage=target,
    )
    status = HorizontalPodAutoscalerStatus(
        observed_generation=hpa.status.observed_generation,
        last_scale_time=hpa.status.last_scale_time,
        current_replicas=hpa.status.current_replicas,
        desired_replicas=hpa.status.desired_replicas,
        current_cpu_utilization_percentage=current_cpu,
    )
    metadata = msgspec.structs.replace(hpa.metadata, annotations=annotations)
    return HorizontalPodAutoscaler(metadata=metadata, spec=spec, status=status)


def to_v2(hpa: HorizontalPodAutoscaler) -> HorizontalPodAutoscalerV2:
    """The v2 view of a v1 HPA, restoring what `to_v1` kept in annotations; no round-trip
    annotation survives into v2. v1's own CPU fields win over the annotations (a v1 client
    that changes targetCPUUtilizationPercentage changes the cpu metric, the others stay), and
    an HPA left without metrics targets 80% CPU, as Kubernetes' conversion defaults it."""
    annotations = dict(hpa.metadata.annotations)
    alpha_metrics = _unannotate(annotations, METRICS_ANNOTATION, list[AlphaMetricSpec])
    metrics = [_v2_spec(m) for m in alpha_metrics or []]
    alpha_current = _unannotate(annotations, CURRENT_METRICS_ANNOTATION, list[AlphaMetricStatus])
    current = None if alpha_current is None else [_v2_status(m) for m in alpha_current]
    conditions = _unannotate(
        annotations, CONDITIONS_ANNOTATION, list[HorizontalPodAutoscalerCondition]
    )
    behavior = _unannotate(
        annotations, BEHAVIOR_ANNOTATION, HorizontalPodAutoscalerBehavior, go_keys=True
    )
    target = hpa.spec.target_cpu_utilization_percentage
    spec = HorizontalPodAutoscalerSpecV2(
        scale_target_ref=hpa.spec.scale_target_ref,
        min_replicas=hpa.spec.min_replicas,
        max_replicas=hpa.spec.max_replicas,
        metrics=_with_cpu_target(metrics, target) or _v2_metrics(DEFAULT_CPU_UTILIZATION),
        behavior=behavior if behavior != HorizontalPodAutoscalerBehavior() else None,
    )
    cpu = hpa.status.current_cpu_utilization_percentage
    status = HorizontalPodAutoscalerStatusV2(
        observed_generation=hpa.status.observed_generation,
        last_scale_time=hpa.status.last_scale_time,
        current_replicas=hpa.status.current_replicas,
        desired_replicas=hpa.status.desired_replicas,
        current_metrics=_v2_current(cpu) if current is None else _with_cpu_current(current, cpu),
        conditions=conditions or [],
    )
    metadata = msgspec.structs.replace(hpa.metadata, annotations=annotations)
    return HorizontalPodAutoscalerV2(metadata=metadata, spec=spec, status=status)


DEFAULT_CPU_UTILIZATION = 80
_ROUND_TRIP = (
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
)


def _without_round_trip(annotations: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in annotations.items() if k not in _ROUND_TRIP}


def _is_cpu_utilization(m: MetricSpec) -> bool:
    resource = m.resource
    return (
        m.type == "Resource"
        and resource is not None
        and resource.name == "cpu"
        and resource.target.average_utilization is not None
    )


def _cpu_target(metrics: list[MetricSpec]) -> int | None:
    for m in metrics:
        if _is_cpu_utilization(m):
            assert m.resource is not None
            return m.resource.target.average_utilization
    return None


def _cpu_current_index(metrics: list[MetricStatus]) -> int | None:
    """Kubernetes takes the last cpu status that has an averageUtilization."""
    found = None
    for i, m in enumerate(metrics):
        r = m.resource
        if (
            m.type == "Resource"
            and r is not None
            and r.name == "cpu"
            and r.current.average_utilization is not None
        ):
            found = i
    return found


def _cpu_current(metrics: list[MetricStatus]) -> int | None:
    i = _cpu_current_index(metrics)
    if i is None:
        return None
    resource = metrics[i].resource
    assert resource is not None
    return resource.current.average_utilization


def _with_cpu_target(metrics: list[MetricSpec], target: int | None) -> list[MetricSpec]:
    """`metrics` with v1's cpu target in the first cpu utilization metric (removed when v1
    has no target; appended when there is none, as Kubernetes appends it to the annotated
    other metrics)."""
    out: list[MetricSpec] = []
    placed = False
    for m in metrics:
        if placed or not _is_cpu_utilization(m):
            out.append(m)
            continue
        placed = True
        if target is not None:
            out.append(_retarget(m, target))
    if target is not None and not placed:
        out.extend(_v2_metrics(target))
    return out


def _retarget(m: MetricSpec, target: int) -> MetricSpec:
    assert m.resource is not None
    resource_target = msgspec.structs.replace(m.resource.target, average_utilization=target)
    resource = msgspec.structs.replace(m.resource, target=resource_target)
    return msgspec.structs.replace(m, resource=resource)


def _with_cpu_current(metrics: list[MetricStatus], cpu: int | None) -> list[MetricStatus]:
    """The annotated current metrics, with v1's current cpu utilization where it differs."""
    i = _cpu_current_index(metrics)
    if cpu is None or i is None:
        return metrics if i is not None or cpu is None else [*metrics, *_v2_current(cpu)]
    resource = metrics[i].resource
    assert resource is not None
    if resource.current.average_utilization == cpu:
        return metrics
    value = msgspec.structs.replace(resource.current, average_utilization=cpu)
    changed = msgspec.structs.replace(
        metrics[i], resource=msgspec.structs.replace(resource, current=value)
    )
    return [*metrics[:i], changed, *metrics[i + 1 :]]


def _v2_metrics(cpu_target: int | None) -> list[MetricSpec]:
    if cpu_target is None:
        return []
    target = MetricTarget(type="Utilization", average_utilization=cpu_target)
    return [MetricSpec(type="Resource", resource=ResourceMetricSource(name="cpu", target=target))]


def _v2_current(cpu: int | None) -> list[MetricStatus]:
    if cpu is None:
        return []
    current = MetricValueStatus(average_utilization=cpu)
    return [
        MetricStatus(type="Resource", resource=ResourceMetricStatus(name="cpu", current=current))
    ]


def _annotate(annotations: dict[str, str], key: str, value: object) -> None:
    if value:
        annotations[key] = msgspec.json.encode(value).decode()


def _unannotate(
    annotations: dict[str, str], key: str, tp: type[T], *, go_keys: bool = False
) -> T | None:
    """The annotation `key` (removed from `annotations`) decoded as `tp`; None when absent or
    undecodable. `go_keys`: Kubernetes writes its behavior annotation from its internal type,
    whose JSON keys are Go's field names (`ScaleUp`, `PeriodSeconds`) and whose unset fields
    are null; Go reads keys case-insensitively, so those are accepted as well."""
    raw = annotations.pop(key, None)
    if raw is None:
        return None
    try:
        if go_keys:
            return msgspec.convert(_go_keys(msgspec.json.decode(raw)), tp)
        return msgspec.json.decode(raw, type=tp)
    except msgspec.DecodeError:
        return None


def _go_keys(doc: object) -> object:
    """JSON keys with a lower-case first letter, nulls dropped."""
    if isinstance(doc, dict):
        return {k[:1].lower() + k[1:]: _go_keys(v) for k, v in doc.items() if v is not None}
    if isinstance(doc, list):
        return [_go_keys(v) for v in doc]
    return doc
