"""From API objects to the node table's plain values: Node fields and a pod's requirements.

The kernel layer (table, query) knows nothing of kcore.api; this module is the one place that
reads Pod and Node Structs for it. Requests follow Kubernetes' resource.PodRequests: the sum of
the app containers (plus restartable init containers, i.e. sidecars), at least the largest
plain init container (with the sidecars started before it), plus the pod overhead. cpu is in
milli-cores, everything else in units (bytes for memory).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from kcore.api import quantity
from kcore.api.core import Container, Node, NodeSelectorRequirement, Pod
from kcore.scheduler.query import Operator, PodRequirements, Requirement, Toleration
from kcore.scheduler.table import CPU, MEMORY, HostPort, Taint, nonzero_requests

Resources = dict[str, int]
_OPERATORS: frozenset[str] = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})
DEFAULT_SCHEDULER = "default-scheduler"


@functools.lru_cache(maxsize=4096)
def _quantity(name: str, value: str | int | float) -> int:
    """Parsed once per distinct value: pods of one template repeat the same few strings."""
    return quantity.milli_value(value) if name == CPU else quantity.int_value(value)


def parse_resources(values: Mapping[str, object]) -> Resources:
    """A ResourceList as integers: milli-cpu, units for everything else."""
    out: Resources = {}
    for name, value in values.items():
        q = value if isinstance(value, str | int | float) else str(value)
        out[name] = _quantity(name, q)
    return out


def container_requests(container: Container) -> Resources:
    """Requests, with limits standing in where no request is given (as defaulting does)."""
    res = container.resources
    merged = {**res.limits, **res.requests}
    return parse_resources(merged)


def _add(into: Resources, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: Resources, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def _combine(app: Iterable[Resources], init: Iterable[tuple[bool, Resources]]) -> Resources:
    total: Resources = {}
    for requests in app:
        _add(total, requests)
    sidecars: Resources = {}
    init_peak: Resources = {}
    for restartable, requests in init:
        if restartable:
            _add(total, requests)
            _add(sidecars, requests)
        else:
            step = dict(sidecars)
            _add(step, requests)
            _max(init_peak, step)
    _max(total, init_peak)
    return total


def _init(pod: Pod) -> list[tuple[bool, Container]]:
    return [(c.restart_policy == "Always", c) for c in pod.spec.init_containers]


def pod_requests(pod: Pod) -> Resources:
    """resource.PodRequests: containers, init containers (max), sidecars, overhead."""
    app = [container_requests(c) for c in pod.spec.containers]
    init = [(r, container_requests(c)) for r, c in _init(pod)]
    total = _combine(app, init)
    _add(total, parse_resources(pod.spec.overhead))
    return {name: value for name, value in total.items() if value}


def _nonzero(requests: Resources) -> Resources:
    cpu, memory = nonzero_requests([requests])
    return {CPU: cpu, MEMORY: memory}


def pod_nonzero(pod: Pod) -> tuple[int, int]:
    """cpu/memory for scoring: each container without a request counts 100m / 200Mi."""
    app = [_nonzero(container_requests(c)) for c in pod.spec.containers]
    init = [(r, _nonzero(container_requests(c))) for r, c in _init(pod)]
    total = _combine(app, init)
    overhead = parse_resources(pod.spec.overhead)
    return (
        total.get(CPU, 0) + overhead.get(CPU, 0),
        total.get(MEMORY, 0) + overhead.get(MEMORY, 0),
    )


def host_ports(pod: Pod) -> tuple[HostPort, ...]:
    ports: list[HostPort] = []
    for c in [*pod.spec.init_containers, *pod.spec.containers]:
        for p in c.ports:
            if p.host_port:
                ports.append((p.host_ip, p.protocol or "TCP", p.host_port))
    return tuple(ports)


def priority(pod: Pod) -> int:
    return pod.spec.priority or 0


def scheduler_name(pod: Pod) -> str:
    return pod.spec.scheduler_name or DEFAULT_SCHEDULER


def tolerations(pod: Pod) -> tuple[Toleration, ...]:
    out = []
    for t in pod.spec.tolerations:
        operator: Literal["Equal", "Exists"] = "Exists" if t.operator == "Exists" else "Equal"
        out.append(Toleration(key=t.key, operator=operator, value=t.value, effect=t.effect))
    return tuple(out)


def requirement(r: NodeSelectorRequirement) -> Requirement:
    if r.operator not in _OPERATORS:
        raise ValueError(f"unknown node selector operator {r.operator!r}")
    op: Operator = r.operator  # type: ignore[assignment]
    return Requirement(r.key, op, tuple(r.values))


def _field_requirements(reqs: list[NodeSelectorRequirement]) -> list[Requirement]:
    """matchFields: only metadata.name exists; it is matched as the hostname-like label
    `metadata.name` that NodeFields adds to every node's labels."""
    return [requirement(NodeSelectorRequirement(FIELD_NAME, r.operator, r.values)) for r in reqs]


FIELD_NAME = "metadata.name"
"""A pseudo-label carrying the node's name, so matchFields compiles like matchExpressions."""


def node_affinity(
    pod: Pod,
) -> tuple[list[list[Requirement]] | None, list[tuple[int, list[Requirement]]]]:
    """(required terms or None, preferred (weight, term) pairs)."""
    affinity = pod.spec.affinity
    na = affinity.node_affinity if affinity else None
    if na is None:
        return None, []
    required = None
    selector = na.required_during_scheduling_ignored_during_execution
    if selector is not None:
        required = [
            [requirement(r) for r in t.match_expressions] + _field_requirements(t.match_fields)
            for t in selector.node_selector_terms
        ]
    preferred = [
        (
            p.weight,
            [requirement(r) for r in p.preference.match_expressions]
            + _field_requirements(p.preference.match_fields),
        )
        for p in na.preferred_during_scheduling_ignored_during_execution
    ]
    return required, preferred


def node_requirements(pod: Pod) -> PodRequirements:
    """Everything node-local about a pod (no inter-pod or spread terms)."""
    required, preferred = node_affinity(pod)
    return PodRequirements(
        requests=pod_requests(pod),
        nonzero=pod_nonzero(pod),
        node_name=pod.spec.node_name or None,
        node_selector=dict(pod.spec.node_selector),
        required_terms=required,
        preferred_terms=preferred,
        tolerations=tolerations(pod),
        host_ports=host_ports(pod),
    )


@dataclass(frozen=True)
class NodeFields:
    """What the node table keeps of a Node."""

    allocatable: Resources
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    ready: bool

    def as_kwargs(self) -> dict[str, object]:
        return {
            "allocatable": self.allocatable,
            "labels": self.labels,
            "taints": self.taints,
            "unschedulable": self.unschedulable,
            "ready": self.ready,
        }


def node_fields(node: Node) -> NodeFields:
    status = node.status
    allocatable = parse_resources(status.allocatable or status.capacity)
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
    labels = dict(node.metadata.labels)
    labels[FIELD_NAME] = node.metadata.name
    return NodeFields(
        allocatable=allocatable,
        labels=labels,
        taints=tuple((t.key, t.value, t.effect) for t in node.spec.taints),
        unschedulable=bool(node.spec.unschedulable),
        ready=ready,
    )


__all__ = [
    "DEFAULT_SCHEDULER",
    "FIELD_NAME",
    "NodeFields",
    "host_ports",
    "node_affinity",
    "node_fields",
    "node_requirements",
    "parse_resources",
    "pod_nonzero",
    "pod_requests",
    "priority",
    "scheduler_name",
    "tolerations",
]
