"""HorizontalPodAutoscaler: scale a target through /scale toward its resource metric targets.

The API server stores every HPA once, as autoscaling/v2, and serves v1 as a converted view of
the same object, so one informer on v2 sees every HPA however it was created; the controller
works and writes status in v2 terms. Keys are "NS/NAME".

A sync (every `sync_period`, 15 s, as Kubernetes):

1. reads the target's Scale (replicas and label selector);
2. if replicas is 0 and minReplicas is not, scaling is disabled; above max or below min it
   goes straight to max/min; otherwise each Resource metric (cpu, memory; Utilization of
   requests or AverageValue) proposes a count from pod metrics (`_hpa_calc.calc_replicas`),
   and the largest proposal wins;
3. normalizes it with the behavior (stabilization windows, the down window 300 s unless
   configured, rate-limit policies) and min/max;
4. PUTs the new replicas to /scale (event SuccessfulRescale) and writes status:
   currentReplicas, desiredReplicas, currentMetrics, lastScaleTime and the conditions
   AbleToScale, ScalingActive and ScalingLimited.

Pod metrics come from a `MetricsSource`: `ClientMetricsSource` reads metrics.k8s.io through
the API server, `StaticMetricsSource` serves values set by hand (tests, clusters without a
metrics pipeline). Pods/Object/External metrics are not implemented (ScalingActive=False,
InvalidMetricSourceType, when they are the only metrics).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from kcore.api import quantity, registry, timeutil
from kcore.api.autoscaling import (
    HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerV2,
    MetricSpec,
    MetricStatus,
    MetricTarget,
    MetricValueStatus,
    ResourceMetricSource,
    ResourceMetricStatus,
)
from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.api.labels import parse
from kcore.api.metrics import PodMetrics
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.rest import REQUEST_FAILED, Client
from kcore.controllers import _hpa_calc as calc
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
DEFAULT_SYNC_PERIOD = 15.0
DEFAULT_METRICS = [
    MetricSpec(
        type="Resource",
        resource=ResourceMetricSource(
            name="cpu", target=MetricTarget(type="Utilization", average_utilization=80)
        ),
    )
]
"""What an HPA without metrics targets (the API server defaults them so; kept for objects
written before it did)."""


class MetricsSource(Protocol):
    async def pod_usage(self, namespace: str, selector: str, resource: str) -> dict[str, int]:
        """Usage of `resource` per pod name (milli-units, summed over containers)."""
        ...


class ClientMetricsSource:
    """metrics.k8s.io PodMetrics through the API server (as kube-controller-manager reads)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def pod_usage(self, namespace: str, selector: str, resource: str) -> dict[str, int]:
        """Raises MetricError when metrics.k8s.io cannot answer (not served, unreachable)."""
        try:
            page = await self.client.list(PodMetrics, namespace=namespace, label_selector=selector)
        except REQUEST_FAILED as e:
            raise calc.MetricError(
                f"unable to get metrics for resource {resource}: unable to fetch metrics "
                f"from resource metrics API: {e}"
            ) from e
        return {m.metadata.name: _usage(m, resource) for m in page.items}


def _usage(metrics: PodMetrics, resource: str) -> int:
    return sum(quantity.milli_value(c.usage.get(resource, 0)) for c in metrics.containers)


@dataclass
class StaticMetricsSource:
    """Usage set by hand: {(namespace, pod): {resource: milli-units}}; unset pods have none."""

    values: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def set(self, namespace: str, pod: str, resource: str, milli: int) -> None:
        self.values.setdefault((namespace, pod), {})[resource] = milli

    def clear(self) -> None:
        self.values.clear()

    async def pod_usage(self, namespace: str, selector: str, resource: str) -> dict[str, int]:
        return {
            pod: usage[resource]
            for (ns, pod), usage in self.values.items()
            if ns == namespace and resource in usage
        }


