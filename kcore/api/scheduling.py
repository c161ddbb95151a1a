"""scheduling.k8s.io/v1 kinds: PriorityClass."""

from __future__ import annotations

from kcore.api.meta import ListObject, Object


class PriorityClass(Object):
    KIND = "PriorityClass"
    API_VERSION = "scheduling.k8s.io/v1"

    value: int = 0
    global_default: bool | None = None
    description: str = ""
    preemption_policy: str | None = None


class PriorityClassList(ListObject):
    KIND = "PriorityClassList"
    API_VERSION = "scheduling.k8s.io/v1"

    items: list[PriorityClass] = []
