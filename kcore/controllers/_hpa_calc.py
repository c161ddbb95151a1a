"""The HorizontalPodAutoscaler's arithmetic, as pure functions (Kubernetes' replica_calculator.go
and the behavior part of horizontal.go).

`calc_replicas` turns per-pod usage into a replica proposal for one metric:
`ceil(ready pods * usage / target)`, unchanged inside the tolerance (10%). Pods being deleted
or finished are ignored; for CPU, pods that are not Ready are "unready". When some pods have
no metrics, or (scaling up) some are unready, Kubernetes recomputes conservatively: missing
pods count as using 100% of their request (or the target) when scaling down and 0 when
scaling up, unready pods count as 0 when scaling up; if that flips the direction or lands
inside the tolerance the replica count stays. Simplifications, stated: "unready" is just "not
Ready" (no CPU initialization period, no metric-timestamp check); requests are the sum over
the pod's regular containers.

`Behavior` and `normalize` apply the stabilization windows (scale down to the highest
recommendation of the last window, 300 s by default; scale up to the lowest, 0 s) and the
scaling policies (rate limits per period, selectPolicy Max/Min/Disabled), then min/max.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kcore.api.autoscaling import HorizontalPodAutoscalerBehavior, HPAScalingPolicy, HPAScalingRules

DEFAULT_TOLERANCE = 0.1
DEFAULT_DOWN_WINDOW = 300


class MetricError(Exception):
    """The metric cannot produce a proposal (no pods, no metrics, a missing request)."""


@dataclass(frozen=True, slots=True)
class PodSample:
    """What the calculation needs of one pod matching the target's selector."""

    name: str
    ready: bool = True
    ignored: bool = False  # being deleted, or Succeeded/Failed
    request: int | None = None  # milli-units of the resource, summed over containers


@dataclass(frozen=True, slots=True)
class Proposal:
    replicas: int
    current: int  # utilization percent, or average value in milli-units
    ready_pods: int


