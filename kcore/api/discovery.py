"""discovery.k8s.io/v1 kinds: EndpointSlice."""

from __future__ import annotations

import msgspec

from kcore.api.core import ObjectReference
from kcore.api.meta import ListObject, Model, Object

# The label naming the Service a slice belongs to (any manager's slices carry it).
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class EndpointConditions(Model):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(Model):
    name: str = ""


class ForNode(Model):
    name: str = ""


class EndpointHints(Model):
    for_zones: list[ForZone] = []
    for_nodes: list[ForNode] = []


class Endpoint(Model):
    addresses: list[str] = []
    conditions: EndpointConditions = msgspec.field(default_factory=EndpointConditions)
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: dict[str, str] = {}
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointPort(Model):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(Object, omit_defaults=False):
    """`endpoints` and `ports` are always encoded, empty or not (Kubernetes declares them
    without omitempty, and the python client requires `endpoints`)."""

    KIND = "EndpointSlice"
    API_VERSION = "discovery.k8s.io/v1"

    address_type: str = ""
    endpoints: list[Endpoint] = []
    ports: list[EndpointPort] = []


class EndpointSliceList(ListObject):
    KIND = "EndpointSliceList"
    API_VERSION = "discovery.k8s.io/v1"

    items: list[EndpointSlice] = []
