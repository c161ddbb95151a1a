"""metrics.k8s.io/v1beta1 kinds: PodMetrics and NodeMetrics (read-only, served for kubectl top)."""

from __future__ import annotations

from kcore.api.core import ResourceList
from kcore.api.meta import ListObject, Model, Object


class ContainerMetrics(Model):
    name: str = ""
    usage: ResourceList = {}


class PodMetrics(Object):
    KIND = "PodMetrics"
    API_VERSION = "metrics.k8s.io/v1beta1"

    timestamp: str = ""
    window: str = ""
    containers: list[ContainerMetrics] = []


class PodMetricsList(ListObject):
    KIND = "PodMetricsList"
    API_VERSION = "metrics.k8s.io/v1beta1"

    items: list[PodMetrics] = []


class NodeMetrics(Object):
    KIND = "NodeMetrics"
    API_VERSION = "metrics.k8s.io/v1beta1"

    timestamp: str = ""
    window: str = ""
    usage: ResourceList = {}


class NodeMetricsList(ListObject):
    KIND = "NodeMetricsList"
    API_VERSION = "metrics.k8s.io/v1beta1"

    items: list[NodeMetrics] = []
