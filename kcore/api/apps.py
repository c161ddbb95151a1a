"""apps/v1 kinds: Deployment, ReplicaSet, DaemonSet, ControllerRevision."""

from __future__ import annotations

from typing import Any

import msgspec

from kcore.api.core import IntOrString, PodTemplateSpec
from kcore.api.meta import LabelSelector, ListObject, Model, Object


class RollingUpdateDeployment(Model):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(Model):
    type: str = ""
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(Model):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)
    strategy: DeploymentStrategy = msgspec.field(default_factory=DeploymentStrategy)
    min_ready_seconds: int = 0
    revision_history_limit: int | None = None
    paused: bool = False
    progress_deadline_seconds: int | None = None


class DeploymentCondition(Model):
    type: str = ""
    status: str = ""
    last_update_time: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class DeploymentStatus(Model):
    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    terminating_replicas: int | None = None
    conditions: list[DeploymentCondition] = []
    collision_count: int | None = None


class Deployment(Object):
    KIND = "Deployment"
    API_VERSION = "apps/v1"

    spec: DeploymentSpec = msgspec.field(default_factory=DeploymentSpec)
    status: DeploymentStatus = msgspec.field(default_factory=DeploymentStatus)


class DeploymentList(ListObject):
    KIND = "DeploymentList"
    API_VERSION = "apps/v1"

    items: list[Deployment] = []


class ReplicaSetSpec(Model):
    replicas: int | None = None
    min_ready_seconds: int = 0
    selector: LabelSelector | None = None
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)


class ReplicaSetCondition(Model):
    type: str = ""
    status: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class ReplicaSetStatus(Model, omit_defaults=False):
    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    terminating_replicas: int | None = None
    observed_generation: int = 0
    conditions: list[ReplicaSetCondition] = []


class ReplicaSet(Object):
    KIND = "ReplicaSet"
    API_VERSION = "apps/v1"

    spec: ReplicaSetSpec = msgspec.field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = msgspec.field(default_factory=ReplicaSetStatus)


class ReplicaSetList(ListObject):
    KIND = "ReplicaSetList"
    API_VERSION = "apps/v1"

    items: list[ReplicaSet] = []


class RollingUpdateDaemonSet(Model):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(Model):
    type: str = ""
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(Model):
    selector: LabelSelector | None = None
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)
    update_strategy: DaemonSetUpdateStrategy = msgspec.field(
        default_factory=DaemonSetUpdateStrategy
    )
    min_ready_seconds: int = 0
    revision_history_limit: int | None = None


class DaemonSetCondition(Model):
    type: str = ""
    status: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class DaemonSetStatus(Model, omit_defaults=False):
    current_number_scheduled: int = 0
    number_misscheduled: int = 0
    desired_number_scheduled: int = 0
    number_ready: int = 0
    observed_generation: int = 0
    updated_number_scheduled: int = 0
    number_available: int = 0
    number_unavailable: int = 0
    collision_count: int | None = None
    conditions: list[DaemonSetCondition] = []


class DaemonSet(Object):
    KIND = "DaemonSet"
    API_VERSION = "apps/v1"

    spec: DaemonSetSpec = msgspec.field(default_factory=DaemonSetSpec)
    status: DaemonSetStatus = msgspec.field(default_factory=DaemonSetStatus)


class DaemonSetList(ListObject):
    KIND = "DaemonSetList"
    API_VERSION = "apps/v1"

    items: list[DaemonSet] = []


class ControllerRevision(Object):
    KIND = "ControllerRevision"
    API_VERSION = "apps/v1"

    data: Any = None
    revision: int = 0


class ControllerRevisionList(ListObject):
    KIND = "ControllerRevisionList"
    API_VERSION = "apps/v1"

    items: list[ControllerRevision] = []
