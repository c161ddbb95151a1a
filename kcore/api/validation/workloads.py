"""Workload validation: Deployment, ReplicaSet, ReplicationController, DaemonSet and Job
(selectors matching template labels, rolling update bounds, immutable selectors) plus
HorizontalPodAutoscaler and PodDisruptionBudget."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kcore.api import apps, autoscaling, batch, codec, core, names, policy
from kcore.api.errors import Cause
from kcore.api.meta import LabelSelector
from kcore.api.validation.field import (
    IMMUTABLE,
    forbidden,
    immutable,
    invalid,
    non_negative,
    not_supported,
    one_of,
    positive,
    required,
)
from kcore.api.validation.objectmeta import selector_matches, validate_label_selector
from kcore.api.validation.pod import validate_pod_spec

PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


def _validate_template(
    template: core.PodTemplateSpec | None,
    selector_labels: Mapping[str, str] | LabelSelector | None,
    path: str,
    restart_policies: tuple[str, ...],
) -> list[Cause]:
    if template is None:
        return [required(path)]
    causes = names.validate_labels(template.metadata.labels, f"{path}.metadata.labels")
    causes += names.validate_annotations(
        template.metadata.annotations, f"{path}.metadata.annotations"
    )
    if selector_labels is not None and not _template_selected(
        selector_labels, template.metadata.labels
    ):
        detail = "`selector` does not match template `labels`"
        causes.append(invalid(f"{path}.metadata.labels", template.metadata.labels, detail))
    causes += validate_pod_spec(template.spec, f"{path}.spec")
    policy_path = f"{path}.spec.restartPolicy"
    causes = [c for c in causes if c.field != policy_path]
    if template.spec.restart_policy not in restart_policies:
        causes.append(not_supported(policy_path, template.spec.restart_policy, restart_policies))
    return causes


def _template_selected(
    selector: Mapping[str, str] | LabelSelector, template: Mapping[str, str]
) -> bool:
    if isinstance(selector, LabelSelector):
        return selector_matches(selector, template)
    return all(template.get(k) == v for k, v in selector.items())


def _validate_selector(selector: LabelSelector | None, path: str) -> list[Cause]:
    if selector is None:
        return [required(path)]
    causes = validate_label_selector(selector, path)
    if not selector.match_labels and not selector.match_expressions:
        causes.append(invalid(path, selector, "empty selector is invalid for deployment"))
    return causes


def _selector_immutable(new: LabelSelector | None, old: LabelSelector | None) -> list[Cause]:
    return immutable("spec.selector", new, old) if old is not None else []


def _intstr_percent(value: int | str | None, path: str) -> tuple[list[Cause], float]:
    if value is None:
        return [], 0.0
    if isinstance(value, int):
        return non_negative(path, value), float(value)
    if not re.fullmatch(r"[0-9]+%", value):
        return [invalid(path, value, PERCENT_MESSAGE)], 0.0
    percent = int(value[:-1])
    if percent > 100:
        return [invalid(path, value, "must not be greater than 100%")], float(percent)
    return [], float(percent)


def _validate_rolling(
    max_unavailable: int | str | None, max_surge: int | str | None, path: str
) -> list[Cause]:
    unavailable_causes, unavailable = _intstr_percent(max_unavailable, f"{path}.maxUnavailable")
    surge_causes, surge = _intstr_percent(max_surge, f"{path}.maxSurge")
    causes = unavailable_causes + surge_causes
    if not causes and unavailable == 0 and surge == 0:
        detail = "may not be 0 when `maxSurge` is 0"
        causes.append(invalid(f"{path}.maxUnavailable", max_unavailable, detail))
    return causes


def validate_deployment(d: apps.Deployment, old: apps.Deployment | None) -> list[Cause]:
    spec = d.spec
    causes = non_negative("spec.replicas", spec.replicas)
    causes += _validate_selector(spec.selector, "spec.selector")
    causes += _validate_template(spec.template, spec.selector, "spec.template", ("Always",))
    causes += one_of("spec.strategy.type", spec.strategy.type, ("Recreate", "RollingUpdate"))
    rolling = spec.strategy.rolling_update
    if spec.strategy.type == "Recreate" and rolling is not None:
        detail = "may not be specified when strategy `type` is 'Recreate'"
        causes.append(forbidden("spec.strategy.rollingUpdate", detail))
    elif rolling is not None:
        causes += _validate_rolling(
            rolling.max_unavailable, rolling.max_surge, "spec.strategy.rollingUpdate"
        )
    causes += non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    causes += non_negative("spec.revisionHistoryLimit", spec.revision_history_limit)
    deadline = spec.progress_deadline_seconds
    if deadline is not None and deadline <= spec.min_ready_seconds:
        causes.append(
            invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
        )
    if old is not None:
        causes += _selector_immutable(spec.selector, old.spec.selector)
    return causes


def validate_replica_set(rs: apps.ReplicaSet, old: apps.ReplicaSet | None) -> list[Cause]:
    causes = non_negative("spec.replicas", rs.spec.replicas)
    causes += non_negative("spec.minReadySeconds", rs.spec.min_ready_seconds)
    causes += _validate_selector(rs.spec.selector, "spec.selector")
    causes += _validate_template(rs.spec.template, rs.spec.selector, "spec.template", ("Always",))
    if old is not None:
        causes += _selector_immutable(rs.spec.selector, old.spec.selector)
    return causes


def validate_replication_controller(
    rc: core.ReplicationController, old: core.ReplicationController | None
) -> list[Cause]:
    causes = non_negative("spec.replicas", rc.spec.replicas)
    if not rc.spec.selector:
        causes.append(required("spec.selector"))
    causes += names.validate_labels(rc.spec.selector, "spec.selector")
    causes += _validate_template(rc.spec.template, rc.spec.selector, "spec.template", ("Always",))
    return causes


def validate_daemon_set(ds: apps.DaemonSet, old: apps.DaemonSet | None) -> list[Cause]:
    causes = _validate_selector(ds.spec.selector, "spec.selector")
    causes += _validate_template(ds.spec.template, ds.spec.selector, "spec.template", ("Always",))
    strategy = ds.spec.update_strategy
    causes += one_of("spec.updateStrategy.type", strategy.type, ("OnDelete", "RollingUpdate"))
    if strategy.rolling_update is not None and strategy.type == "RollingUpdate":
        ru = strategy.rolling_update
        causes += _validate_rolling(
            ru.max_unavailable, ru.max_surge, "spec.updateStrategy.rollingUpdate"
        )
    causes += non_negative("spec.revisionHistoryLimit", ds.spec.revision_history_limit)
    if old is not None:
        causes += _selector_immutable(ds.spec.selector, old.spec.selector)
    return causes


def validate_job(job: batch.Job, old: batch.Job | None) -> list[Cause]:
    spec = job.spec
    causes = non_negative("spec.parallelism", spec.parallelism)
    causes += non_negative("spec.completions", spec.completions)
    causes += non_negative("spec.backoffLimit", spec.backoff_limit)
    causes += positive("spec.activeDeadlineSeconds", spec.active_deadline_seconds)
    causes += non_negative("spec.ttlSecondsAfterFinished", spec.ttl_seconds_after_finished)
    mode = spec.completion_mode or "NonIndexed"
    causes += one_of("spec.completionMode", mode, ("NonIndexed", "Indexed"))
    if mode == "Indexed" and spec.completions is None:
        causes.append(required("spec.completions", "when completion mode is Indexed"))
    if spec.selector is not None:
        causes += validate_label_selector(spec.selector, "spec.selector")
    selector = spec.selector if spec.selector is not None else None
    causes += _validate_job_template(spec.template, selector)
    if old is not None:
        causes += _validate_job_update(spec, old.spec)
    return causes


def _validate_job_template(
    template: core.PodTemplateSpec, selector: LabelSelector | None
) -> list[Cause]:
    return _validate_template(template, selector, "spec.template", ("OnFailure", "Never"))


def _validate_job_update(new: batch.JobSpec, old: batch.JobSpec) -> list[Cause]:
    causes = immutable("spec.selector", new.selector, old.selector)
    causes += immutable("spec.completionMode", new.completion_mode, old.completion_mode)
    if (new.completion_mode or "NonIndexed") == "NonIndexed":
        causes += immutable("spec.completions", new.completions, old.completions)
    if not old.suspend and new.template != old.template:
        causes.append(invalid("spec.template", new.template, IMMUTABLE))
    return causes


def _validate_hpa_common(
    min_replicas: int | None, max_replicas: int, kind: str, name: str
) -> list[Cause]:
    causes: list[Cause] = []
    if min_replicas is not None and min_replicas < 1:
        causes.append(
            invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1")
        )
    if max_replicas < 1:
        causes.append(invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    elif min_replicas is not None and max_replicas < min_replicas:
        causes.append(
            invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    if not kind:
        causes.append(required("spec.scaleTargetRef.kind"))
    if not name:
        causes.append(required("spec.scaleTargetRef.name"))
    return causes


def validate_hpa_v1(hpa: autoscaling.HorizontalPodAutoscaler, old: Any) -> list[Cause]:
    spec = hpa.spec
    ref = spec.scale_target_ref
    causes = _validate_hpa_common(spec.min_replicas, spec.max_replicas, ref.kind, ref.name)
    target = spec.target_cpu_utilization_percentage
    if target is not None and target < 1:
        causes.append(
            invalid(
                "spec.targetCPUUtilizationPercentage", target, "must be greater than or equal to 1"
            )
        )
    return causes


METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
TARGET_TYPES = ("AverageValue", "Utilization", "Value")


def validate_hpa_v2(hpa: autoscaling.HorizontalPodAutoscalerV2, old: Any) -> list[Cause]:
    spec = hpa.spec
    ref = spec.scale_target_ref
    causes = _validate_hpa_common(spec.min_replicas, spec.max_replicas, ref.kind, ref.name)
    for i, metric in enumerate(spec.metrics):
        causes += _validate_metric(metric, f"spec.metrics[{i}]")
    return causes


def _validate_metric(metric: autoscaling.MetricSpec, path: str) -> list[Cause]:
    causes = one_of(f"{path}.type", metric.type, METRIC_TYPES)
    if causes:
        return causes
    field_name = metric.type[0].lower() + metric.type[1:]
    source = getattr(
        metric, "container_resource" if metric.type == "ContainerResource" else field_name
    )
    if source is None:
        return [
            required(
                f"{path}.{field_name}", "must populate information for the given metric source"
            )
        ]
    target: autoscaling.MetricTarget = source.target
    causes += one_of(f"{path}.{field_name}.target.type", target.type, TARGET_TYPES)
    if target.type == "Utilization" and target.average_utilization is None:
        causes.append(
            required(
                f"{path}.{field_name}.target.averageUtilization",
                "must set either a target raw value or a target utilization",
            )
        )
    return causes


def validate_pdb(pdb: policy.PodDisruptionBudget, old: Any) -> list[Cause]:
    spec = pdb.spec
    causes: list[Cause] = []
    if spec.min_available is not None and spec.max_unavailable is not None:
        causes.append(
            invalid(
                "spec", codec.to_dict(spec), "minAvailable and maxUnavailable cannot be both set"
            )
        )
    for attr, value in (
        ("minAvailable", spec.min_available),
        ("maxUnavailable", spec.max_unavailable),
    ):
        causes += _intstr_percent(value, f"spec.{attr}")[0]
    if spec.selector is not None:
        causes += validate_label_selector(spec.selector, "spec.selector")
    return causes
