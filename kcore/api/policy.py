"""policy/v1 kinds: Eviction (the pods/eviction subresource body) and PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

import msgspec

from kcore.api.core import IntOrString
from kcore.api.meta import Condition, DeleteOptions, LabelSelector, ListObject, Model, Object


class Eviction(Object):
    KIND = "Eviction"
    API_VERSION = "policy/v1"

    delete_options: DeleteOptions | None = None


class PodDisruptionBudgetSpec(Model):
    min_available: IntOrString | None = None
    selector: LabelSelector | None = None
    max_unavailable: IntOrString | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(Model):
    observed_generation: int = 0
    disrupted_pods: dict[str, Any] = {}
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0
    conditions: list[Condition] = []


class PodDisruptionBudget(Object):
    KIND = "PodDisruptionBudget"
    API_VERSION = "policy/v1"

    spec: PodDisruptionBudgetSpec = msgspec.field(default_factory=PodDisruptionBudgetSpec)
    status: PodDisruptionBudgetStatus = msgspec.field(default_factory=PodDisruptionBudgetStatus)


class PodDisruptionBudgetList(ListObject):
    KIND = "PodDisruptionBudgetList"
    API_VERSION = "policy/v1"

    items: list[PodDisruptionBudget] = []
