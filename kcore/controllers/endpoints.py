"""The Endpoints controller: for each Service with a selector, the addresses of its pods.

`ServicePodsController` is the part it shares with the EndpointSlice controller: Service and
Pod informers, a pod change enqueues every Service in its namespace whose selector matched the
pod before or after, and `endpoints_for(service)` resolves the pods to addresses. A pod
counts once it has an IP and is neither finished nor being deleted; it is ready when its
Ready condition is True (or the Service publishes not-ready addresses). Pods being deleted
are left out of Endpoints (unless the Service publishes not-ready addresses) and reported as
terminating in EndpointSlices. Ports resolve per pod:
a number is used as is, a name is looked up among the pod's container ports (pods without it
are left out of that port set), as Kubernetes does. Pods with the same resolved ports share
one subset. The Endpoints object (same name as the Service) is written only when it changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kcore.api.core import (
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    ObjectReference,
    Pod,
    Service,
)
from kcore.api.errors import StatusError
from kcore.api.labels import from_set
from kcore.api.meta import ObjectMeta
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory, split_key
from kcore.client.rest import Client
from kcore.controllers import controller_utils as cu
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
PortKey = tuple[tuple[str, int, str], ...]  # (name, port, protocol) per service port


@dataclass(frozen=True, slots=True)
class PodEndpoint:
    """One pod as an endpoint of one Service."""

    pod: Pod
    ready: bool
    ports: PortKey
    service: str = ""
    terminating: bool = False

    @property
    def ip(self) -> str:
        return self.pod.status.pod_ip

    @property
    def hostname(self) -> str:
        """The pod's hostname when it sits in this (headless) service's subdomain."""
        spec = self.pod.spec
        return spec.hostname if spec.hostname and spec.subdomain == self.service else ""


def resolve_port(pod: Pod, target: int | str | None, fallback: int) -> int | None:
    """The container port a service port targets on this pod (None: the pod lacks it)."""
    if target is None or target == 0 or target == "":
        return fallback
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    for container in pod.spec.containers:
        for port in container.ports:
            if port.name == target:
                return port.container_port
    return None


def pod_ports(svc: Service, pod: Pod) -> PortKey | None:
    out = []
    for sp in svc.spec.ports:
        port = resolve_port(pod, sp.target_port, sp.port)
        if port is None:
            return None
        out.append((sp.name, port, sp.protocol or "TCP"))
    return tuple(out)


def endpoints_for(svc: Service, pods: list[Pod], *, terminating: bool = False) -> list[PodEndpoint]:
    """The pods of `svc` that are endpoints, sorted by IP then name. With `terminating`,
    pods being deleted are included too (EndpointSlices report them; Endpoints do not)."""
    publish = bool(svc.spec.publish_not_ready_addresses)
    out = []
    for pod in pods:
        if not pod.status.pod_ip or pod.status.phase in ("Succeeded", "Failed"):
            continue
        going = bool(pod.metadata.deletion_timestamp)
        if going and not (terminating or publish):
            continue
        ports = pod_ports(svc, pod)
        if ports is None:
            continue
        ready = publish or cu.is_pod_ready(pod)
        out.append(PodEndpoint(pod, ready, ports, svc.metadata.name, going))
    out.sort(key=lambda e: (e.ip, e.pod.metadata.name))
    return out


def pod_reference(pod: Pod) -> ObjectReference:
    return ObjectReference(
        kind="Pod",
        namespace=pod.metadata.namespace,
        name=pod.metadata.name,
        uid=pod.metadata.uid,
    )


def subsets_for(endpoints: list[PodEndpoint]) -> list[EndpointSubset]:
    groups: dict[PortKey, EndpointSubset] = {}
    for ep in endpoints:
        subset = groups.get(ep.ports)
        if subset is None:
            ports = [EndpointPort(name=n, port=p, protocol=proto) for n, p, proto in ep.ports]
            subset = groups[ep.ports] = EndpointSubset(ports=ports)
        address = EndpointAddress(
            ip=ep.ip,
            hostname=ep.hostname,
            node_name=ep.pod.spec.node_name or None,
            target_ref=pod_reference(ep.pod),
        )
        (subset.addresses if ep.ready else subset.not_ready_addresses).append(address)
    return list(groups.values())


class ServicePodsController(QueueController):
    """Services and the pods their selectors pick; subclasses write what they derive."""

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.services: SharedInformer[Service] = factory.informer(Service)
        self.pods: SharedInformer[Pod] = factory.informer(Pod)
        self.services.add_event_handler(
            on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n), on_delete=self.enqueue
        )
        self.pods.add_event_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )

    def _services_of(self, pod: Pod) -> list[Service]:
        labels = pod.metadata.labels
        return [
            s
            for s in self.services.list(pod.metadata.namespace)
            if s.spec.selector and from_set(s.spec.selector).matches(labels)
        ]

    def _pod_changed(self, pod: Pod) -> None:
        for svc in self._services_of(pod):
            self.enqueue(svc)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        keys = {(s.metadata.namespace, s.metadata.name) for s in self._services_of(new)}
        if old.metadata.labels != new.metadata.labels:
            keys |= {(s.metadata.namespace, s.metadata.name) for s in self._services_of(old)}
        for ns, name in keys:
            self.queue.add(f"{ns}/{name}")

    def selected_pods(self, svc: Service) -> list[Pod]:
        return self.pods.list(svc.metadata.namespace, from_set(svc.spec.selector))


class EndpointsController(ServicePodsController):
    NAME = "endpoints"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.endpoints: SharedInformer[Endpoints] = factory.informer(Endpoints)
        self.endpoints.add_event_handler(on_delete=self._endpoints_deleted)

    def _endpoints_deleted(self, ep: Endpoints) -> None:
        if self.services.get(f"{ep.metadata.namespace}/{ep.metadata.name}") is not None:
            self.enqueue(ep)  # someone deleted ours: write it again

    async def sync(self, key: str) -> None:
        svc = self.services.get(key)
        ns, name = split_key(key)
        if svc is None:
            await self._delete(ns, name)
            return
        if not svc.spec.selector:
            return  # endpoints of selector-less services are the user's
        subsets = subsets_for(endpoints_for(svc, self.selected_pods(svc)))
        current = self.endpoints.get(key)
        labels = dict(svc.metadata.labels)
        if current is None:
            await self._create(svc, subsets, labels)
        elif current.subsets != subsets or current.metadata.labels != labels:
            await self._update(current, subsets, labels)

    async def _create(
        self, svc: Service, subsets: list[EndpointSubset], labels: dict[str, str]
    ) -> None:
        ep = Endpoints(
            metadata=ObjectMeta(
                name=svc.metadata.name, namespace=svc.metadata.namespace, labels=labels
            ),
            subsets=subsets,
        )
        try:
            await self.client.create(ep)
        except StatusError as e:
            if e.code != 409:
                raise
            self.enqueue(svc)  # exists already (cache behind): update on the next pass

    async def _update(
        self, current: Endpoints, subsets: list[EndpointSubset], labels: dict[str, str]
    ) -> None:
        meta = ObjectMeta(
            name=current.metadata.name,
            namespace=current.metadata.namespace,
            resource_version=current.metadata.resource_version,
            uid=current.metadata.uid,
            labels=labels,
            annotations=dict(current.metadata.annotations),
        )
        await self.client.update(Endpoints(metadata=meta, subsets=subsets))

    async def _delete(self, ns: str, name: str) -> None:
        if self.endpoints.get(f"{ns}/{name}") is None:
            return
        try:
            await self.client.delete(Endpoints, name, namespace=ns)
        except StatusError as e:
            if e.code != 404:
                raise