@dataclass(slots=True)
class _Outcome:
    """What a sync decided, for status."""

    desired: int
    current_metrics: list[MetricStatus] = field(default_factory=list)
    active: tuple[str, str, str] = (
        "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count"
    )  # fmt: skip
    limited: tuple[str, str, str] = (
        "False", "DesiredWithinRange", "the desired count is within the acceptable range"
    )  # fmt: skip
    reason: str = ""


class HorizontalPodAutoscalerController(QueueController):
    NAME = "horizontalpodautoscaling"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        metrics: MetricsSource | None = None,
        sync_period: float = DEFAULT_SYNC_PERIOD,
        downscale_stabilization: int = calc.DEFAULT_DOWN_WINDOW,
        tolerance: float = calc.DEFAULT_TOLERANCE,
        wall: Callable[[], float] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.metrics: MetricsSource = metrics or ClientMetricsSource(client)
        self.sync_period = sync_period
        self.downscale_stabilization = downscale_stabilization
        self.tolerance = tolerance
        self.wall = wall
        self.histories: dict[str, calc.History] = {}
        self.hpas = factory.informer(HorizontalPodAutoscalerV2)
        self.pods = factory.informer(Pod)
        self.hpas.add_event_handler(
            on_add=lambda obj: self.queue.add(_key(obj)),
            on_update=lambda old, new: self.queue.add(_key(new)),
            on_delete=lambda obj: self._forget(_key(obj)),
        )

    def _forget(self, key: str) -> None:
        self.histories.pop(key, None)

    def _now_string(self) -> str:
        return timeutil.from_timestamp(self.wall()) if self.wall else timeutil.now()

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.histories.pop(key, None)
            return
        try:
            await self._reconcile(key, hpa)
        finally:
            self.queue.add_after(key, self.sync_period)

    async def _reconcile(self, key: str, hpa: HorizontalPodAutoscalerV2) -> None:
        ns = hpa.metadata.namespace
        try:
            info = _target_info(hpa)
            scale = await self.client.get_scale(info, hpa.spec.scale_target_ref.name, namespace=ns)
        except (StatusError, LookupError) as e:
            await self._fail(hpa, "FailedGetScale", str(e))
            return
        spec_replicas = int(scale.get("spec", {}).get("replicas", 0))
        current = int(scale.get("status", {}).get("replicas", 0))
        outcome = await self._decide(key, hpa, spec_replicas, scale)
        rescaled = False
        if outcome.desired != spec_replicas:
            try:
                await self.client.scale(
                    info, hpa.spec.scale_target_ref.name, outcome.desired, namespace=ns
                )
            except StatusError as e:
                await self._fail(hpa, "FailedUpdateScale", str(e))
                return
            rescaled = True
            self._history(key).record_scale(self.queue.clock.now(), spec_replicas, outcome.desired)
            self.recorder.event(
                hpa,
                "Normal",
                "SuccessfulRescale",
                f"New size: {outcome.desired}; reason: {outcome.reason}",
            )
        await self._write_status(hpa, current, outcome, rescaled)

    def _history(self, key: str) -> calc.History:
        return self.histories.setdefault(key, calc.History())

    async def _decide(
        self, key: str, hpa: HorizontalPodAutoscalerV2, spec_replicas: int, scale: Any
    ) -> _Outcome:
        lo, hi = hpa.spec.min_replicas or 1, hpa.spec.max_replicas
        bounded = _out_of_bounds(spec_replicas, lo, hi)
        if bounded is not None:
            return bounded
        selector = str(scale.get("status", {}).get("selector", ""))
        proposal, statuses, error = await self._propose(hpa, spec_replicas, selector)
        if proposal is None:
            return _Outcome(spec_replicas, statuses, active=("False", *error))
        norm = self._normalize(key, hpa, proposal, spec_replicas)
        limited = WITHIN_RANGE
        if norm.limited_reason != "DesiredWithinRange":
            message = f"the desired replica count is limited ({norm.limited_reason})"
            limited = ("True", norm.limited_reason, message)
        reason = "All metrics below target"
        if norm.replicas > spec_replicas:
            name = next((m.resource.name for m in statuses if m.resource is not None), "cpu")
            reason = f"{name} resource utilization (percentage of request) above target"
        return _Outcome(norm.replicas, statuses, limited=limited, reason=reason)

    def _normalize(
        self, key: str, hpa: HorizontalPodAutoscalerV2, proposal: int, current: int
    ) -> calc.Normalized:
        behavior = calc.Behavior.of(hpa.spec.behavior, self.downscale_stabilization)
        now = self.queue.clock.now()
        if key not in self.histories:  # first sight: the current size counts as recommended
            self.histories[key] = calc.History(recommendations=[(now, current)])
        history = self.histories[key]
        history.prune(now, max(behavior.longest_window, 600))
        lo, hi = hpa.spec.min_replicas or 1, hpa.spec.max_replicas
        return calc.normalize(
            history, behavior, desired=proposal, current=current,
            min_replicas=lo, max_replicas=hi, now=now,
        )  # fmt: skip

    async def _propose(
        self, hpa: HorizontalPodAutoscalerV2, current: int, selector: str
    ) -> tuple[int | None, list[MetricStatus], tuple[str, str]]:
        """The largest proposal over the metrics; or None with the reason of the failure."""
        best: int | None = None
        statuses: list[MetricStatus] = []
        error = (
            "InvalidMetricSourceType",
            "no supported metric (Resource cpu/memory) is configured",
        )
        pods = self._pods(hpa.metadata.namespace, selector)
        for metric in hpa.spec.metrics or DEFAULT_METRICS:
            try:
                proposal, status = await self._resource_proposal(
                    hpa, metric, pods, current, selector
                )
            except calc.MetricError as e:
                error = ("FailedGetResourceMetric", str(e))
                self.recorder.event(hpa, "Warning", "FailedGetResourceMetric", str(e))
                return None, statuses, error
            if proposal is None:
                continue
            statuses.append(status)
            best = proposal if best is None else max(best, proposal)
        return best, statuses, error

    def _pods(self, namespace: str, selector: str) -> list[Pod]:
        try:
            sel = parse(selector)
        except ValueError:
            return []
        if sel.empty:
            return []  # an empty selector would select every pod: refuse, as Kubernetes does
        return self.pods.list(namespace, sel)

    async def _resource_proposal(
        self,
        hpa: HorizontalPodAutoscalerV2,
        metric: MetricSpec,
        pods: list[Pod],
        current: int,
        selector: str,
    ) -> tuple[int | None, MetricStatus]:
        source = metric.resource
        if metric.type != "Resource" or source is None:
            return None, MetricStatus()
        target = source.target
        utilization = target.type == "Utilization"
        if utilization:
            goal = target.average_utilization or 0
        elif target.type == "AverageValue" and target.average_value is not None:
            goal = quantity.milli_value(target.average_value)
        else:
            raise calc.MetricError(f"invalid target for resource {source.name}: {target.type}")
        usage = await self.metrics.pod_usage(hpa.metadata.namespace, selector, source.name)
        samples = [_sample(p, source.name) for p in pods]
        proposal = calc.calc_replicas(
            samples,
            usage,
            target=goal,
            current_replicas=current,
            utilization=utilization,
            cpu=source.name == "cpu",
            tolerance=self.tolerance,
        )
        value = (
            MetricValueStatus(
                average_utilization=proposal.current,
                average_value=_milli(_average_usage(usage, samples)),
            )
            if utilization
            else MetricValueStatus(average_value=_milli(proposal.current))
        )
        status = MetricStatus(
            type="Resource", resource=ResourceMetricStatus(name=source.name, current=value)
        )
        return proposal.replicas, status

    # -- status ------------------------------------------------------------------------------

    async def _fail(self, hpa: HorizontalPodAutoscalerV2, reason: str, message: str) -> None:
        self.recorder.event(hpa, "Warning", reason, message)
        conds = _set_condition(
            hpa.status.conditions, "AbleToScale", "False", reason, message, self._now_string()
        )
        status = msgspec.structs.replace(
            hpa.status, conditions=conds, observed_generation=hpa.metadata.generation
        )
        await self._put_status(hpa, status)

    async def _write_status(
        self,
        hpa: HorizontalPodAutoscalerV2,
        current: int,
        outcome: _Outcome,
        rescaled: bool,
    ) -> None:
        now = self._now_string()
        able = (
            ("SucceededRescale", "the HPA controller was able to update the target scale")
            if rescaled
            else ("ReadyForNewScale", "recommended size matches current size")
        )
        conds = _set_condition(hpa.status.conditions, "AbleToScale", "True", *able, now)
        conds = _set_condition(conds, "ScalingActive", *outcome.active, now)
        conds = _set_condition(conds, "ScalingLimited", *outcome.limited, now)
        status = msgspec.structs.replace(
            hpa.status,
            observed_generation=hpa.metadata.generation,
            current_replicas=current,
            desired_replicas=outcome.desired,
            current_metrics=outcome.current_metrics,
            conditions=conds,
            last_scale_time=now if rescaled else hpa.status.last_scale_time,
        )
        await self._put_status(hpa, status)

    async def _put_status(self, hpa: HorizontalPodAutoscalerV2, status: Any) -> None:
        if status == hpa.status:
            return
        try:
            await self.client.update_status(msgspec.structs.replace(hpa, status=status))
        except StatusError as e:
            if e.code not in (404, 409):
                raise