def calc_replicas(
    pods: Sequence[PodSample],
    usage: Mapping[str, int],
    *,
    target: int,
    current_replicas: int,
    utilization: bool,
    cpu: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Proposal:
    """The proposal for one resource metric (target: percent, or milli-units per pod)."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing = _group(pods, usage, cpu=cpu)
    if not ready:
        raise MetricError("did not receive metrics for any ready pods")
    requests = _requests(pods) if utilization else {}
    ratio, current = _ratio(ready, requests, target, utilization)
    if not missing and not unready:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current_replicas, current, len(ready))
        return Proposal(math.ceil(ratio * len(ready)), current, len(ready))
    values = dict(ready)
    if ratio < 1.0:
        for name in missing:
            values[name] = requests[name] * max(100, target) // 100 if utilization else target
    elif ratio > 1.0:
        values.update(dict.fromkeys(missing, 0))
    if ratio > 1.0:
        values.update(dict.fromkeys(unready, 0))
    new_ratio, _ = _ratio(values, requests, target, utilization)
    flipped = (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio)
    if abs(1.0 - new_ratio) <= tolerance or flipped:
        return Proposal(current_replicas, current, len(ready))
    replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and replicas > current_replicas) or (
        new_ratio > 1.0 and replicas < current_replicas
    ):
        replicas = current_replicas
    return Proposal(replicas, current, len(ready))


def _group(
    pods: Sequence[PodSample], usage: Mapping[str, int], *, cpu: bool
) -> tuple[dict[str, int], list[str], list[str]]:
    ready: dict[str, int] = {}
    unready: list[str] = []
    missing: list[str] = []
    for pod in pods:
        if pod.ignored:
            continue
        if pod.name not in usage:
            missing.append(pod.name)
        elif cpu and not pod.ready:
            unready.append(pod.name)
        else:
            ready[pod.name] = usage[pod.name]
    return ready, unready, missing


def _requests(pods: Sequence[PodSample]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pod in pods:
        if pod.ignored:
            continue
        if not pod.request:
            raise MetricError(f"missing request for the resource in pod {pod.name}")
        out[pod.name] = pod.request
    return out


def _ratio(
    values: Mapping[str, int], requests: Mapping[str, int], target: int, utilization: bool
) -> tuple[float, int]:
    if utilization:
        total_request = sum(requests[name] for name in values)
        percent = sum(values.values()) * 100 // total_request
        return percent / target, percent
    average = sum(values.values()) // len(values)
    return sum(values.values()) / len(values) / target, average


# -- behavior: stabilization and rate limits ----------------------------------------------------


def _default_rules(up: bool, down_window: int) -> HPAScalingRules:
    if up:
        return HPAScalingRules(
            stabilization_window_seconds=0,
            select_policy="Max",
            policies=[
                HPAScalingPolicy(type="Pods", value=4, period_seconds=15),
                HPAScalingPolicy(type="Percent", value=100, period_seconds=15),
            ],
        )
    return HPAScalingRules(
        stabilization_window_seconds=down_window,
        select_policy="Max",
        policies=[HPAScalingPolicy(type="Percent", value=100, period_seconds=15)],
    )


def _fill(rules: HPAScalingRules | None, default: HPAScalingRules) -> HPAScalingRules:
    if rules is None:
        return default
    return HPAScalingRules(
        stabilization_window_seconds=default.stabilization_window_seconds
        if rules.stabilization_window_seconds is None
        else rules.stabilization_window_seconds,
        select_policy=rules.select_policy or default.select_policy,
        policies=rules.policies or default.policies,
    )


@dataclass(frozen=True, slots=True)
class Behavior:
    up: HPAScalingRules
    down: HPAScalingRules

    @classmethod
    def of(cls, behavior: HorizontalPodAutoscalerBehavior | None, down_window: int) -> Behavior:
        """The HPA's behavior with Kubernetes' defaults filled in."""
        up_default, down_default = (
            _default_rules(True, down_window),
            _default_rules(False, down_window),
        )
        if behavior is None:
            return cls(up_default, down_default)
        return cls(_fill(behavior.scale_up, up_default), _fill(behavior.scale_down, down_default))

    @property
    def longest_window(self) -> int:
        return max(
            self.up.stabilization_window_seconds or 0, self.down.stabilization_window_seconds or 0
        )


@dataclass(slots=True)
class History:
    """One HPA's memory: recent recommendations and scale events (monotonic seconds)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    ups: list[tuple[float, int]] = field(default_factory=list)
    downs: list[tuple[float, int]] = field(default_factory=list)

    def record_scale(self, now: float, old: int, new: int) -> None:
        if new > old:
            self.ups.append((now, new - old))
        elif new < old:
            self.downs.append((now, old - new))

    def prune(self, now: float, keep: float) -> None:
        self.recommendations = [r for r in self.recommendations if r[0] > now - keep]
        self.ups = [e for e in self.ups if e[0] > now - keep]
        self.downs = [e for e in self.downs if e[0] > now - keep]


@dataclass(frozen=True, slots=True)
class Normalized:
    replicas: int
    stabilized: int
    limited_reason: str  # "DesiredWithinRange" when the rate limits and min/max did not bite


def stabilize(history: History, behavior: Behavior, desired: int, current: int, now: float) -> int:
    """Kubernetes' stabilizeRecommendationWithBehaviors; records `desired` in the history."""
    up_cut = now - (behavior.up.stabilization_window_seconds or 0)
    down_cut = now - (behavior.down.stabilization_window_seconds or 0)
    up, down = desired, desired
    for stamp, rec in history.recommendations:
        if stamp > up_cut:
            up = min(up, rec)
        if stamp > down_cut:
            down = max(down, rec)
    history.recommendations.append((now, desired))
    return min(max(current, up), down)


def normalize(
    history: History,
    behavior: Behavior,
    *,
    desired: int,
    current: int,
    min_replicas: int,
    max_replicas: int,
    now: float,
) -> Normalized:
    """Stabilize, then rate-limit and clamp to [min, max] (the reason says what bit)."""
    stabilized = stabilize(history, behavior, desired, current, now)
    if stabilized > current:
        limit = max(_up_limit(history, behavior.up, current, now), current)
        cap, reason = (
            (limit, "ScaleUpLimit") if max_replicas > limit else (max_replicas, "TooManyReplicas")
        )
        if stabilized > cap:
            return Normalized(cap, stabilized, reason)
    elif stabilized < current:
        limit = min(_down_limit(history, behavior.down, current, now), current)
        floor, reason = (
            (limit, "ScaleDownLimit") if min_replicas < limit else (min_replicas, "TooFewReplicas")
        )
        if stabilized < floor:
            return Normalized(floor, stabilized, reason)
    return Normalized(stabilized, stabilized, "DesiredWithinRange")


def _in_period(events: list[tuple[float, int]], now: float, period: int) -> int:
    return sum(change for stamp, change in events if stamp > now - period)


def _up_limit(history: History, rules: HPAScalingRules, current: int, now: float) -> int:
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = (
            current
            - _in_period(history.ups, now, policy.period_seconds)
            + _in_period(history.downs, now, policy.period_seconds)
        )
        if policy.type == "Pods":
            proposals.append(start + policy.value)
        else:
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
    return (min if rules.select_policy == "Min" else max)(proposals, default=current)


def _down_limit(history: History, rules: HPAScalingRules, current: int, now: float) -> int:
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = (
            current
            + _in_period(history.downs, now, policy.period_seconds)
            - _in_period(history.ups, now, policy.period_seconds)
        )
        if policy.type == "Pods":
            proposals.append(start - policy.value)
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    return (max if rules.select_policy == "Min" else min)(proposals, default=current)
