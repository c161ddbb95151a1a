"""batch/v1 kinds: Job."""

from __future__ import annotations

from typing import Any

import msgspec

from kcore.api.core import PodTemplateSpec
from kcore.api.meta import LabelSelector, ListObject, Model, Object


class PodFailurePolicyOnExitCodesRequirement(Model):
    container_name: str | None = None
    operator: str = ""
    values: list[int] = []


class PodFailurePolicyOnPodConditionsPattern(Model):
    type: str = ""
    status: str = ""


class PodFailurePolicyRule(Model):
    action: str = ""
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] = []


class PodFailurePolicy(Model):
    rules: list[PodFailurePolicyRule] = []


class JobSpec(Model):
    parallelism: int | None = None
    completions: int | None = None
    active_deadline_seconds: int | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    backoff_limit: int | None = None
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)
    ttl_seconds_after_finished: int | None = None
    completion_mode: str | None = None
    suspend: bool | None = None
    pod_replacement_policy: str | None = None
    success_policy: dict[str, Any] | None = None
    managed_by: str | None = None
    scheduling: dict[str, Any] | None = None


class JobCondition(Model):
    type: str = ""
    status: str = ""
    last_probe_time: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class UncountedTerminatedPods(Model):
    succeeded: list[str] = []
    failed: list[str] = []


class JobStatus(Model):
    conditions: list[JobCondition] = []
    start_time: str = ""
    completion_time: str = ""
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    terminating: int | None = None
    completed_indexes: str = ""
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: int | None = None


class Job(Object):
    KIND = "Job"
    API_VERSION = "batch/v1"

    spec: JobSpec = msgspec.field(default_factory=JobSpec)
    status: JobStatus = msgspec.field(default_factory=JobStatus)


class JobList(ListObject):
    KIND = "JobList"
    API_VERSION = "batch/v1"

    items: list[Job] = []