Condition = tuple[str, str, str]  # status, reason, message
WITHIN_RANGE: Condition = (
    "False", "DesiredWithinRange", "the desired count is within the acceptable range"
)  # fmt: skip
DISABLED: Condition = (
    "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"
)  # fmt: skip
TOO_MANY: Condition = (
    "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count"
)  # fmt: skip
TOO_FEW: Condition = (
    "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count"
)  # fmt: skip


def _out_of_bounds(replicas: int, lo: int, hi: int) -> _Outcome | None:
    """Kubernetes' shortcuts before any metric is read: scaling off at 0, clamp to min/max."""
    if replicas == 0 and lo != 0:
        return _Outcome(0, active=DISABLED)
    if replicas > hi:
        return _Outcome(
            hi, reason="Current number of replicas above Spec.MaxReplicas", limited=TOO_MANY
        )
    if replicas < lo:
        return _Outcome(
            lo, reason="Current number of replicas below Spec.MinReplicas", limited=TOO_FEW
        )
    return None


def _key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def _target_info(hpa: HorizontalPodAutoscalerV2) -> registry.ResourceInfo:
    ref = hpa.spec.scale_target_ref
    info = registry.by_kind(ref.api_version or "apps/v1", ref.kind)
    if info is None or "scale" not in info.subresources:
        raise LookupError(f"{ref.api_version} {ref.kind} has no scale subresource")
    return info


def _sample(pod: Pod, resource: str) -> calc.PodSample:
    ignored = bool(pod.metadata.deletion_timestamp) or pod.status.phase in ("Succeeded", "Failed")
    ready = pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions
    )
    requests = [
        c.resources.requests.get(resource) if c.resources else None for c in pod.spec.containers
    ]
    request = (
        None
        if any(r is None for r in requests)
        else sum(quantity.milli_value(r) for r in requests if r is not None)
    )
    return calc.PodSample(pod.metadata.name, ready=ready, ignored=ignored, request=request)


def _average_usage(usage: dict[str, int], samples: list[calc.PodSample]) -> int:
    counted = [usage[s.name] for s in samples if s.name in usage and not s.ignored]
    return sum(counted) // len(counted) if counted else 0


def _milli(value: int) -> str:
    return str(value // 1000) if value % 1000 == 0 else f"{value}m"


def _set_condition(
    conds: list[HorizontalPodAutoscalerCondition],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
) -> list[HorizontalPodAutoscalerCondition]:
    old = next((c for c in conds if c.type == type_), None)
    since = old.last_transition_time if old is not None and old.status == status else now
    new = HorizontalPodAutoscalerCondition(
        type=type_, status=status, reason=reason, message=message, last_transition_time=since
    )
    if old is None:
        return [*conds, new]
    return [new if c.type == type_ else c for c in conds]
